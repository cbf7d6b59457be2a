//! The graceful stop of `antrean-central serve`: on SIGTERM or ctrl-c it
//! tells systemd it is stopping, stops accepting connections, ends every
//! open event stream cleanly (each client sees its stream end, not a
//! reset, and reconnects to another instance with `Last-Event-ID`), gives
//! the requests in flight up to [`DRAIN_WITHIN`] to finish (the connection
//! loop in `limits.rs`), then closes the database pool within
//! [`CLOSE_DATABASE_WITHIN`]; the process exits 0. Also the systemd
//! readiness notice (`Type=notify`). No HTTP and no storage of its own.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long requests in flight may take to finish after the stop.
pub const DRAIN_WITHIN: Duration = Duration::from_secs(10);

/// How long closing the database pool may take after that.
pub const CLOSE_DATABASE_WITHIN: Duration = Duration::from_secs(5);

/// A future closing a store's connections (PostgreSQL's pool).
pub type Closer = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Tells systemd (with `Type=notify`) that the service answers now;
/// nothing without systemd.
pub fn notify_ready() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
}

/// Resolves on SIGTERM or ctrl-c, after saying so in the log and to
/// systemd.
pub async fn signalled() {
    antrean_host::shutdown_signal().await;
    tracing::info!(
        drain_within = ?DRAIN_WITHIN,
        "stopping: no new connections, event streams end, requests in flight may finish"
    );
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// Closes the database's connections, waiting at most
/// [`CLOSE_DATABASE_WITHIN`].
pub async fn close_database(closer: Option<Closer>) {
    let Some(closer) = closer else { return };
    if tokio::time::timeout(CLOSE_DATABASE_WITHIN, closer)
        .await
        .is_err()
    {
        tracing::warn!(
            within = ?CLOSE_DATABASE_WITHIN,
            "database connections still busy at the stop; leaving them to the server"
        );
    }
}
