//! Indonesian (and English) wording: day and month names, `HH.MM` times,
//! time-zone abbreviations, and what the resident is told for each outcome.
//! Pure text, no I/O.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;

use crate::checkin::{Reason, Rejection};

const HARI: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const BULAN: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];
const DAY_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTH_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Indonesian day name.
pub fn hari(w: Weekday) -> &'static str {
    HARI[w.num_days_from_monday() as usize]
}

/// Indonesian month name.
pub fn bulan(month: u32) -> &'static str {
    BULAN[(month.clamp(1, 12) - 1) as usize]
}

/// `Rabu, 08 Mei 2024`.
pub fn tanggal(d: NaiveDate) -> String {
    format!(
        "{}, {:02} {} {}",
        hari(d.weekday()),
        d.day(),
        bulan(d.month()),
        d.year()
    )
}

/// `Wednesday, 8 May 2024`.
pub fn date_en(d: NaiveDate) -> String {
    format!(
        "{}, {} {} {}",
        DAY_EN[d.weekday().num_days_from_monday() as usize],
        d.day(),
        MONTH_EN[(d.month() - 1) as usize],
        d.year()
    )
}

/// `09.20` (Indonesian time style).
pub fn jam(t: NaiveTime) -> String {
    format!("{:02}.{:02}", t.hour(), t.minute())
}

/// `Rabu, 08 Mei 2024 09.20 WIB`.
pub fn tanggal_jam(dt: NaiveDateTime, tz: Tz) -> String {
    format!("{} {} {}", tanggal(dt.date()), jam(dt.time()), zona(tz))
}

/// The Indonesian zone abbreviation: WIB (UTC+7), WITA (UTC+8), WIT (UTC+9);
/// other zones fall back to their IANA abbreviation.
pub fn zona(tz: Tz) -> &'static str {
    use chrono_tz::Asia;
    match tz {
        Asia::Jakarta | Asia::Pontianak => "WIB",
        Asia::Makassar => "WITA",
        Asia::Jayapura => "WIT",
        _ => "",
    }
}

/// A message in both languages, Indonesian first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub en: String,
}

impl Message {
    fn new(id: impl Into<String>, en: impl Into<String>) -> Message {
        Message {
            id: id.into(),
            en: en.into(),
        }
    }
}

/// What the board shows during an office break: `Istirahat 12.00-13.00`
/// and `Lunch break` (a break around midday) or `Break`.
pub fn break_notice(b: crate::booking::Slot) -> Message {
    let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default();
    let en = if b.start <= noon && noon < b.end || b.start.hour() == 12 {
        "Lunch break"
    } else {
        "Break"
    };
    Message::new(format!("Istirahat {}", b.display()), en)
}

/// What the resident is told about a rejection, and what to do next.
pub fn rejection_message(r: &Rejection) -> Message {
    let date_id = r.date.map(tanggal).unwrap_or_default();
    let date_en = r.date.map(date_en).unwrap_or_default();
    let slot = r.slot.map(|s| s.display()).unwrap_or_default();
    match r.reason {
        Reason::InvalidFormat => Message::new(
            "QR tidak dikenali. Tunjukkan QR booking dari aplikasi/website.",
            "QR code not recognised. Please show the booking QR from the app or website.",
        ),
        Reason::UnknownKey => Message::new(
            "QR tidak dapat diverifikasi. Hubungi petugas.",
            "This QR code cannot be verified. Please ask a staff member.",
        ),
        Reason::BadSignature => Message::new(
            "QR tidak valid. Hubungi petugas.",
            "This QR code is not valid. Please ask a staff member.",
        ),
        Reason::WrongOffice => Message::new(
            "Booking ini untuk kantor lain.",
            "This booking is for another office.",
        ),
        Reason::Cancelled => Message::new(
            "Booking sudah dibatalkan.",
            "This booking has been cancelled.",
        ),
        Reason::Expired => Message::new(
            format!("Booking untuk tanggal {date_id} sudah lewat."),
            format!("This booking was for {date_en}, which has passed."),
        ),
        Reason::NotToday => Message::new(
            format!("Booking Anda untuk tanggal {date_id}. Silakan datang pada tanggal tersebut."),
            format!("Your booking is for {date_en}. Please come on that day."),
        ),
        Reason::TooEarly => {
            let opens = r.opens_at.map(jam).unwrap_or_default();
            Message::new(
                format!("Sesi Anda {slot}. Check-in dibuka pukul {opens}."),
                format!("Your session is {slot}. Check-in opens at {opens}."),
            )
        }
        Reason::TooLate => Message::new(
            "Sesi Anda sudah berakhir. Silakan hubungi petugas.",
            "Your session has ended. Please ask a staff member.",
        ),
        Reason::AlreadyPrinted => Message::new(
            "Tiket sudah dicetak. Hubungi petugas bila hilang.",
            "Your ticket has already been printed. Ask a staff member if you lost it.",
        ),
        Reason::UnknownBooking => Message::new(
            "Kode booking tidak ditemukan. Periksa kode atau hubungi petugas.",
            "Booking code not found. Check the code or ask a staff member.",
        ),
    }
}

