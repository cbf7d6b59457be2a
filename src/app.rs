//! The whole kiosk process, assembled: the kiosk loop and its scan sources
//! (`daemon`), and, when `[central]` is configured, the sync tasks on a
//! tokio runtime. `run` (headless or with screens), the tests and the
//! benchmarks all start the product through [`App::start`].

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::central::board_sync::{BoardFeed, BoardSyncOptions};
use crate::central::client::CentralClient;
use crate::central::sync::{self, Link, LinkStatus, SyncShared};
use crate::config::{CentralConfig, Config};
use crate::daemon::{Daemon, ScanSource, StartError};
use crate::journal::Journal;
use crate::kiosk::{Event, ScanReport};
use crate::metrics::Metrics;
use crate::status_server::StatusSources;
use antrean_core::api::PrinterHealth;
use antrean_host::clock::Clock;

/// Why the central link cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    #[error("cannot read the central token file {path}: {reason}")]
    TokenFile { path: String, reason: String },
    #[error("the central token file {path} can be read by other users (mode {mode:o}); refusing to start. Fix it with: chmod 600 {path}")]
    TokenFileOpen { path: String, mode: u32 },
    #[error("the central token is empty: set [central] token or token_file")]
    NoToken,
    #[error(transparent)]
    Client(#[from] crate::central::client::ClientError),
}

/// Reads the kiosk token from the config or its token file. A token file
/// that group or others may read is refused.
pub fn read_token(central: &CentralConfig) -> Result<String, LinkError> {
    if let Some(path) = &central.token_file {
        use std::os::unix::fs::PermissionsExt;
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| LinkError::TokenFile {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(LinkError::TokenFileOpen { path: shown, mode });
        }
        let token = std::fs::read_to_string(path).map_err(|e| LinkError::TokenFile {
            path: shown,
            reason: e.to_string(),
        })?;
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err(LinkError::NoToken);
        }
        return Ok(token);
    }
    match central.token.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        _ => Err(LinkError::NoToken),
    }
}

/// Why the process cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot start the status endpoint: {0}. Check [status] listen.")]
    Status(std::io::Error),
    #[error("cannot start the embedded central service: {0}")]
    Embedded(String),
    #[error("the kiosk loop stopped unexpectedly; see the log above. The service manager restarts the kiosk.")]
    KioskLoopDied,
}

/// Options for [`App::start`].
pub struct AppOptions {
    pub clock: Clock,
    pub source: ScanSource,
    /// Scan reports also go here (screens, tests).
    pub reports: Option<Sender<ScanReport>>,
}

impl AppOptions {
    /// System or `ANTREAN_NOW` clock, scans from the configured source.
    pub fn configured(clock: Clock) -> AppOptions {
        AppOptions {
            clock,
            source: ScanSource::Configured,
            reports: None,
        }
    }
}

/// The running kiosk process.
pub struct App {
    runtime: tokio::runtime::Runtime,
    daemon: Option<Daemon>,
    shutdown: watch::Sender<bool>,
    status: watch::Receiver<LinkStatus>,
    printer: watch::Receiver<PrinterHealth>,
    metrics: Arc<Metrics>,
    status_addr: Option<std::net::SocketAddr>,
    board: watch::Receiver<BoardFeed>,
    client: Option<CentralClient>,
    calls: Option<std::sync::mpsc::Receiver<antrean_core::api::CallEvent>>,
}

