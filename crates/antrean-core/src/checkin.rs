//! The check-in rules of `docs/booking-qr.md`.
//!
//! Pure: the scan, the trusted keys, the manifest and the moment are passed
//! in; nothing here reads a clock, a file or the network. The journal's view
//! of a booking (checked in? how many reprints?) is applied in a second step,
//! [`checkin_decision`], so that the caller can look it up in between.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use ed25519_dalek::Verifier;
use serde::{Deserialize, Serialize};

use crate::booking::{Booking, ScanKind, Slot};
use crate::keys::KeyRing;
use crate::manifest::{BookingStatus, Manifest};
use crate::token::{parse_scan, Parsed};

/// Why a scan was not accepted. The `snake_case` names are the spec's reason
/// codes, used in logs, in the journal and on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    InvalidFormat,
    UnknownKey,
    BadSignature,
    WrongOffice,
    Cancelled,
    Expired,
    NotToday,
    TooEarly,
    TooLate,
    AlreadyPrinted,
    UnknownBooking,
}

impl Reason {
    /// Every reason, in the spec's order (for tables and reports).
    pub const ALL: [Reason; 11] = [
        Reason::InvalidFormat,
        Reason::UnknownKey,
        Reason::BadSignature,
        Reason::WrongOffice,
        Reason::Cancelled,
        Reason::Expired,
        Reason::NotToday,
        Reason::TooEarly,
        Reason::TooLate,
        Reason::AlreadyPrinted,
        Reason::UnknownBooking,
    ];

    /// The spec's reason code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::InvalidFormat => "invalid_format",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::WrongOffice => "wrong_office",
            Reason::Cancelled => "cancelled",
            Reason::Expired => "expired",
            Reason::NotToday => "not_today",
            Reason::TooEarly => "too_early",
            Reason::TooLate => "too_late",
            Reason::AlreadyPrinted => "already_printed",
            Reason::UnknownBooking => "unknown_booking",
        }
    }

    /// Parses a reason code.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The office's check-in parameters.
#[derive(Debug, Clone)]
pub struct Rules {
    pub office: String,
    pub timezone: Tz,
    pub early_minutes: u32,
    pub late_minutes: u32,
    pub reprint_limit: u32,
}

/// A rejection with what the resident needs to hear about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    /// The booking code, when the scan got far enough to know it (for logs).
    pub booking: Option<String>,
    /// Facts the message shows: the booking's date and session, the opening time.
    pub date: Option<NaiveDate>,
    pub slot: Option<Slot>,
    pub opens_at: Option<NaiveTime>,
}

impl Rejection {
    fn new(reason: Reason) -> Rejection {
        Rejection {
            reason,
            booking: None,
            date: None,
            slot: None,
            opens_at: None,
        }
    }

    /// `invalid_format` (framing garbage, unreadable scans).
    pub fn invalid_format() -> Rejection {
        Rejection::new(Reason::InvalidFormat)
    }

    /// `already_printed` for a booking (rule 10).
    pub fn already_printed(b: &Booking) -> Rejection {
        Rejection::about(Reason::AlreadyPrinted, b)
    }

    /// A rejection about a known booking (its date and session shown).
    pub fn about(reason: Reason, b: &Booking) -> Rejection {
        Rejection {
            reason,
            booking: Some(b.booking.clone()),
            date: Some(b.date),
            slot: Some(b.slot),
            opens_at: None,
        }
    }
}

/// The result of rules 1-9: a booking that may be checked in now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// For a signed token of a booking today's manifest lists, the
    /// manifest's entry (number, session, service): that is what counters
    /// will call.
    pub booking: Booking,
    pub kind: ScanKind,
    /// The token disagreed with the manifest's entry for the same booking
    /// (number, session or service); `booking` holds the manifest's.
    pub corrected: bool,
    /// A signed token whose booking a fresh manifest does not list: check
    /// it in only if the central service confirms it (when reachable).
    pub unlisted: bool,
}

