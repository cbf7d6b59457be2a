//! The booking's shape: a verified booking, its one-hour session, the
//! strict forms of dates, booking codes and queue numbers, and the size
//! limits of a scan. Pure: no I/O, no clock.

use chrono::{NaiveDate, NaiveTime};

/// A whole scan longer than this is rejected before any decoding.
pub const MAX_SCAN_BYTES: usize = 1024;
/// A token payload that decodes to more than this is rejected.
pub const MAX_PAYLOAD_BYTES: usize = 768;
/// The literal prefix of a version-1 signed token.
pub const TOKEN_PREFIX: &str = "AQ1.";

/// A one-hour session, `HH:MM-HH:MM` in office time, start before end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Slot {
    /// Parses `HH:MM-HH:MM` strictly (two digits each, start before end).
    pub fn parse(s: &str) -> Option<Slot> {
        let b = s.as_bytes();
        if b.len() != 11 || b[5] != b'-' {
            return None;
        }
        let start = parse_hhmm(&s[..5])?;
        let end = parse_hhmm(&s[6..])?;
        (start < end).then_some(Slot { start, end })
    }

    /// Wire form `HH:MM-HH:MM`.
    pub fn wire(&self) -> String {
        format!(
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }

    /// Indonesian display form `HH.MM-HH.MM`.
    pub fn display(&self) -> String {
        format!(
            "{}-{}",
            self.start.format("%H.%M"),
            self.end.format("%H.%M")
        )
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.wire())
    }
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || !b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit) {
        return None;
    }
    NaiveTime::from_hms_opt(s[..2].parse().ok()?, s[3..].parse().ok()?, 0)
}

/// Parses `YYYY-MM-DD` strictly.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// True for a booking code: `^[A-Z0-9][A-Z0-9-]{3,31}$`.
pub fn is_booking_code(s: &str) -> bool {
    let b = s.as_bytes();
    (4..=32).contains(&b.len())
        && (b[0].is_ascii_uppercase() || b[0].is_ascii_digit())
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'-')
}

/// Queue numbers as printed and called: upper-case letters, digits and dashes.
pub(crate) fn is_queue_number(s: &str) -> bool {
    (1..=16).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-')
}

pub(crate) fn is_short_word(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// A verified booking: everything the kiosk needs to check someone in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub booking: String,
    pub number: String,
    pub date: NaiveDate,
    pub slot: Slot,
    pub service: String,
    /// Already masked by the central service, if given at all.
    pub masked_name: Option<String>,
}

/// How the booking reached the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanKind {
    Token,
    Code,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_parsing_is_strict() {
        for (s, ok) in [
            ("09:00-10:00", true),
            ("13:00-14:00", true),
            ("10:00-09:00", false),
            ("09:00-09:00", false),
            ("9:00-10:00", false),
            ("09:00 10:00", false),
            ("24:00-25:00", false),
            ("09:0a-10:00", false),
            ("", false),
        ] {
            assert_eq!(Slot::parse(s).is_some(), ok, "{s}");
        }
        assert_eq!(Slot::parse("09:00-10:00").unwrap().display(), "09.00-10.00");
    }

    #[test]
    fn booking_code_shape() {
        for (s, ok) in [
            ("BGR-240508-00123", true),
            ("ABCD", true),
            ("ABC", false),
            ("-ABC", false),
            ("abcd", false),
            ("A".repeat(32).as_str(), true),
            ("A".repeat(33).as_str(), false),
            ("AB CD", false),
            ("AQ1.xx", false),
        ] {
            assert_eq!(is_booking_code(s), ok, "{s}");
        }
    }
}
