//! A thermal printer emulator for each transport the kiosk drives: the far
//! end of a pseudo-terminal (a serial printer, or a USB printer-class
//! device: the kiosk opens the pty's slave as `usb:PATH`), or a loopback
//! TCP server (a network printer on port 9100). It records the ticket
//! bytes it receives and answers `DLE EOT` status queries from a script the
//! test changes while it runs; on TCP it can close the connection in the
//! middle of a ticket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use antrean_core::printer_status::{replies_for, PrinterState};

use crate::office::Office;
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
    /// Network only: close the connection once, after this many more
    /// ticket bytes arrived on it (the rest of the ticket is lost).
    pub close_after_bytes: Option<usize>,
}

/// The transports the emulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A serial printer on a pty.
    Serial,
    /// A USB printer-class device (the kiosk opens the pty as `usb:PATH`).
    UsbClass,
    /// A network printer on 127.0.0.1.
    Tcp,
}

impl Link {
    pub const ALL: [Link; 3] = [Link::Serial, Link::UsbClass, Link::Tcp];
}

/// What the emulator shares with its thread.
#[derive(Clone)]
struct Shared {
    bytes: Arc<Mutex<Vec<u8>>>,
    script: Arc<Mutex<EmulatorScript>>,
    queries: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// A thermal printer on the far end of a pty or a TCP connection: records
/// what it receives (ticket bytes, without the status queries) and answers
/// `DLE EOT n` from a script.
pub struct PrinterTap {
    pub bytes: Arc<Mutex<Vec<u8>>>,
    pub script: Arc<Mutex<EmulatorScript>>,
    pub queries: Arc<AtomicUsize>,
    /// TCP connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// The `[printer] port` value that reaches this emulator.
    pub port: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Option<Pty>>>,
}

/// Parses the byte stream of one connection: ticket bytes are recorded,
/// `DLE EOT n` answered.
struct Session {
    /// Bytes of a possibly split `DLE EOT n`.
    pending: Vec<u8>,
    /// Ticket bytes received on this connection.
    received: usize,
}

/// What to do after a chunk.
enum After {
    Go,
    Close,
}

impl Session {
    fn new() -> Session {
        Session {
            pending: Vec::new(),
            received: 0,
        }
    }

    fn feed(&mut self, sh: &Shared, data: &[u8], reply: &mut dyn Write) -> After {
        self.pending.extend_from_slice(data);
        let mut i = 0;
        let mut out = Vec::new();
        // Ticket bytes before a query are printed before it is answered.
        let commit = |out: &mut Vec<u8>| {
            if out.is_empty() {
                return;
            }
            let cuts = out.windows(4).filter(|w| w == b"\x1dVB\x00").count();
            sh.bytes.lock().unwrap().extend_from_slice(out);
            out.clear();
            let mut script = sh.script.lock().unwrap();
            if let Some(left) = script.paper_out_after.as_mut() {
                *left = left.saturating_sub(cuts);
                if *left == 0 {
                    script.state = PrinterState::PaperOut;
                    script.paper_out_after = None;
                }
            }
        };
        while i < self.pending.len() {
            if self.pending[i] == 0x10 {
                if i + 2 >= self.pending.len() {
                    break;
                }
                if self.pending[i + 1] == 0x04 {
                    commit(&mut out);
                    let which = self.pending[i + 2];
                    i += 3;
                    sh.queries.fetch_add(1, Ordering::Relaxed);
                    let script = sh.script.lock().unwrap().clone();
                    if script.silent {
                        continue;
                    }
                    let answer = if script.garbage {
                        0xff
                    } else {
                        replies_for(script.state)[usize::from(which.clamp(1, 4)) - 1]
                    };
                    let _ = reply.write_all(&[answer]);
                    continue;
                }
            }
            let close_at = sh.script.lock().unwrap().close_after_bytes;
            if close_at.is_some_and(|n| self.received >= n) {
                sh.script.lock().unwrap().close_after_bytes = None;
                commit(&mut out);
                self.pending.clear();
                return After::Close;
            }
            out.push(self.pending[i]);
            self.received += 1;
            i += 1;
        }
        self.pending.drain(..i);
        commit(&mut out);
        After::Go
    }
}

fn new_shared() -> Shared {
    Shared {
        bytes: Arc::new(Mutex::new(Vec::new())),
        script: Arc::new(Mutex::new(EmulatorScript {
            state: PrinterState::Ok,
            silent: false,
            garbage: false,
            paper_out_after: None,
            close_after_bytes: None,
        })),
        queries: Arc::new(AtomicUsize::new(0)),
        connections: Arc::new(AtomicUsize::new(0)),
        stop: Arc::new(AtomicBool::new(false)),
    }
}

impl PrinterTap {
    /// A serial printer on the master end of `pty`.
    pub fn start(pty: Pty) -> PrinterTap {
        let port = pty.slave_path();
        PrinterTap::on_pty(pty, port)
    }