/// Today's manifest as the kiosk holds it when it verifies a scan.
#[derive(Debug, Clone, Copy)]
pub struct KnownDay<'a> {
    pub manifest: &'a Manifest,
    /// The central service confirmed this copy recently, so a booking it
    /// does not list is unknown rather than newer than the copy.
    pub fresh: bool,
}

impl<'a> KnownDay<'a> {
    /// A copy the central service confirmed recently.
    pub fn fresh(manifest: &'a Manifest) -> KnownDay<'a> {
        KnownDay {
            manifest,
            fresh: true,
        }
    }

    /// A copy from the cache, not confirmed lately.
    pub fn cached(manifest: &'a Manifest) -> KnownDay<'a> {
        KnownDay {
            manifest,
            fresh: false,
        }
    }
}

/// Applies rules 1-9 to a scan at `now`. Rule 10 (already printed) needs the
/// journal and is [`checkin_decision`].
///
/// With today's manifest known, a signed token must also fit it: a booking
/// the manifest lists is checked in as the manifest has it (`corrected`
/// when the token said otherwise); one it does not list must name one of
/// its sessions (else `unknown_booking`) and, when the copy is fresh, is
/// `unlisted`. Without a manifest the signature decides.
pub fn verify(
    raw: &str,
    now: DateTime<chrono::FixedOffset>,
    rules: &Rules,
    keys: &KeyRing,
    day: Option<KnownDay>,
) -> Result<Verified, Rejection> {
    let today = now.with_timezone(&rules.timezone).date_naive();
    let todays = day.filter(|d| d.manifest.date == today && d.manifest.office == rules.office);
    let mut verified = identify(
        raw,
        rules,
        keys,
        todays.map(|d| d.manifest),
        day.map(|d| d.manifest),
    )?;
    check_date(&verified.booking, today)?;
    if let (ScanKind::Token, Some(day)) = (verified.kind, todays) {
        match_manifest(&mut verified, day)?;
    }
    check_window(&verified.booking, now, rules)?;
    Ok(verified)
}

/// A signed booking of today against today's manifest (see [`verify`]).
fn match_manifest(verified: &mut Verified, day: KnownDay) -> Result<(), Rejection> {
    let token = &verified.booking;
    if let Some(listed) = day.manifest.booking(&token.booking) {
        verified.corrected = (&listed.number, listed.slot, &listed.service)
            != (&token.number, token.slot, &token.service);
        verified.booking = Booking {
            masked_name: None,
            ..listed
        };
        return Ok(());
    }
    let sessions = &day.manifest.sessions;
    if !sessions.is_empty()
        && !sessions
            .iter()
            .any(|s| Slot::parse(&s.slot) == Some(token.slot))
    {
        return Err(Rejection::about(Reason::UnknownBooking, token));
    }
    verified.unlisted = day.fresh;
    Ok(())
}

/// Rules 1-5 only (format, key, signature, office, cancelled): what a
/// ticket preview needs, whatever the date.
pub fn preview_booking(
    raw: &str,
    rules: &Rules,
    keys: &KeyRing,
    manifest: Option<&Manifest>,
) -> Result<Booking, Rejection> {
    identify(raw, rules, keys, manifest, manifest).map(|v| v.booking)
}

/// Rules 1-5. Plain codes are looked up in `codes`; the cancelled rule uses
/// `statuses`.
fn identify(
    raw: &str,
    rules: &Rules,
    keys: &KeyRing,
    codes: Option<&Manifest>,
    statuses: Option<&Manifest>,
) -> Result<Verified, Rejection> {
    let (booking, kind) =
        match parse_scan(raw).map_err(|_| Rejection::new(Reason::InvalidFormat))? {
            Parsed::Token {
                kid,
                office,
                booking,
                signed,
                signature,
            } => {
                let Some(key) = keys.get(&kid) else {
                    return Err(Rejection::new(Reason::UnknownKey));
                };
                if key.verify(signed.as_bytes(), &signature).is_err() {
                    return Err(Rejection::new(Reason::BadSignature));
                }
                if office != rules.office {
                    return Err(Rejection::about(Reason::WrongOffice, &booking));
                }
                (*booking, ScanKind::Token)
            }
            Parsed::Code(code) => {
                let Some(entry) = codes.and_then(|m| m.booking(&code)) else {
                    return Err(Rejection {
                        booking: Some(code),
                        ..Rejection::new(Reason::UnknownBooking)
                    });
                };
                (entry, ScanKind::Code)
            }
        };
    let cancelled = statuses
        .filter(|m| m.date == booking.date)
        .and_then(|m| m.status_of(&booking.booking))
        == Some(BookingStatus::Cancelled);
    if cancelled {
        return Err(Rejection::about(Reason::Cancelled, &booking));
    }
    Ok(Verified {
        booking,
        kind,
        corrected: false,
        unlisted: false,
    })
}

/// Rules 6-9: the date and the session window, at minute precision.
fn check_time(
    booking: &Booking,
    now: DateTime<chrono::FixedOffset>,
    rules: &Rules,
) -> Result<(), Rejection> {
    check_date(booking, now.with_timezone(&rules.timezone).date_naive())?;
    check_window(booking, now, rules)
}

/// Rules 6-7: the booking's date against today.
fn check_date(booking: &Booking, today: NaiveDate) -> Result<(), Rejection> {
    if booking.date < today {
        return Err(Rejection::about(Reason::Expired, booking));
    }
    if booking.date > today {
        return Err(Rejection::about(Reason::NotToday, booking));
    }
    Ok(())
}

/// Rules 8-9: the session window on the booking's (today's) date.
fn check_window(
    booking: &Booking,
    now: DateTime<chrono::FixedOffset>,
    rules: &Rules,
) -> Result<(), Rejection> {
    let local = now.with_timezone(&rules.timezone).naive_local();
    let (open, close) = window(booking, rules);
    let minute = local
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(local);
    if minute < open {
        return Err(Rejection {
            opens_at: Some(open.time()),
            ..Rejection::about(Reason::TooEarly, booking)
        });
    }
    if minute > close {
        return Err(Rejection::about(Reason::TooLate, booking));
    }
    Ok(())
}

/// The check-in window: from `start - early` to the minute `end + late`, inclusive.
pub fn window(booking: &Booking, rules: &Rules) -> (NaiveDateTime, NaiveDateTime) {
    let start = booking.date.and_time(booking.slot.start);
    let end = booking.date.and_time(booking.slot.end);
    (
        start - Duration::minutes(rules.early_minutes.into()),
        end + Duration::minutes(rules.late_minutes.into()),
    )
}

/// True when `slot` on `date` is open for check-in at `now`.
pub fn is_open(
    date: NaiveDate,
    slot: Slot,
    now: DateTime<chrono::FixedOffset>,
    rules: &Rules,
) -> bool {
    let b = Booking {
        booking: String::new(),
        number: String::new(),
        date,
        slot,
        service: String::new(),
        masked_name: None,
    };
    check_time(&b, now, rules).is_ok()
}

/// What the journal knows of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalState {
    pub checked_in: bool,
    /// The first ticket reached the printer.
    pub printed: bool,
    pub reprints_done: u32,
}

/// Rule 10 and what to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckinDecision {
    /// First check-in: journal it, then print.
    Accept,
    /// Checked in before but its ticket never printed (a crash or a printer
    /// fault): print the original ticket, no reprint used.
    ResumePrint,
    /// Print the same number again, marked `CETAK ULANG`.
    Reprint,
    /// Reprint limit reached.
    AlreadyPrinted,
}

