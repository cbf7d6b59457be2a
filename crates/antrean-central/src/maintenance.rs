//! The central service's housekeeping loop: prunes every office's board
//! events older than the retention (and forgets idle rate-limit state),
//! once at start and
//! then every `maintenance_every` (the store does the work off the async
//! workers). It never spins: a slow or failing database makes a round late
//! or fail, and the next round still waits its whole period.

use std::time::Duration;

use tokio::sync::watch;

use crate::Central;

/// Runs until `shutdown` changes.
pub async fn run(central: Central, mut shutdown: watch::Receiver<bool>) {
    let every = central
        .settings()
        .maintenance_every
        .max(Duration::from_millis(10));
    loop {
        central.count_maintenance();
        match central.prune_all_events().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "old board events pruned"),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?every, "pruning board events failed")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
