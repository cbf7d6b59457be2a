//! ESC/POS encoding of a composed [`Ticket`] with the `escpos` crate: one
//! buffer per ticket, starting with `ESC @` and a single-byte code page,
//! printable ASCII text only, the number at 4x (3x when it would not fit),
//! a native QR code (`GS ( k`, model 2, error correction M), a partial cut.
//! Pure: the bytes are captured in memory, nothing touches a port.

use std::cell::RefCell;
use std::rc::Rc;

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::printer_options::PrinterOptions;
use escpos::utils::{
    JustifyMode, PageCode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption,
};

use antrean_core::ticket::{ascii, Ticket};

/// An `escpos` driver that keeps what it is given.
#[derive(Clone, Default)]
struct Capture(Rc<RefCell<Vec<u8>>>);

impl Driver for Capture {
    fn name(&self) -> String {
        "capture".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// The size the queue number is printed at: 4x, or 3x when 4x would not
/// fit the paper (never smaller: `ticket.md` asks for at least 3x).
pub fn number_size(number: &str, columns: u8) -> u8 {
    if number.len() * 4 <= usize::from(columns) {
        4
    } else {
        3
    }
}

/// The QR module size that prints a booking code well on this paper.
fn qr_module(columns: u8) -> u8 {
    if columns >= 48 {
        6
    } else {
        5
    }
}

/// The QR module size of the status link: smaller than the booking
/// code's, the phone's camera is close.
fn status_qr_module(columns: u8) -> u8 {
    if columns >= 48 {
        4
    } else {
        3
    }
}

/// Every QR code goes through here: the printer's own `GS ( k` command,
/// model 2, error correction M, at `module` dots.
fn qr_code(p: &mut Printer<Capture>, data: &str, module: u8) -> escpos::errors::Result<()> {
    p.qrcode_option(
        &ascii(data),
        QRCodeOption::new(QRCodeModel::Model2, module, QRCodeCorrectionLevel::M),
    )?;
    Ok(())
}

/// A printer building commands into memory.
fn printer(columns: u8) -> (Printer<Capture>, Capture) {
    let capture = Capture::default();
    let options = PrinterOptions::new(Some(PageCode::PC437), None, columns);
    (
        Printer::new(capture.clone(), Protocol::default(), Some(options)),
        capture,
    )
}

/// Encodes a ticket. Every string is ASCII already; anything else is
/// transliterated again here, so no UTF-8 byte can reach the printer.
pub fn encode_ticket(t: &Ticket) -> Vec<u8> {
    let (mut p, capture) = printer(t.columns);
    build_ticket(&mut p, t).expect("encoding into memory does not fail");
    let bytes = capture.0.borrow().clone();
    bytes
}

fn build_ticket(p: &mut Printer<Capture>, t: &Ticket) -> escpos::errors::Result<()> {
    let size = number_size(&t.number, t.columns);
    p.init()?.justify(JustifyMode::CENTER)?.bold(true)?;
    for line in &t.office_lines {
        p.writeln(&ascii(line))?;
    }
    p.bold(false)?.feed()?.writeln(&ascii(&t.heading))?;
    p.size(size, size)?.bold(true)?.writeln(&ascii(&t.number))?;
    p.reset_size()?.bold(false)?;
    if t.reprint {
        p.reverse(true)?.bold(true)?.writeln(" CETAK ULANG ")?;
        p.reverse(false)?.bold(false)?;
    }
    if t.priority {
        p.reverse(true)?.bold(true)?.writeln(" PRIORITAS ")?;
        p.reverse(false)?.bold(false)?;
    }
    p.feed()?.justify(JustifyMode::LEFT)?;
    for line in &t.details {
        p.writeln(&ascii(line))?;
    }
    p.feed()?.justify(JustifyMode::CENTER)?;
    qr_code(p, &t.qr, qr_module(t.columns))?;
    p.writeln(&ascii(&t.booking))?;
    if let Some(status) = &t.status {
        p.feed()?.writeln(&ascii(&status.caption))?;
        qr_code(p, &status.url, status_qr_module(t.columns))?;
        for line in &status.lines {
            p.writeln(&ascii(line))?;
        }
    }
    if !t.footer.is_empty() {
        p.feed()?;
        for line in &t.footer {
            p.writeln(&ascii(line))?;
        }
    }
    p.feeds(3)?.custom(PARTIAL_CUT)?.print()?;
    Ok(())
}

/// `GS V 66 0`: feed to the cutter and cut partially. (The crate's
/// `partial_cut()` sends `GS V 65 1`, which the Epson reference defines as a
/// full cut after a small feed.)
const PARTIAL_CUT: &[u8] = &[0x1d, b'V', 66, 0];

/// Encodes plain lines (a slip): a centred bold title, lines, an optional
/// QR code with a caption, and a partial cut.
pub fn encode_slip(columns: u8, title: &[String], lines: &[String], qr: Option<&str>) -> Vec<u8> {
    let (mut p, capture) = printer(columns);
    let build = |p: &mut Printer<Capture>| -> escpos::errors::Result<()> {
        p.init()?.justify(JustifyMode::CENTER)?.bold(true)?;
        for l in title {
            p.writeln(&ascii(l))?;
        }
        p.bold(false)?.feed()?.justify(JustifyMode::LEFT)?;
        for l in lines {
            p.writeln(&ascii(l))?;
        }
        if let Some(data) = qr {
            p.feed()?.justify(JustifyMode::CENTER)?;
            qr_code(p, data, qr_module(columns))?;
            p.writeln(&ascii(data))?;
        }
        p.feeds(3)?.custom(PARTIAL_CUT)?.print()?;
        Ok(())
    };
    build(&mut p).expect("encoding into memory does not fail");
    let bytes = capture.0.borrow().clone();
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos_decode::{decode, Align, Element};

    fn ticket(columns: u8, reprint: bool, number: &str) -> Ticket {
        use antrean_core::booking::{Booking, Slot};
        let booking = Booking {
            booking: "BGR-240508-00123".into(),
            number: number.into(),
            date: chrono::NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
            slot: Slot::parse("09:00-10:00").unwrap(),
            service: "KTP-EL".into(),
            masked_name: None,
        };
        let footer = vec![
            "Harap menunggu panggilan di layar.".to_string(),
            "Simpan tiket ini.".into(),
        ];
        antrean_core::ticket::compose(&antrean_core::ticket::TicketInput {
            columns,
            office_id: "kota-bogor",
            office_name: "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor",
            booking: &booking,
            service_name: "KTP Elektronik",
            checked_in_at: chrono::DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00")
                .unwrap(),
            timezone: chrono_tz::Asia::Jakarta,
            reprint,
            priority: false,
            ahead: Some(12),
            estimated_call: Some("09:45"),
            footer: &footer,
            status_url: "",
        })
    }

    #[test]
    fn decoding_recovers_every_part_of_the_ticket() {
        for columns in [48u8, 32] {
            for reprint in [false, true] {
                let t = ticket(columns, reprint, "B-015");
                let bytes = encode_ticket(&t);
                assert!(bytes.len() < 1024, "{} bytes", bytes.len());
                assert!(
                    bytes.starts_with(&[0x1b, b'@', 0x1b, b't', 0]),
                    "ESC @ then ESC t 0"
                );
                assert!(bytes.iter().all(|b| *b < 0x80), "no byte outside ASCII");
                let els = decode(&bytes).unwrap();
                let lines: Vec<_> = els
                    .iter()
                    .filter_map(|e| match e {
                        Element::Line(l) => Some(l),
                        _ => None,
                    })
                    .collect();
                let find = |text: &str| {
                    lines
                        .iter()
                        .find(|l| l.text == text)
                        .unwrap_or_else(|| panic!("{text}"))
                };
                let office = find(&t.office_lines[0]);
                assert!(office.bold && office.align == Align::Center);
                let number = find("B-015");
                assert_eq!((number.width, number.height), (4, 4));
                assert_eq!(number.align, Align::Center);
                assert_eq!(find("Sesi    : 09.00-10.00 WIB").align, Align::Left);
                assert_eq!(
                    lines.iter().any(|l| l.text == " CETAK ULANG " && l.reverse),
                    reprint
                );
                assert!(els.contains(&Element::Qr {
                    data: "BGR-240508-00123".into(),
                    model: 2,
                    ec: 'M',
                    module_size: if columns == 48 { 6 } else { 5 },
                }));
                assert_eq!(els.last(), Some(&Element::Cut { partial: true }));
                assert!(lines
                    .iter()
                    .all(|l| l.text.len() * usize::from(l.width) <= usize::from(columns)));
            }
        }
    }

    #[test]
    fn long_numbers_drop_to_triple_size_never_below() {
        assert_eq!(number_size("B-015", 32), 4);
        assert_eq!(number_size("B-015000", 32), 4);
        assert_eq!(number_size("B-0150000", 32), 3);
        assert_eq!(number_size("B-0150000000", 48), 4);
        assert_eq!(number_size("B-01500000000", 48), 3);
    }

    #[test]
    fn exact_bytes_of_the_head_of_a_ticket() {
        let bytes = encode_ticket(&ticket(48, false, "B-015"));
        let expect_head: &[u8] =
            b"\x1b@\x1bt\x00\x1ba\x01\x1bE\x01Dinas Kependudukan dan Pencatatan Sipil Kota\x1bd\x01Bogor\x1bd\x01";
        assert_eq!(&bytes[..expect_head.len()], expect_head);
        let number: &[u8] = b"\x1d!\x33\x1bE\x01B-015\x1bd\x01";
        assert!(
            bytes.windows(number.len()).any(|w| w == number),
            "GS ! 0x33 = 4x4"
        );
        let qr_store: &[u8] = b"\x1d(k\x13\x001P0BGR-240508-00123";
        assert!(bytes.windows(qr_store.len()).any(|w| w == qr_store));
        assert!(
            bytes.ends_with(b"\x1bd\x03\x1dVB\x00"),
            "feed 3, partial cut"
        );
    }

    #[test]
    fn slip_has_lines_qr_and_cut() {
        let bytes = encode_slip(
            32,
            &["Belum punya booking?".into()],
            &["Sesi 13.00-14.00: 12 tempat".into()],
            Some("https://antrean.example.go.id"),
        );
        let els = decode(&bytes).unwrap();
        assert!(els.iter().any(
            |e| matches!(e, Element::Qr { data, .. } if data == "https://antrean.example.go.id")
        ));
        assert_eq!(els.last(), Some(&Element::Cut { partial: true }));
    }
}
