//! Ticket composition (`docs/ticket.md`): what the printed queue ticket says,
//! line by line, for a paper width. Pure; the ESC/POS encoding of a
//! [`Ticket`] is `printer::encode`, and no text here is ever a raw UTF-8
//! byte stream on the wire: every string is transliterated to ASCII here.

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;

use crate::booking::Booking;
use crate::locale::{jam, tanggal, tanggal_jam, zona};

/// The ticket, ready to encode. All strings are printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Paper width in font-A columns (48 or 32).
    pub columns: u8,
    /// The office name, wrapped to at most two lines.
    pub office_lines: Vec<String>,
    /// `NOMOR ANTREAN`.
    pub heading: String,
    /// The queue number, printed at least triple size.
    pub number: String,
    /// This ticket is a reprint (`CETAK ULANG`).
    pub reprint: bool,
    /// `Layanan : KTP Elektronik`, `Sesi    : 09.00-10.00 WIB`, check-in time,
    /// and, when known, people ahead and the estimated call.
    pub details: Vec<String>,
    /// Payload of the native QR code: the booking code.
    pub qr: String,
    /// The booking code in text.
    pub booking: String,
    pub footer: Vec<String>,
}

/// Everything a ticket is made from.
#[derive(Debug, Clone)]
pub struct TicketInput<'a> {
    pub columns: u8,
    pub office_name: &'a str,
    pub booking: &'a Booking,
    pub service_name: &'a str,
    pub checked_in_at: DateTime<FixedOffset>,
    pub timezone: Tz,
    pub reprint: bool,
    pub ahead: Option<u32>,
    /// `HH:MM` in office time, as the central service sends it.
    pub estimated_call: Option<&'a str>,
    pub footer: &'a [String],
}

/// The label column width: `Layanan : `, `Sesi    : `.
const LABEL: usize = 8;

/// Composes the ticket. The masked name is deliberately not printed: the
/// number and booking code are all counter staff need.
pub fn compose(input: &TicketInput) -> Ticket {
    let cols = usize::from(input.columns);
    let tz = input.timezone;
    let zone = zona(tz);
    let mut details = vec![
        labelled("Layanan", input.service_name, cols),
        labelled(
            "Sesi",
            format!("{} {zone}", input.booking.slot.display()).trim_end(),
            cols,
        ),
    ];
    // `Rabu, 08 Mei 2024 09.20 WIB`; on narrow paper the time goes below.
    let local = input.checked_in_at.with_timezone(&tz).naive_local();
    let when = tanggal_jam(local, tz);
    if when.len() <= cols {
        details.push(when);
    } else {
        details.push(fit(&tanggal(local.date()), cols));
        details.push(
            format!("{} {zone}", jam(local.time()))
                .trim_end()
                .to_string(),
        );
    }
    if let Some(ahead) = input.ahead {
        details.push(labelled("Menunggu", &format!("{ahead} orang"), cols));
    }
    if let Some(est) = input
        .estimated_call
        .and_then(|e| chrono::NaiveTime::parse_from_str(e, "%H:%M").ok())
    {
        details.push(fit(
            &format!("Perkiraan dipanggil: {} {zone}", jam(est)),
            cols,
        ));
    }
    Ticket {
        columns: input.columns,
        office_lines: wrap(&ascii(input.office_name), cols, 2),
        heading: "NOMOR ANTREAN".into(),
        number: ascii(&input.booking.number),
        reprint: input.reprint,
        details,
        qr: input.booking.booking.clone(),
        booking: input.booking.booking.clone(),
        footer: input
            .footer
            .iter()
            .flat_map(|l| wrap(&ascii(l), cols, 2))
            .collect(),
    }
}

fn labelled(label: &str, value: &str, cols: usize) -> String {
    fit(&format!("{label:<LABEL$}: {}", ascii(value)), cols)
}

/// Cuts a line to the paper width.
fn fit(s: &str, cols: usize) -> String {
    s.chars().take(cols).collect()
}

/// Transliterates to printable ASCII (`é` -> `e`); anything without a
/// transliteration becomes `?`. Control characters are dropped.
pub fn ascii(s: &str) -> String {
    deunicode::deunicode_with_tofu(s, "?")
        .chars()
        .filter(|c| (' '..='~').contains(c))
        .collect()
}

