//! The daemon's clock: system time, optionally started at another instant
//! (`ANTREAN_NOW=<RFC 3339>`, for training, demos and tests) and then
//! running on normally. The core never reads it; adapters pass `now` in.

use chrono::{DateTime, Duration, Utc};

/// Environment variable that starts the clock at a chosen instant.
pub const NOW_ENV: &str = "ANTREAN_NOW";

/// `ANTREAN_NOW` is set but is not an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error("{NOW_ENV}={value:?} is not an RFC 3339 time such as 2024-05-08T09:20:00+07:00; unset it to use the system clock")]
pub struct ClockError {
    pub value: String,
}

/// A wall clock with a fixed offset from system time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: Duration,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that reads `start` now and runs on from there.
    pub fn starting_at(start: DateTime<Utc>) -> Clock {
        Clock {
            offset: start.signed_duration_since(Utc::now()),
        }
    }

    /// The system clock, or the one `ANTREAN_NOW` asks for.
    pub fn from_env() -> Result<Clock, ClockError> {
        match std::env::var(NOW_ENV) {
            Ok(value) if !value.trim().is_empty() => DateTime::parse_from_rfc3339(value.trim())
                .map(|t| Clock::starting_at(t.to_utc()))
                .map_err(|_| ClockError { value }),
            _ => Ok(Clock::system()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    /// True when this clock is not the system clock (a training/demo clock).
    pub fn is_shifted(&self) -> bool {
        self.offset.num_seconds().abs() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_the_given_instant_and_runs_on() {
        let start = DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00")
            .unwrap()
            .to_utc();
        let c = Clock::starting_at(start);
        let a = c.now();
        assert!(a >= start && a - start < Duration::seconds(5));
        assert!(c.is_shifted());
        assert!(!Clock::system().is_shifted());
    }
}
