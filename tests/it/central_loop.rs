//! The whole loop with real processes: `antrean-central` on 127.0.0.1 and
//! the kiosk daemon headless with pseudo-terminal scanner and printer.
//! Book -> scan -> ticket -> call -> the kiosk's board; the central service
//! down while 20 people check in; the event stream cut mid-day; the
//! embedded demo service keeping its staff token out of the log.

use std::collections::BTreeSet;
use std::time::Duration;

use antrean_kiosk::escpos_decode::{decode, Element};
use antrean_testkit::prelude::*;

/// Half an hour before the 09:00 session: sessions A and B are open.
const DAY_NOW: &str = "2024-05-08T08:40:00+07:00";

struct Loop {
    office: Office,
    printer: PrinterTap,
    scanner: Scanner,
    kiosk: DaemonProcess,
    central: Option<CentralProcess>,
    central_dir: tempfile::TempDir,
}

fn kiosk_config(central: &CentralProcess) -> String {
    format!(
        "[central]\nurl = \"http://{}\"\ntoken = \"{CENTRAL_TOKEN}\"\nanswer_deadline_ms = 2000\nretry_max_seconds = 1\n\n[status]\nlisten = \"127.0.0.1:0\"\n",
        central.addr
    )
}

fn start_loop() -> Loop {
    let central_dir = tempfile::tempdir().unwrap();
    let central = CentralProcess::start(central_dir.path(), "127.0.0.1:0", DAY_NOW);
    let office = Office::new(&kiosk_config(&central));
    let printer_pty = Pty::new();
    printer_pty.link_at(&office.printer_link);
    let scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let kiosk = DaemonProcess::start(&office, &[("ANTREAN_NOW", DAY_NOW)]);
    kiosk.wait_log("scanner port open");
    kiosk.wait_log("manifest updated");
    kiosk.wait_log("event stream connected");
    Loop {
        printer: PrinterTap::start(printer_pty),
        office,
        scanner,
        kiosk,
        central: Some(central),
        central_dir,
    }
}

impl Loop {
    fn central(&self) -> &CentralProcess {
        self.central
            .as_ref()
            .expect("the central service is running")
    }
}

/// The kiosk's own view of the board, from its local status endpoint.
fn kiosk_board(kiosk: &DaemonProcess) -> serde_json::Value {
    let line = kiosk.wait_log("status endpoint listening");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = v["addr"].as_str().unwrap().to_string();
    let body: serde_json::Value = reqwest::blocking::get(format!("http://{addr}/board"))
        .unwrap()
        .json()
        .unwrap();
    body["board"].clone()
}

/// Waits until the kiosk logged that its board applied this call.
fn wait_board_call(kiosk: &DaemonProcess, number: &str, counter: &str) {
    wait_for(
        &format!("the kiosk's board to apply {number} at {counter}"),
        LIMIT,
        || {
            kiosk
                .lines()
                .iter()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .any(|v| {
                    v["message"] == "board call" && v["number"] == number && v["counter"] == counter
                })
                .then_some(())
        },
    );
}