/// Word-wraps `s` to `cols`, at most `max_lines` lines; the last line is cut
/// with `..` when the text does not fit.
pub fn wrap(s: &str, cols: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in s.split_whitespace() {
        let word: String = word.chars().take(cols).collect();
        if current.is_empty() {
            current = word;
        } else if current.len() + 1 + word.len() <= cols {
            current.push(' ');
            current.push_str(&word);
        } else {
            lines.push(std::mem::take(&mut current));
            current = word;
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = &mut lines[max_lines - 1];
        let keep = last.len().min(cols.saturating_sub(2));
        last.truncate(keep);
        last.push_str("..");
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::Slot;
    use chrono::NaiveDate;

    fn booking() -> Booking {
        Booking {
            booking: "BGR-240508-00123".into(),
            number: "B-015".into(),
            date: NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
            slot: Slot::parse("09:00-10:00").unwrap(),
            service: "KTP-EL".into(),
            masked_name: Some("S***i R.".into()),
        }
    }

    fn compose_at(columns: u8, reprint: bool, ahead: Option<u32>) -> Ticket {
        let b = booking();
        let footer = vec![
            "Harap menunggu panggilan di layar.".to_string(),
            "Simpan tiket ini.".into(),
        ];
        compose(&TicketInput {
            columns,
            office_name: "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor",
            booking: &b,
            service_name: "KTP Elektronik",
            checked_in_at: DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap(),
            timezone: chrono_tz::Asia::Jakarta,
            reprint,
            ahead,
            estimated_call: ahead.map(|_| "09:45"),
            footer: &footer,
        })
    }

    #[test]
    fn ticket_for_80mm_paper() {
        let t = compose_at(48, false, Some(12));
        assert_eq!(
            t.office_lines,
            vec!["Dinas Kependudukan dan Pencatatan Sipil Kota", "Bogor"]
        );
        assert_eq!(t.number, "B-015");
        assert_eq!(
            t.details,
            vec![
                "Layanan : KTP Elektronik",
                "Sesi    : 09.00-10.00 WIB",
                "Rabu, 08 Mei 2024 09.20 WIB",
                "Menunggu: 12 orang",
                "Perkiraan dipanggil: 09.45 WIB",
            ]
        );
        assert_eq!(t.qr, "BGR-240508-00123");
        assert!(!t.reprint);
    }

    #[test]
    fn ticket_for_58mm_paper_fits_32_columns() {
        let t = compose_at(32, true, None);
        assert!(t.reprint);
        assert_eq!(t.details.len(), 3);
        assert_eq!(
            t.footer,
            vec!["Harap menunggu panggilan di", "layar.", "Simpan tiket ini."]
        );
        for line in t.office_lines.iter().chain(&t.details).chain(&t.footer) {
            assert!(line.len() <= 32, "{line:?}");
            assert!(line.is_ascii());
        }
        assert!(t.office_lines.len() <= 2);
    }

    #[test]
    fn long_dates_put_the_time_below_on_58mm_paper() {
        let b = booking();
        let footer: Vec<String> = vec![];
        let t = compose(&TicketInput {
            columns: 32,
            office_name: "Disdukcapil",
            booking: &b,
            service_name: "KK",
            checked_in_at: DateTime::parse_from_rfc3339("2026-11-24T16:50:00+07:00").unwrap(),
            timezone: chrono_tz::Asia::Jakarta,
            reprint: false,
            ahead: None,
            estimated_call: None,
            footer: &footer,
        });
        assert_eq!(t.details[2..], ["Selasa, 24 November 2026", "16.50 WIB"]);
    }

    #[test]
    fn no_name_is_printed() {
        let t = compose_at(48, false, None);
        let all = format!("{t:?}");
        assert!(!all.contains("S***i"));
    }

    #[test]
    fn transliteration_and_wrapping() {
        assert_eq!(ascii("Café Ñusantara\u{7}"), "Cafe Nusantara");
        assert_eq!(wrap("a b c", 3, 2), vec!["a b", "c"]);
        assert_eq!(wrap("aaaa bbbb cccc", 4, 2), vec!["aaaa", "bb.."]);
        assert_eq!(wrap("", 10, 2), Vec::<String>::new());
    }
}
