//! Capped exponential backoff with full jitter, and the `Retry-After`
//! header's two forms, as pure values: the caller supplies the random
//! fraction and the current time, so every schedule is testable. Sleeping
//! is the caller's business.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Retry delays: `base * 2^attempt`, capped, times a random fraction in
/// `[0.5, 1.0]` so that several kiosks do not retry in lock-step.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// `cap` below `base` is raised to `base`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            attempt: 0,
        }
    }

    /// The delay before the next try; `jitter` is a fraction in `[0, 1]`.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX));
        let capped = exp.min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// [`Backoff::next_delay`], but at least `at_least` (what the server
    /// asked for with `Retry-After`) as far as the cap allows.
    pub fn next_delay_at_least(&mut self, jitter: f64, at_least: Option<Duration>) -> Duration {
        let d = self.next_delay(jitter);
        match at_least {
            Some(a) => d.max(a.min(self.cap)),
            None => d,
        }
    }

    /// A success: start again from the base delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The longest delay this backoff gives.
    pub fn cap(&self) -> Duration {
        self.cap
    }
}

/// Reads a `Retry-After` value: delay-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`) relative to `now`. `None` when it is
/// neither; a date in the past is zero.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Anything longer than a day is as good as a day (the caller caps).
        return Some(Duration::from_secs(value.parse::<u64>().unwrap_or(86_400)));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.to_utc();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_doubles_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let full: Vec<u64> = (0..9)
            .map(|_| b.next_delay(1.0).as_millis() as u64)
            .collect();
        assert_eq!(
            full,
            vec![500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_millis(250));
        for _ in 0..100 {
            b.next_delay(0.3);
        }
        assert!(b.next_delay(1.0) <= Duration::from_secs(30));
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let s = Duration::from_secs;
        // (server asks, expected first delay with jitter 1.0, base 1 s, cap 30 s)
        let cases = [
            (None, s(1)),
            (Some(s(0)), s(1)),
            (Some(s(5)), s(5)),
            (Some(s(3600)), s(30)),
        ];
        for (asked, expect) in cases {
            let mut b = Backoff::new(s(1), s(30));
            assert_eq!(b.next_delay_at_least(1.0, asked), expect, "{asked:?}");
        }
        // A cap below the base is raised to it.
        assert_eq!(Backoff::new(s(5), s(1)).cap(), s(5));
    }

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .to_utc();
        let cases: &[(&str, Option<u64>)] = &[
            ("120", Some(120)),
            (" 7 ", Some(7)),
            ("99999999999999999999999", Some(86_400)),
            ("Wed, 21 Oct 2015 07:28:30 GMT", Some(30)),
            ("Wed, 21 Oct 2015 07:00:00 GMT", Some(0)),
            ("soon", None),
            ("-5", None),
            ("", None),
        ];
        for (value, expect) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                expect.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }
}
