//! The whole kiosk process, assembled: the kiosk loop and its scan sources
//! (`daemon`), and, when `[central]` is configured, the sync tasks on a
//! tokio runtime, the spoken calls and the status endpoint. `run`
//! (headless or with screens), the tests and the benchmarks all start the
//! product through [`App::start`]; screens connect with
//! [`App::attach_screens`] and see nothing else of it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::central::board_sync::{BoardFeed, BoardSyncOptions};
use crate::central::client::CentralClient;
use crate::central::sync::{self, Link, LinkStatus, SyncShared};
use crate::config::{CentralConfig, CentralUrl, Config};
use crate::daemon::{Daemon, DaemonOptions, ScanSource, StartError};
use crate::journal::Journal;
use crate::kiosk::{Event, ReportSink};
use crate::metrics::Metrics;
use crate::screen_feed::{FeedSources, ScreenFeed, Screens};
use crate::status_server::StatusSources;
use antrean_core::api::PrinterHealth;
use antrean_core::printer_status::PrinterState;
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
    #[error(transparent)]
    Embedded(#[from] crate::embedded::EmbeddedError),
    #[error("the kiosk loop stopped unexpectedly; see the log above. The service manager restarts the kiosk.")]
    KioskLoopDied,
}

/// Options for [`App::start`].
pub struct AppOptions {
    pub clock: Clock,
    pub source: ScanSource,
    /// Every scan's report also goes to these (tests).
    pub observers: Vec<ReportSink>,
    /// Say the board's calls aloud (`[audio]`): with a board screen.
    pub announce: bool,
}

impl AppOptions {
    /// System or `ANTREAN_NOW` clock, scans from the configured source.
    pub fn configured(clock: Clock) -> AppOptions {
        AppOptions {
            clock,
            source: ScanSource::Configured,
            observers: Vec::new(),
            announce: false,
        }
    }
}

