//! A compressed, hostile office day with real processes: bookings over
//! the seeds' five sessions (08.00-12.00, then 13.00-14.00 after lunch);
//! residents early, late, twice, with forged or foreign codes; counters
//! calling; the central service restarted three times and cut off for a
//! whole session; the printer out of paper once; the kiosk
//! killed -9 twice. At the end every valid arrival has exactly one
//! check-in on the central service with its original time, every printed
//! ticket matches the journal, no rejected code got a number on paper, and
//! the kiosk's board equals the server's.
//!
//! Short form by default (about 10 residents per session);
//! `SOAK_PER_SESSION=50` gives the full 250-booking day.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use antrean_core::printer_status::PrinterState;
use antrean_kiosk::escpos_decode::{decode, Element};
use antrean_testkit::prelude::*;

const SESSIONS: [(&str, &str); 5] = [
    ("08:00-09:00", "08:10"),
    ("09:00-10:00", "09:10"),
    ("10:00-11:00", "10:10"),
    ("11:00-12:00", "11:10"),
    ("13:00-14:00", "13:10"),
];

fn at(hhmm: &str) -> String {
    format!("2024-05-08T{hhmm}:00+07:00")
}

struct Day {
    office: Office,
    central_dir: tempfile::TempDir,
    central: Option<CentralProcess>,
    addr: String,
    printer: PrinterTap,
    scanner: Scanner,
    kiosk: Option<DaemonProcess>,
    scans: usize,
}

impl Day {
    fn central(&self) -> &CentralProcess {
        self.central.as_ref().expect("central running")
    }

    fn start_kiosk(&mut self, now: &str) {
        let k = DaemonProcess::start(&self.office, &[("ANTREAN_NOW", now)]);
        k.wait_log("scanner port open");
        self.kiosk = Some(k);
        self.scans = 0;
    }

    fn kiosk(&self) -> &DaemonProcess {
        self.kiosk.as_ref().expect("kiosk running")
    }