fn lines_of(ticket: &[u8]) -> Vec<String> {
    decode(ticket)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Element::Line(l) => Some(l.text.trim().to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn book_scan_ticket_call_board() {
    let mut l = start_loop();
    let (early, _, _) = l.central().book("08:00-09:00", "KK");
    let (booking, number, token) = l.central().book("09:00-10:00", "KTP-EL");
    assert_eq!(number, "B-001");
    // Someone of session A already waits (checked in at another kiosk).
    let (st, _) = l.central().call(
        "POST",
        "/checkins",
        Some(
            serde_json::json!({"booking": early, "number": "A-001", "kiosk": "lobby-2",
                               "checked_in_at": "2024-05-08T08:35:00+07:00"}),
        ),
    );
    assert_eq!(st, 201);
    l.scanner.scan(&token);
    let line = l.kiosk.wait_scan(1);
    assert_eq!(line["outcome"], "accept");
    assert_eq!(line["ahead"], 1);
    let t = l.printer.wait_tickets(1);
    let text = lines_of(&t[0]);
    assert!(text.contains(&"B-001".to_string()), "{text:?}");
    assert!(
        text.contains(&"Menunggu: 1 orang".to_string()),
        "people ahead on the ticket: {text:?}"
    );
    assert!(
        text.iter().any(|t| t.starts_with("Perkiraan dipanggil: ")),
        "{text:?}"
    );
    // The central service has the check-in; the counter calls A-001 then B-001.
    let (_, m) = l.central().call("GET", "/manifest?date=2024-05-08", None);
    let b = m["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["booking"] == booking.as_str())
        .unwrap()
        .clone();
    assert_eq!(b["status"], "checked_in");
    let (_, first) = l.central().call("POST", "/counters/3/next", None);
    assert_eq!(first["number"], "A-001");
    let (_, second) = l.central().call("POST", "/counters/2/next", None);
    assert_eq!(second["number"], "B-001");
    // The kiosk's board shows the call.
    wait_board_call(&l.kiosk, "B-001", "2");
    wait_for("the kiosk's board to show B-001 at Loket 2", LIMIT, || {
        let board = kiosk_board(&l.kiosk);
        (board["counters"][1]["serving"]["number"] == "B-001").then_some(())
    });
    let (_, server_board) = l.central().call("GET", "/board", None);
    assert_eq!(kiosk_board(&l.kiosk), server_board);
}

#[test]
fn twenty_checkins_while_the_central_service_is_down_arrive_once_with_their_times() {
    let mut l = start_loop();
    let bookings: Vec<(String, String, String)> = (0..20)
        .map(|i| {
            l.central().book(
                if i % 2 == 0 {
                    "08:00-09:00"
                } else {
                    "09:00-10:00"
                },
                "KK",
            )
        })
        .collect();
    let addr = l.central().addr.clone();
    l.central.take().unwrap().stop();
    for (i, (_, number, token)) in bookings.iter().enumerate() {
        l.scanner.scan(token);
        let line = l.kiosk.wait_scan(i + 1);
        assert_eq!(line["outcome"], "accept", "{line}");
        assert_eq!(line["number"], number.as_str());
    }
    l.printer.wait_tickets(20);
    // The journal holds all 20, unsent, each with its own time.
    let conn = rusqlite::Connection::open_with_flags(
        l.office.journal(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let local: Vec<(String, String, bool)> = conn
        .prepare("SELECT booking, checked_in_at, sent_at IS NOT NULL FROM checkins ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(local.len(), 20);
    assert!(local.iter().all(|(_, _, sent)| !sent));
    // The central service comes back on the same address.
    let central = CentralProcess::start(l.central_dir.path(), &addr, DAY_NOW);
    wait_for("the outbox to drain", Duration::from_secs(60), || {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM checkins WHERE sent_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (n == 0).then_some(())
    });
    // Exactly once each, with the kiosk's original time, marked offline.
    let central_db = rusqlite::Connection::open_with_flags(
        l.central_dir.path().join("central.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    for (booking, at, _) in &local {
        let (st, dup) = central.call(
            "POST",
            "/checkins",
            Some(serde_json::json!({"booking": booking, "number": bookings.iter().find(|b| &b.0 == booking).unwrap().1,
                                   "kiosk": "probe", "checked_in_at": "2024-05-08T09:30:00+07:00"})),
        );
        assert_eq!(st, 200, "{dup}");
        assert_eq!(
            dup["checked_in_at"],
            at.as_str(),
            "original time of {booking}"
        );
        let offline: bool = central_db
            .query_row(
                "SELECT offline FROM bookings WHERE code = ?1",
                [booking],
                |r| r.get(0),
            )
            .unwrap();
        assert!(offline, "{booking} was sent as an offline check-in");
    }
    let checkin_events: i64 = central_db
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'checkin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(checkin_events, 20, "no check-in counted twice");
    // In the order they were made.
    let order: Vec<String> = central_db
        .prepare("SELECT data FROM events WHERE kind = 'checkin' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| {
            serde_json::from_str::<serde_json::Value>(&d.unwrap()).unwrap()["number"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = bookings.iter().map(|b| b.1.clone()).collect();
    assert_eq!(order, expected, "the outbox drained in order");
    drop(central);
}

#[test]
fn a_cut_event_stream_catches_up_and_never_goes_back() {
    let mut l = start_loop();
    let tokens: Vec<(String, String, String)> = (0..6)
        .map(|_| l.central().book("08:00-09:00", "KK"))
        .collect();
    for (i, (_, _, token)) in tokens.iter().enumerate() {
        l.scanner.scan(token);
        assert_eq!(l.kiosk.wait_scan(i + 1)["outcome"], "accept");
    }
    l.central().call("POST", "/counters/1/next", None);
    l.central().call("POST", "/counters/2/next", None);
    wait_board_call(&l.kiosk, "A-002", "2");
    // Cut mid-day: the central service dies, comes back, and calls go on
    // before the kiosk reconnects.
    let addr = l.central().addr.clone();
    l.central.take().unwrap().kill9();
    l.kiosk.wait_log("reconnecting");
    l.central = Some(CentralProcess::start(l.central_dir.path(), &addr, DAY_NOW));
    l.central().call("POST", "/counters/1/next", None);
    l.central().call("POST", "/counters/3/next", None);
    l.central().call("POST", "/counters/1/recall", None);
    l.central().call(
        "POST",
        "/notice",
        Some(serde_json::json!({"text": "Istirahat 12.00-13.00"})),
    );
    l.central().call("POST", "/counters/2/done", None);
    let (_, server_board) = l.central().call("GET", "/board", None);
    let converged = wait_for_opt(Duration::from_secs(30), || {
        (kiosk_board(&l.kiosk) == server_board).then_some(())
    });
    assert!(
        converged.is_some(),
        "the kiosk's board\n{}\ndiffers from the server's\n{}",
        kiosk_board(&l.kiosk),
        server_board
    );
    // Every call the kiosk applied came in order: never an older state.
    let seqs: Vec<u64> = l
        .kiosk
        .lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["message"] == "board call")
        .map(|v| v["seq"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "board calls out of order: {seqs:?}"
    );
    let numbers: BTreeSet<String> = l
        .kiosk
        .lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["message"] == "board call")
        .map(|v| v["number"].as_str().unwrap().to_string())
        .collect();
    assert!(
        numbers.contains("A-003") && numbers.contains("A-004"),
        "calls made during the cut reached the kiosk: {numbers:?}"
    );
    assert_eq!(kiosk_board(&l.kiosk)["notice"], "Istirahat 12.00-13.00");
}

/// The kiosk's embedded demo mode (`[central] url = "embedded"`) runs the
/// reference service in-process: its staff token goes to a 0600 file and
/// never into the log.
#[test]
fn the_embedded_service_keeps_its_staff_token_out_of_the_log() {
    use std::os::unix::fs::PermissionsExt;
    let office = Office::new("\n[central]\nurl = \"embedded\"\n");
    let printer = Pty::new();
    printer.link_at(&office.printer_link);
    let _printer = PrinterTap::start(printer);
    let scanner = Pty::new();
    scanner.link_at(&office.scanner_link);
    let kiosk = DaemonProcess::start(&office, &[]);
    let line = kiosk.wait_log("embedded central service listening");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let file = std::path::Path::new(v["staff_token_file"].as_str().expect("the file is named"));
    assert_eq!(
        std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let staff = std::fs::read_to_string(file).unwrap().trim().to_string();
    assert!(staff.starts_with("act1_"), "{staff}");
    // The kiosk's own token works for the kiosk (its manifest arrives).
    kiosk.wait_log("manifest updated");
    let addr = v["addr"].as_str().unwrap();
    let status = reqwest::blocking::Client::new()
        .get(format!("http://{addr}/v1/offices/{OFFICE}/staff"))
        .bearer_auth(&staff)
        .timeout(Duration::from_secs(10))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert!(
        !kiosk.lines().iter().any(|l| l.contains(&staff)),
        "the staff token is in the log"
    );
}
