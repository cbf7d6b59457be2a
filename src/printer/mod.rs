//! The thermal printer as one part: a [`Printer`] owns its [`Transport`]
//! (serial line, USB printer class, network, virtual file printer), asks it
//! for its status (`DLE EOT`, unless its profile answers none), publishes
//! the state for the health report, the board and `/healthz`, and is the
//! one place that decides whether a ticket can be printed now. ESC/POS
//! encoding is `encode`; it never touches a port. `detect` finds printers
//! for `printer-detect`.

pub mod detect;
pub mod encode;
pub mod file;
pub mod network;
pub mod serial;
pub mod transport;
pub mod usb;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{PrinterConfig, PrinterPort, StatusSupport};
use crate::metrics::Metrics;
use antrean_core::api::PrinterHealth;
use antrean_core::backoff::Backoff;
use antrean_core::printer_status::{PrinterState, PrinterStatus, STATUS_QUERY};
pub use transport::{Transport, TransportError};

/// Longest pause between periodic checks of a printer that cannot be reached.
const CHECK_MAX: Duration = Duration::from_secs(30);

/// Why a ticket did not print, with what staff should check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrinterError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("printer cannot print: {} ({detail}). Fix the printer; the kiosk resumes by itself.", state.as_str())]
    NotReady { state: PrinterState, detail: String },
    #[error("printer reported {} after the ticket ({detail}): the ticket may be incomplete and will print again on the next scan.", state.as_str())]
    AfterPrint { state: PrinterState, detail: String },
}

impl PrinterError {
    fn from_status(s: &PrinterStatus, after: bool) -> PrinterError {
        let (state, detail) = (s.state, s.detail.clone().unwrap_or_default());
        if after {
            PrinterError::AfterPrint { state, detail }
        } else {
            PrinterError::NotReady { state, detail }
        }
    }

    /// The printer's state this error shows (a transport failure: offline).
    pub fn state(&self) -> PrinterState {
        match self {
            PrinterError::NotReady { state, .. } | PrinterError::AfterPrint { state, .. } => *state,
            PrinterError::Transport(_) => PrinterState::Offline,
        }
    }
}

/// True when `path` is (or links to) a USB printer-class device.
pub fn is_usb_class(path: &std::path::Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|p| p.starts_with("/dev/usb/"))
}

/// The transport the configuration asks for. A serial path that resolves
/// to `/dev/usb/lp*` (a udev symlink) is driven as a USB printer.
pub fn transport_for(config: &PrinterConfig, state_dir: &std::path::Path) -> Box<dyn Transport> {
    let write_timeout = Duration::from_millis(config.write_timeout_ms);
    match &config.port {
        PrinterPort::Virtual => Box::new(file::FileTransport::new(
            state_dir.join("tickets"),
            config.columns,
        )),
        PrinterPort::UsbClass(path) => Box::new(usb::UsbClassTransport::new(path, write_timeout)),
        PrinterPort::Serial(path) if is_usb_class(path) => {
            Box::new(usb::UsbClassTransport::new(path, write_timeout))
        }
        PrinterPort::Serial(path) => Box::new(serial::SerialTransport::new(path, config)),
        PrinterPort::Network(addr) => Box::new(network::NetworkTransport::new(
            addr,
            Duration::from_millis(config.connect_timeout_ms),
            write_timeout,
        )),
    }
}

/// The printer: its transport, its last known state, and the pace of the
/// periodic status checks (backing off while it cannot be reached).
pub struct Printer {
    transport: Box<dyn Transport>,
    /// The profile answers `DLE EOT` (otherwise the status is unknown).
    answers_status: bool,
    profile: String,
    encoding: encode::Encoding,
    status_timeout: Duration,
    check_every: Duration,
    backoff: Backoff,
    next_check: Instant,
    health: watch::Sender<PrinterHealth>,
    metrics: Arc<Metrics>,
}

impl Printer {
    pub fn new(
        transport: Box<dyn Transport>,
        config: &PrinterConfig,
        metrics: Arc<Metrics>,
    ) -> Printer {
        let check_every = Duration::from_secs(config.status_every_seconds.max(1));
        Printer {
            transport,
            answers_status: config.profile.status == StatusSupport::DleEot,
            profile: config.profile.name.clone(),
            encoding: encode::Encoding::from_config(config),
            status_timeout: Duration::from_millis(config.status_timeout_ms),
            check_every,
            backoff: Backoff::new(check_every, CHECK_MAX),
            next_check: Instant::now() + check_every,
            health: watch::Sender::new(PrinterHealth {
                state: PrinterState::Ok,
                detail: None,
            }),
            metrics,
        }
    }

    /// The printer the configuration asks for.
    pub fn from_config(
        config: &PrinterConfig,
        state_dir: &std::path::Path,
        metrics: Arc<Metrics>,
    ) -> Printer {
        Printer::new(transport_for(config, state_dir), config, metrics)
    }

    /// The printer's state as last seen (health reports, board, `/healthz`).
    pub fn health(&self) -> watch::Receiver<PrinterHealth> {
        self.health.subscribe()
    }

