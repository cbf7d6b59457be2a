//! Help for residents without a booking: which of the next working days'
//! sessions still have free places (quota minus bookings), from the
//! manifests at hand. Pure: the schedule, the manifests and `now` are
//! passed in; fetching manifests for days not cached is the caller's job.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};

use crate::booking::Slot;
use crate::manifest::{BookingStatus, Manifest};

/// The office's opening days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Regular service weekdays (usually Monday to Friday).
    pub weekdays: Vec<Weekday>,
    /// Extra service days outside the regular weekdays (Saturday service).
    pub extra_days: BTreeSet<NaiveDate>,
    /// Closed days (public holidays, office closures).
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            weekdays: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            extra_days: BTreeSet::new(),
            holidays: BTreeSet::new(),
        }
    }
}

impl Schedule {
    /// True when the office serves the public on `date`.
    pub fn is_open(&self, date: NaiveDate) -> bool {
        !self.holidays.contains(&date)
            && (self.weekdays.contains(&date.weekday()) || self.extra_days.contains(&date))
    }

    /// The first `n` service days from `from` (inclusive), looking at most
    /// 60 days ahead.
    pub fn next_days(&self, from: NaiveDate, n: usize) -> Vec<NaiveDate> {
        from.iter_days()
            .take(60)
            .filter(|d| self.is_open(*d))
            .take(n)
            .collect()
    }
}

/// A session that can still be booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSession {
    pub date: NaiveDate,
    pub slot: Slot,
    pub letter: String,
    pub free: u32,
    pub quota: u32,
}

/// Free places per session on the service days among `days`, from the
/// manifests given (a day without a manifest is simply absent). Sessions
/// that already started today, full sessions and closed days are left out.
pub fn free_sessions(
    schedule: &Schedule,
    days: &[NaiveDate],
    manifests: &[&Manifest],
    now: NaiveDateTime,
) -> Vec<FreeSession> {
    let mut out = Vec::new();
    for &date in days {
        if !schedule.is_open(date) || date < now.date() {
            continue;
        }
        let Some(m) = manifests.iter().find(|m| m.date == date) else {
            continue;
        };
        let mut sessions: Vec<(Slot, &str, u32)> = m
            .sessions
            .iter()
            .filter_map(|s| Some((Slot::parse(&s.slot)?, s.letter.as_str(), s.quota)))
            .collect();
        sessions.sort();
        for (slot, letter, quota) in sessions {
            if date == now.date() && date.and_time(slot.start) <= now {
                continue;
            }
            let wire = slot.wire();
            let taken = m
                .bookings
                .iter()
                .filter(|b| b.slot == wire && b.status != BookingStatus::Cancelled)
                .count() as u32;
            let free = quota.saturating_sub(taken);
            if free > 0 {
                out.push(FreeSession {
                    date,
                    slot,
                    letter: letter.to_string(),
                    free,
                    quota,
                });
            }
        }
    }
    out
}

