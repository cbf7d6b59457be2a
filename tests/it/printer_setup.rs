//! The first day with a printer: `print-test` and `printer-detect`, run as
//! the real binary against the printer emulator on every transport.

use std::process::Command;

use antrean_core::printer_status::PrinterState;
use antrean_kiosk::escpos_decode::{decode_test_page, Element};
use antrean_testkit::prelude::*;

fn kiosk(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .args(args)
        .env("ANTREAN_NOW", NOW)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("$ antrean-kiosk {}\n{text}", args.join(" "));
    (out.status.code(), text)
}

#[test]
fn print_test_shows_profile_code_page_and_both_qr_codes_on_every_transport() {
    for link in Link::ALL {
        let office = Office::new("");
        let tap = PrinterTap::for_office(&office, link);
        office.write_config(&format!(
            "[printer]\nport = \"{}\"\nprofile = \"epson-tm-t82\"\nstatus_timeout_ms = 300\n",
            tap.port
        ));
        let config = office.config.to_str().unwrap().to_string();
        let (code, out) = kiosk(&["print-test", "--config", &config]);
        assert_eq!(code, Some(0), "{link:?}: {out}");
        assert!(
            out.contains("printer said / jawaban printer: ok"),
            "{link:?}: {out}"
        );
        assert!(out.contains("profile: epson-tm-t82"), "{out}");
        let page = tap.wait_tickets(1).remove(0);
        let els = decode_test_page(&page).unwrap();
        let qrs: Vec<&str> = els
            .iter()
            .filter_map(|e| match e {
                Element::Qr { data, .. } => Some(data.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(qrs.len(), 2, "{link:?}: both QR codes: {qrs:?}");
        assert_eq!(qrs[0], "CONTOH-0001");
        assert!(els.iter().any(|e| matches!(e,
            Element::Line(l) if l.text == "Profil  : epson-tm-t82")));
        assert!(els.iter().any(|e| matches!(e,
            Element::Line(l) if l.text.contains("PC437 (ESC t 0)"))));
        // Every character of the code page's upper half, once.
        for b in 0x80u8..=0xff {
            assert_eq!(
                page.iter().filter(|x| **x == b).count(),
                1,
                "{link:?}: byte {b:#x}"
            );
        }
        // Out of paper: nothing printed, and the command says why.
        tap.set(|s| s.state = PrinterState::PaperOut);
        let (code, out) = kiosk(&["print-test", "--config", &config]);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("jawaban printer: paper_out"), "{out}");
        assert_eq!(tap.tickets().len(), 1, "{link:?}");
    }
}

#[test]
fn printer_detect_lists_each_printer_with_its_config_line() {
    let office = Office::new("");
    let network = PrinterTap::start_tcp();
    let serial = PrinterTap::for_office(&office, Link::Serial);
    let silent = PrinterTap::start_tcp();
    silent.set(|s| s.silent = true);
    network.set(|s| s.state = PrinterState::PaperLow);
    office.write_config(&format!(
        "[printer]\nport = \"{}\"\nstatus_timeout_ms = 300\n",
        network.port
    ));
    let link = office.printer_link.display().to_string();
    let (code, out) = kiosk(&[
        "printer-detect",
        "--config",
        office.config.to_str().unwrap(),
        "--port",
        &link,
        "--port",
        &silent.port,
        "--port",
        "tcp://127.0.0.1:1",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let expect = [
        format!(
            "{}: paper_low (the paper roll is nearly empty)\n  [printer]\n  port = \"{}\"\n",
            network.port, network.port
        ),
        format!("{link}: ok\n  [printer]\n  port = \"{link}\"\n  baud = 19200\n"),
        format!("{}: no status (", silent.port),
        format!(
            "  port = \"{}\"\n  profile = \"xprinter-xp-58\"",
            silent.port
        ),
        "tcp://127.0.0.1:1: not reachable (printer on tcp://127.0.0.1:1 cannot be opened"
            .to_string(),
    ];
    for e in expect {
        assert!(out.contains(&e), "missing {e:?} in:\n{out}");
    }
    assert!(serial.queries.load(std::sync::atomic::Ordering::Relaxed) >= 4);
}