    /// How tickets for this printer are encoded (its profile).
    pub fn encoding(&self) -> encode::Encoding {
        self.encoding
    }

    /// Where the printer is, for messages.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Asks the printer how it is (`DLE EOT` 1-4) and publishes the answer.
    /// A printer that does not answer is offline; while it stays so, the
    /// periodic checks back off.
    pub fn check(&mut self) -> PrinterStatus {
        let status = self
            .query()
            .unwrap_or_else(|e| PrinterStatus::new(PrinterState::Offline, e.to_string()));
        self.metrics.attempt("printer_check", status.state.as_str());
        let wait = if status.state == PrinterState::Offline {
            self.backoff.next_delay(rand::random())
        } else {
            self.backoff.reset();
            self.check_every
        };
        self.next_check = Instant::now() + wait;
        self.publish(status.state, status.detail.clone());
        status
    }

    /// Asks the printer (or, when its profile answers no status, only
    /// whether it can be reached: status unknown); a transport failure is
    /// the error.
    fn query(&mut self) -> Result<PrinterStatus, TransportError> {
        if !self.answers_status {
            self.transport.probe()?;
            return Ok(PrinterStatus::unknown(&format!(
                "printer profile {} answers no status queries; a ticket counts as printed when every byte went out",
                self.profile
            )));
        }
        Ok(self.ask()?.unwrap_or_else(|| {
            PrinterStatus::new(
                PrinterState::Offline,
                format!(
                    "the printer on {} does not answer status queries (check power, cable and baud rate)",
                    self.transport.describe()
                ),
            )
        }))
    }

    /// Sends `DLE EOT` 1-4 and decodes the answer: `None` when the printer
    /// stayed silent, an error when it cannot be reached. Publishes nothing
    /// (`printer-detect` uses it to probe).
    pub fn ask(&mut self) -> Result<Option<PrinterStatus>, TransportError> {
        let mut replies = [0u8; 4];
        let n = self
            .transport
            .exchange(&STATUS_QUERY, &mut replies, self.status_timeout)?;
        if n < replies.len() {
            return Ok(None);
        }
        Ok(Some(
            antrean_core::printer_status::decode(replies).unwrap_or_else(|e| {
                PrinterStatus::new(PrinterState::Error, format!("{e}: check the baud rate"))
            }),
        ))
    }

    /// The one place that decides whether a ticket can be printed now:
    /// asks the printer, and refuses when its state cannot print.
    pub fn ready(&mut self) -> Result<(), PrinterError> {
        let status = self.check();
        if status.state.can_print() {
            Ok(())
        } else {
            Err(PrinterError::from_status(&status, false))
        }
    }

    /// Sends one job as one buffer. Ok only when every byte went out and
    /// the printer reports no error afterwards; the state is published
    /// either way.
    ///
    /// A network printer that lost its connection during the job (or while
    /// answering the status after it) dropped the job: it is sent again,
    /// whole, once, on a fresh connection.
    pub fn print(&mut self, bytes: &[u8], label: &str) -> Result<(), PrinterError> {
        match self.print_once(bytes, label) {
            Err(PrinterError::Transport(e)) if self.transport.resends_after_lost_connection() => {
                tracing::warn!(printer = %self.transport.describe(), error = %e,
                    "connection lost during a ticket; sending the whole ticket again");
                self.metrics.attempt("printer_resend", "lost_connection");
                self.print_once(bytes, label)
            }
            other => other,
        }
    }

    fn print_once(&mut self, bytes: &[u8], label: &str) -> Result<(), PrinterError> {
        let after = self
            .transport
            .send(bytes, label)
            .and_then(|()| self.query());
        let after = match after {
            Ok(status) => status,
            Err(e) => {
                let e = PrinterError::from(e);
                self.publish(e.state(), Some(e.to_string()));
                return Err(e);
            }
        };
        self.backoff.reset();
        self.publish(after.state, after.detail.clone());
        if after.state.can_print() {
            Ok(())
        } else {
            Err(PrinterError::from_status(&after, true))
        }
    }

    /// When the next periodic check is due.
    pub fn next_check(&self) -> Instant {
        self.next_check
    }

    /// Checks the printer when a periodic check is due.
    pub fn check_if_due(&mut self) {
        if Instant::now() >= self.next_check {
            self.check();
        }
    }

    fn publish(&self, state: PrinterState, detail: Option<String>) {
        let unknown = |d: Option<&str>| antrean_core::printer_status::is_unknown(state, d);
        let was_unknown = {
            let h = self.health.borrow();
            antrean_core::printer_status::is_unknown(h.state, h.detail.as_deref())
        };
        if self.health.borrow().state != state || was_unknown != unknown(detail.as_deref()) {
            if state.can_print() {
                tracing::info!(state = state.as_str(), detail = ?detail, "printer state");
            } else {
                tracing::warn!(state = state.as_str(), detail = ?detail,
                    "printer cannot print: new check-ins are refused until it is fixed");
            }
        }
        self.metrics.printer_ok.set(i64::from(state.can_print()));
        self.health.send_if_modified(|h| {
            let changed = h.state != state || h.detail != detail;
            h.state = state;
            h.detail = detail;
            changed
        });
    }
}
