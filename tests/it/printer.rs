//! Printer health with a scripted printer emulator, the same cases over
//! each transport (serial pty, USB printer class on a pty, network on
//! 127.0.0.1): paper out mid-day, cover open, a silent printer, garbage
//! status bytes. Each case asserts the journal and what reached the paper,
//! and that the kiosk recovers by itself. Then what only a network printer
//! does (the connection dropped mid-ticket), a printer that answers no
//! status, `printer-status` and the health report.

use std::process::Command;

use antrean_core::printer_status::PrinterState;
use antrean_testkit::prelude::*;

/// Valid tokens of the test day's 09:00 session.
fn tokens() -> Vec<(String, String)> {
    (1..=4)
        .map(|i| {
            let booking = format!("BGR-240508-0090{i}");
            let number = format!("B-02{i}");
            (
                token(&booking, &number, "2024-05-08", "09:00-10:00", "KK"),
                booking,
            )
        })
        .collect()
}

struct Rig {
    office: Office,
    printer: PrinterTap,
    scanner: Scanner,
    daemon: DaemonProcess,
    scans: usize,
}

fn rig(extra: &str) -> Rig {
    rig_on(Link::Serial, "", extra)
}

/// A daemon whose printer is the emulator over `link`; `printer` adds keys
/// to `[printer]`.
fn rig_on(link: Link, printer: &str, extra: &str) -> Rig {
    let office = Office::new(extra);
    let printer_tap = PrinterTap::for_office(&office, link);
    office.write_config(&format!(
        "[printer]\nport = \"{}\"\nstatus_every_seconds = 1\nstatus_timeout_ms = 300\n{printer}\n\n[scanner]\nport = \"{}\"\nidle_ms = 100\n{extra}",
        printer_tap.port,
        office.scanner_link.display()
    ));
    let printer = printer_tap;
    let scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let daemon = DaemonProcess::start(&office, &[]);
    daemon.wait_log("scanner port open");
    Rig {
        office,
        printer,
        scanner,
        daemon,
        scans: 0,
    }
}

impl Rig {
    fn scan(&mut self, token: &str) -> serde_json::Value {
        self.scanner.scan(token);
        self.scans += 1;
        self.daemon.wait_scan(self.scans)
    }

    /// Waits until the kiosk's own status check saw `state`.
    fn wait_state(&self, state: &str) {
        wait_for(
            &format!("the kiosk to see the printer {state}"),
            LIMIT,
            || {
                self.daemon
                    .lines()
                    .iter()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .rfind(|v| v.get("state").is_some())
                    .filter(|v| v["state"] == state)
                    .map(|_| ())
            },
        );
    }

    fn journal(&self) -> Vec<(String, bool, u32)> {
        self.office
            .checkins()
            .into_iter()
            .map(|(b, _, p, r)| (b, p, r))
            .collect()
    }
}

/// One test per transport for each behaviour.
macro_rules! on_every_link {
    ($case:ident: $($name:ident => $link:expr),+) => {
        $(#[test]
        fn $name() {
            $case($link)
        })+
    };
}

on_every_link!(paper_out_mid_day_loses_no_ticket_and_recovers:
    paper_out_mid_day_serial => Link::Serial,
    paper_out_mid_day_usb_class => Link::UsbClass,
    paper_out_mid_day_network => Link::Tcp);

on_every_link!(cover_open_silent_printer_and_garbage_status_refuse_then_recover:
    cover_open_silent_garbage_serial => Link::Serial,
    cover_open_silent_garbage_usb_class => Link::UsbClass,
    cover_open_silent_garbage_network => Link::Tcp);

on_every_link!(paper_low_still_prints_and_says_so:
    paper_low_serial => Link::Serial,
    paper_low_usb_class => Link::UsbClass,
    paper_low_network => Link::Tcp);

/// Paper low is a warning, not a fault: tickets still print (and count as
/// printed), the state says `paper_low` until the roll is changed.
fn paper_low_still_prints_and_says_so(link: Link) {
    let t = tokens();
    let mut r = rig_on(link, "", "");
    r.printer.set(|s| s.state = PrinterState::PaperLow);
    r.wait_state("paper_low");
    assert_eq!(r.scan(&t[0].0)["outcome"], "accept");
    r.wait_state("paper_low");
    r.printer.set(|s| s.state = PrinterState::Ok);
    r.wait_state("ok");
    assert_eq!(r.scan(&t[1].0)["outcome"], "accept");
    assert_eq!(r.printer.wait_tickets(2).len(), 2);
    assert_eq!(
        r.journal(),
        vec![(t[0].1.clone(), true, 0), (t[1].1.clone(), true, 0)]
    );
}

