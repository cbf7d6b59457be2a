//! Where ticket bytes go: a thermal printer on a serial port, or the virtual
//! printer that files each ticket in `state_dir/tickets/`. The serial
//! printer owns its port, opens it on demand and reopens it after the
//! device vanished (USB-serial unplugged), so a fault never stops the daemon.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::PrinterConfig;
use antrean_core::printer_status::{PrinterState, PrinterStatus, STATUS_QUERY};

/// Why a ticket did not reach the printer, with what staff should check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrinterError {
    #[error("printer on {port} cannot be opened: {reason}. Check the cable, the power and [printer] port in the configuration.")]
    Unavailable { port: String, reason: String },
    #[error("printer on {port} stopped taking data after {written} of {total} bytes: {reason}. Check paper, cover and cable; the ticket will print again on the next scan.")]
    Write {
        port: String,
        written: usize,
        total: usize,
        reason: String,
    },
    #[error("virtual printer cannot write to {dir}: {reason}")]
    Virtual { dir: PathBuf, reason: String },
    #[error(
        "printer cannot print: {state} ({detail}). Fix the printer; the kiosk resumes by itself."
    )]
    NotReady { state: &'static str, detail: String },
    #[error("printer reported {state} after the ticket ({detail}): the ticket may be incomplete and will print again on the next scan.")]
    AfterPrint { state: &'static str, detail: String },
}

impl PrinterError {
    fn from_status(s: &PrinterStatus, after: bool) -> PrinterError {
        let (state, detail) = (s.state.as_str(), s.detail.clone().unwrap_or_default());
        if after {
            PrinterError::AfterPrint { state, detail }
        } else {
            PrinterError::NotReady { state, detail }
        }
    }
}

/// A destination for ticket bytes.
pub trait TicketPrinter: Send {
    /// Sends one ticket as one buffer. Ok only when every byte was written
    /// and the printer reports no error afterwards. `label` names the
    /// ticket (booking code) for the virtual printer.
    fn print(&mut self, bytes: &[u8], label: &str) -> Result<(), PrinterError>;
    /// Asks the printer how it is (a printer that does not answer is offline).
    fn status(&mut self) -> PrinterStatus;
    /// Where the printer is, for messages.
    fn describe(&self) -> String;
}

/// Builds the printer the configuration asks for.
pub fn from_config(config: &PrinterConfig, state_dir: &Path) -> Box<dyn TicketPrinter> {
    if config.port.trim() == "virtual" {
        Box::new(VirtualPrinter::new(
            state_dir.join("tickets"),
            config.columns,
        ))
    } else {
        Box::new(SerialPrinter::new(config))
    }
}

/// A printer on a serial line (USB-serial or a real RS-232 port).
pub struct SerialPrinter {
    path: String,
    baud: u32,
    timeout: Duration,
    flow_control: bool,
    status_timeout: Duration,
    port: Option<Box<dyn serialport::SerialPort>>,
    /// The device number the open port belongs to.
    device: Option<u64>,
}

/// The device number behind a path (following symlinks), if any.
fn device_id(path: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.rdev())
}

impl SerialPrinter {
    pub fn new(config: &PrinterConfig) -> SerialPrinter {
        SerialPrinter {
            path: config.port.clone(),
            baud: config.baud,
            timeout: Duration::from_millis(config.write_timeout_ms),
            flow_control: config.flow_control,
            status_timeout: Duration::from_millis(config.status_timeout_ms),
            port: None,
            device: None,
        }
    }

    fn open(&mut self) -> Result<&mut Box<dyn serialport::SerialPort>, PrinterError> {
        // A USB-serial adapter that was unplugged leaves a dead descriptor;
        // its device node is gone or belongs to another device now.
        if self.port.is_some() && device_id(&self.path) != self.device {
            tracing::warn!(port = %self.path, "printer device changed or vanished; reopening");
            self.port = None;
        }
        if self.port.is_none() {
            let flow = if self.flow_control {
                serialport::FlowControl::Hardware
            } else {
                serialport::FlowControl::None
            };
            let port = serialport::new(&self.path, self.baud)
                .timeout(self.timeout)
                .flow_control(flow)
                .open()
                .map_err(|e| PrinterError::Unavailable {
                    port: self.path.clone(),
                    reason: e.to_string(),
                })?;
            self.port = Some(port);
            self.device = device_id(&self.path);
        }
        Ok(self.port.as_mut().expect("opened above"))
    }

