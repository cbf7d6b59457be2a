//! Running it in an office: the systemd notifications and watchdog, and
//! the end-of-day report that reconciles the journal with the central
//! service (re-sending what it does not have).

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use antrean_testkit::prelude::*;

#[test]
fn tells_systemd_it_is_ready_and_alive() {
    let office = Office::new("");
    office.cache_vector_manifest();
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let _printer = PrinterTap::start(pty);
    let scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let socket_path = office.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _daemon = DaemonProcess::start(
        &office,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "600000"),
        ],
    );
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !(seen.iter().any(|m: &String| m.contains("READY=1"))
        && seen.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 2)
    {
        let n = socket.recv(&mut buf).expect("a notification within 10 s");
        seen.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
}

#[test]
fn day_report_reconciles_and_resends() {
    let central_dir = tempfile::tempdir().unwrap();
    let central = CentralProcess::start(central_dir.path(), "127.0.0.1:0", NOW);
    let addr = central.addr.clone();
    let office = Office::new(&format!(
        "[central]\nurl = \"http://{addr}\"\ntoken = \"{CENTRAL_TOKEN}\"\nretry_max_seconds = 1\nanswer_deadline_ms = 2000\n"
    ));
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let printer = PrinterTap::start(pty);
    let mut scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let mut kiosk = DaemonProcess::start(&office, &[]);
    kiosk.wait_log("scanner port open");
    kiosk.wait_log("manifest updated");
    let booked: Vec<(String, String, String)> =
        (0..4).map(|_| central.book("09:00-10:00", "KK")).collect();
    // Two check-ins reach the central service, then it goes away.
    for (i, b) in booked.iter().take(2).enumerate() {
        scanner.scan(&b.2);
        assert_eq!(kiosk.wait_scan(i + 1)["outcome"], "accept");
    }
    central.stop();
    for (i, b) in booked.iter().skip(2).enumerate() {
        scanner.scan(&b.2);
        assert_eq!(kiosk.wait_scan(i + 3)["outcome"], "accept");
    }
    scanner.scan("BGR-240508-99999");
    assert_eq!(kiosk.wait_scan(5)["outcome"], "unknown_booking");
    printer.wait_tickets(4);
    // The kiosk is stopped before it could deliver; the service returns.
    kiosk.kill9();
    let central = CentralProcess::start(central_dir.path(), &addr, NOW);
    let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .args(["report", "--date", "2024-05-08", "--config"])
        .arg(&office.config)
        .env("ANTREAN_NOW", NOW)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Check-in           : 4"), "{text}");
    assert!(text.contains("Tiket tercetak     : 4"), "{text}");
    assert!(text.contains("unknown_booking  1"), "{text}");
    assert!(
        text.contains("2 check-in(s) unknown to the central service"),
        "{text}"
    );
    for b in booked.iter().skip(2) {
        assert!(text.contains(&b.0), "{} listed: {text}", b.0);
    }
    assert!(text.contains("re-sent: 2 of 2"), "{text}");
    // Now the central service has all four, exactly once.
    let (_, m) = central.call("GET", "/manifest?date=2024-05-08", None);
    let checked = m["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["status"] == "checked_in")
        .count();
    assert_eq!(checked, 4);
    // A second report has nothing left to send.
    let again = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .args(["report", "--date", "2024-05-08", "--config"])
        .arg(&office.config)
        .env("ANTREAN_NOW", NOW)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("0 check-in(s) unknown to the central service"),
        "{text}"
    );
}
