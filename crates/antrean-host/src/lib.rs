//! What both antrean daemons (the kiosk and the central service) need from
//! the host, with I/O: the wall clock (and `ANTREAN_NOW`), log set-up and
//! the panic policy, private state directories and files, and the shutdown
//! signals.

pub mod clock;
pub mod logging;
pub mod state_dir;

/// Resolves on SIGINT or SIGTERM (both binaries stop on either).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
