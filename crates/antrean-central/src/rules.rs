//! The reference central service's booking and check-in rules, pure: what
//! may be booked (dates from today to the horizon, bounded names), what a
//! booking code looks like (a four-digit year, so codes of different years
//! never collide), and when a check-in's time is believable (inside the
//! session's window, near the service's clock when sent online). Time is
//! passed in; nothing here reads a clock or touches storage.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};

use antrean_core::booking::Slot;

/// Limits and windows of the rules (from `[rules]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRules {
    /// Bookings may be made for today up to this many days ahead.
    pub horizon_days: u32,
    /// Check-in opens this long before a session starts (the kiosk's default).
    pub early_minutes: u32,
    /// ... and stays open this long after it ends.
    pub late_minutes: u32,
    /// Clocks may disagree this much (kiosk vs. service).
    pub clock_skew_minutes: u32,
    /// Longest name a booking may carry (characters; only a mask is kept).
    pub max_name_chars: usize,
    /// Longest notice text (characters).
    pub max_notice_chars: usize,
}

impl Default for BookingRules {
    fn default() -> BookingRules {
        BookingRules {
            horizon_days: 30,
            early_minutes: 30,
            late_minutes: 15,
            clock_skew_minutes: 5,
            max_name_chars: 100,
            max_notice_chars: 200,
        }
    }
}

/// A refusal: the spec's reason code and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// Longest booking-code prefix: the code stays within 32 characters.
pub const MAX_PREFIX_LEN: usize = 32 - "-YYYYMMDD-00000".len();

/// The booking code of the `running`-th booking of `date`:
/// `BGR-20240508-00123`. The four-digit year keeps codes of dates a century
/// apart distinct; `running` is unique within the day.
pub fn booking_code(prefix: &str, date: NaiveDate, running: usize) -> String {
    format!("{prefix}-{}-{running:05}", date.format("%Y%m%d"))
}

/// The queue number of the `serial`-th booking of the session with this
/// letter: `A-001`.
pub fn queue_number(letter: &str, serial: u32) -> String {
    format!("{letter}-{serial:03}")
}

/// Longest replay after a `Last-Event-ID`; further back gets `reset`.
pub const MAX_REPLAY: u64 = 5000;

/// Can a stream resume after `after`, given the log's `last` seq and the
/// first seq kept of today (`None`: today has no events)? Never for an id
/// the service never issued, nor across a day, nor for more than `max`
/// events (a client that far behind fetches `/board`, after a `reset`).
pub fn can_replay(after: u64, last: u64, first_today: Option<u64>, max: u64) -> bool {
    if after > last {
        return false;
    }
    if after == last {
        return true;
    }
    match first_today {
        Some(first) => after + 1 >= first && last - after <= max,
        None => false,
    }
}

/// May `date` be booked today?
pub fn check_booking_date(
    rules: &BookingRules,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<(), Refusal> {
    if date < today {
        return Err(refuse("expired", "that date has passed"));
    }
    let last = today + Duration::days(i64::from(rules.horizon_days));
    if date > last {
        return Err(refuse(
            "too_far_ahead",
            format!(
                "bookings are open up to {} days ahead (until {last})",
                rules.horizon_days
            ),
        ));
    }
    Ok(())
}

/// A booking's name: bounded, no control characters.
pub fn check_name(rules: &BookingRules, name: &str) -> Result<(), Refusal> {
    if name.chars().count() > rules.max_name_chars || name.chars().any(char::is_control) {
        return Err(refuse(
            "invalid_request",
            format!(
                "name must be at most {} characters without control characters",
                rules.max_name_chars
            ),
        ));
    }
    Ok(())
}

/// A notice: bounded, one line.
pub fn check_notice(rules: &BookingRules, text: &str) -> Result<(), Refusal> {
    if text.chars().count() > rules.max_notice_chars || text.chars().any(char::is_control) {
        return Err(refuse(
            "invalid_request",
            format!(
                "notice must be one line of at most {} characters",
                rules.max_notice_chars
            ),
        ));
    }
    Ok(())
}

/// A short free-text field of a report (`version`, printer state, ...).
pub fn check_short(field: &str, value: &str, max: usize) -> Result<(), Refusal> {
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(refuse(
            "invalid_request",
            format!("{field} must be at most {max} characters without control characters"),
        ));
    }
    Ok(())
}

