//! A thermal printer on the far end of a pseudo-terminal: it records the
//! ticket bytes it receives and answers `DLE EOT` status queries from a
//! script the test changes while it runs.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use antrean_core::printer_status::{replies_for, PrinterState};

use crate::pty::Pty;
use crate::wait::{wait_for, LIMIT};

/// How the emulated printer behaves (tests change it while it runs).
#[derive(Debug, Clone)]
pub struct EmulatorScript {
    pub state: PrinterState,
    /// Do not answer status queries at all.
    pub silent: bool,
    /// Answer status queries with bytes that are not status bytes.
    pub garbage: bool,
    /// Run out of paper after this many more cut tickets.
    pub paper_out_after: Option<usize>,
}

/// A thermal printer on the far end of a pseudo-terminal: records what it
/// receives (ticket bytes, without the status queries) and answers
/// `DLE EOT n` from a script.
pub struct PrinterTap {
    pub bytes: Arc<Mutex<Vec<u8>>>,
    pub script: Arc<Mutex<EmulatorScript>>,
    pub queries: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Pty>>,
}

impl PrinterTap {
    pub fn start(mut pty: Pty) -> PrinterTap {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(EmulatorScript {
            state: PrinterState::Ok,
            silent: false,
            garbage: false,
            paper_out_after: None,
        }));
        let queries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b, sc, q, s) = (bytes.clone(), script.clone(), queries.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Bytes of a possibly split `DLE EOT n`.
            let mut pending: Vec<u8> = Vec::new();
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let n = match pty.master.read(&mut buf) {
                    Ok(n) if n > 0 => n,
                    _ => continue,
                };
                pending.extend_from_slice(&buf[..n]);
                let mut i = 0;
                let mut out = Vec::new();
                // Ticket bytes before a query are printed before it is answered.
                let commit = |out: &mut Vec<u8>| {
                    if out.is_empty() {
                        return;
                    }
                    let cuts = out.windows(4).filter(|w| w == b"\x1dVB\x00").count();
                    b.lock().unwrap().extend_from_slice(out);
                    out.clear();
                    let mut script = sc.lock().unwrap();
                    if let Some(left) = script.paper_out_after.as_mut() {
                        *left = left.saturating_sub(cuts);
                        if *left == 0 {
                            script.state = PrinterState::PaperOut;
                            script.paper_out_after = None;
                        }
                    }
                };
                while i < pending.len() {
                    if pending[i] == 0x10 {
                        if i + 2 >= pending.len() {
                            break;
                        }
                        if pending[i + 1] == 0x04 {
                            commit(&mut out);
                            let which = pending[i + 2];
                            i += 3;
                            q.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let script = sc.lock().unwrap().clone();
                            if script.silent {
                                continue;
                            }
                            let reply = if script.garbage {
                                0xff
                            } else {
                                replies_for(script.state)[usize::from(which.clamp(1, 4)) - 1]
                            };
                            let _ = pty.master.write_all(&[reply]);
                            continue;
                        }
                    }
                    out.push(pending[i]);
                    i += 1;
                }
                pending.drain(..i);
                commit(&mut out);
            }
            pty
        });
        PrinterTap {
            bytes,
            script,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    /// Changes the script.
    pub fn set(&self, f: impl FnOnce(&mut EmulatorScript)) {
        f(&mut self.script.lock().unwrap());
    }

    pub fn snapshot(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }

    /// The tickets received so far: the stream split at each `ESC @`.
    pub fn tickets(&self) -> Vec<Vec<u8>> {
        split_tickets(&self.snapshot())
    }

    /// Waits until `n` complete tickets (ending with a cut) arrived.
    pub fn wait_tickets(&self, n: usize) -> Vec<Vec<u8>> {
        wait_for(&format!("{n} ticket(s) on the printer"), LIMIT, || {
            let t = self.tickets();
            (t.len() >= n && t.iter().take(n).all(|t| ends_with_cut(t))).then_some(t)
        })
    }

    /// Stops the emulator and gives the pty back.
    pub fn stop(mut self) -> Pty {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Splits a printer byte stream into tickets at each `ESC @`.
pub fn split_tickets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut starts: Vec<usize> = bytes
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == &[0x1b, 0x40])
        .map(|(i, _)| i)
        .collect();
    starts.push(bytes.len());
    starts
        .windows(2)
        .map(|w| bytes[w[0]..w[1]].to_vec())
        .collect()
}

fn ends_with_cut(ticket: &[u8]) -> bool {
    antrean_kiosk::escpos_decode::decode(ticket)
        .map(|els| {
            els.iter()
                .any(|e| matches!(e, antrean_kiosk::escpos_decode::Element::Cut { .. }))
        })
        .unwrap_or(false)
}