/// Applies rule 10 to what the journal knows of the booking.
pub fn checkin_decision(state: Option<JournalState>, reprint_limit: u32) -> CheckinDecision {
    match state {
        None
        | Some(JournalState {
            checked_in: false, ..
        }) => CheckinDecision::Accept,
        Some(JournalState { printed: false, .. }) => CheckinDecision::ResumePrint,
        Some(s) if s.reprints_done < reprint_limit => CheckinDecision::Reprint,
        Some(_) => CheckinDecision::AlreadyPrinted,
    }
}

/// The scanner double-read rule: the same scan within this window is ignored.
pub const DOUBLE_READ_WINDOW_MS: i64 = 3000;

/// Remembers the last scan to spot scanner double-reads.
#[derive(Debug, Default, Clone)]
pub struct DoubleReadFilter {
    last: Option<(String, DateTime<chrono::Utc>)>,
}

impl DoubleReadFilter {
    /// True when `scan` repeats the previous read within 3 seconds. The
    /// window slides: a phone left under a scanner that re-reads it every
    /// second stays one scan until it has been away for 3 seconds.
    pub fn is_double(&mut self, scan: &str, at: DateTime<chrono::Utc>) -> bool {
        let key = scan.trim();
        let double = self.last.as_ref().is_some_and(|(prev, prev_at)| {
            let age = at.signed_duration_since(*prev_at).num_milliseconds();
            prev == key && (0..=DOUBLE_READ_WINDOW_MS).contains(&age)
        });
        self.last = Some((key.to_string(), at));
        double
    }
}