    fn scan(&mut self, text: &str) -> String {
        self.scanner.scan(text);
        self.scans += 1;
        let n = self.scans;
        self.kiosk().wait_scan(n)["outcome"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn restart_central(&mut self, now: &str) {
        if let Some(c) = self.central.take() {
            c.stop();
        }
        self.central = Some(CentralProcess::start(
            self.central_dir.path(),
            &self.addr,
            now,
        ));
    }
}

fn qr_payloads(bytes: &[u8]) -> Vec<(String, bool)> {
    split_tickets(bytes)
        .iter()
        .filter_map(|t| {
            let els = decode(t).ok()?;
            let qr = els.iter().find_map(|e| match e {
                Element::Qr { data, .. } => Some(data.clone()),
                _ => None,
            })?;
            let reprint = els
                .iter()
                .any(|e| matches!(e, Element::Line(l) if l.text.contains("CETAK ULANG")));
            Some((qr, reprint))
        })
        .collect()
}

#[test]
fn a_hostile_day() {
    let per_session: usize = std::env::var("SOAK_PER_SESSION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let central_dir = tempfile::tempdir().unwrap();
    // The service's clock agrees with the kiosk's (it refuses online
    // check-ins whose time is minutes off its own).
    let central = CentralProcess::start(central_dir.path(), "127.0.0.1:0", &at(SESSIONS[0].1));
    let addr = central.addr.clone();
    let office = Office::new("");
    office.write_config(&format!(
        "[printer]\nport = \"{}\"\nstatus_every_seconds = 1\nstatus_timeout_ms = 300\n\n[scanner]\nport = \"{}\"\nidle_ms = 50\n\n[central]\nurl = \"http://{addr}\"\ntoken = \"{CENTRAL_TOKEN}\"\nretry_max_seconds = 1\nanswer_deadline_ms = 1500\n\n[status]\nlisten = \"127.0.0.1:0\"\n",
        office.printer_link.display(),
        office.scanner_link.display()
    ));
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let printer = PrinterTap::start(pty);
    let scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    // Bookings for five sessions.
    let mut bookings: BTreeMap<usize, Vec<(String, String, String)>> = BTreeMap::new();
    for (s, (slot, _)) in SESSIONS.iter().enumerate() {
        for _ in 0..per_session {
            bookings
                .entry(s)
                .or_default()
                .push(central.book(slot, "KK"));
        }
    }
    let mut day = Day {
        office,
        central_dir,
        central: Some(central),
        addr,
        printer,
        scanner,
        kiosk: None,
        scans: 0,
    };
    // Residents who must end up checked in exactly once: booking code -> number.
    let mut valid: BTreeMap<String, String> = BTreeMap::new();
    let mut rejected_codes: BTreeSet<String> = BTreeSet::new();
    let forged = token_with(
        PUBLISHED_KID,
        PUBLISHED_SEED,
        OFFICE,
        "BGR-240508-77777",
        "Z-999",
        "2024-05-08",
        "08:00-09:00",
        "KK",
    );
    let foreign = token_with(
        &test_key().kid,
        &test_key().private_seed,
        "kota-bekasi",
        "BKS-240508-00001",
        "A-001",
        "2024-05-08",
        "08:00-09:00",
        "KK",
    );
    rejected_codes.insert("BGR-240508-77777".into());
    rejected_codes.insert("BKS-240508-00001".into());
    let mut paper_faults = 0;
    for (s, (_, now)) in SESSIONS.iter().enumerate() {
        // The kiosk restarts each session (its clock moves on); twice by kill -9.
        if let Some(mut k) = day.kiosk.take() {
            if s == 2 || s == 4 {
                k.kill9();
            } else {
                k.terminate();
            }
        }
        // The central service restarts three times; session 3 it is down.
        match s {
            1 | 4 => day.restart_central(&at(now)),
            2 => {
                if let Some(c) = day.central.take() {
                    c.stop();
                }
            }
            3 => day.restart_central(&at(now)),
            _ => {}
        }
        day.start_kiosk(&at(now));
        if day.central.is_some() {
            day.kiosk().wait_log("manifest updated");
        }
        if s == 1 {
            day.printer.set(|p| p.paper_out_after = Some(2));
        }
        let residents = bookings[&s].clone();
        for (i, (code, number, tok)) in residents.iter().enumerate() {
            let outcome = day.scan(tok);
            match outcome.as_str() {
                "accept" => {
                    valid.insert(code.clone(), number.clone());
                }
                "printer_fault" => {
                    paper_faults += 1;
                    // Out of paper: staff refill it, the resident scans again.
                    day.printer.set(|p| p.state = PrinterState::Ok);
                    day.kiosk().wait_log("\"state\":\"ok\"");
                    assert_eq!(day.scan("?"), "invalid_format");
                    let again = day.scan(tok);
                    assert_eq!(again, "accept", "{code} after the paper was refilled");
                    valid.insert(code.clone(), number.clone());
                }
                other => panic!("{code} in its session got {other}"),
            }
            // Hostile extras among the residents.
            match i % 4 {
                0 => assert_eq!(day.scan(&forged.replace("eyJ", "eyK")), "invalid_format"),
                1 => assert_eq!(day.scan(&foreign), "wrong_office"),
                2 => {
                    // The same person again later: a reprint (another scan in between).
                    assert_eq!(day.scan("?"), "invalid_format");
                    assert_eq!(day.scan(tok), "reprint", "{code} twice");
                }
                _ => {
                    // Someone from the next session, too early.
                    if let Some(next) = bookings.get(&(s + 1)).and_then(|b| b.get(i)) {
                        assert_eq!(day.scan(&next.2), "too_early");
                    }
                }
            }
        }
        // Someone from two sessions ago, too late.
        if s >= 2 {
            assert_eq!(day.scan(&bookings[&(s - 2)][0].2), "too_late");
        }
        // Counters call during the session (when the service is up).
        if let Some(c) = &day.central {
            for counter in ["1", "2", "3"] {
                c.call("POST", &format!("/counters/{counter}/next"), None);
            }
        }
    }
    assert_eq!(paper_faults, 1, "the printer ran out of paper once");
    assert_eq!(
        valid.len(),
        SESSIONS.len() * per_session,
        "every resident got in"
    );
    // The service is back for good; the outbox drains.
    let journal = rusqlite::Connection::open_with_flags(
        day.office.journal(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    wait_for("the outbox to drain", Duration::from_secs(90), || {
        let n: i64 = journal
            .query_row(
                "SELECT COUNT(*) FROM checkins WHERE sent_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (n == 0).then_some(())
    });
    // 1. Every valid arrival: exactly one check-in, original time.
    let local: BTreeMap<String, (String, bool, u32)> = journal
        .prepare("SELECT booking, checked_in_at, printed_at IS NOT NULL, reprints FROM checkins")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        local.keys().cloned().collect::<BTreeSet<_>>(),
        valid.keys().cloned().collect::<BTreeSet<_>>()
    );
    let central_db = rusqlite::Connection::open_with_flags(
        day.central_dir.path().join("central.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    for (code, (time, printed, _)) in &local {
        let central_time: Option<String> = central_db
            .query_row(
                "SELECT checked_in_at FROM bookings WHERE code = ?1",
                [code],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            central_time.as_deref(),
            Some(time.as_str()),
            "{code}: original time on the central service"
        );
        assert!(printed, "{code} printed");
    }
    let checkin_events: i64 = central_db
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'checkin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        checkin_events as usize,
        valid.len(),
        "no check-in counted twice"
    );
    // 2. Paper matches the journal; 3. no rejected code on paper.
    let on_paper = qr_payloads(&day.printer.snapshot());
    let firsts: BTreeSet<String> = on_paper
        .iter()
        .filter(|(_, r)| !r)
        .map(|(q, _)| q.clone())
        .collect();
    assert_eq!(
        firsts,
        valid.keys().cloned().collect::<BTreeSet<_>>(),
        "first tickets = journal"
    );
    let reprints_on_paper = on_paper.iter().filter(|(_, r)| *r).count() as u32;
    let reprints_in_journal: u32 = local.values().map(|v| v.2).sum();
    assert_eq!(reprints_on_paper, reprints_in_journal);
    assert!(on_paper.iter().all(|(q, _)| !rejected_codes.contains(q)));
    // 4. The kiosk's board equals the server's.
    let line = day.kiosk().wait_log("status endpoint listening");
    let addr = serde_json::from_str::<serde_json::Value>(&line).unwrap()["addr"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, server) = day.central().call("GET", "/board", None);
    wait_for(
        "the kiosk's board to equal the server's",
        Duration::from_secs(30),
        || {
            let mine: serde_json::Value = reqwest::blocking::get(format!("http://{addr}/board"))
                .ok()?
                .json()
                .ok()?;
            (mine["board"] == server).then_some(())
        },
    );
}