/// The printer-fault message. It promises nothing about the check-in: a
/// printer refused before the check-in records nothing, one that failed
/// during the ticket keeps it for the next scan; staff sort out both.
pub fn printer_fault_message() -> Message {
    Message::new(
        "Printer bermasalah, silakan ke meja informasi. Petugas akan membantu Anda.",
        "The printer has a problem, please go to the information desk. Staff will help you.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn break_notices() {
        let cases = [
            ("12:00-13:00", "Istirahat 12.00-13.00", "Lunch break"),
            ("11:30-12:30", "Istirahat 11.30-12.30", "Lunch break"),
            ("12:15-12:45", "Istirahat 12.15-12.45", "Lunch break"),
            ("10:00-10:15", "Istirahat 10.00-10.15", "Break"),
        ];
        for (slot, id, en) in cases {
            let m = break_notice(crate::booking::Slot::parse(slot).unwrap());
            assert_eq!((m.id.as_str(), m.en.as_str()), (id, en), "{slot}");
        }
    }
    use crate::booking::Slot;

    #[test]
    fn indonesian_dates_and_times() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap();
        assert_eq!(tanggal(d), "Rabu, 08 Mei 2024");
        assert_eq!(date_en(d), "Wednesday, 8 May 2024");
        let dt = d.and_hms_opt(9, 20, 59).unwrap();
        assert_eq!(
            tanggal_jam(dt, chrono_tz::Asia::Jakarta),
            "Rabu, 08 Mei 2024 09.20 WIB"
        );
        assert_eq!(zona(chrono_tz::Asia::Makassar), "WITA");
        assert_eq!(zona(chrono_tz::Asia::Jayapura), "WIT");
        for (m, name) in [(1, "Januari"), (8, "Agustus"), (12, "Desember")] {
            assert_eq!(bulan(m), name);
        }
    }

    #[test]
    fn every_reason_has_both_languages() {
        for reason in Reason::ALL {
            let r = Rejection {
                reason,
                booking: None,
                date: NaiveDate::from_ymd_opt(2024, 5, 9),
                slot: Slot::parse("09:00-10:00"),
                opens_at: NaiveTime::from_hms_opt(8, 30, 0),
            };
            let m = rejection_message(&r);
            assert!(!m.id.is_empty() && !m.en.is_empty(), "{reason}");
            assert_ne!(m.id, m.en);
        }
        let r = Rejection {
            reason: Reason::TooEarly,
            booking: None,
            date: None,
            slot: Slot::parse("09:00-10:00"),
            opens_at: NaiveTime::from_hms_opt(8, 30, 0),
        };
        assert_eq!(
            rejection_message(&r).id,
            "Sesi Anda 09.00-10.00. Check-in dibuka pukul 08.30."
        );
    }
}