/// Converts a UTC instant to the office's offset (what [`verify`] takes).
pub fn at_office(now: DateTime<chrono::Utc>, tz: Tz) -> DateTime<chrono::FixedOffset> {
    let local = now.with_timezone(&tz);
    local.fixed_offset()
}

/// Builds an office-local instant (for tests and the demo).
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Tz>> {
    tz.from_local_datetime(&date.and_time(time)).single()
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::TrustedKey;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    #[test]
    fn rule_ten_table() {
        let st = |checked_in, printed, reprints_done| {
            Some(JournalState {
                checked_in,
                printed,
                reprints_done,
            })
        };
        for (state, limit, expect) in [
            (None, 1, CheckinDecision::Accept),
            (st(false, false, 0), 1, CheckinDecision::Accept),
            (st(true, false, 0), 1, CheckinDecision::ResumePrint),
            (st(true, false, 1), 1, CheckinDecision::ResumePrint),
            (st(true, true, 0), 1, CheckinDecision::Reprint),
            (st(true, true, 1), 1, CheckinDecision::AlreadyPrinted),
            (st(true, true, 0), 0, CheckinDecision::AlreadyPrinted),
            (st(true, true, 2), 3, CheckinDecision::Reprint),
        ] {
            assert_eq!(checkin_decision(state, limit), expect, "{state:?} {limit}");
        }
    }

    #[test]
    fn double_read_window() {
        let t0 = DateTime::parse_from_rfc3339("2024-05-08T02:00:00Z")
            .unwrap()
            .to_utc();
        let mut f = DoubleReadFilter::default();
        assert!(!f.is_double("ABCD", t0));
        assert!(f.is_double("ABCD\r\n", t0 + Duration::milliseconds(2999)));
        assert!(f.is_double("ABCD", t0 + Duration::milliseconds(5999)));
        assert!(!f.is_double("ABCD", t0 + Duration::milliseconds(9000)));
        assert!(!f.is_double("WXYZ", t0 + Duration::milliseconds(9100)));
        assert!(!f.is_double("ABCD", t0 + Duration::milliseconds(9200)));
    }

    /// A token signed with a key made for this test.
    fn signed(key: &ed25519_dalek::SigningKey, booking: &str, number: &str, slot: &str) -> String {
        use ed25519_dalek::Signer;
        let payload = serde_json::json!({"kid": "k-unit", "office": "kota-bogor",
            "booking": booking, "date": "2024-05-08", "slot": slot, "service": "KK", "number": number});
        let signed = format!("AQ1.{}", URL_SAFE_NO_PAD.encode(payload.to_string()));
        let sig = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    #[test]
    fn a_signed_booking_must_fit_todays_manifest() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let keys = KeyRing::new([TrustedKey {
            kid: "k-unit".into(),
            key: key.verifying_key(),
        }]);
        let rules = Rules {
            office: "kota-bogor".into(),
            timezone: chrono_tz::Asia::Jakarta,
            early_minutes: 30,
            late_minutes: 15,
            reprint_limit: 1,
        };
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "office": "kota-bogor", "date": "2024-05-08",
            "sessions": [{"slot": "09:00-10:00", "letter": "B", "quota": 50},
                         {"slot": "13:00-14:00", "letter": "E", "quota": 50}],
            "bookings": [{"booking": "BGR-20240508-00015", "number": "B-015",
                          "slot": "09:00-10:00", "service": "KK", "status": "booked"},
                         {"booking": "BGR-20240508-00050", "number": "E-001",
                          "slot": "13:00-14:00", "service": "KK", "status": "booked"}]
        }))
        .unwrap();
        let no_sessions = Manifest {
            sessions: vec![],
            ..manifest.clone()
        };
        let now = DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap();
        let fresh = Some(KnownDay::fresh(&manifest));
        let cached = Some(KnownDay::cached(&manifest));
        // (case, scan, day, expect: Ok((number, corrected, unlisted)) or reason)
        type Expect = Result<(&'static str, bool, bool), Reason>;
        let cases: Vec<(&str, String, Option<KnownDay>, Expect)> = vec![
            (
                "listed, as the manifest has it",
                signed(&key, "BGR-20240508-00015", "B-015", "09:00-10:00"),
                fresh,
                Ok(("B-015", false, false)),
            ),
            (
                "listed, token says another number: the manifest's is printed",
                signed(&key, "BGR-20240508-00015", "A-999", "09:00-10:00"),
                fresh,
                Ok(("B-015", true, false)),
            ),
            (
                "listed, token says an open session but the booking is for 13:00",
                signed(&key, "BGR-20240508-00050", "B-001", "09:00-10:00"),
                fresh,
                Err(Reason::TooEarly),
            ),
            (
                "not listed, fresh copy: the central service must confirm",
                signed(&key, "BGR-20240508-00099", "B-099", "09:00-10:00"),
                fresh,
                Ok(("B-099", false, true)),
            ),
            (
                "not listed, cached copy: the signature decides",
                signed(&key, "BGR-20240508-00099", "B-099", "09:00-10:00"),
                cached,
                Ok(("B-099", false, false)),
            ),
            (
                "no manifest: the signature decides",
                signed(&key, "BGR-20240508-00099", "B-099", "09:00-10:00"),
                None,
                Ok(("B-099", false, false)),
            ),
            (
                "a session the office does not have",
                signed(&key, "BGR-20240508-00098", "Z-001", "09:00-09:30"),
                cached,
                Err(Reason::UnknownBooking),
            ),
            (
                "a whole-day session, signed",
                signed(&key, "BGR-20240508-00097", "Z-002", "00:00-23:59"),
                fresh,
                Err(Reason::UnknownBooking),
            ),
            (
                "no sessions listed: not judged by session",
                signed(&key, "BGR-20240508-00096", "Z-003", "09:00-09:30"),
                Some(KnownDay::cached(&no_sessions)),
                Ok(("Z-003", false, false)),
            ),
        ];
        for (name, scan, day, expect) in cases {
            let got = verify(&scan, now, &rules, &keys, day)
                .map(|v| (v.booking.number.clone(), v.corrected, v.unlisted))
                .map_err(|r| r.reason);
            let expect = expect.map(|(n, c, u)| (n.to_string(), c, u));
            assert_eq!(got, expect, "{name}");
        }
    }
}
