//! Capped exponential backoff with full jitter, as a pure value: the caller
//! supplies the random fraction, so the schedule is testable.

use std::time::Duration;

/// Retry delays: `base * 2^attempt`, capped, times a random fraction in
/// `[0.5, 1.0]` so that several kiosks do not retry in lock-step.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
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

    /// A success: start again from the base delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
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
}