/// The running kiosk process.
pub struct App {
    config: Config,
    clock: Clock,
    runtime: tokio::runtime::Runtime,
    daemon: Option<Daemon>,
    shutdown: watch::Sender<bool>,
    status: Option<watch::Receiver<LinkStatus>>,
    printer: watch::Receiver<PrinterHealth>,
    metrics: Arc<Metrics>,
    status_addr: Option<std::net::SocketAddr>,
    board: Option<watch::Receiver<BoardFeed>>,
    client: Option<CentralClient>,
    _announcer: Option<std::thread::JoinHandle<()>>,
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
        let clock = options.clock;
        // The kiosk loop beats well within the systemd watchdog's period.
        let beat_every = sd_notify::watchdog_enabled()
            .map(|period| period / 4)
            .unwrap_or(Duration::from_secs(5));
        let mut daemon_options = DaemonOptions {
            clock,
            source: options.source,
            observers: options.observers,
            link: None,
            metrics: metrics.clone(),
            beat_every,
        };
        let (daemon, status, board, client, calls) = match &config.central {
            None => (
                Daemon::start(config, daemon_options)?,
                None,
                None,
                None,
                None,
            ),
            Some(central) => {
                let (url, token) = match &central.url {
                    CentralUrl::Embedded => runtime.block_on(crate::embedded::start(
                        config,
                        clock,
                        central.simulate_counters_seconds,
                        shutdown_rx.clone(),
                    ))?,
                    CentralUrl::Service(_) => (central.url.to_string(), read_token(central)?),
                };
                // The demo's tickets link to its own service's status page
                // (on this machine) unless the configuration names one.
                let demo_config;
                let config = if matches!(central.url, CentralUrl::Embedded)
                    && config.ticket.status_url.is_empty()
                {
                    let mut c = config.clone();
                    c.ticket.status_url = url.trim_end_matches('/').to_string();
                    demo_config = c;
                    &demo_config
                } else {
                    config
                };
                let client =
                    CentralClient::new(&url, &config.office.id, &token).map_err(LinkError::from)?;
                let status = watch::Sender::new(LinkStatus::default());
                let status_rx = status.subscribe();
                // The kiosk loop needs the link, and the sync tasks the
                // loop's printer state: build the link first, wire after.
                let (printer_tx, printer_watch) = watch::channel(PrinterHealth {
                    state: PrinterState::Ok,
                    detail: None,
                });
                let shared = SyncShared {
                    client,
                    clock,
                    timezone: config.timezone(),
                    kiosk_id: config.kiosk.id.clone(),
                    state_dir: config.kiosk.state_dir.clone(),
                    status: Arc::new(status),
                    nudge: Arc::new(tokio::sync::Notify::new()),
                    printer: printer_watch,
                    retry_max: Duration::from_secs(central.retry_max_seconds.max(1)),
                    metrics: metrics.clone(),
                };
                daemon_options.link = Some(Box::new(Link::new(
                    shared.clone(),
                    runtime.handle().clone(),
                )));
                let d = Daemon::start(config, daemon_options)?;
                forward_printer(
                    &runtime,
                    d.printer_health(),
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
                let (board_tx, board_rx) = watch::channel(BoardFeed::default());
                let (calls_tx, calls_rx) = std::sync::mpsc::channel();
                runtime.spawn(crate::central::board_sync::run_board(
                    shared.client.clone(),
                    clock,
                    BoardSyncOptions {
                        retry_max: Duration::from_secs(central.retry_max_seconds.max(1)),
                        calls: options.announce.then_some(calls_tx),
                        ..BoardSyncOptions::default()
                    },
                    board_tx,
                    shared.status.clone(),
                    metrics.clone(),
                    shutdown_rx.clone(),
                ));
                (
                    d,
                    Some(status_rx),
                    Some(board_rx),
                    Some(shared.client.clone()),
                    options.announce.then_some(calls_rx),
                )
            }
        };
        let printer = daemon.printer_health();
        let status_addr = match &config.status {
            None => None,
            Some(sc) => {
                let sources = StatusSources {
                    metrics: metrics.clone(),
                    printer: printer.clone(),
                    link: status.clone(),
                    board: board.clone(),
                    clock,
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
        let announcer = calls.and_then(|calls| start_announcer(config, clock, calls));
        runtime.spawn(systemd_watchdog(daemon.heartbeat(), shutdown_rx.clone()));
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        Ok(App {
            config: config.clone(),
            clock,
            client,
            board,
            metrics,
            status_addr,
            runtime,
            daemon: Some(daemon),
            shutdown,
            status,
            printer,
            _announcer: announcer,
        })
    }

    fn daemon(&self) -> Result<&Daemon, AppError> {
        self.daemon.as_ref().ok_or(AppError::KioskLoopDied)
    }

    /// Sends events (scans) to the kiosk loop (bounded: a thread that must
    /// not block uses `try_send`).
    pub fn sender(&self) -> Result<std::sync::mpsc::SyncSender<Event>, AppError> {
        Ok(self.daemon()?.sender())
    }

    /// Connects screens: they get every scan's report and every change of
    /// what they show, and may send scans and requests.
    pub fn attach_screens(&self, screens: Arc<dyn Screens>) -> Result<ScreenFeed, AppError> {
        let daemon = self.daemon()?;
        // With a kiosk screen, the kiosk also speaks (`[audio] kiosk_voice`).
        if self.config.ui.role.shows_kiosk() {
            if let Some(observer) =
                kiosk_voice(&self.config, crate::audio::sink_for(&self.config.audio))
            {
                let _ = daemon.sender().send(Event::Observe(observer));
            }
        }
        Ok(crate::screen_feed::start(
            self.runtime.handle(),
            FeedSources {
                config: self.config.clone(),
                clock: self.clock,
                scans: daemon.sender(),
                manifest: daemon.manifest(),
                printer: self.printer.clone(),
                link: self.status.clone(),
                board: self.board.clone(),
                client: self.client.clone(),
                shutdown: self.shutdown.subscribe(),
            },
            screens,
        ))
    }

    /// The central link's state (absent without `[central]`).
    pub fn link_status(&self) -> Option<watch::Receiver<LinkStatus>> {
        self.status.clone()
    }

    /// The printer's state.
    pub fn printer_health(&self) -> watch::Receiver<PrinterHealth> {
        self.printer.clone()
    }

    /// Today's manifest as the kiosk loop holds it.
    pub fn manifest(
        &self,
    ) -> Result<watch::Receiver<Option<Arc<antrean_core::manifest::Manifest>>>, AppError> {
        Ok(self.daemon()?.manifest())
    }

    /// The call board, as the central service's events last left it
    /// (absent without `[central]`).
    pub fn board(&self) -> Option<watch::Receiver<BoardFeed>> {
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
        let finished = self
            .daemon
            .as_mut()
            .ok_or(AppError::KioskLoopDied)?
            .finished();
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

/// The kiosk's spoken help (`[audio] kiosk_voice`): an observer of the
/// kiosk loop's scan reports that hands what to say to a voice thread
/// playing into `sink`. `None` when switched off or without a voice.
pub fn kiosk_voice(config: &Config, sink: Box<dyn crate::audio::AudioSink>) -> Option<ReportSink> {
    use antrean_core::announce::{kiosk_clips, Announcement, KioskSpeech};
    if !(config.audio.enabled && config.audio.kiosk_voice) {
        return None;
    }
    let voice = match crate::audio::Voice::load(&config.audio.voice_dir()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "the kiosk will not speak");
            return None;
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    if let Err(e) = crate::audio::kiosk::spawn_kiosk_voice(rx, voice, config.audio.volume, sink) {
        tracing::warn!(error = %e, "the kiosk will not speak: its voice thread did not start");
        return None;
    }
    let style = config.audio.style;
    // A ticket waiting for the priority choice is announced at once; its
    // printed report then says nothing more.
    let mut announced: Option<String> = None;
    Some(Box::new(move |report: &crate::kiosk::ScanReport| {
        use crate::kiosk::Outcome;
        let number = report.booking.as_ref().map(|b| b.number.clone());
        let speech = match &report.outcome {
            Outcome::Accept | Outcome::Reprint => {
                let again = report.choosing.is_none() && announced.is_some() && announced == number;
                announced = report.choosing.and(number.clone());
                if again {
                    return true;
                }
                match &number {
                    Some(n) => KioskSpeech::Ticket { number: n },
                    None => return true,
                }
            }
            Outcome::Rejected(r) => KioskSpeech::Refused(r.reason),
            Outcome::PrinterFault(_) | Outcome::JournalFault => KioskSpeech::PrinterFault,
            Outcome::DoubleRead => return true,
        };
        let clips = kiosk_clips(speech, style);
        tx.send(Announcement {
            seq: 0,
            number: number.clone().unwrap_or_default(),
            counter: String::new(),
            recall: false,
            clips,
        })
        .is_ok()
    }))
}

/// Spoken calls: the announcer thread with the configured voice and sink.
fn start_announcer(
    config: &Config,
    clock: Clock,
    calls: std::sync::mpsc::Receiver<antrean_core::api::CallEvent>,
) -> Option<std::thread::JoinHandle<()>> {
    if !config.audio.enabled {
        return None;
    }
    let voice = match config.audio.load_voice() {
        Ok(voice) => voice,
        Err(e) => {
            tracing::warn!(error = %e, "no spoken calls");
            return None;
        }
    };
    match crate::audio::spawn_player(
        calls,
        voice,
        config.audio.clone(),
        clock,
        config.timezone(),
        crate::audio::sink_for(&config.audio),
    ) {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "no spoken calls: the announcer thread did not start");
            None
        }
    }
}

/// Demo mode: sample booking codes of today from the embedded service's
/// list (`state_dir/demo/bookings.txt`): those of the sessions open now,
/// then one too early and one too late, so every kind of answer shows.
pub fn demo_codes(config: &Config, clock: Clock) -> Vec<String> {
    let path = config.kiosk.state_dir.join("demo").join("bookings.txt");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let samples: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (number, slot, code) = (parts.next()?, parts.next()?, parts.next()?);
            (number.contains('-') && antrean_core::booking::is_booking_code(code))
                .then(|| (slot.to_string(), code.to_string()))
        })
        .collect();
    let now = antrean_core::checkin::at_office(clock.now(), config.timezone());
    let rules = config.rules();
    let open = |slot: &str| {
        antrean_core::booking::Slot::parse(slot)
            .is_some_and(|s| antrean_core::checkin::is_open(now.date_naive(), s, now, &rules))
    };
    let mut codes: Vec<String> = samples
        .iter()
        .filter(|(s, _)| open(s))
        .map(|(_, c)| c.clone())
        .take(4)
        .collect();
    codes.extend(
        samples
            .iter()
            .filter(|(s, _)| !open(s))
            .map(|(_, c)| c.clone())
            .step_by(3)
            .take(2),
    );
    codes
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
            url: crate::config::CentralUrl::Embedded,
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