    fn on_pty(mut pty: Pty, port: String) -> PrinterTap {
        let sh = new_shared();
        let s = sh.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut session = Session::new();
            while !s.stop.load(Ordering::Relaxed) {
                let n = match pty.master.read(&mut buf) {
                    Ok(n) if n > 0 => n,
                    _ => continue,
                };
                let _ = session.feed(&s, &buf[..n], &mut pty.master);
            }
            Some(pty)
        });
        PrinterTap::with(sh, port, thread)
    }

    /// A printer at the office's printer link over `link`; the returned
    /// `port` is the `[printer] port` value that reaches it.
    pub fn for_office(office: &Office, link: Link) -> PrinterTap {
        match link {
            Link::Serial | Link::UsbClass => {
                let pty = Pty::new();
                pty.link_at(&office.printer_link);
                let path = office.printer_link.display().to_string();
                let port = if link == Link::UsbClass {
                    format!("usb:{path}")
                } else {
                    path
                };
                PrinterTap::on_pty(pty, port)
            }
            Link::Tcp => PrinterTap::start_tcp(),
        }
    }

    /// A network printer on `127.0.0.1:0`, one connection at a time.
    pub fn start_tcp() -> PrinterTap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let sh = new_shared();
        let s = sh.clone();
        let thread = std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        s.connections.fetch_add(1, Ordering::Relaxed);
                        serve(&s, stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            None
        });
        PrinterTap::with(sh, format!("tcp://{addr}"), thread)
    }

    fn with(sh: Shared, port: String, thread: std::thread::JoinHandle<Option<Pty>>) -> PrinterTap {
        PrinterTap {
            bytes: sh.bytes,
            script: sh.script,
            queries: sh.queries,
            connections: sh.connections,
            port,
            stop: sh.stop,
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

    /// Stops the emulator and gives the pty back (none for TCP).
    pub fn stop(mut self) -> Option<Pty> {
        self.halt()
    }

    fn halt(&mut self) -> Option<Pty> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).flatten()
    }
}

impl Drop for PrinterTap {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One TCP connection until the kiosk closes it, the script closes it, or
/// the emulator stops.
fn serve(s: &Shared, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut session = Session::new();
    let mut buf = [0u8; 4096];
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    while !s.stop.load(Ordering::Relaxed) {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        if let After::Close = session.feed(s, &buf[..n], &mut writer) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
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

/// True when the ticket's bytes decode and end with a cut.
pub fn ends_with_cut(ticket: &[u8]) -> bool {
    antrean_kiosk::escpos_decode::decode(ticket)
        .or_else(|_| antrean_kiosk::escpos_decode::decode_test_page(ticket))
        .map(|els| {
            els.iter()
                .any(|e| matches!(e, antrean_kiosk::escpos_decode::Element::Cut { .. }))
        })
        .unwrap_or(false)
}
