//! How ticket bytes reach a printer: the [`Transport`] trait (a byte pipe
//! that can also ask the printer a question) and its errors. Implemented by
//! serial lines (`serial.rs`), USB printer-class devices (`usb.rs`), network
//! printers (`network.rs`) and the file-backed virtual printer (`file.rs`).
//! A transport only moves bytes: what they mean (tickets, `DLE EOT` status)
//! is the [`super::Printer`]'s.

use std::path::PathBuf;
use std::time::Duration;

/// Why bytes did not move, with what staff should check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("printer on {port} cannot be opened: {reason}. Check the cable, the power and [printer] port in the configuration.")]
    Unavailable { port: String, reason: String },
    #[error("printer on {port} stopped taking data after {written} of {total} bytes: {reason}. Check paper, cover and cable; the ticket will print again on the next scan.")]
    Write {
        port: String,
        written: usize,
        total: usize,
        reason: String,
    },
    #[error("printer on {port} cannot be asked for its status: {reason}. Check the cable and the power.")]
    Exchange { port: String, reason: String },
    #[error("virtual printer cannot write to {dir}: {source}. Check free disk space and the permissions of state_dir.")]
    Virtual {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// A byte pipe to one receipt printer. Each transport owns its device or
/// connection, opens it when needed and reopens it after a failure, so a
/// fault never stops the daemon.
pub trait Transport: Send {
    /// Sends one job (a ticket or a slip) as one buffer: every byte, or an
    /// error saying how far it got. `label` names the job (the virtual
    /// printer files it under that name; devices ignore it).
    fn send(&mut self, bytes: &[u8], label: &str) -> Result<(), TransportError>;

    /// Sends `query` and reads the printer's answer into `reply`, for at
    /// most `deadline`; returns how many bytes came (fewer than asked when
    /// the printer stayed silent).
    fn exchange(
        &mut self,
        query: &[u8],
        reply: &mut [u8],
        deadline: Duration,
    ) -> Result<usize, TransportError>;

    /// Opens the device or connection if it is not open (for printers that
    /// answer no status: reachable is all the kiosk can know).
    fn probe(&mut self) -> Result<(), TransportError> {
        Ok(())
    }

    /// True when a job cut short by a lost connection is sent again, whole,
    /// once the connection is back (network printers: the printer dropped
    /// the job with the connection).
    fn resends_after_lost_connection(&self) -> bool {
        false
    }

    /// Where the printer is, for messages and logs.
    fn describe(&self) -> String;
}
