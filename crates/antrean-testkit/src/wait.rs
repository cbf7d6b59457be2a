//! Waiting for a condition with a deadline (never a fixed sleep).

use std::time::{Duration, Instant};

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    poll_every(Duration::from_millis(10), what, limit, f)
}

/// [`wait_for`] with the pause between polls given: the benchmarks poll
/// every 0.1 ms, since a 10 ms step would round every figure up to 10 ms.
pub fn poll_every<T>(
    step: Duration,
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(step);
    }
}

/// Polls `f` until it returns `Some`, or gives `None` after `limit`.
pub fn wait_for_opt<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub const LIMIT: Duration = Duration::from_secs(20);
