//! A signed QR code must also fit the day's manifest: the real daemon
//! against the reference central service on 127.0.0.1. A token whose
//! number disagrees with the manifest prints the manifest's number (the
//! one counters call); a booking a fresh manifest does not list is checked
//! in only when the central service confirms it; a session the office
//! does not have is refused.

use antrean_kiosk::escpos_decode::{decode, Element};
use antrean_testkit::prelude::*;

struct Rig {
    central: antrean_central::Central,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    office: Office,
    printer: PrinterTap,
    scanner: Scanner,
    daemon: DaemonProcess,
}

impl Rig {
    fn scan(&mut self, text: &str, n: usize) -> serde_json::Value {
        self.scanner.scan(text);
        self.daemon.wait_scan(n)
    }

    /// A token signed with the central service's own key, as it would
    /// sign one, with the payload's fields given.
    fn signed(&self, booking: &str, number: &str, slot: &str) -> String {
        let keys = self.central.keys();
        keys.sign_token(&serde_json::json!({
            "kid": keys.active_kid(), "office": OFFICE, "booking": booking,
            "date": "2024-05-08", "slot": slot, "service": "KK", "number": number,
        }))
    }

    fn book(&self, slot: &str) -> (String, String) {
        book(&self._rt, &self.central, slot)
    }

    /// The central service's row of a booking.
    fn booking(&self, code: &str) -> antrean_central::StoredBooking {
        self._rt
            .block_on(self.central.booking(code))
            .unwrap()
            .unwrap()
    }
}

fn book(
    rt: &tokio::runtime::Runtime,
    central: &antrean_central::Central,
    slot: &str,
) -> (String, String) {
    let b = rt
        .block_on(central.book(&antrean_core::api::BookingRequest {
            date: "2024-05-08".into(),
            slot: slot.into(),
            service: "KK".into(),
            name: None,
        }))
        .unwrap();
    (b.booking, b.number)
}

/// The central service with one booking at 09:00 (booking, number), and a
/// kiosk that started after it was made.
fn rig() -> (Rig, (String, String)) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (central, addr, _clock) = inprocess_central(&rt, dir.path(), "kiosk-token");
    let first = book(&rt, &central, "09:00-10:00");
    let office = Office::new(&format!(
        "[central]\nurl = \"http://{addr}\"\ntoken = \"kiosk-token\"\n"
    ));
    let printer_pty = Pty::new();
    printer_pty.link_at(&office.printer_link);
    let scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let printer = PrinterTap::start(printer_pty);
    let rig = Rig {
        central,
        _rt: rt,
        _dir: dir,
        printer,
        scanner,
        daemon: DaemonProcess::start(&office, &[]),
        office,
    };
    rig.daemon.wait_log("scanner port open");
    (rig, first)
}

/// The big number on a ticket.
fn printed_number(ticket: &[u8]) -> String {
    decode(ticket)
        .unwrap()
        .into_iter()
        .find_map(|e| match e {
            Element::Line(l) if l.width >= 3 => Some(l.text.trim().to_string()),
            _ => None,
        })
        .expect("a number at triple width or more")
}

#[test]
fn a_signed_booking_must_fit_the_manifest() {
    let (mut r, (listed, number)) = rig();
    // The kiosk fetched today's manifest after the booking was made.
    r.daemon.wait_log("manifest updated");

    // 1. Signed with the office key, but with another number than the
    //    central service gave: the manifest's number is printed.
    let scan = r.scan(&r.signed(&listed, "B-099", "09:00-10:00"), 1);
    assert_eq!(scan["outcome"], "accept", "{scan}");
    let tickets = r.printer.wait_tickets(1);
    assert_eq!(printed_number(&tickets[0]), number);
    r.daemon
        .wait_log("disagrees with the central service's manifest");

    // 2. A session this office does not have: refused, nothing printed.
    let whole_day = r.signed("BGR-20240508-77001", "Z-001", "00:00-23:59");
    assert_eq!(r.scan(&whole_day, 2)["outcome"], "unknown_booking");

    // 3. A booking the fresh manifest does not list and the central
    //    service does not know: refused.
    let unknown = r.signed("BGR-20240508-77002", "B-777", "09:00-10:00");
    assert_eq!(r.scan(&unknown, 3)["outcome"], "unknown_booking");
    assert_eq!(r.printer.tickets().len(), 1);

    // 4. Booked after the kiosk's last manifest fetch: not listed yet, but
    //    the central service confirms it, so it is checked in and printed.
    let (fresh_booking, fresh_number) = r.book("09:00-10:00");
    let token = r.central.token_for(&r.booking(&fresh_booking));
    let scan = r.scan(&token, 4);
    assert_eq!(scan["outcome"], "accept", "{scan}");
    let tickets = r.printer.wait_tickets(2);
    assert_eq!(printed_number(&tickets[1]), fresh_number);

    // The kiosk's journal and the central service agree on both.
    let journal: Vec<(String, String)> = r
        .office
        .checkins()
        .into_iter()
        .map(|(b, n, _, _)| (b, n))
        .collect();
    assert_eq!(
        journal,
        vec![
            (listed.clone(), number.clone()),
            (fresh_booking.clone(), fresh_number)
        ]
    );
    let at_central = r.booking(&fresh_booking);
    assert_eq!(at_central.status.as_str(), "checked_in");
    let first = wait_for(
        "the first check-in to reach the central service",
        LIMIT,
        || {
            let b = r.booking(&listed);
            (b.status.as_str() == "checked_in").then_some(b)
        },
    );
    assert_eq!(first.number, number);
}