/// The lines of the walk-in information slip: free sessions, office
/// hours, where the desk is. ASCII, fitted to the paper width. It never
/// carries a queue number.
pub fn slip_lines(
    free: &[FreeSession],
    tz: chrono_tz::Tz,
    office_hours: &str,
    desk: &str,
    columns: u8,
) -> Vec<String> {
    use crate::locale::{bulan, hari, zona};
    use crate::ticket::{ascii, wrap};
    let cols = usize::from(columns);
    let mut lines = vec!["Sesi yang masih tersedia:".to_string()];
    if free.is_empty() {
        lines.extend(wrap(
            "Belum ada tempat kosong. Silakan tanya petugas.",
            cols,
            2,
        ));
    }
    for f in free.iter().take(8) {
        let day = format!(
            "{} {:02} {}",
            &hari(f.date.weekday())[..3],
            f.date.day(),
            &bulan(f.date.month())[..3]
        );
        let line = format!("{day} {} {}: {} tempat", f.slot.display(), zona(tz), f.free);
        lines.extend(wrap(&line, cols, 2));
    }
    lines.push(String::new());
    lines.extend(wrap(
        &ascii(&format!("Jam layanan: {office_hours}")),
        cols,
        2,
    ));
    lines.extend(wrap(&ascii(desk), cols, 3));
    lines.push(String::new());
    lines.extend(wrap("Daftar online: pindai QR di bawah.", cols, 2));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ManifestBooking, Session};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn manifest(
        date: &str,
        sessions: &[(&str, &str, u32)],
        bookings: &[(&str, BookingStatus)],
    ) -> Manifest {
        Manifest {
            office: "kota-bogor".into(),
            date: d(date),
            timezone: "Asia/Jakarta".into(),
            office_name: None,
            sessions: sessions
                .iter()
                .map(|(slot, letter, quota)| Session {
                    slot: slot.to_string(),
                    letter: letter.to_string(),
                    quota: *quota,
                })
                .collect(),
            services: vec![],
            counters: vec![],
            keys: vec![],
            bookings: bookings
                .iter()
                .enumerate()
                .map(|(i, (slot, status))| ManifestBooking {
                    booking: format!("BGR-{i:04}"),
                    number: format!("A-{i:03}"),
                    slot: slot.to_string(),
                    service: "KK".into(),
                    status: *status,
                    name: None,
                })
                .collect(),
        }
    }

    #[test]
    fn service_days_skip_weekends_and_holidays_but_keep_saturday_service() {
        let mut s = Schedule::default();
        s.holidays.insert(d("2024-05-09")); // Kenaikan Isa Almasih
        s.extra_days.insert(d("2024-05-11")); // a Saturday service day
                                              // Wed 8 May 2024
        assert_eq!(
            s.next_days(d("2024-05-08"), 4),
            vec![
                d("2024-05-08"),
                d("2024-05-10"),
                d("2024-05-11"),
                d("2024-05-13")
            ]
        );
        assert!(!s.is_open(d("2024-05-12")));
    }

    #[test]
    fn free_sessions_table() {
        use BookingStatus::*;
        let sessions = [
            ("08:00-09:00", "A", 2),
            ("09:00-10:00", "B", 2),
            ("13:00-14:00", "F", 3),
        ];
        let today = manifest(
            "2024-05-08",
            &sessions,
            &[
                ("08:00-09:00", Booked),
                ("09:00-10:00", Booked),
                ("09:00-10:00", CheckedIn),
                ("13:00-14:00", Cancelled),
            ],
        );
        let tomorrow = manifest("2024-05-10", &sessions, &[]);
        let holiday = manifest("2024-05-09", &sessions, &[]);
        let mut schedule = Schedule::default();
        schedule.holidays.insert(d("2024-05-09"));
        let days = [d("2024-05-08"), d("2024-05-09"), d("2024-05-10")];
        let at = |t: &str| {
            d("2024-05-08").and_time(chrono::NaiveTime::parse_from_str(t, "%H:%M").unwrap())
        };
        let free = free_sessions(
            &schedule,
            &days,
            &[&today, &holiday, &tomorrow],
            at("07:30"),
        );
        let got: Vec<(String, String, u32)> = free
            .iter()
            .map(|f| (f.date.to_string(), f.slot.wire(), f.free))
            .collect();
        let row = |date: &str, slot: &str, free| (date.to_string(), slot.to_string(), free);
        assert_eq!(
            got,
            vec![
                row("2024-05-08", "08:00-09:00", 1),
                // 09:00 is full (a checked-in booking still takes a place)
                row("2024-05-08", "13:00-14:00", 3), // the cancelled booking freed its place
                row("2024-05-10", "08:00-09:00", 2),
                row("2024-05-10", "09:00-10:00", 2),
                row("2024-05-10", "13:00-14:00", 3),
            ]
        );
        // Later in the day the morning sessions are past.
        let free = free_sessions(&schedule, &days[..1], &[&today], at("08:00"));
        assert_eq!(free.len(), 1);
        assert_eq!(free[0].slot.wire(), "13:00-14:00");
        // The slip lists them, fitted to 58 mm paper.
        let lines = slip_lines(
            &free_sessions(
                &schedule,
                &days,
                &[&today, &holiday, &tomorrow],
                at("07:30"),
            ),
            chrono_tz::Asia::Jakarta,
            "Senin-Jumat 08.00-14.00",
            "Meja informasi dekat pintu",
            32,
        );
        assert!(
            lines.iter().all(|l| l.len() <= 32 && l.is_ascii()),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Rab 08 Mei 08.00-09.00 WIB")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.contains("Jum 10 Mei")), "{lines:?}");
        // No manifest for a day: nothing invented.
        assert!(free_sessions(&schedule, &[d("2024-05-13")], &[&today], at("07:00")).is_empty());
    }
}
