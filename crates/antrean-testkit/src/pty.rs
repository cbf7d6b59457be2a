//! Pseudo-terminal pairs for the daemon's serial ports, and a scanner
//! that types into one.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use crate::wait::LIMIT;

/// A pseudo-terminal pair: the daemon opens `path` (a stable symlink, like
/// a udev `by-id` path), the test holds the master end.
pub struct Pty {
    pub master: TTYPort,
    pub slave: TTYPort,
}

impl Default for Pty {
    fn default() -> Self {
        Pty::new()
    }
}

impl Pty {
    pub fn new() -> Pty {
        let (mut master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
        master.set_timeout(Duration::from_millis(50)).unwrap();
        Pty { master, slave }
    }

    pub fn slave_path(&self) -> String {
        self.slave.name().expect("pty slave has a name")
    }

    /// Points the symlink `link` at this pty's slave.
    pub fn link_at(&self, link: &Path) {
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(self.slave_path(), link).unwrap();
    }
}

/// A scanner the test types into (the master end of a pty).
pub struct Scanner {
    pub pty: Pty,
}

impl Scanner {
    pub fn scan(&mut self, text: &str) {
        self.send(format!("{text}\r\n").as_bytes());
    }

    /// Types `bytes`, waiting (up to [`LIMIT`]) while the line is full: the
    /// daemon hands scans to its kiosk loop over a bounded channel, so a
    /// burst faster than the loop stops its reading until the loop caught
    /// up, as a real serial line would.
    pub fn send(&mut self, bytes: &[u8]) {
        let start = Instant::now();
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.pty.master.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::Interrupted
                    ) && start.elapsed() < LIMIT => {}
                Err(e) => panic!("the scanner line stayed full for {LIMIT:?}: {e}"),
            }
        }
        self.pty.master.flush().unwrap();
    }
}