/// Is a check-in at `at` believable for a booking of `date` in `slot`?
/// `at` and `now` are in the office's time zone. No check-in can have
/// happened later than the service's clock (plus the skew): such a time is
/// a kiosk clock running ahead, and is refused. An earlier time is not
/// refused for being early: it may be a resend of a check-in the service
/// was too slow to answer, or one made offline. Either way the time must
/// fall inside the session's window (early/late, whole minutes as the kiosk
/// counts them) widened by the skew.
pub fn check_checkin_time(
    rules: &BookingRules,
    date: NaiveDate,
    slot: &Slot,
    at: DateTime<FixedOffset>,
    now: DateTime<FixedOffset>,
) -> Result<(), Refusal> {
    let skew = Duration::minutes(i64::from(rules.clock_skew_minutes));
    let ahead = at - now;
    if ahead > skew {
        return Err(refuse(
            "invalid_format",
            format!(
                "checked_in_at is {} min ahead of the central service's clock; set the kiosk's clock (NTP) and send it again",
                ahead.num_minutes()
            ),
        ));
    }
    let day = at.date_naive();
    if day < date {
        return Err(refuse("not_today", format!("the booking is for {date}")));
    }
    if day > date {
        return Err(refuse("expired", format!("the booking was for {date}")));
    }
    // Slots are whole minutes, so the window's ends are too.
    let opens = slot.start - Duration::minutes(i64::from(rules.early_minutes));
    // Open through the last second of the minute `end + late`.
    let closes = slot.end + Duration::minutes(i64::from(rules.late_minutes) + 1);
    let local = date.and_time(at.time());
    let open_at = date.and_time(opens);
    let close_at = date.and_time(closes);
    // Window arithmetic on NaiveTime wraps at midnight: a session near
    // midnight opens the previous evening or closes the next morning.
    let open_at = if opens > slot.start {
        open_at - Duration::days(1)
    } else {
        open_at
    };
    let close_at = if closes < slot.end {
        close_at + Duration::days(1)
    } else {
        close_at
    };
    if local < open_at - skew {
        return Err(refuse(
            "too_early",
            format!(
                "check-in for session {} opens at {}",
                slot.wire(),
                opens.format("%H:%M")
            ),
        ));
    }
    if local >= close_at + skew {
        return Err(refuse(
            "too_late",
            format!("session {} is over", slot.wire()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn booking_dates() {
        let r = BookingRules::default();
        let today = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap();
        for (date, want) in [
            ("2024-05-07", Some("expired")),
            ("2024-05-08", None),
            ("2024-06-07", None),
            ("2024-06-08", Some("too_far_ahead")),
            ("2124-05-08", Some("too_far_ahead")),
        ] {
            let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
            assert_eq!(
                check_booking_date(&r, d, today).err().map(|e| e.code),
                want,
                "{date}"
            );
        }
    }

    #[test]
    fn replays_stay_within_today_and_the_cap() {
        // (after, last, first of today, max, can replay)
        for (after, last, first, max, want) in [
            (7, 7, Some(5), 10, true),
            (7, 7, None, 10, true),
            (4, 7, Some(5), 10, true),
            (3, 7, Some(5), 10, false),
            (0, 7, Some(5), 10, false),
            (0, 7, Some(1), 10, true),
            (8, 7, Some(5), 10, false),
            (4, 7, None, 10, false),
            (4, 20, Some(1), 10, false),
            (10, 20, Some(1), 10, true),
        ] {
            assert_eq!(
                can_replay(after, last, first, max),
                want,
                "{after} {last} {first:?} {max}"
            );
        }
        assert_eq!(queue_number("B", 15), "B-015");
    }

    #[test]
    fn codes_carry_the_whole_year() {
        let a = booking_code("BGR", NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(), 1);
        let b = booking_code("BGR", NaiveDate::from_ymd_opt(2124, 5, 8).unwrap(), 1);
        assert_eq!(a, "BGR-20240508-00001");
        assert_ne!(a, b);
        let longest = booking_code(
            &"X".repeat(MAX_PREFIX_LEN),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
            99999,
        );
        assert!(
            antrean_core::booking::is_booking_code(&longest),
            "{longest}"
        );
    }

    #[test]
    fn lengths() {
        let r = BookingRules::default();
        assert!(check_name(&r, "Siti Rahma").is_ok());
        assert!(check_name(&r, &"a".repeat(101)).is_err());
        assert!(check_name(&r, "Siti\nRahma").is_err());
        assert!(check_notice(&r, &"x".repeat(200)).is_ok());
        assert!(check_notice(&r, &"x".repeat(201)).is_err());
        assert!(check_short("version", "0.3.0", 64).is_ok());
        assert!(check_short("version", &"9".repeat(65), 64).is_err());
    }

    #[test]
    fn checkin_times() {
        let r = BookingRules::default();
        let date = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap();
        let slot = Slot::parse("09:00-10:00").unwrap();
        // (checked_in_at, server now, expected refusal)
        for (at, now, want) in [
            ("09:20:00", "09:20:30", None),
            ("08:30:00", "08:30:00", None),
            ("08:25:00", "08:25:00", None), // within the skew
            ("08:24:59", "08:24:59", Some("too_early")),
            ("10:15:59", "10:16:00", None),
            ("10:20:59", "10:20:59", None), // within the skew
            ("10:21:00", "10:21:00", Some("too_late")),
            ("09:24:59", "09:20:00", None), // kiosk clock a little ahead
            ("09:40:00", "09:20:00", Some("invalid_format")), // kiosk clock far ahead
            ("09:20:00", "13:00:00", None), // sent later (outbox)
            ("07:00:00", "13:00:00", Some("too_early")),
            ("12:00:00", "13:00:00", Some("too_late")),
        ] {
            let got = check_checkin_time(
                &r,
                date,
                &slot,
                t(&format!("2024-05-08T{at}+07:00")),
                t(&format!("2024-05-08T{now}+07:00")),
            );
            assert_eq!(got.err().map(|e| e.code), want, "{at} at {now}");
        }
        for (at, want) in [
            ("2024-05-07T09:20:00+07:00", "not_today"),
            ("2024-05-09T09:20:00+07:00", "expired"),
        ] {
            let got = check_checkin_time(&r, date, &slot, t(at), t(at));
            assert_eq!(got.err().map(|e| e.code), Some(want), "{at}");
        }
    }
}