impl App {
    /// Starts everything the configuration asks for.
    pub fn start(config: &Config, options: AppOptions) -> Result<App, AppError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("antrean-io")
            .enable_all()
            .build()
            .map_err(AppError::Runtime)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let metrics = Arc::new(Metrics::new());
        let (board_tx, board_rx) = watch::channel(BoardFeed::default());
        let status = watch::Sender::new(LinkStatus::default());
        let status_rx = status.subscribe();
        let printer_rx;
        let mut client_out = None;
        let mut calls_out = None;
        let daemon = match &config.central {
            None => {
                let d = Daemon::start(
                    config,
                    options.clock,
                    options.source,
                    options.reports,
                    None,
                    metrics.clone(),
                )?;
                printer_rx = d.printer_health();
                d
            }
            Some(central) => {
                let (url, token) = if central.url.trim() == "embedded" {
                    let (url, token) = runtime.block_on(start_embedded(
                        config,
                        options.clock,
                        central.simulate_counters_seconds,
                        shutdown_rx.clone(),
                    ))?;
                    (url, token)
                } else {
                    (central.url.clone(), read_token(central)?)
                };
                let client =
                    CentralClient::new(&url, &config.office.id, &token).map_err(LinkError::from)?;
                let nudge = std::sync::Arc::new(tokio::sync::Notify::new());
                // The kiosk loop needs the link, and the sync tasks the
                // loop's printer state: build the link first, wire after.
                let (printer_tx, printer_watch) = watch::channel(PrinterHealth {
                    state: "ok".into(),
                    detail: None,
                });
                let shared = SyncShared {
                    client,
                    clock: options.clock,
                    timezone: config.timezone(),
                    kiosk_id: config.kiosk.id.clone(),
                    state_dir: config.kiosk.state_dir.clone(),
                    status: std::sync::Arc::new(status),
                    nudge,
                    printer: printer_watch,
                    retry_max: Duration::from_secs(central.retry_max_seconds.max(1)),
                    metrics: metrics.clone(),
                };
                client_out = Some(shared.client.clone());
                let link = Link::new(shared.clone(), runtime.handle().clone());
                let d = Daemon::start(
                    config,
                    options.clock,
                    options.source,
                    options.reports,
                    Some(Box::new(link)),
                    metrics.clone(),
                )?;
                printer_rx = d.printer_health();
                forward_printer(
                    &runtime,
                    printer_rx.clone(),
                    printer_tx,
                    shutdown_rx.clone(),
                );
                let outbox_journal =
                    Journal::open(&config.kiosk.state_dir).map_err(StartError::from)?;
                runtime.spawn(sync::run_outbox(
                    shared.clone(),
                    outbox_journal,
                    shutdown_rx.clone(),
                ));
                runtime.spawn(sync::run_manifest(
                    shared.clone(),
                    d.sender(),
                    Duration::from_secs(central.manifest_refresh_seconds),
                    shutdown_rx.clone(),
                ));
                runtime.spawn(sync::run_health(
                    shared.clone(),
                    Duration::from_secs(30),
                    shutdown_rx.clone(),
                ));
                runtime.spawn(crate::central::board_sync::run_board(
                    shared.client.clone(),
                    options.clock,
                    BoardSyncOptions {
                        retry_max: Duration::from_secs(central.retry_max_seconds.max(1)),
                        calls: {
                            let (tx, rx) = std::sync::mpsc::channel();
                            calls_out = Some(rx);
                            Some(tx)
                        },
                        ..BoardSyncOptions::default()
                    },
                    board_tx,
                    shared.status.clone(),
                    metrics.clone(),
                    shutdown_rx.clone(),
                ));
                d
            }
        };
        let has_central = config.central.is_some();
        let status_addr = match &config.status {
            None => None,
            Some(sc) => {
                let sources = StatusSources {
                    metrics: metrics.clone(),
                    printer: printer_rx.clone(),
                    link: has_central.then(|| status_rx.clone()),
                    board: has_central.then(|| board_rx.clone()),
                    clock: options.clock,
                };
                let addr = runtime
                    .block_on(crate::status_server::serve(
                        sc.listen,
                        sources,
                        shutdown_rx.clone(),
                    ))
                    .map_err(AppError::Status)?;
                tracing::info!(%addr, "status endpoint listening");
                Some(addr)
            }
        };
        let heartbeat = daemon.heartbeat();
        runtime.spawn(systemd_watchdog(heartbeat, shutdown_rx.clone()));
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        Ok(App {
            calls: calls_out,
            client: client_out,
            board: board_rx,
            metrics,
            status_addr,
            runtime,
            daemon: Some(daemon),
            shutdown,
            status: status_rx,
            printer: printer_rx,
        })
    }

    /// Sends events (scans from the screen) to the kiosk loop (bounded:
    /// the screen uses `try_send`).
    pub fn sender(&self) -> std::sync::mpsc::SyncSender<Event> {
        self.daemon.as_ref().expect("running").sender()
    }

    /// The central link's state.
    pub fn link_status(&self) -> watch::Receiver<LinkStatus> {
        self.status.clone()
    }

    /// The printer's state.
    pub fn printer_health(&self) -> watch::Receiver<PrinterHealth> {
        self.printer.clone()
    }

    /// Today's manifest as the kiosk loop holds it.
    pub fn manifest(&self) -> watch::Receiver<Option<Arc<antrean_core::manifest::Manifest>>> {
        self.daemon.as_ref().expect("running").manifest()
    }

    /// Every call the board applies, once (for the spoken announcements).
    pub fn take_calls(
        &mut self,
    ) -> Option<std::sync::mpsc::Receiver<antrean_core::api::CallEvent>> {
        self.calls.take()
    }

    /// The central service's client (absent without `[central]`).
    pub fn client(&self) -> Option<CentralClient> {
        self.client.clone()
    }

    /// The call board, as the central service's events last left it.
    pub fn board(&self) -> watch::Receiver<BoardFeed> {
        self.board.clone()
    }

    /// The kiosk's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Where the status endpoint listens, when configured.
    pub fn status_addr(&self) -> Option<std::net::SocketAddr> {
        self.status_addr
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Blocks until a stop signal (SIGINT/SIGTERM) or the end of input; an
    /// error when the kiosk loop died instead.
    pub fn wait(&mut self) -> Result<(), AppError> {
        let finished = self.daemon.as_mut().expect("running").finished();
        self.runtime.block_on(async {
            tokio::select! {
                _ = antrean_host::shutdown_signal() => {
                    tracing::info!("stop requested");
                    Ok(())
                }
                r = finished => match r {
                    Ok(()) => {
                        tracing::info!("input ended");
                        Ok(())
                    }
                    Err(_) => Err(AppError::KioskLoopDied),
                },
            }
        })
    }

    /// Calls `f` (on a runtime thread) when SIGINT or SIGTERM arrives.
    pub fn on_stop_signal(&self, f: impl FnOnce() + Send + 'static) {
        self.runtime.spawn(async move {
            antrean_host::shutdown_signal().await;
            f();
        });
    }

    /// Stops the sync tasks and the kiosk loop (the scan in hand finishes).
    pub fn stop(mut self) {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        let _ = self.shutdown.send(true);
        if let Some(d) = self.daemon.take() {
            d.shutdown();
        }
        self.runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

/// Runs the reference central service in this process on 127.0.0.1 with
/// today's demo bookings (and simulated counters when asked). Returns its
/// URL and a fresh kiosk token for this kiosk. A fresh staff token goes to
/// a 0600 file under `state_dir/embedded-central/` (only its path is
/// logged); the previous start's tokens are revoked. Sample codes and QR
/// images go to `state_dir/demo/`.
async fn start_embedded(
    config: &Config,
    clock: Clock,
    simulate_every: u64,
    shutdown: watch::Receiver<bool>,
) -> Result<(String, String), AppError> {
    use antrean_central::auth::Role;
    use antrean_central::{demo, keys::KeyStore, Central, CentralSettings, SqliteStore};
    let fail = |e: &dyn std::fmt::Display| AppError::Embedded(e.to_string());
    let dir = config.kiosk.state_dir.join("embedded-central");
    antrean_host::state_dir::create_private_dir(&dir).map_err(|e| fail(&e))?;
    let mut settings = CentralSettings::standard(&config.office.id, &config.office.name);
    settings.offices[0].timezone = config.timezone();
    let store =
        SqliteStore::open(&dir.join("central.sqlite3"), &config.office.id).map_err(|e| fail(&e))?;
    let key_dir = dir.join("keys");
    if !key_dir.join("active").exists() {
        KeyStore::generate(&key_dir, "demo").map_err(|e| fail(&e))?;
    }
    let keys = KeyStore::load(&key_dir).map_err(|e| fail(&e))?;
    let central = Central::new(settings, Arc::new(store), keys, clock);
    const LABEL: &str = "embedded";
    central.revoke_labelled(LABEL).await.map_err(|e| fail(&e))?;
    let (_, kiosk_token) = central
        .add_token(
            Role::Kiosk,
            &config.office.id,
            Some(&config.kiosk.id),
            Some(LABEL),
        )
        .await
        .map_err(|e| fail(&e))?;
    let (_, staff_token) = central
        .add_token(Role::Staff, &config.office.id, None, Some(LABEL))
        .await
        .map_err(|e| fail(&e))?;
    let staff_file = dir.join("staff-token");
    antrean_host::state_dir::write_private(&staff_file, format!("{staff_token}\n").as_bytes())
        .map_err(|e| fail(&e))?;
    let summary = demo::seed_demo(&central.default_office(), central.today(), 2024)
        .await
        .map_err(|e| fail(&e))?;
    let files = demo::write_demo_files(&summary, &config.kiosk.state_dir.join("demo"))
        .map_err(|e| fail(&e))?;
    tracing::info!(bookings = summary.bookings, samples = %files[0].display(), "embedded central service: demo bookings ready");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail(&e))?;
    let addr = listener.local_addr().map_err(|e| fail(&e))?;
    if simulate_every > 0 {
        tokio::spawn(demo::simulate_counters(
            central.clone(),
            Duration::from_secs(simulate_every),
            shutdown.clone(),
        ));
    }
    tokio::spawn(antrean_central::maintenance::run(
        central.clone(),
        shutdown.clone(),
    ));
    let mut stop = shutdown;
    tokio::spawn(antrean_central::serve(listener, central, async move {
        let _ = stop.changed().await;
    }));
    tracing::info!(%addr, staff_token_file = %staff_file.display(), "embedded central service listening (staff page at http://{addr}/; its staff token is in the file)");
    Ok((format!("http://{addr}"), kiosk_token))
}

/// Tells systemd we are alive while the kiosk loop beats (only when the
/// unit has `WatchdogSec=`).
async fn systemd_watchdog(
    heartbeat: Arc<crate::kiosk::Heartbeat>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (period / 3).max(Duration::from_millis(100));
    loop {
        if heartbeat.age() < period / 2 {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        } else {
            tracing::error!(stalled_for = ?heartbeat.age(), "kiosk loop is not responding; letting the watchdog restart us");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn forward_printer(
    runtime: &tokio::runtime::Runtime,
    mut from: watch::Receiver<PrinterHealth>,
    to: watch::Sender<PrinterHealth>,
    mut shutdown: watch::Receiver<bool>,
) {
    runtime.spawn(async move {
        loop {
            let h = from.borrow_and_update().clone();
            to.send_if_modified(|cur| {
                let changed = *cur != h;
                *cur = h;
                changed
            });
            tokio::select! {
                r = from.changed() => if r.is_err() { return },
                _ = shutdown.changed() => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn central(token: Option<&str>, file: Option<&Path>) -> CentralConfig {
        CentralConfig {
            url: "http://127.0.0.1:1".into(),
            token: token.map(str::to_string),
            token_file: file.map(Path::to_path_buf),
            answer_deadline_ms: 800,
            manifest_refresh_seconds: 180,
            simulate_counters_seconds: 0,
            retry_max_seconds: 30,
            allow_insecure_http: false,
        }
    }

    #[test]
    fn token_file_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token(&central(None, Some(&path)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token(&central(None, Some(&path))).unwrap(), "s3cret");
        assert_eq!(read_token(&central(Some(" t "), None)).unwrap(), "t");
        assert!(read_token(&central(None, None)).is_err());
        assert!(read_token(&central(None, Some(&dir.path().join("none")))).is_err());
    }
}