    /// Sends the `DLE EOT` queries and reads the four replies before the
    /// deadline.
    fn query(&mut self) -> PrinterStatus {
        let deadline = self.status_timeout;
        let write_timeout = self.timeout;
        let (path, baud) = (self.path.clone(), self.baud);
        let port = match self.open() {
            Ok(p) => p,
            Err(e) => return PrinterStatus::new(PrinterState::Offline, e.to_string()),
        };
        let _ = port.clear(serialport::ClearBuffer::Input);
        if let Err(e) = port.write_all(&STATUS_QUERY).and_then(|_| port.flush()) {
            self.port = None;
            return PrinterStatus::new(
                PrinterState::Offline,
                format!("status query not sent: {e}"),
            );
        }
        let _ = port.set_timeout(deadline);
        let started = Instant::now();
        let mut replies = [0u8; 4];
        let mut got = 0;
        while got < 4 && started.elapsed() < deadline {
            match port.read(&mut replies[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.port = None;
                    return PrinterStatus::new(
                        PrinterState::Offline,
                        format!("status reply not read: {e}"),
                    );
                }
            }
        }
        let _ = port.set_timeout(write_timeout);
        if got < 4 {
            return PrinterStatus::new(
                PrinterState::Offline,
                format!("the printer on {path} does not answer status queries (check power, cable and baud {baud})"),
            );
        }
        match antrean_core::printer_status::decode(replies) {
            Ok(s) => s,
            Err(e) => PrinterStatus::new(PrinterState::Error, format!("{e}: check the baud rate")),
        }
    }
}

impl TicketPrinter for SerialPrinter {
    fn print(&mut self, bytes: &[u8], _label: &str) -> Result<(), PrinterError> {
        let path = self.path.clone();
        let port = self.open()?;
        let mut written = 0;
        let result = loop {
            if written == bytes.len() {
                break port.flush().map_err(|e| e.to_string());
            }
            match port.write(&bytes[written..]) {
                Ok(0) => break Err("the port accepted no bytes".to_string()),
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e.to_string()),
            }
        };
        result.map_err(|reason| {
            // The device may have vanished: reopen on the next ticket.
            self.port = None;
            PrinterError::Write {
                port: path,
                written,
                total: bytes.len(),
                reason,
            }
        })?;
        // Printed only if the printer is still well after the ticket.
        let after = self.query();
        if after.state.can_print() {
            Ok(())
        } else {
            Err(PrinterError::from_status(&after, true))
        }
    }

    fn status(&mut self) -> PrinterStatus {
        self.query()
    }

    fn describe(&self) -> String {
        format!("{} at {} baud", self.path, self.baud)
    }
}

/// The virtual printer: each ticket's bytes and its decoded text go to a
/// directory, for demos, training and tests.
pub struct VirtualPrinter {
    dir: PathBuf,
    columns: u8,
    count: u64,
}

impl VirtualPrinter {
    pub fn new(dir: PathBuf, columns: u8) -> VirtualPrinter {
        let count = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
                    .count() as u64
            })
            .unwrap_or(0);
        VirtualPrinter {
            dir,
            columns,
            count,
        }
    }

    /// The directory tickets are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl TicketPrinter for VirtualPrinter {
    fn print(&mut self, bytes: &[u8], label: &str) -> Result<(), PrinterError> {
        let status = self.status();
        if !status.state.can_print() {
            return Err(PrinterError::from_status(&status, false));
        }
        let err = |e: std::io::Error| PrinterError::Virtual {
            dir: self.dir.clone(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        self.count += 1;
        let safe: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let stem = self.dir.join(format!("{:04}-{safe}", self.count));
        let text = match crate::escpos_decode::decode(bytes) {
            Ok(elements) => crate::escpos_decode::render_text(&elements, self.columns),
            Err(e) => format!("(undecodable ticket: {e})\n"),
        };
        // Text first, bytes last: a test waiting for the .bin sees both.
        std::fs::write(stem.with_extension("txt"), text).map_err(err)?;
        let tmp = stem.with_extension("bin.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, stem.with_extension("bin")).map_err(err)?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("virtual printer in {}", self.dir.display())
    }

    /// `ok`, unless `state_dir/virtual-printer.state` names another state
    /// (`paper_low`, `paper_out`, `cover_open`, `offline`, `error`): for
    /// training staff on printer faults.
    fn status(&mut self) -> PrinterStatus {
        let file = self.dir.with_file_name("virtual-printer.state");
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let state = match text.trim() {
            "paper_low" => PrinterState::PaperLow,
            "paper_out" => PrinterState::PaperOut,
            "cover_open" => PrinterState::CoverOpen,
            "offline" => PrinterState::Offline,
            "error" => PrinterState::Error,
            _ => return PrinterStatus::ok(),
        };
        PrinterStatus::new(state, "virtual printer state file")
    }
}
