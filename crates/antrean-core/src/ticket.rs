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
    /// The resident asked for priority at the kiosk (`PRIORITAS`); staff
    /// confirm it at the counter.
    pub priority: bool,
    /// `Layanan : KTP Elektronik`, `Sesi    : 09.00-10.00 WIB`, check-in time,
    /// and, when known, people ahead and the estimated call.
    pub details: Vec<String>,
    /// Payload of the native QR code: the booking code.
    pub qr: String,
    /// The booking code in text.
    pub booking: String,
    /// The live status page, when `[ticket] status_url` is set: a second,
    /// smaller QR code and the link as text.
    pub status: Option<StatusLink>,
    pub footer: Vec<String>,
}

/// The resident's status page on the ticket (`docs/ticket.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLink {
    /// Payload of the second QR code: `{status_url}/p/{office}/{date}/{number}`.
    pub url: String,
    /// The caption above the link, `Pantau antrean di HP:`.
    pub caption: String,
    /// The link as text without its scheme, broken at `/` to the paper width.
    pub lines: Vec<String>,
}

/// The caption printed above the status link.
pub const STATUS_CAPTION: &str = "Pantau antrean di HP:";

/// The status page of a number: `{status_url}/p/{office}/{date}/{number}`.
/// `status_url` has no trailing slash (one is dropped if present); `None`
/// when it is empty.
pub fn status_url(
    status_url: &str,
    office: &str,
    date: chrono::NaiveDate,
    number: &str,
) -> Option<String> {
    let base = status_url.trim().trim_end_matches('/');
    if base.is_empty() {
        return None;
    }
    Some(format!(
        "{base}/p/{office}/{}/{number}",
        date.format("%Y-%m-%d")
    ))
}

/// A link as text for paper: the scheme dropped (phones add it), broken
/// after a `/` so that each line fits `cols`; a part longer than a line is
/// cut hard.
pub fn link_lines(url: &str, cols: usize) -> Vec<String> {
    let text = ascii(
        url.strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or(url),
    );
    let mut lines = Vec::new();
    let mut current = String::new();
    for part in text.split_inclusive('/') {
        if current.len() + part.len() > cols && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        current.push_str(part);
        while current.len() > cols {
            let rest = current.split_off(cols);
            lines.push(std::mem::replace(&mut current, rest));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Everything a ticket is made from.
#[derive(Debug, Clone)]
pub struct TicketInput<'a> {
    pub columns: u8,
    pub office_id: &'a str,
    pub office_name: &'a str,
    pub booking: &'a Booking,
    pub service_name: &'a str,
    pub checked_in_at: DateTime<FixedOffset>,
    pub timezone: Tz,
    pub reprint: bool,
    /// The resident chose `Prioritas` at the kiosk.
    pub priority: bool,
    pub ahead: Option<u32>,
    /// `HH:MM` in office time, as the central service sends it.
    pub estimated_call: Option<&'a str>,
    pub footer: &'a [String],
    /// `[ticket] status_url`; empty = no status QR.
    pub status_url: &'a str,
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
        priority: input.priority,
        details,
        qr: input.booking.booking.clone(),
        booking: input.booking.booking.clone(),
        status: status_url(
            input.status_url,
            input.office_id,
            input.booking.date,
            &input.booking.number,
        )
        .map(|url| StatusLink {
            lines: link_lines(&url, cols),
            caption: STATUS_CAPTION.into(),
            url,
        }),
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
            office_id: "kota-bogor",
            office_name: "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor",
            booking: &b,
            service_name: "KTP Elektronik",
            checked_in_at: DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap(),
            timezone: chrono_tz::Asia::Jakarta,
            reprint,
            priority: false,
            ahead,
            estimated_call: ahead.map(|_| "09:45"),
            footer: &footer,
            status_url: "",
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
            office_id: "kota-bogor",
            office_name: "Disdukcapil",
            booking: &b,
            service_name: "KK",
            checked_in_at: DateTime::parse_from_rfc3339("2026-11-24T16:50:00+07:00").unwrap(),
            timezone: chrono_tz::Asia::Jakarta,
            reprint: false,
            priority: false,
            ahead: None,
            estimated_call: None,
            footer: &footer,
            status_url: "",
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
    fn status_urls() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let cases: &[(&str, Option<&str>)] = &[
            (
                "https://antrean.example.go.id",
                Some("https://antrean.example.go.id/p/kota-bogor/2026-12-01/B-015"),
            ),
            (
                "https://antrean.example.go.id/",
                Some("https://antrean.example.go.id/p/kota-bogor/2026-12-01/B-015"),
            ),
            ("", None),
            ("  ", None),
        ];
        for (base, want) in cases {
            assert_eq!(
                status_url(base, "kota-bogor", d, "B-015").as_deref(),
                *want,
                "{base:?}"
            );
        }
    }

    #[test]
    fn link_lines_break_after_slashes() {
        let url = "https://antrean.example.go.id/p/kota-bogor/2026-12-01/B-015";
        let cases: &[(usize, &[&str])] = &[
            (
                48,
                &["antrean.example.go.id/p/kota-bogor/2026-12-01/", "B-015"],
            ),
            (
                32,
                &["antrean.example.go.id/p/", "kota-bogor/2026-12-01/B-015"],
            ),
            (
                10,
                &[
                    "antrean.ex",
                    "ample.go.i",
                    "d/p/",
                    "kota-bogor",
                    "/",
                    "2026-12-01",
                    "/B-015",
                ],
            ),
            (80, &["antrean.example.go.id/p/kota-bogor/2026-12-01/B-015"]),
        ];
        for (cols, want) in cases {
            let got = link_lines(url, *cols);
            assert_eq!(got, *want, "{cols}");
            assert!(got.iter().all(|l| l.len() <= *cols));
            assert_eq!(got.concat(), &url["https://".len()..]);
        }
    }

    #[test]
    fn the_ticket_carries_the_status_link_and_priority() {
        let b = booking();
        let t = compose(&TicketInput {
            columns: 32,
            office_id: "kota-bogor",
            office_name: "Disdukcapil",
            booking: &b,
            service_name: "KK",
            checked_in_at: DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap(),
            timezone: chrono_tz::Asia::Jakarta,
            reprint: false,
            priority: true,
            ahead: None,
            estimated_call: None,
            footer: &[],
            status_url: "https://antrean.example.go.id",
        });
        assert!(t.priority);
        let status = t.status.unwrap();
        assert_eq!(
            status.url,
            "https://antrean.example.go.id/p/kota-bogor/2024-05-08/B-015"
        );
        assert_eq!(status.caption, "Pantau antrean di HP:");
        assert_eq!(
            status.lines,
            ["antrean.example.go.id/p/", "kota-bogor/2024-05-08/B-015"]
        );
        assert_eq!(compose_at(48, false, None).status, None);
    }

    #[test]
    fn transliteration_and_wrapping() {
        assert_eq!(ascii("Café Ñusantara\u{7}"), "Cafe Nusantara");
        assert_eq!(wrap("a b c", 3, 2), vec!["a b", "c"]);
        assert_eq!(wrap("aaaa bbbb cccc", 4, 2), vec!["aaaa", "bb.."]);
        assert_eq!(wrap("", 10, 2), Vec::<String>::new());
    }
}
