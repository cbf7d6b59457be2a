//! ESC/POS encoding of a composed [`Ticket`] with the `escpos` crate: one
//! buffer per ticket, starting with `ESC @` and the profile's single-byte
//! code page, printable ASCII text only, the number at 4x (3x when it would
//! not fit), QR codes through [`emit_qr`] (native `GS ( k`, model 2, error
//! correction M; a raster image or large text for printers without it), and
//! the profile's cut. Pure: the bytes are captured in memory, nothing
//! touches a port.

use std::cell::RefCell;
use std::rc::Rc;

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::printer_options::PrinterOptions;
use escpos::utils::{JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};

use antrean_core::ticket::{ascii, Ticket};

use crate::config::{Cutter, PrinterConfig, QrStyle};

/// What of a printer's profile changes the bytes of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// `ESC t n` after `ESC @`.
    pub code_page: u8,
    pub cutter: Cutter,
    pub qr: QrStyle,
}

impl Default for Encoding {
    /// A printer with native QR, a partial cutter, code page 0 (PC437).
    fn default() -> Self {
        Encoding {
            code_page: 0,
            cutter: Cutter::Partial,
            qr: QrStyle::Native,
        }
    }
}

impl Encoding {
    /// The encoding the configured printer profile (and `[printer] qr`) asks for.
    pub fn from_config(c: &PrinterConfig) -> Encoding {
        Encoding {
            code_page: c.profile.code_page,
            cutter: c.profile.cutter,
            qr: c.qr_style(),
        }
    }
}

/// An `escpos` driver that keeps what it is given.
#[derive(Clone, Default)]
pub struct Capture(Rc<RefCell<Vec<u8>>>);

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

/// A printer building commands into memory. (Text is ASCII, so no page
/// code table is needed: `start` selects the profile's code page itself.)
fn printer(columns: u8) -> (Printer<Capture>, Capture) {
    let capture = Capture::default();
    let options = PrinterOptions::new(None, None, columns);
    (
        Printer::new(capture.clone(), Protocol::default(), Some(options)),
        capture,
    )
}

/// `ESC @`, then `ESC t n` with the profile's code page.
fn start<'p>(
    p: &'p mut Printer<Capture>,
    enc: &Encoding,
) -> escpos::errors::Result<&'p mut Printer<Capture>> {
    p.init()?.custom(&[0x1b, b't', enc.code_page])
}

/// Encodes a ticket for the default printer (native QR, partial cut).
pub fn encode_ticket(t: &Ticket) -> Vec<u8> {
    encode_ticket_with(t, &Encoding::default())
}

/// Encodes a ticket for a printer profile. Every string is ASCII already;
/// anything else is transliterated again here, so no UTF-8 byte can reach
/// the printer.
pub fn encode_ticket_with(t: &Ticket, enc: &Encoding) -> Vec<u8> {
    let (mut p, capture) = printer(t.columns);
    build_ticket(&mut p, t, enc).expect("encoding into memory does not fail");
    let bytes = capture.0.borrow().clone();
    bytes
}

