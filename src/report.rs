//! The end-of-day report: the day's check-ins, reprints, rejections by
//! reason and printer faults from the journal, reconciled against the
//! central service's manifest (check-ins it does not know are listed and
//! sent again). Building the report is pure; fetching and re-sending are
//! done by the caller with the central client.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::NaiveDate;

use crate::journal::CheckinRecord;
use antrean_core::manifest::{BookingStatus, Manifest};

/// A day as the journal and the central service see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayReport {
    pub date: NaiveDate,
    pub checkins: usize,
    pub printed: usize,
    pub not_printed: Vec<String>,
    pub reprints: u32,
    pub offline_checkins: usize,
    /// Scan outcomes and counts (accept, reprint, reason codes, ...).
    pub outcomes: Vec<(String, u64)>,
    /// (time, booking, detail).
    pub printer_faults: Vec<(String, Option<String>, String)>,
    /// Check-ins the central service has not acknowledged or does not show
    /// as checked in: to be sent again.
    pub unacknowledged: Vec<String>,
    /// Check-ins the central service refused, with its reason code.
    pub refused: Vec<(String, String)>,
    /// Whether the central service's manifest could be compared.
    pub reconciled: Option<bool>,
}

/// Builds the report from journal data and, when reachable, the central
/// service's manifest of that day.
pub fn build(
    date: NaiveDate,
    checkins: &[CheckinRecord],
    outcomes: Vec<(String, u64)>,
    printer_faults: Vec<(String, Option<String>, String)>,
    central: Option<&Manifest>,
) -> DayReport {
    let central_status = |booking: &str| central.and_then(|m| m.status_of(booking));
    let unacknowledged = checkins
        .iter()
        .filter(|c| c.refused.is_none())
        .filter(|c| {
            !c.sent
                || matches!(
                    central_status(&c.booking),
                    Some(BookingStatus::Booked) | None if central.is_some()
                )
        })
        .map(|c| c.booking.clone())
        .collect();
    DayReport {
        date,
        checkins: checkins.len(),
        printed: checkins.iter().filter(|c| c.printed).count(),
        not_printed: checkins
            .iter()
            .filter(|c| !c.printed)
            .map(|c| format!("{} ({})", c.number, c.booking))
            .collect(),
        reprints: checkins.iter().map(|c| c.reprints).sum(),
        offline_checkins: checkins.iter().filter(|c| c.offline).count(),
        outcomes,
        printer_faults,
        unacknowledged,
        refused: checkins
            .iter()
            .filter_map(|c| c.refused.clone().map(|r| (c.booking.clone(), r)))
            .collect(),
        reconciled: central.map(|_| true),
    }
}

impl DayReport {
    /// Rejections by reason (outcomes that are neither tickets nor faults).
    pub fn rejections(&self) -> BTreeMap<String, u64> {
        self.outcomes
            .iter()
            .filter(|(o, _)| {
                !matches!(
                    o.as_str(),
                    "accept" | "reprint" | "printer_fault" | "double_read" | "journal_fault"
                )
            })
            .map(|(o, n)| (o.clone(), *n))
            .collect()
    }

    /// The report as text for staff.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Laporan harian / Day report {}", self.date);
        let _ = writeln!(out, "Check-in           : {}", self.checkins);
        let _ = writeln!(out, "Tiket tercetak     : {}", self.printed);
        let _ = writeln!(out, "Cetak ulang        : {}", self.reprints);
        let _ = writeln!(out, "Check-in offline   : {}", self.offline_checkins);
        if !self.not_printed.is_empty() {
            let _ = writeln!(
                out,
                "Belum tercetak / not printed: {}",
                self.not_printed.join(", ")
            );
        }
        let _ = writeln!(out, "Ditolak / rejected by reason:");
        let rejections = self.rejections();
        if rejections.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for (reason, n) in rejections {
            let _ = writeln!(out, "  {reason:<16} {n}");
        }
        let _ = writeln!(
            out,
            "Gangguan printer / printer faults: {}",
            self.printer_faults.len()
        );
        for (at, booking, detail) in &self.printer_faults {
            let _ = writeln!(out, "  {at} {} {detail}", booking.as_deref().unwrap_or("-"));
        }
        match self.reconciled {
            None => {
                let _ = writeln!(
                    out,
                    "Rekonsiliasi: layanan pusat tidak terjangkau / central service unreachable; {} check-in(s) not acknowledged",
                    self.unacknowledged.len()
                );
            }
            Some(_) => {
                let _ = writeln!(
                    out,
                    "Rekonsiliasi / reconciliation: {} check-in(s) unknown to the central service",
                    self.unacknowledged.len()
                );
            }
        }
        for b in &self.unacknowledged {
            let _ = writeln!(out, "  {b}");
        }
        if !self.refused.is_empty() {
            let _ = writeln!(out, "Ditolak pusat / refused by the central service:");
            for (b, code) in &self.refused {
                let _ = writeln!(out, "  {b} {code}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use antrean_core::manifest::ManifestBooking;
    use chrono::DateTime;

    fn rec(booking: &str, printed: bool, sent: bool, reprints: u32) -> CheckinRecord {
        CheckinRecord {
            id: 1,
            booking: booking.into(),
            number: "A-001".into(),
            service: "KK".into(),
            date: NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
            slot: "08:00-09:00".into(),
            checked_in_at: DateTime::parse_from_rfc3339("2024-05-08T08:10:00+07:00").unwrap(),
            offline: !sent,
            printed,
            reprints,
            sent,
            ahead: None,
            estimated_call: None,
            refused: None,
        }
    }

    #[test]
    fn reconciles_against_the_manifest() {
        let date = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap();
        let checkins = vec![
            rec("AAAA-1", true, true, 1),
            rec("BBBB-2", true, false, 0),
            rec("CCCC-3", false, true, 0),
        ];
        let manifest = Manifest {
            office: "kota-bogor".into(),
            date,
            timezone: "Asia/Jakarta".into(),
            office_name: None,
            sessions: vec![],
            services: vec![],
            counters: vec![],
            keys: vec![],
            bookings: ["AAAA-1", "BBBB-2", "CCCC-3"]
                .iter()
                .zip([
                    BookingStatus::Served,
                    BookingStatus::Booked,
                    BookingStatus::Booked,
                ])
                .map(|(b, status)| ManifestBooking {
                    booking: b.to_string(),
                    number: "A-001".into(),
                    slot: "08:00-09:00".into(),
                    service: "KK".into(),
                    status,
                    name: None,
                })
                .collect(),
        };
        let outcomes = vec![
            ("accept".into(), 3),
            ("too_early".into(), 2),
            ("reprint".into(), 1),
            ("invalid_format".into(), 4),
        ];
        let r = build(date, &checkins, outcomes, vec![], Some(&manifest));
        assert_eq!(r.unacknowledged, vec!["BBBB-2", "CCCC-3"]);
        assert_eq!(r.reprints, 1);
        assert_eq!(r.printed, 2);
        assert_eq!(r.not_printed, vec!["A-001 (CCCC-3)"]);
        let rej = r.rejections();
        assert_eq!(rej.get("too_early"), Some(&2));
        assert_eq!(rej.get("invalid_format"), Some(&4));
        assert!(!rej.contains_key("accept"));
        let text = r.render();
        assert!(text.contains("too_early        2"), "{text}");
        // Without the central service, only unsent rows are listed.
        let r = build(date, &checkins, vec![], vec![], None);
        assert_eq!(r.unacknowledged, vec!["BBBB-2"]);
        assert!(r.render().contains("unreachable"));
    }
}
