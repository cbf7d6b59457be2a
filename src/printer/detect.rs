//! `printer-detect`: the printers this kiosk can see (serial ports,
//! `/dev/usb/lp*`, the stable `/dev/antrean-printer` link, the configured
//! port, ports named on the command line), each asked for its status with
//! a short timeout, and the `[printer]` line that would use it. It only
//! sends `DLE EOT` (no paper moves); the configured scanner is never asked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Printer;
use crate::config::{PrinterConfig, PrinterPort, StatusSupport};
use crate::metrics::Metrics;
use antrean_core::printer_status::PrinterState;

/// Serial speeds tried, most common first for receipt printers.
const BAUDS: [u32; 4] = [19200, 9600, 38400, 115200];

/// One printer found.
#[derive(Debug, Clone)]
pub struct Found {
    pub port: PrinterPort,
    /// The speed it answered at (serial only).
    pub baud: Option<u32>,
    /// The status it answered, if it did.
    pub state: Option<PrinterState>,
    /// It could be opened or connected to.
    pub reachable: bool,
    pub detail: String,
}

impl Found {
    /// The `[printer]` lines to use this printer, when it answered.
    pub fn config_lines(&self) -> Option<String> {
        let mut s = format!("port = \"{}\"", self.port);
        if let Some(b) = self.baud {
            s.push_str(&format!("\nbaud = {b}"));
        }
        match (self.state, self.reachable, &self.port) {
            (Some(_), _, _) => Some(s),
            // A USB or network printer that takes data but answers no status.
            (None, true, PrinterPort::UsbClass(_) | PrinterPort::Network(_)) => Some(format!(
                "{s}\nprofile = \"xprinter-xp-58\"  # or any profile with status = \"none\""
            )),
            _ => None,
        }
    }
}

/// The ports worth asking: serial ports, USB printers, the stable link,
/// the configured one (and `extra`), without the scanner's.
pub fn candidates(
    config: &PrinterConfig,
    scanner: Option<&str>,
    extra: &[String],
) -> Vec<PrinterPort> {
    let mut ports: Vec<PrinterPort> = Vec::new();
    let mut add = |p: PrinterPort| {
        if !ports.contains(&p) {
            ports.push(p);
        }
    };
    if !matches!(config.port, PrinterPort::Virtual) {
        add(config.port.clone());
    }
    for e in extra {
        if let Ok(p) = PrinterPort::parse(e) {
            add(p);
        }
    }
    let stable = Path::new("/dev/antrean-printer");
    if stable.exists() {
        add(PrinterPort::Serial(stable.to_path_buf()));
    }
    let mut lp: Vec<PathBuf> = std::fs::read_dir("/dev/usb")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("lp"))
                })
                .collect()
        })
        .unwrap_or_default();
    lp.sort();
    for p in lp {
        add(PrinterPort::UsbClass(p));
    }
    for info in serialport::available_ports().unwrap_or_default() {
        add(PrinterPort::Serial(PathBuf::from(info.port_name)));
    }
    let scanner = scanner.map(|s| std::fs::canonicalize(s).unwrap_or_else(|_| s.into()));
    ports.retain(|p| match (p, &scanner) {
        (PrinterPort::Serial(path), Some(sc)) => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()) != *sc
        }
        _ => true,
    });
    ports
}

/// Asks the printer on `port` for its status (serial: at each usual speed
/// until one answers).
pub fn probe(base: &PrinterConfig, port: &PrinterPort) -> Found {
    let mut config = base.clone();
    config.port = port.clone();
    config.status_timeout_ms = config.status_timeout_ms.min(400);
    config.write_timeout_ms = config.write_timeout_ms.min(1000);
    config.connect_timeout_ms = config.connect_timeout_ms.min(1000);
    // Ask even when the profile says the printer answers no status.
    config.profile.status = StatusSupport::DleEot;
    let serial = matches!(port, PrinterPort::Serial(p) if !super::is_usb_class(p));
    let bauds: Vec<u32> = if serial {
        std::iter::once(base.baud)
            .chain(BAUDS.into_iter().filter(|b| *b != base.baud))
            .collect()
    } else {
        vec![base.baud]
    };
    for baud in bauds {
        config.baud = baud;
        let mut printer =
            Printer::from_config(&config, Path::new("/nonexistent"), Arc::new(Metrics::new()));
        match printer.ask() {
            Err(e) => {
                return Found {
                    port: port.clone(),
                    baud: None,
                    state: None,
                    reachable: false,
                    detail: e.to_string(),
                }
            }
            Ok(Some(status)) => {
                return Found {
                    port: port.clone(),
                    baud: serial.then_some(baud),
                    state: Some(status.state),
                    reachable: true,
                    detail: status.detail.unwrap_or_default(),
                }
            }
            Ok(None) => {}
        }
    }
    Found {
        port: port.clone(),
        baud: None,
        state: None,
        reachable: true,
        detail: "terhubung, tidak menjawab status / reachable, answers no status: wrong baud (serial), or a printer without status (use a profile with status = \"none\")".into(),
    }
}
