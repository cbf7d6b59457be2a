//! Scan sources: a serial (or USB-CDC) QR scanner, or standard input in
//! headless mode. Each runs on its own thread, owns its port, frames bytes
//! with the pure [`ScanFramer`], and sends frames to the kiosk loop. A
//! scanner that disappears is reopened (also when its device node returns
//! later), with a capped, jittered backoff; keyboard-wedge scanners come
//! through the UI instead. Frames go to the kiosk loop over its bounded
//! channel: a reader that gets ahead of the loop waits, it never queues
//! without limit, and no line is buffered beyond the scan size cap.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::ScannerConfig;
use crate::kiosk::Event;
use crate::metrics::Metrics;
use antrean_core::backoff::Backoff;
use antrean_core::framing::{Frame, ScanFramer};

/// First pause before reopening a scanner port that failed.
const REOPEN_FIRST: Duration = Duration::from_millis(250);
/// Longest pause between reopening attempts (a replugged scanner is back
/// within this).
const REOPEN_MAX: Duration = Duration::from_secs(20);
/// A port that stayed open this long was healthy: the backoff starts over.
const STABLE: Duration = Duration::from_secs(10);

/// Reads the serial scanner until `stop` is set. Frames go to `tx`.
pub fn spawn_serial(
    config: ScannerConfig,
    tx: SyncSender<Event>,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("scanner".into())
        .spawn(move || serial_loop(config, tx, stop, metrics))
}

/// Sleeps `d`, or less when `stop` is set ([`std::thread::Thread::unpark`]
/// wakes it early).
fn pause(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::park_timeout(until - now);
    }
}

fn serial_loop(
    config: ScannerConfig,
    tx: SyncSender<Event>,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) {
    let idle = Duration::from_millis(config.idle_ms);
    let mut reported_missing = false;
    let mut backoff = Backoff::new(REOPEN_FIRST, REOPEN_MAX);
    while !stop.load(Ordering::Relaxed) {
        let opened = serialport::new(&config.port, config.baud)
            .timeout(idle)
            .open();
        metrics.attempt("scanner_open", if opened.is_ok() { "ok" } else { "error" });
        let mut port = match opened {
            Ok(p) => p,
            Err(e) => {
                if !reported_missing {
                    tracing::warn!(port = %config.port, error = %e,
                        "scanner port cannot be opened; retrying. Check the scanner cable and [scanner] port");
                    reported_missing = true;
                }
                pause(backoff.next_delay(rand::random()), &stop);
                continue;
            }
        };
        if reported_missing {
            tracing::info!(port = %config.port, "scanner port is back");
        } else {
            tracing::info!(port = %config.port, "scanner port open");
        }
        reported_missing = false;
        let device = device_id(&config.port);
        let opened_at = Instant::now();
        let mut checked = Instant::now();
        let mut framer = ScanFramer::new();
        let mut buf = [0u8; 256];
        while !stop.load(Ordering::Relaxed) {
            match port.read(&mut buf) {
                Ok(0) => {
                    // A hung-up device reads 0 bytes: treat it as gone.
                    tracing::warn!(port = %config.port, "scanner port failed (hung up); reopening");
                    break;
                }
                Ok(n) => {
                    backoff.reset();
                    for frame in framer.push(&buf[..n]) {
                        if tx.send(Event::Scan(frame)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    if let Some(frame) = framer.idle() {
                        if tx.send(Event::Scan(frame)).is_err() {
                            return;
                        }
                    }
                    // An unplugged USB device may leave a silent descriptor:
                    // notice that its node vanished or is another device now.
                    if checked.elapsed() >= Duration::from_millis(500) {
                        checked = std::time::Instant::now();
                        if device_id(&config.port) != device {
                            tracing::warn!(port = %config.port, "scanner port failed (device gone); reopening");
                            break;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!(port = %config.port, error = %e, "scanner port failed; reopening");
                    break;
                }
            }
        }
        drop(port);
        if opened_at.elapsed() >= STABLE {
            backoff.reset();
        }
        // A port that opens and fails at once must not spin either.
        pause(backoff.next_delay(rand::random()), &stop);
    }
}

/// The device number behind a path (following symlinks), if any.
fn device_id(path: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.rdev())
}

/// Reads scans from standard input, one per line (headless without a
/// scanner). At end of input it asks the kiosk loop to finish and stop.
pub fn spawn_stdin(tx: SyncSender<Event>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("stdin-scans".into())
        .spawn(move || {
            if read_scans(std::io::stdin().lock(), &tx) {
                let _ = tx.send(Event::InputClosed);
            }
        })
}

/// Frames `input` line by line into scans and sends them to `tx`, holding
/// at most a fixed read buffer and one scan's worth of bytes: a line longer
/// than the scan cap becomes one [`Frame::Garbage`], however long it is.
/// Returns false when the receiver is gone.
pub fn read_scans(mut input: impl Read, tx: &SyncSender<Event>) -> bool {
    let mut framer = ScanFramer::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "standard input failed; no more scans from it");
                break;
            }
        };
        for frame in framer.push(&buf[..n]) {
            if tx.send(Event::Scan(frame)).is_err() {
                return false;
            }
        }
    }
    match framer.idle() {
        Some(frame) => tx.send(Event::Scan(frame)).is_ok(),
        None => true,
    }
}

/// Frames a whole text as if a scanner had sent it (demo panel, UI wedge).
pub fn frames_of(text: &str) -> Vec<Frame> {
    let mut framer = ScanFramer::new();
    let mut frames = framer.push(text.as_bytes());
    frames.extend(framer.idle());
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use antrean_core::booking::MAX_SCAN_BYTES;
    use std::io::Read;

    /// Every frame `input` gives, with a channel as small as the daemon's.
    fn frames(input: impl Read + Send + 'static) -> Vec<Frame> {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let reader = std::thread::spawn(move || read_scans(input, &tx));
        let mut out = Vec::new();
        for event in rx {
            match event {
                Event::Scan(f) => out.push(f),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(reader.join().unwrap());
        out
    }

    #[test]
    fn stdin_lines_are_framed_and_bounded() {
        let scan = |s: &str| Frame::Scan(s.into());
        let huge = || std::io::repeat(b'A').take(64 << 20);
        // (what arrives on stdin, the frames)
        let cases: Vec<(Box<dyn Read + Send>, Vec<Frame>)> = vec![
            (
                Box::new(&b"ABCD\nWXYZ\n"[..]),
                vec![scan("ABCD"), scan("WXYZ")],
            ),
            (
                Box::new(&b"ABCD\r\n\n\nLAST"[..]),
                vec![scan("ABCD"), scan("LAST")],
            ),
            (Box::new(&b""[..]), vec![]),
            // 64 MiB without a newline, then a scan: one garbage frame, then the scan.
            (
                Box::new(huge().chain(&b"\nBGR-240508-00123\n"[..])),
                vec![Frame::Garbage, scan("BGR-240508-00123")],
            ),
            // The same at end of input.
            (Box::new(huge()), vec![Frame::Garbage]),
            (
                Box::new(std::io::repeat(b'B').take(MAX_SCAN_BYTES as u64)),
                vec![scan(&"B".repeat(MAX_SCAN_BYTES))],
            ),
        ];
        for (i, (input, expect)) in cases.into_iter().enumerate() {
            assert_eq!(frames(input), expect, "case {i}");
        }
    }

    #[test]
    fn a_closed_receiver_stops_the_reader() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        drop(rx);
        assert!(!read_scans(&b"ABCD\n"[..], &tx));
    }
}
