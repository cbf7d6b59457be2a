//! The virtual printer: a [`Transport`] that files each ticket's bytes and
//! its decoded text in a directory (demos, training, tests), and answers
//! `DLE EOT` status queries from `state_dir/virtual-printer.state`, as a
//! printer in that state would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::transport::{Transport, TransportError};
use antrean_core::printer_status::{replies_for, PrinterState};

/// Tickets as files in `dir`.
pub struct FileTransport {
    dir: PathBuf,
    columns: u8,
    count: u64,
}

impl FileTransport {
    pub fn new(dir: PathBuf, columns: u8) -> FileTransport {
        let count = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
                    .count() as u64
            })
            .unwrap_or(0);
        FileTransport {
            dir,
            columns,
            count,
        }
    }

    /// The directory tickets are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `ok`, unless `state_dir/virtual-printer.state` names another state
    /// (`paper_low`, `paper_out`, `cover_open`, `offline`, `error`): for
    /// training staff on printer faults.
    fn state(&self) -> PrinterState {
        let file = self.dir.with_file_name("virtual-printer.state");
        match std::fs::read_to_string(file).unwrap_or_default().trim() {
            "paper_low" => PrinterState::PaperLow,
            "paper_out" => PrinterState::PaperOut,
            "cover_open" => PrinterState::CoverOpen,
            "offline" => PrinterState::Offline,
            "error" => PrinterState::Error,
            _ => PrinterState::Ok,
        }
    }
}

impl Transport for FileTransport {
    fn send(&mut self, bytes: &[u8], label: &str) -> Result<(), TransportError> {
        let err = |source: std::io::Error| TransportError::Virtual {
            dir: self.dir.clone(),
            source,
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
        let text = match crate::escpos_decode::decode(bytes)
            .or_else(|_| crate::escpos_decode::decode_test_page(bytes))
        {
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

    /// Answers each `DLE EOT n` of `query` with the byte a printer in the
    /// state file's state sends.
    fn exchange(
        &mut self,
        query: &[u8],
        reply: &mut [u8],
        _deadline: Duration,
    ) -> Result<usize, TransportError> {
        let replies = replies_for(self.state());
        let mut got = 0;
        for q in query.chunks(3) {
            if let ([0x10, 0x04, n], Some(slot)) = (q, reply.get_mut(got)) {
                *slot = replies[usize::from((*n).clamp(1, 4)) - 1];
                got += 1;
            }
        }
        Ok(got)
    }

    fn describe(&self) -> String {
        format!("virtual printer in {}", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use antrean_core::printer_status::{decode, STATUS_QUERY};

    #[test]
    fn answers_status_queries_from_its_state_file_and_files_tickets() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = FileTransport::new(dir.path().join("tickets"), 48);
        let state = |t: &mut FileTransport| {
            let mut reply = [0u8; 4];
            assert_eq!(
                t.exchange(&STATUS_QUERY, &mut reply, Duration::ZERO)
                    .unwrap(),
                4
            );
            decode(reply).unwrap().state
        };
        assert_eq!(state(&mut t), PrinterState::Ok);
        for (written, expect) in [
            ("paper_low", PrinterState::PaperLow),
            ("paper_out", PrinterState::PaperOut),
            ("cover_open", PrinterState::CoverOpen),
            ("offline", PrinterState::Offline),
            ("error", PrinterState::Error),
            ("ok", PrinterState::Ok),
        ] {
            std::fs::write(dir.path().join("virtual-printer.state"), written).unwrap();
            assert_eq!(state(&mut t), expect, "{written}");
        }
        t.send(b"\x1b@HELLO\n", "BGR-1/x").unwrap();
        let names: Vec<String> = std::fs::read_dir(t.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(names.contains(&"0001-BGR-1_x.bin".to_string()), "{names:?}");
        assert!(names.contains(&"0001-BGR-1_x.txt".to_string()), "{names:?}");
    }
}