fn build_ticket(
    p: &mut Printer<Capture>,
    t: &Ticket,
    enc: &Encoding,
) -> escpos::errors::Result<()> {
    let size = number_size(&t.number, t.columns);
    start(p, enc)?.justify(JustifyMode::CENTER)?.bold(true)?;
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
    emit_qr(p, &ascii(&t.qr), t.columns, qr_module(t.columns), enc)?;
    p.writeln(&ascii(&t.booking))?;
    if let Some(status) = &t.status {
        p.feed()?.writeln(&ascii(&status.caption))?;
        // Without a QR command the link below is the whole message.
        if !matches!(enc.qr, QrStyle::Text) {
            emit_qr(
                p,
                &ascii(&status.url),
                t.columns,
                status_qr_module(t.columns),
                enc,
            )?;
        }
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
    finish(p, enc)?;
    Ok(())
}

/// Every QR code of a ticket or slip goes through here, `module` dots a
/// module: the printer's own
/// QR command (`GS ( k`, model 2, error correction M) when the profile has
/// it; a raster image (`GS v 0`) when it lacks it and the office opted in
/// (`[printer] qr = "raster"`); otherwise `data` in large text (double size
/// when it fits the paper). Centred by the caller.
pub fn emit_qr(
    p: &mut Printer<Capture>,
    data: &str,
    columns: u8,
    module: u8,
    enc: &Encoding,
) -> escpos::errors::Result<()> {
    match enc.qr {
        QrStyle::Native => {
            p.qrcode_option(
                data,
                QRCodeOption::new(QRCodeModel::Model2, module, QRCodeCorrectionLevel::M),
            )?;
        }
        QrStyle::Raster => {
            p.custom(&raster_qr(data, module))?;
        }
        QrStyle::Text => {
            let big = data.len() * 2 <= usize::from(columns);
            if big {
                p.size(2, 2)?.bold(true)?;
            }
            p.writeln(data)?;
            if big {
                p.reset_size()?.bold(false)?;
            }
        }
    }
    Ok(())
}

/// A QR code of `data` (error correction M, 4-module quiet zone) as one
/// `GS v 0` raster image, `module` dots per module; empty when `data`
/// cannot be encoded (it is printed as text beside it anyway).
pub fn raster_qr(data: &str, module: u8) -> Vec<u8> {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M) else {
        return Vec::new();
    };
    let quiet = 4;
    let modules = code.width() + 2 * quiet;
    let dots = modules * usize::from(module);
    let row_bytes = dots.div_ceil(8);
    let mut out = vec![0x1d, b'v', b'0', 0];
    out.extend_from_slice(&u16::try_from(row_bytes).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(&u16::try_from(dots).unwrap_or(u16::MAX).to_le_bytes());
    let colors = code.to_colors();
    for y in 0..dots {
        let my = y / usize::from(module);
        let mut row = vec![0u8; row_bytes];
        for x in 0..dots {
            let mx = x / usize::from(module);
            let dark = (quiet..quiet + code.width()).contains(&mx)
                && (quiet..quiet + code.width()).contains(&my)
                && colors[(my - quiet) * code.width() + (mx - quiet)] == qrcode::Color::Dark;
            if dark {
                row[x / 8] |= 0x80 >> (x % 8);
            }
        }
        out.extend_from_slice(&row);
    }
    out
}

/// Feeds and cuts as the profile's cutter can: `GS V 66 0` (feed to the
/// cutter, partial cut; the crate's `partial_cut()` sends `GS V 65 1`,
/// which the Epson reference defines as a full cut), `GS V 65 0` (full),
/// or, without a cutter, enough feed to tear the ticket off.
fn finish(p: &mut Printer<Capture>, enc: &Encoding) -> escpos::errors::Result<()> {
    match enc.cutter {
        Cutter::Partial => p.feeds(3)?.custom(PARTIAL_CUT)?,
        Cutter::Full => p.feeds(3)?.custom(FULL_CUT)?,
        Cutter::None => p.feeds(5)?,
    };
    p.print()?;
    Ok(())
}

/// `GS V 66 0`: feed to the cutter and cut partially.
const PARTIAL_CUT: &[u8] = &[0x1d, b'V', 66, 0];
/// `GS V 65 0`: feed to the cutter and cut fully.
const FULL_CUT: &[u8] = &[0x1d, b'V', 65, 0];

/// Encodes plain lines (a slip) for the default printer.
pub fn encode_slip(columns: u8, title: &[String], lines: &[String], qr: Option<&str>) -> Vec<u8> {
    encode_slip_with(columns, title, lines, qr, &Encoding::default())
}

/// Encodes plain lines (a slip): a centred bold title, lines, an optional
/// QR code with a caption, and the profile's cut.
pub fn encode_slip_with(
    columns: u8,
    title: &[String],
    lines: &[String],
    qr: Option<&str>,
    enc: &Encoding,
) -> Vec<u8> {
    let (mut p, capture) = printer(columns);
    let build = |p: &mut Printer<Capture>| -> escpos::errors::Result<()> {
        start(p, enc)?.justify(JustifyMode::CENTER)?.bold(true)?;
        for l in title {
            p.writeln(&ascii(l))?;
        }
        p.bold(false)?.feed()?.justify(JustifyMode::LEFT)?;
        for l in lines {
            p.writeln(&ascii(l))?;
        }
        if let Some(data) = qr {
            p.feed()?.justify(JustifyMode::CENTER)?;
            emit_qr(p, &ascii(data), columns, qr_module(columns), enc)?;
            p.writeln(&ascii(data))?;
        }
        finish(p, enc)
    };
    build(&mut p).expect("encoding into memory does not fail");
    let bytes = capture.0.borrow().clone();
    bytes
}

/// The `print-test` page: a title, `lines` (the profile), the code page's
/// upper half (0x80-0xFF, 16 a row, so staff see whether the printer uses
/// the code page the profile says), each QR of `qrs` the way tickets print
/// them, and the profile's cut. The one place bytes above 0x7F are sent.
pub fn encode_test_page(columns: u8, lines: &[String], qrs: &[&str], enc: &Encoding) -> Vec<u8> {
    let (mut p, capture) = printer(columns);
    let build = |p: &mut Printer<Capture>| -> escpos::errors::Result<()> {
        start(p, enc)?.justify(JustifyMode::CENTER)?.bold(true)?;
        p.writeln("TES PRINTER / PRINTER TEST")?;
        p.bold(false)?.feed()?.justify(JustifyMode::LEFT)?;
        for l in lines {
            p.writeln(&ascii(l))?;
        }
        p.feed()?;
        for row in 0x8u8..=0xf {
            let mut bytes = format!("{row:X}0: ").into_bytes();
            bytes.extend((0..16u8).map(|c| (row << 4) | c));
            bytes.push(b'\n');
            p.custom(&bytes)?;
        }
        for data in qrs {
            p.feed()?.justify(JustifyMode::CENTER)?;
            emit_qr(p, &ascii(data), columns, qr_module(columns), enc)?;
            p.writeln(&ascii(data))?;
        }
        finish(p, enc)
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

    /// The printer-dependent parts, profile by profile: code page, cut, QR.
    #[test]
    fn profiles_change_code_page_cut_and_qr() {
        let t = ticket(48, false, "B-015");
        let cases = [
            (Encoding::default(), 0u8, Some(true), "native"),
            (
                Encoding {
                    code_page: 19,
                    cutter: Cutter::Full,
                    qr: QrStyle::Native,
                },
                19,
                Some(false),
                "native",
            ),
            (
                Encoding {
                    code_page: 0,
                    cutter: Cutter::None,
                    qr: QrStyle::Text,
                },
                0,
                None,
                "text",
            ),
            (
                Encoding {
                    code_page: 0,
                    cutter: Cutter::Partial,
                    qr: QrStyle::Raster,
                },
                0,
                Some(true),
                "raster",
            ),
        ];
        for (enc, page, cut, qr) in cases {
            let bytes = encode_ticket_with(&t, &enc);
            assert!(
                bytes.starts_with(&[0x1b, b'@', 0x1b, b't', page]),
                "{enc:?}"
            );
            let els = decode(&bytes).unwrap();
            let cuts: Vec<bool> = els
                .iter()
                .filter_map(|e| match e {
                    Element::Cut { partial } => Some(*partial),
                    _ => None,
                })
                .collect();
            assert_eq!(cuts, cut.into_iter().collect::<Vec<_>>(), "{enc:?}");
            let native = els.iter().any(|e| matches!(e, Element::Qr { .. }));
            let raster = els.iter().any(|e| matches!(e, Element::Raster { .. }));
            assert_eq!(
                (native, raster),
                (qr == "native", qr == "raster"),
                "{enc:?}"
            );
            if qr == "text" {
                assert!(els.iter().any(|e| matches!(e,
                    Element::Line(l) if l.text == "BGR-240508-00123" && l.width == 2)));
            }
            if qr != "raster" {
                assert!(bytes.len() < 1024, "{enc:?}: {} bytes", bytes.len());
            }
        }
    }

    /// The raster QR is the QR code of the data, and its size is what
    /// docs/ticket.md states.
    #[test]
    fn raster_qr_is_the_code_and_its_size_is_documented() {
        let mut sizes = Vec::new();
        for columns in [48u8, 32] {
            let enc = Encoding {
                qr: QrStyle::Raster,
                ..Encoding::default()
            };
            let bytes = encode_ticket_with(&ticket(columns, false, "B-015"), &enc);
            let els = decode(&bytes).unwrap();
            let Some(Element::Raster {
                width,
                height,
                bits,
            }) = els.iter().find(|e| matches!(e, Element::Raster { .. }))
            else {
                panic!("no raster")
            };
            let code =
                qrcode::QrCode::with_error_correction_level("BGR-240508-00123", qrcode::EcLevel::M)
                    .unwrap();
            let module = usize::from(qr_module(columns));
            assert_eq!(usize::from(*height), (code.width() + 8) * module);
            // Every module's top-left dot is the module's colour.
            let colors = code.to_colors();
            let row = usize::from(*width) / 8;
            for my in 0..code.width() {
                for mx in 0..code.width() {
                    let (x, y) = ((mx + 4) * module, (my + 4) * module);
                    let dot = bits[y * row + x / 8] & (0x80 >> (x % 8)) != 0;
                    assert_eq!(dot, colors[my * code.width() + mx] == qrcode::Color::Dark);
                }
            }
            sizes.push((columns, bytes.len()));
        }
        let doc = include_str!("../../docs/ticket.md");
        for (columns, size) in sizes {
            let kib = format!("{:.1} KiB", size as f64 / 1024.0);
            assert!(
                doc.contains(&format!("{columns} columns, raster QR: {size} bytes ({kib})")),
                "docs/ticket.md must state the raster ticket size: {columns} columns, raster QR: {size} bytes ({kib})"
            );
        }
    }
}
