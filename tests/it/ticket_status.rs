//! The ticket's status link (`docs/ticket.md`): the second, smaller QR code
//! of `{status_url}/p/{office}/{date}/{number}` and the link as text, sent
//! with the printer's own QR command, a whole ticket under 1 KiB on both
//! paper widths with the longest realistic values; and the real daemon
//! printing it on a pseudo-terminal printer.

use antrean_core::booking::{Booking, Slot};
use antrean_core::ticket::{compose, TicketInput};
use antrean_kiosk::escpos_decode::{decode, Element};
use antrean_kiosk::printer::encode::encode_ticket;
use antrean_testkit::prelude::*;

/// The QR codes of a ticket (data, module size) and its text lines.
fn decoded(bytes: &[u8]) -> (Vec<(String, u8)>, Vec<String>) {
    let mut qrs = Vec::new();
    let mut lines = Vec::new();
    for e in decode(bytes).expect("the ticket decodes") {
        match e {
            Element::Qr {
                data,
                model,
                ec,
                module_size,
            } => {
                assert_eq!((model, ec), (2, 'M'), "GS ( k model 2, EC M");
                qrs.push((data, module_size));
            }
            Element::Line(l) => lines.push(l.text.trim().to_string()),
            _ => {}
        }
    }
    (qrs, lines)
}

struct Case {
    columns: u8,
    office_id: &'static str,
    office_name: &'static str,
    status_url: &'static str,
    number: &'static str,
    service: &'static str,
    reprint: bool,
    priority: bool,
    /// The module size of the booking QR, then of the status QR.
    modules: (u8, u8),
}

#[test]
fn both_qr_codes_decode_and_the_ticket_stays_under_1_kib() {
    // The longest realistic values: a two-line office name, a long
    // government domain, a long office id, 3-digit waits, the reprint and
    // priority marks, the default footer.
    let long_name =
        "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Kepulauan Bangka Belitung Timur";
    let long_url = "https://antrean.disdukcapil.kabbangkabelitungtimur.go.id";
    let cases = [
        Case {
            columns: 48,
            office_id: "kota-bogor",
            office_name: "Disdukcapil Kota Bogor",
            status_url: "https://antrean.example.go.id",
            number: "B-015",
            service: "KTP Elektronik",
            reprint: false,
            priority: false,
            modules: (6, 4),
        },
        Case {
            columns: 32,
            office_id: "kota-bogor",
            office_name: "Disdukcapil Kota Bogor",
            status_url: "https://antrean.example.go.id",
            number: "B-015",
            service: "KTP Elektronik",
            reprint: false,
            priority: true,
            modules: (5, 3),
        },
        Case {
            columns: 48,
            office_id: "kab-bangka-belitung-timur",
            office_name: long_name,
            status_url: long_url,
            number: "KIA-150",
            service: "Kartu Identitas Anak",
            reprint: true,
            priority: true,
            modules: (6, 4),
        },
        Case {
            columns: 32,
            office_id: "kab-bangka-belitung-timur",
            office_name: long_name,
            status_url: long_url,
            number: "KIA-150",
            service: "Kartu Identitas Anak",
            reprint: true,
            priority: true,
            modules: (5, 3),
        },
    ];
    let footer = vec![
        "Harap menunggu panggilan di layar.".to_string(),
        "Simpan tiket ini.".into(),
    ];
    for c in &cases {
        let booking = Booking {
            booking: "KBBT-261201-00150".into(),
            number: c.number.into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            slot: Slot::parse("13:00-14:00").unwrap(),
            service: "KIA".into(),
            masked_name: None,
        };
        let ticket = compose(&TicketInput {
            columns: c.columns,
            office_id: c.office_id,
            office_name: c.office_name,
            booking: &booking,
            service_name: c.service,
            checked_in_at: chrono::DateTime::parse_from_rfc3339("2026-12-01T12:59:00+07:00")
                .unwrap(),
            timezone: chrono_tz::Asia::Jakarta,
            reprint: c.reprint,
            priority: c.priority,
            ahead: Some(149),
            estimated_call: Some("13:55"),
            footer: &footer,
            status_url: c.status_url,
        });
        let bytes = encode_ticket(&ticket);
        let what = format!("{} columns, {}", c.columns, c.status_url);
        assert!(bytes.len() < 1024, "{what}: {} bytes", bytes.len());
        let url = format!("{}/p/{}/2026-12-01/{}", c.status_url, c.office_id, c.number);
        let (qrs, lines) = decoded(&bytes);
        assert_eq!(
            qrs,
            vec![
                ("KBBT-261201-00150".to_string(), c.modules.0),
                (url.clone(), c.modules.1)
            ],
            "{what}"
        );
        // The link as text, without the scheme, each line within the paper.
        let link: Vec<&String> = lines
            .iter()
            .skip_while(|l| *l != "Pantau antrean di HP:")
            .skip(1)
            .take_while(|l| !l.starts_with("Harap"))
            .collect();
        let joined: String = link.iter().map(|l| l.as_str()).collect();
        assert_eq!(joined, url.trim_start_matches("https://"), "{what}");
        assert!(link.iter().all(|l| l.len() <= usize::from(c.columns)));
        assert_eq!(lines.iter().any(|l| l == "PRIORITAS"), c.priority, "{what}");
        assert_eq!(
            lines.iter().any(|l| l == "CETAK ULANG"),
            c.reprint,
            "{what}"
        );
    }
}

#[test]
fn without_status_url_the_ticket_has_one_qr() {
    let booking = Booking {
        booking: "BGR-240508-00123".into(),
        number: "B-015".into(),
        date: chrono::NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
        slot: Slot::parse("09:00-10:00").unwrap(),
        service: "KTP-EL".into(),
        masked_name: None,
    };
    let ticket = compose(&TicketInput {
        columns: 48,
        office_id: "kota-bogor",
        office_name: "Disdukcapil",
        booking: &booking,
        service_name: "KTP Elektronik",
        checked_in_at: chrono::DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap(),
        timezone: chrono_tz::Asia::Jakarta,
        reprint: false,
        priority: false,
        ahead: None,
        estimated_call: None,
        footer: &[],
        status_url: "",
    });
    let (qrs, lines) = decoded(&encode_ticket(&ticket));
    assert_eq!(qrs, vec![("BGR-240508-00123".to_string(), 6)]);
    assert!(!lines.iter().any(|l| l.contains("Pantau")));
}

#[test]
fn the_daemon_prints_the_status_qr_from_its_configuration() {
    let office = Office::new("[ticket]\nstatus_url = \"https://antrean.example.go.id\"\n");
    office.cache_vector_manifest();
    let printer_pty = Pty::new();
    printer_pty.link_at(&office.printer_link);
    let mut scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let daemon = DaemonProcess::start(&office, &[]);
    daemon.wait_log("scanner port open");
    let printer = PrinterTap::start(printer_pty);
    scanner.scan(&token(
        "BGR-240508-00123",
        "B-015",
        "2024-05-08",
        "09:00-10:00",
        "KTP-EL",
    ));
    assert_eq!(daemon.wait_scan(1)["outcome"], "accept");
    let tickets = printer.wait_tickets(1);
    assert!(tickets[0].len() < 1024, "{} bytes", tickets[0].len());
    let (qrs, _) = decoded(&tickets[0]);
    let data: Vec<&str> = qrs.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        data,
        [
            "BGR-240508-00123",
            "https://antrean.example.go.id/p/kota-bogor/2024-05-08/B-015"
        ]
    );
}