fn paper_out_mid_day_loses_no_ticket_and_recovers(link: Link) {
    let t = tokens();
    let mut r = rig_on(link, "", "");
    r.printer.set(|s| s.paper_out_after = Some(2));
    assert_eq!(r.scan(&t[0].0)["outcome"], "accept");
    // The paper runs out during the second ticket: it counts as not printed.
    assert_eq!(r.scan(&t[1].0)["outcome"], "printer_fault");
    assert_eq!(
        r.journal(),
        vec![(t[0].1.clone(), true, 0), (t[1].1.clone(), false, 0)]
    );
    // While out of paper, nobody new is checked in.
    let l = r.scan(&t[2].0);
    assert_eq!(l["outcome"], "printer_fault");
    assert_eq!(r.journal().len(), 2);
    r.wait_state("paper_out");
    // Paper is replaced; the kiosk notices by itself.
    r.printer.set(|s| s.state = PrinterState::Ok);
    r.wait_state("ok");
    // The second resident scans again: the original ticket, no reprint used.
    let l = r.scan(&t[1].0);
    assert_eq!(
        (l["outcome"].as_str(), l["resumed"].as_bool()),
        (Some("accept"), Some(true))
    );
    assert_eq!(r.scan(&t[2].0)["outcome"], "accept");
    assert_eq!(
        r.journal(),
        vec![
            (t[0].1.clone(), true, 0),
            (t[1].1.clone(), true, 0),
            (t[2].1.clone(), true, 0)
        ]
    );
    // On paper: first, the interrupted second, the second again, the third.
    let tickets = r.printer.wait_tickets(4);
    assert_eq!(tickets.len(), 4);
    let faults: i64 = rusqlite::Connection::open(r.office.journal())
        .unwrap()
        .query_row("SELECT COUNT(*) FROM printer_faults", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        faults, 2,
        "both faults are in the journal for the day report"
    );
}

fn cover_open_silent_printer_and_garbage_status_refuse_then_recover(link: Link) {
    let t = tokens();
    let mut r = rig_on(link, "", "");
    for (i, (setup, state)) in [
        (
            Box::new(|s: &mut EmulatorScript| s.state = PrinterState::CoverOpen)
                as Box<dyn Fn(&mut EmulatorScript)>,
            "cover_open",
        ),
        (
            Box::new(|s: &mut EmulatorScript| s.silent = true),
            "offline",
        ),
        (Box::new(|s: &mut EmulatorScript| s.garbage = true), "error"),
    ]
    .into_iter()
    .enumerate()
    {
        r.printer.set(|s| setup(s));
        let l = r.scan(&t[i].0);
        assert_eq!(l["outcome"], "printer_fault", "{state}");
        r.wait_state(state);
        assert_eq!(
            r.journal().len(),
            i,
            "no check-in while the printer is {state}"
        );
        r.printer.set(|s| {
            s.state = PrinterState::Ok;
            s.silent = false;
            s.garbage = false;
        });
        r.wait_state("ok");
        // (Another scan in between, or the same QR within 3 s is a double read.)
        assert_eq!(r.scan("?")["outcome"], "invalid_format");
        assert_eq!(r.scan(&t[i].0)["outcome"], "accept", "after {state}");
    }
    assert_eq!(
        r.printer.wait_tickets(3).len(),
        3,
        "three tickets, nothing else on paper"
    );
    assert!(r
        .journal()
        .iter()
        .all(|(_, printed, reprints)| *printed && *reprints == 0));
}

