//! The real `antrean-kiosk` binary, headless, with pseudo-terminal scanner
//! and printer: scans in, tickets decoded out, journal checked.

use std::time::Duration;

use antrean_kiosk::escpos_decode::{decode, Element};
use antrean_testkit::prelude::*;
use rand::{Rng, SeedableRng};

/// A valid token for the vectors' booking BGR-240508-00123, B-015,
/// 09:00-10:00, signed with the office key of this test run.
fn valid() -> String {
    token(
        "BGR-240508-00123",
        "B-015",
        "2024-05-08",
        "09:00-10:00",
        "KTP-EL",
    )
}

/// The same token with the number changed after signing.
fn forged() -> String {
    altered(&valid(), "B-015", "A-001")
}

struct Rig {
    office: Office,
    printer: PrinterTap,
    scanner: Scanner,
    daemon: DaemonProcess,
}

fn rig(envs: &[(&str, &str)]) -> Rig {
    rig_with(envs, "")
}

/// [`rig`] with more configuration (e.g. a `[central]` table).
fn rig_with(envs: &[(&str, &str)], extra: &str) -> Rig {
    let office = Office::new(extra);
    office.cache_vector_manifest();
    let printer_pty = Pty::new();
    printer_pty.link_at(&office.printer_link);
    let scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let daemon = DaemonProcess::start(&office, envs);
    daemon.wait_log("scanner port open");
    Rig {
        printer: PrinterTap::start(printer_pty),
        office,
        scanner,
        daemon,
    }
}

impl Rig {
    /// Scans and returns the scan's log line (the `n`-th scan overall).
    fn scan(&mut self, text: &str, n: usize) -> serde_json::Value {
        self.scanner.scan(text);
        self.daemon.wait_scan(n)
    }
}

/// What a decoded ticket shows.
struct Seen {
    lines: Vec<(String, u8, u8, bool, bool)>,
    qr: Vec<String>,
    cut: bool,
}

fn seen(ticket: &[u8]) -> Seen {
    let elements = decode(ticket).expect("the ticket decodes");
    let mut s = Seen {
        lines: vec![],
        qr: vec![],
        cut: false,
    };
    for e in elements {
        match e {
            Element::Line(l) => s.lines.push((
                l.text.trim().to_string(),
                l.width,
                l.height,
                l.bold,
                l.reverse,
            )),
            Element::Qr { data, .. } => s.qr.push(data),
            Element::Cut { .. } => s.cut = true,
            _ => {}
        }
    }
    s
}

impl Seen {
    fn has(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.0.contains(text))
    }
    fn size_of(&self, text: &str) -> (u8, u8) {
        let l = self
            .lines
            .iter()
            .find(|l| l.0 == text)
            .unwrap_or_else(|| panic!("no line {text:?} in {:?}", self.lines));
        (l.1, l.2)
    }
}

/// Asserts the things `ticket.md` demands of every ticket.
fn assert_ticket(ticket: &[u8], number: &str, booking: &str, reprint: bool) {
    assert!(ticket.len() < 1024, "ticket is {} bytes", ticket.len());
    assert!(ticket.starts_with(&[0x1b, 0x40]), "starts with ESC @");
    let s = seen(ticket);
    let (w, h) = s.size_of(number);
    assert!(w >= 3 && h >= 3, "number at {w}x{h}");
    assert_eq!(
        s.qr,
        vec![booking.to_string()],
        "native QR holds the booking code"
    );
    assert!(s.cut, "ticket is cut");
    assert!(s.has("NOMOR ANTREAN"));
    assert!(s.has("Dinas Kependudukan"));
    assert!(s.has(booking));
    assert!(s.has("Rabu, 08 Mei 2024"));
    assert!(s.has("09.00-10.00 WIB") || s.has("08.00-09.00 WIB"));
    assert_eq!(s.has("CETAK ULANG"), reprint);
    // Nothing NIK-like (16 digits) and no raw UTF-8.
    let digits_run = ticket
        .split(|b| !b.is_ascii_digit())
        .map(|r| r.len())
        .max()
        .unwrap_or(0);
    assert!(digits_run < 16, "a {digits_run}-digit run on the ticket");
    assert!(s.lines.iter().all(|l| l.0.is_ascii()));
}

