//! Scanner framing, sans I/O: bytes from a serial scanner become scans. A
//! scan ends at CR and/or LF, or after an idle gap. Overlong lines and binary
//! noise become [`Frame::Garbage`] (rejected as `invalid_format`) and never
//! bleed into the next scan. Empty frames (a stray CR or LF) are dropped.

use crate::booking::MAX_SCAN_BYTES;

/// One framed read from the scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Printable text (trimmed of CR/LF).
    Scan(String),
    /// Too long, not UTF-8, or full of control bytes: `invalid_format`.
    Garbage,
}

/// Accumulates scanner bytes into frames.
#[derive(Debug, Default)]
pub struct ScanFramer {
    buf: Vec<u8>,
    /// The current line passed the size limit: drop bytes until its end.
    overlong: bool,
}

impl ScanFramer {
    pub fn new() -> ScanFramer {
        ScanFramer::default()
    }

    /// Feeds bytes; returns the frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        for &b in bytes {
            if b == b'\r' || b == b'\n' {
                frames.extend(self.finish());
            } else if self.overlong {
                continue;
            } else if self.buf.len() >= MAX_SCAN_BYTES {
                self.overlong = true;
                self.buf.clear();
            } else {
                self.buf.push(b);
            }
        }
        frames
    }

    /// The idle gap passed: whatever is buffered is a whole scan.
    pub fn idle(&mut self) -> Option<Frame> {
        self.finish()
    }

    /// True when bytes of an unfinished scan are waiting.
    pub fn pending(&self) -> bool {
        !self.buf.is_empty() || self.overlong
    }

    fn finish(&mut self) -> Option<Frame> {
        if std::mem::take(&mut self.overlong) {
            self.buf.clear();
            return Some(Frame::Garbage);
        }
        if self.buf.is_empty() {
            return None;
        }
        let bytes = std::mem::take(&mut self.buf);
        let frame = match String::from_utf8(bytes) {
            Ok(s) if s.chars().all(|c| !c.is_control() || c == '\t') => {
                if s.trim().is_empty() {
                    return None;
                }
                Frame::Scan(s)
            }
            _ => Frame::Garbage,
        };
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scans(chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = ScanFramer::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(f.push(c));
        }
        out.extend(f.idle());
        out
    }

    #[test]
    fn framing_table() {
        let s = |t: &str| Frame::Scan(t.into());
        let long = vec![b'A'; MAX_SCAN_BYTES + 10];
        let cases: Vec<(Vec<&[u8]>, Vec<Frame>)> = vec![
            (vec![b"ABCD\r\n"], vec![s("ABCD")]),
            (vec![b"ABCD\r"], vec![s("ABCD")]),
            (vec![b"ABCD\n"], vec![s("ABCD")]),
            (
                vec![b"AB", b"CD\r", b"\nWXYZ\n"],
                vec![s("ABCD"), s("WXYZ")],
            ),
            (vec![b"\r\n\r\n\n"], vec![]),
            (vec![b"ABCD"], vec![s("ABCD")]),
            (
                vec![b"\x00\x01\xff\xfe\n", b"ABCD\n"],
                vec![Frame::Garbage, s("ABCD")],
            ),
            (vec![&long, b"\nABCD\n"], vec![Frame::Garbage, s("ABCD")]),
            (vec![&long, &long, b"\r\n"], vec![Frame::Garbage]),
            (vec!["AQ1§é\n".as_bytes()], vec![s("AQ1§é")]),
            (vec![b"   \n"], vec![]),
        ];
        for (chunks, expect) in cases {
            assert_eq!(scans(&chunks), expect, "{chunks:?}");
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        let exact = vec![b'A'; MAX_SCAN_BYTES];
        let got = scans(&[&exact, b"\n"]);
        assert_eq!(got, vec![Frame::Scan("A".repeat(MAX_SCAN_BYTES))]);
    }
}