#[test]
fn network_printer_closed_mid_ticket_gets_it_again_once() {
    let t = tokens();
    let mut r = rig_on(Link::Tcp, "", "");
    r.printer.set(|s| s.close_after_bytes = Some(120));
    let l = r.scan(&t[0].0);
    assert_eq!(l["outcome"], "accept", "{l}");
    // One check-in, printed, no reprint used.
    assert_eq!(r.journal(), vec![(t[0].1.clone(), true, 0)]);
    // On paper: the first 120 bytes (no cut), then one whole ticket on
    // the new connection.
    let tickets = r.printer.tickets();
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    assert!(!ends_with_cut(&tickets[0]) && tickets[0].len() == 120);
    assert!(ends_with_cut(&tickets[1]));
    let whole = antrean_kiosk::escpos_decode::decode(&tickets[1]).unwrap();
    assert!(whole.iter().any(|e| matches!(e,
        antrean_kiosk::escpos_decode::Element::Qr { data, .. } if *data == t[0].1)));
    assert!(
        r.printer
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
    // The next resident's ticket goes out once, whole.
    assert_eq!(r.scan(&t[1].0)["outcome"], "accept");
    let tickets = r.printer.tickets();
    assert_eq!(tickets.len(), 3);
    assert!(ends_with_cut(&tickets[2]));
    assert_eq!(r.journal().len(), 2);
}

#[test]
fn printer_without_status_prints_with_status_unknown() {
    let t = tokens();
    // A profile without status and without a cutter, raster QR opted in.
    let mut r = rig_on(
        Link::Tcp,
        "profile = \"xprinter-xp-58\"\nqr = \"raster\"",
        "",
    );
    r.printer.set(|s| s.silent = true);
    let l = r.scan(&t[0].0);
    assert_eq!(l["outcome"], "accept", "{l}");
    assert_eq!(r.journal(), vec![(t[0].1.clone(), true, 0)]);
    assert_eq!(
        r.printer.queries.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "a printer without status is never asked"
    );
    // (Counted printed once every byte went out: the emulator may still be reading.)
    let els = wait_for("the whole ticket at the emulator", LIMIT, || {
        let els = antrean_kiosk::escpos_decode::decode(&r.printer.snapshot()).ok()?;
        els.iter()
            .any(|e| matches!(e, antrean_kiosk::escpos_decode::Element::Line(l) if l.text == "Simpan tiket ini."))
            .then_some(els)
    });
    assert!(els
        .iter()
        .any(|e| matches!(e, antrean_kiosk::escpos_decode::Element::Raster { .. })));
    assert!(!els
        .iter()
        .any(|e| matches!(e, antrean_kiosk::escpos_decode::Element::Cut { .. })));
    // `printer-status` says the status is unknown, and that it can print.
    let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .args(["printer-status", "--config"])
        .arg(&r.office.config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok (status unknown"), "{text}");
    // A network printer that is gone is offline, not unknown.
    drop(r.printer);
    let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .args(["printer-status", "--config"])
        .arg(&r.office.config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("offline"), "{text}");
}

#[test]
fn printer_status_command_and_health_report() {
    // The command, against the emulator in two states.
    let office = Office::new("");
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let printer = PrinterTap::start(pty);
    let status = |printer: &PrinterTap, state: PrinterState| {
        printer.set(|s| s.state = state);
        let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
            .args(["printer-status", "--config"])
            .arg(&office.config)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, text) = status(&printer, PrinterState::PaperLow);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("paper_low"), "{text}");
    let (code, text) = status(&printer, PrinterState::PaperOut);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("paper_out"), "{text}");
    drop(printer);

    // The health report reaches the central service, the status endpoint shows it.
    let central_dir = tempfile::tempdir().unwrap();
    let central = CentralProcess::start(central_dir.path(), "127.0.0.1:0", NOW);
    let mut r = rig(&format!(
        "[central]\nurl = \"http://{}\"\ntoken = \"{CENTRAL_TOKEN}\"\nretry_max_seconds = 1\n\n[status]\nlisten = \"127.0.0.1:0\"\n",
        central.addr
    ));
    r.printer.set(|s| s.state = PrinterState::PaperLow);
    r.wait_state("paper_low");
    wait_for(
        "the central service to know the printer is low on paper",
        LIMIT,
        || {
            let (_, staff) = central.call("GET", "/staff", None);
            (staff["kiosks"][0]["printer"] == "paper_low").then_some(())
        },
    );
    let line = r.daemon.wait_log("status endpoint listening");
    let addr = serde_json::from_str::<serde_json::Value>(&line).unwrap()["addr"]
        .as_str()
        .unwrap()
        .to_string();
    let health: serde_json::Value = reqwest::blocking::get(format!("http://{addr}/healthz"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["printer"]["state"], "paper_low");
    assert_eq!(health["status"], "ok", "paper low still prints");
    // Paper low keeps printing (a booking the central service made).
    let (_, _, token) = central.book("09:00-10:00", "KK");
    assert_eq!(r.scan(&token)["outcome"], "accept");
    r.printer.set(|s| s.state = PrinterState::PaperOut);
    r.wait_state("paper_out");
    let resp = reqwest::blocking::get(format!("http://{addr}/healthz")).unwrap();
    assert_eq!(
        resp.status().as_u16(),
        503,
        "a kiosk that cannot print is unhealthy"
    );
    let metrics = reqwest::blocking::get(format!("http://{addr}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("antrean_printer_ok 0"), "{metrics}");
    assert!(
        metrics.contains("antrean_scans_total{outcome=\"accept\"} 1"),
        "{metrics}"
    );
}