#[test]
fn scans_in_tickets_out() {
    let mut r = rig(&[]);
    // 1. A valid token: accepted, ticket printed.
    let l = r.scan(&valid(), 1);
    assert_eq!(l["outcome"], "accept");
    assert_eq!(l["booking"], "BGR-240508-00123");
    assert_eq!(l["number"], "B-015");
    let t = r.printer.wait_tickets(1);
    assert_ticket(&t[0], "B-015", "BGR-240508-00123", false);
    assert!(seen(&t[0]).has("Layanan : KTP Elektronik"));
    // 2. The scanner reads it again at once: nothing happens.
    assert_eq!(r.scan(&valid(), 2)["outcome"], "double_read");
    // 3. A plain booking code from the cached manifest, typed in lower case.
    assert_eq!(r.scan("  bgr-240508-00124 ", 3)["outcome"], "accept");
    // 4. The first resident again: a reprint.
    assert_eq!(r.scan(&valid(), 4)["outcome"], "reprint");
    let t = r.printer.wait_tickets(3);
    assert_ticket(&t[1], "B-016", "BGR-240508-00124", false);
    assert_ticket(&t[2], "B-015", "BGR-240508-00123", true);
    // 5-10. Rejections print nothing.
    let expired = token(
        "BGR-240507-00001",
        "C-001",
        "2024-05-07",
        "10:00-11:00",
        "KK",
    );
    let early = token(
        "BGR-240508-00300",
        "F-001",
        "2024-05-08",
        "13:00-14:00",
        "KK",
    );
    let (valid, forged) = (valid(), forged());
    for (i, (scan, reason)) in [
        ("BGR-240508-00124", "reprint"),
        (valid.as_str(), "already_printed"),
        (forged.as_str(), "bad_signature"),
        (expired.as_str(), "expired"),
        (early.as_str(), "too_early"),
        ("BGR-240508-00200", "cancelled"),
        ("BGR-240508-99999", "unknown_booking"),
        ("AQ1§é", "invalid_format"),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(r.scan(scan, 5 + i)["outcome"], reason, "{scan}");
    }
    // Binary noise is a rejection too, and does not harm the next scan.
    r.scanner.send(b"\x00\x9f\xff\x1b@garbage\r\n");
    assert_eq!(r.daemon.wait_scan(13)["outcome"], "invalid_format");
    assert_eq!(r.scan(&"X".repeat(2000), 14)["outcome"], "invalid_format");
    let t = r.printer.wait_tickets(4);
    assert_ticket(&t[3], "B-016", "BGR-240508-00124", true);
    // Exactly the four tickets, and the journal agrees.
    assert_eq!(r.printer.tickets().len(), 4);
    assert_eq!(
        r.office.checkins(),
        vec![
            ("BGR-240508-00123".into(), "B-015".into(), true, 1),
            ("BGR-240508-00124".into(), "B-016".into(), true, 1),
        ]
    );
    // One JSON line per scan, and no names in the log.
    assert_eq!(r.daemon.scans().len(), 14);
    assert!(r.daemon.lines().iter().all(|l| !l.contains("S***i")));
    let status = r.daemon.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

/// A central service whose check-in answer can be held back: the kiosk
/// then sits between its journal commit and the printer (it waits up to
/// `answer_deadline_ms` for "people ahead"), where a test can kill it.
struct HoldingCentral {
    addr: std::net::SocketAddr,
    hold: std::sync::Arc<std::sync::atomic::AtomicBool>,
    posts: std::sync::mpsc::Receiver<()>,
    _rt: tokio::runtime::Runtime,
}

impl HoldingCentral {
    fn start() -> HoldingCentral {
        use axum::routing::{get, post};
        use std::sync::atomic::Ordering;
        let rt = tokio::runtime::Runtime::new().unwrap();
        let hold = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (tx, posts) = std::sync::mpsc::channel();
        let tx = std::sync::Arc::new(std::sync::Mutex::new(tx));
        let h = hold.clone();
        let app = axum::Router::new()
            .route(
                "/v1/offices/:office/manifest",
                get(|| async { axum::Json(vector_manifest()) }),
            )
            .route(
                "/v1/offices/:office/checkins",
                post(move |body: axum::Json<serde_json::Value>| {
                    let (h, tx) = (h.clone(), tx.clone());
                    async move {
                        let _ = tx.lock().unwrap().send(());
                        while h.load(Ordering::SeqCst) {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                        let b = body.0;
                        (
                            axum::http::StatusCode::CREATED,
                            axum::Json(serde_json::json!({"booking": b["booking"], "number": b["number"],
                                "status": "checked_in", "checked_in_at": b["checked_in_at"], "ahead": 0})),
                        )
                    }
                }),
            );
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        HoldingCentral {
            addr,
            hold,
            posts,
            _rt: rt,
        }
    }

    fn config(&self) -> String {
        format!(
            "[central]\nurl = \"http://{}\"\ntoken = \"t\"\nanswer_deadline_ms = 5000\n",
            self.addr
        )
    }
}

#[test]
fn kill_between_journal_and_print_prints_once_without_a_second_checkin() {
    let central = HoldingCentral::start();
    let mut r = rig_with(&[], &central.config());
    r.daemon.wait_log("manifest updated");
    r.scanner.scan(&valid());
    // The check-in is journaled and sent; the kiosk waits for the answer
    // before printing, and is killed there.
    central
        .posts
        .recv_timeout(LIMIT)
        .expect("the check-in reaches the central service");
    r.daemon.kill9();
    assert_eq!(
        r.office.checkins(),
        vec![("BGR-240508-00123".into(), "B-015".into(), false, 0)],
        "journaled before the printer, not printed"
    );
    assert!(
        r.printer.tickets().is_empty(),
        "nothing printed before the kill"
    );
    // Restarted, the same QR prints the owed ticket.
    central
        .hold
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let daemon = DaemonProcess::start(&r.office, &[]);
    daemon.wait_log("scanner port open");
    r.daemon = daemon;
    let l = r.scan(&valid(), 1);
    assert_eq!(l["outcome"], "accept");
    assert_eq!(l["resumed"], true);
    let t = r.printer.wait_tickets(1);
    assert_ticket(&t[0], "B-015", "BGR-240508-00123", false);
    assert_eq!(
        r.office.checkins(),
        vec![("BGR-240508-00123".into(), "B-015".into(), true, 0)],
        "one check-in, printed, no reprint used"
    );
    // The reprint is still there to be had.
    r.scan("BGR-240508-00124", 2);
    assert_eq!(r.scan(&valid(), 3)["outcome"], "reprint");
}

#[test]
fn printer_missing_then_back() {
    let office = Office::new("");
    office.cache_vector_manifest();
    let mut scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    // No printer at the configured path: the resident is told, nothing is
    // recorded (no check-in without a ticket), the daemon keeps running.
    let daemon = DaemonProcess::start(&office, &[]);
    daemon.wait_log("scanner port open");
    scanner.scan(&valid());
    let l = daemon.wait_scan(1);
    assert_eq!(l["outcome"], "printer_fault");
    assert_eq!(l["number"], "B-015");
    assert!(office.checkins().is_empty());
    // The printer is plugged in; the resident scans again.
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let tap = PrinterTap::start(pty);
    scanner.scan("BGR-240508-00124");
    assert_eq!(daemon.wait_scan(2)["outcome"], "accept");
    scanner.scan(&valid());
    let l = daemon.wait_scan(3);
    assert_eq!(l["outcome"], "accept");
    assert_eq!(l["resumed"], false);
    let t = tap.wait_tickets(2);
    assert_ticket(&t[1], "B-015", "BGR-240508-00123", false);
    // Unplugged mid-day (its device node goes away): a fault, then back.
    let pty = tap.stop();
    drop(pty);
    std::fs::remove_file(&office.printer_link).unwrap();
    let another = token(
        "BGR-240508-00125",
        "B-017",
        "2024-05-08",
        "09:00-10:00",
        "KK",
    );
    scanner.scan(&another);
    assert_eq!(daemon.wait_scan(4)["outcome"], "printer_fault");
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let tap = PrinterTap::start(pty);
    scanner.scan("BGR-240508-00124");
    assert_eq!(daemon.wait_scan(5)["outcome"], "reprint");
    scanner.scan(&another);
    assert_eq!(daemon.wait_scan(6)["outcome"], "accept");
    let t = tap.wait_tickets(2);
    assert_ticket(&t[1], "B-017", "BGR-240508-00125", false);
    assert_eq!(office.checkins().len(), 3, "each resident checked in once");
}

#[test]
fn scanner_unplugged_and_back() {
    let mut r = rig(&[]);
    assert_eq!(r.scan(&valid(), 1)["outcome"], "accept");
    // Unplug: the device node goes away for a while, then returns.
    let Scanner { pty } = std::mem::replace(&mut r.scanner, Scanner { pty: Pty::new() });
    drop(pty);
    let _ = std::fs::remove_file(&r.office.scanner_link);
    r.daemon.wait_log("scanner port cannot be opened");
    r.scanner.pty.link_at(&r.office.scanner_link);
    r.daemon.wait_log("scanner port is back");
    assert_eq!(r.scan("BGR-240508-00124", 2)["outcome"], "accept");
    r.printer.wait_tickets(2);
}

#[test]
fn ten_thousand_random_byte_strings_print_nothing() {
    let mut r = rig(&[]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut sent = 0usize;
    for _ in 0..10_000 {
        let len = rng.gen_range(1..80);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        bytes.push(b'\n');
        r.scanner.send(&bytes);
        sent += 1;
    }
    assert_eq!(sent, 10_000);
    // A valid scan after the noise is still served.
    r.scanner.send(b"\r\n");
    r.scanner.scan(&valid());
    wait_for(
        "the valid scan after the noise",
        Duration::from_secs(240),
        || {
            r.daemon
                .scans()
                .iter()
                .any(|l| l["outcome"] == "accept")
                .then_some(())
        },
    );
    let t = r.printer.wait_tickets(1);
    assert_eq!(t.len(), 1, "only the valid scan printed");
    assert_ticket(&t[0], "B-015", "BGR-240508-00123", false);
    let scans = r.daemon.scans();
    assert!(
        scans.len() > 1000,
        "the noise was read ({} scans)",
        scans.len()
    );
    assert!(scans
        .iter()
        .filter(|l| l["outcome"] != "accept")
        .all(|l| l["outcome"] != "reprint" && l["outcome"] != "printer_fault"));
    assert_eq!(r.office.checkins().len(), 1);
}
