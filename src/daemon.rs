//! Starting and stopping the kiosk daemon: prepares the state directory,
//! opens the journal and the printer, starts the kiosk loop and the scan
//! sources. The caller decides when to stop (a signal, end of input, a test).
//! Everything reaches the kiosk loop through one bounded channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::journal::{Journal, JournalError};
use crate::kiosk::{CentralLink, Event, Heartbeat, Kiosk, ReportSink, Uplink};
use crate::metrics::Metrics;
use crate::printer::Printer;
use antrean_core::api::PrinterHealth;
use antrean_core::manifest::Manifest;
use antrean_host::clock::Clock;
use antrean_host::state_dir::StateDirError;

/// Events waiting for the kiosk loop at most. A scan takes the loop a few
/// milliseconds (a ticket up to the printer's write timeout); past this,
/// scan readers wait (the serial line and stdin buffer in the kernel) and
/// the screen drops what it cannot hand over.
pub const EVENT_QUEUE: usize = 64;

/// Why the daemon cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error(transparent)]
    StateDir(#[from] StateDirError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(
        "cannot start a thread of the daemon: {0}. The machine is out of memory or processes."
    )]
    Thread(std::io::Error),
}

/// Where scans come from in headless mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanSource {
    /// `[scanner]` if configured, else standard input.
    Configured,
    /// `[scanner]` if configured; nothing else (the screen's keyboard
    /// wedge sends through [`Daemon::sender`]).
    SerialOnly,
    /// Only what is sent through [`Daemon::sender`] (UI, tests).
    None,
}

/// What the daemon needs besides the configuration.
pub struct DaemonOptions {
    pub clock: Clock,
    pub source: ScanSource,
    /// Every scan's report also goes to these (screens, tests).
    pub observers: Vec<ReportSink>,
    /// The link to the central service, when one is configured.
    pub link: Option<Box<dyn CentralLink>>,
    pub metrics: Arc<Metrics>,
    /// The kiosk loop beats at least this often (watchdog).
    pub beat_every: Duration,
}

/// A running daemon.
pub struct Daemon {
    tx: SyncSender<Event>,
    stop: Arc<AtomicBool>,
    kiosk: Option<std::thread::JoinHandle<()>>,
    scanner: Option<std::thread::JoinHandle<()>>,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
    printer_health: tokio::sync::watch::Receiver<PrinterHealth>,
    heartbeat: Arc<Heartbeat>,
    manifest: tokio::sync::watch::Receiver<Option<Arc<Manifest>>>,
}

impl Daemon {
    /// Starts the kiosk loop and its scan source.
    pub fn start(config: &Config, options: DaemonOptions) -> Result<Daemon, StartError> {
        antrean_host::state_dir::prepare(&config.kiosk.state_dir)?;
        let journal = Journal::open(&config.kiosk.state_dir)?;
        let metrics = options.metrics;
        let printer =
            Printer::from_config(&config.printer, &config.kiosk.state_dir, metrics.clone());
        tracing::info!(printer = %printer.describe(), state_dir = %config.kiosk.state_dir.display(),
            shifted_clock = options.clock.is_shifted(), "starting");
        let uplink = match options.link {
            Some(link) => Uplink::new(
                link,
                &config.kiosk.id,
                Duration::from_millis(
                    config
                        .central
                        .as_ref()
                        .map(|c| c.answer_deadline_ms)
                        .unwrap_or(0),
                ),
            ),
            None => Uplink::none(&config.kiosk.id),
        };
        let mut kiosk = Kiosk::new(
            config,
            journal,
            printer,
            uplink,
            options.clock,
            metrics.clone(),
        )
        .beating_every(options.beat_every);
        for sink in options.observers {
            kiosk.observe(sink);
        }
        let printer_health = kiosk.printer_health();
        let heartbeat = kiosk.heartbeat();
        let manifest = kiosk.manifest_watch();
        let (tx, rx) = sync_channel(EVENT_QUEUE);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let kiosk = std::thread::Builder::new()
            .name("kiosk".into())
            .spawn(move || {
                kiosk.run(rx);
                let _ = done_tx.send(());
            })
            .map_err(StartError::Thread)?;
        let stop = Arc::new(AtomicBool::new(false));
        let scanner = match (options.source, &config.scanner) {
            (ScanSource::None, _) | (ScanSource::SerialOnly, None) => None,
            (ScanSource::SerialOnly | ScanSource::Configured, Some(sc)) => Some(
                crate::scanner::spawn_serial(sc.clone(), tx.clone(), stop.clone(), metrics.clone())
                    .map_err(StartError::Thread)?,
            ),
            (ScanSource::Configured, None) => {
                tracing::info!(
                    "no [scanner] configured: reading scans from standard input, one per line"
                );
                Some(crate::scanner::spawn_stdin(tx.clone()).map_err(StartError::Thread)?)
            }
        };
        tracing::info!("ready to scan");
        Ok(Daemon {
            tx,
            stop,
            kiosk: Some(kiosk),
            scanner,
            done: Some(done_rx),
            printer_health,
            heartbeat,
            manifest,
        })
    }

    /// Today's manifest as the kiosk loop holds it.
    pub fn manifest(&self) -> tokio::sync::watch::Receiver<Option<Arc<Manifest>>> {
        self.manifest.clone()
    }

    /// The kiosk loop's heartbeat.
    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// The printer's state as the kiosk loop last saw it.
    pub fn printer_health(&self) -> tokio::sync::watch::Receiver<PrinterHealth> {
        self.printer_health.clone()
    }

    /// Sends events (scans from the UI, manifests) to the kiosk loop. The
    /// channel is bounded ([`EVENT_QUEUE`]): a thread that must not block
    /// (the UI, async tasks) uses `try_send`.
    pub fn sender(&self) -> SyncSender<Event> {
        self.tx.clone()
    }

    /// Resolves when the kiosk loop ended by itself (end of input).
    pub fn finished(&mut self) -> tokio::sync::oneshot::Receiver<()> {
        self.done
            .take()
            .unwrap_or_else(|| tokio::sync::oneshot::channel().1)
    }

    /// Stops after the scan in hand (its ticket is finished or journaled as
    /// not printed) and waits for the loop.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(s) = &self.scanner {
            // Out of a reopening pause at once.
            s.thread().unpark();
        }
        let _ = self.tx.send(Event::Shutdown);
        if let Some(k) = self.kiosk.take() {
            let _ = k.join();
        }
        // The stdin reader may block in read(): it is not joined.
        if let Some(s) = self.scanner.take() {
            if s.is_finished() {
                let _ = s.join();
            }
        }
        tracing::info!("stopped");
    }
}
