//! Waiting for a condition with a deadline: never a fixed sleep.

use std::time::{Duration, Instant};

/// How long any condition may take before a test fails.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Polls `f` every 10 ms until it returns `Some`, or panics with `what`
/// after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls an async condition every 50 ms until it holds (or panics after
/// [`LIMIT`]).
pub async fn wait_for_async<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
