//! Scan sources: a serial (or USB-CDC) QR scanner, or standard input in
//! headless mode. Each runs on its own thread, owns its port, frames bytes
//! with the pure [`ScanFramer`], and sends frames to the kiosk loop. A
//! scanner that disappears is reopened (also when its device node returns
//! later); keyboard-wedge scanners come through the UI instead.

use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use crate::config::ScannerConfig;
use crate::core::framing::{Frame, ScanFramer};
use crate::kiosk::Event;

/// How long to wait before reopening a scanner port that failed.
const REOPEN_DELAY: Duration = Duration::from_millis(250);

/// Reads the serial scanner until `stop` is set. Frames go to `tx`.
pub fn spawn_serial(
    config: ScannerConfig,
    tx: Sender<Event>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("scanner".into())
        .spawn(move || serial_loop(config, tx, stop))
        .expect("spawning the scanner thread")
}

fn serial_loop(config: ScannerConfig, tx: Sender<Event>, stop: Arc<AtomicBool>) {
    let idle = Duration::from_millis(config.idle_ms);
    let mut reported_missing = false;
    while !stop.load(Ordering::Relaxed) {
        let mut port = match serialport::new(&config.port, config.baud)
            .timeout(idle)
            .open()
        {
            Ok(p) => p,
            Err(e) => {
                if !reported_missing {
                    tracing::warn!(port = %config.port, error = %e,
                        "scanner port cannot be opened; retrying. Check the scanner cable and [scanner] port");
                    reported_missing = true;
                }
                std::thread::sleep(REOPEN_DELAY);
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
        let mut checked = std::time::Instant::now();
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
        std::thread::sleep(REOPEN_DELAY);
    }
}

/// The device number behind a path (following symlinks), if any.
fn device_id(path: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.rdev())
}

/// Reads scans from standard input, one per line (headless without a
/// scanner). At end of input it asks the kiosk loop to finish and stop.
pub fn spawn_stdin(tx: Sender<Event>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("stdin-scans".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            let mut line = Vec::new();
            loop {
                line.clear();
                match lock.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let mut framer = ScanFramer::new();
                        let mut frames = framer.push(&line);
                        frames.extend(framer.idle());
                        for frame in frames {
                            if tx.send(Event::Scan(frame)).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
            let _ = tx.send(Event::InputClosed);
        })
        .expect("spawning the stdin thread")
}

/// Frames a whole text as if a scanner had sent it (demo panel, UI wedge).
pub fn frames_of(text: &str) -> Vec<Frame> {
    let mut framer = ScanFramer::new();
    let mut frames = framer.push(text.as_bytes());
    frames.extend(framer.idle());
    frames
}
