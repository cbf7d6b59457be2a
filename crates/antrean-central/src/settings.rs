//! The central service's settings as the service uses them: typed and
//! already valid (the configuration file becomes these in `config.rs`,
//! once, at start). One service holds one or more offices, each with its
//! own plan (sessions, services, counters) and devices; limits and rules
//! are the service's. No parsing and no I/O here.

use std::time::Duration;

use chrono_tz::Tz;

use antrean_core::booking::Slot;

use crate::limits::Limits;
use crate::rules::BookingRules;

/// One session of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDef {
    pub slot: String,
    pub letter: String,
    pub quota: u32,
}

/// One office the service holds: its own id, name, time zone, booking
/// prefix, sessions, services, counters, and the devices it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeSettings {
    pub id: String,
    pub name: String,
    pub timezone: Tz,
    pub sessions: Vec<SessionDef>,
    /// (code, name).
    pub services: Vec<(String, String)>,
    /// (id, label).
    pub counters: Vec<(String, String)>,
    /// Booking codes start with this, e.g. `BGR`; unique in the service.
    pub booking_prefix: String,
    /// The lobby kiosks this office expects (`[kiosk] id`s). Empty: any
    /// kiosk id may be given a token and report health.
    pub kiosks: Vec<String>,
    /// The board displays this office expects (each runs the kiosk daemon
    /// with its own id and reports health like a kiosk).
    pub boards: Vec<String>,
    /// Breaks of the day (`HH:MM-HH:MM`, e.g. lunch `12:00-13:00`): the
    /// gaps between consecutive sessions unless the configuration lists
    /// them. Shown on the office's public page.
    pub breaks: Vec<String>,
    /// Where residents book (shown on the public page to walk-ins), if any.
    pub booking_url: Option<String>,
    /// How counters call confirmed priority arrivals.
    pub priority: PriorityPolicy,
}

/// Which counters call a confirmed priority check-in of the current
/// session before the ordinary ones (`[priority]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PriorityPolicy {
    /// Every counter (`policy = "first_in_session"`, the default).
    #[default]
    FirstInSession,
    /// Only these counters (`policy = "dedicated_counter"`, `counters`);
    /// the others call in the ordinary order.
    DedicatedCounter(Vec<String>),
}

impl PriorityPolicy {
    /// True when `counter` calls confirmed priority check-ins first.
    pub fn calls_priority_first(&self, counter: &str) -> bool {
        match self {
            PriorityPolicy::FirstInSession => true,
            PriorityPolicy::DedicatedCounter(c) => c.iter().any(|x| x == counter),
        }
    }
}

impl OfficeSettings {
    /// The seeds' day: five one-hour sessions 08:00-12:00 and 13:00-14:00
    /// (A-E) of 50 places, the lunch break 12:00-13:00, five services,
    /// four counters, no device list, priority first in the session.
    pub fn standard(id: &str, name: &str) -> OfficeSettings {
        let sessions: Vec<SessionDef> = [8, 9, 10, 11, 13]
            .into_iter()
            .zip('A'..)
            .map(|(h, l)| SessionDef {
                slot: format!("{h:02}:00-{:02}:00", h + 1),
                letter: l.to_string(),
                quota: 50,
            })
            .collect();
        OfficeSettings {
            id: id.into(),
            name: name.into(),
            timezone: chrono_tz::Asia::Jakarta,
            breaks: breaks_between(&sessions),
            sessions,
            services: [
                ("KTP-EL", "KTP Elektronik"),
                ("KK", "Kartu Keluarga"),
                ("AKTA-LAHIR", "Akta Kelahiran"),
                ("PINDAH", "Surat Pindah"),
                ("KIA", "Kartu Identitas Anak"),
            ]
            .iter()
            .map(|(c, n)| (c.to_string(), n.to_string()))
            .collect(),
            counters: (1..=4)
                .map(|i| (i.to_string(), format!("Loket {i}")))
                .collect(),
            booking_prefix: "BGR".into(),
            kiosks: Vec::new(),
            boards: Vec::new(),
            booking_url: None,
            priority: PriorityPolicy::default(),
        }
    }

    /// Opening hours: the first session's start to the last one's end
    /// (`08:00-14:00`); `None` without sessions.
    pub fn opening_hours(&self) -> Option<String> {
        let slots: Vec<Slot> = self
            .sessions
            .iter()
            .filter_map(|s| Slot::parse(&s.slot))
            .collect();
        let start = slots.iter().map(|s| s.start).min()?;
        let end = slots.iter().map(|s| s.end).max()?;
        Some(format!("{}-{}", start.format("%H:%M"), end.format("%H:%M")))
    }

    /// The session with this slot.
    pub fn session(&self, slot: &str) -> Option<&SessionDef> {
        self.sessions.iter().find(|s| s.slot == slot)
    }

    /// True when the office offers this service.
    pub fn offers(&self, service: &str) -> bool {
        self.services.iter().any(|(c, _)| c == service)
    }

    /// True when the office has this counter.
    pub fn has_counter(&self, counter: &str) -> bool {
        self.counters.iter().any(|(id, _)| id == counter)
    }

    /// True when `device` may report health and hold a kiosk token here:
    /// one of the listed kiosks or boards, or any id when none is listed.
    pub fn expects_device(&self, device: &str) -> bool {
        (self.kiosks.is_empty() && self.boards.is_empty())
            || self.kiosks.iter().chain(&self.boards).any(|d| d == device)
    }
}

/// How the central service is set up: its offices, then what is the
/// service's for all of them.
#[derive(Debug, Clone)]
pub struct CentralSettings {
    /// At least one; ids and booking prefixes unique. The first is the
    /// default office (the kiosk's embedded mode holds only it).
    pub offices: Vec<OfficeSettings>,
    /// `: ping` comment interval on event streams (at most 15 s).
    pub ping_every: Duration,
    /// Minutes one resident takes at a counter, until the day shows better.
    pub default_service_minutes: u32,
    /// What may be booked and when a check-in is believable.
    pub rules: BookingRules,
    /// Connections, timeouts, body size, streams, write rates.
    pub limits: Limits,
    /// Board events older than this many days are pruned.
    pub event_retention_days: u32,
    /// How often the maintenance task prunes.
    pub maintenance_every: Duration,
}

impl CentralSettings {
    /// A service of one office with [`OfficeSettings::standard`].
    pub fn standard(office_id: &str, office_name: &str) -> CentralSettings {
        CentralSettings::with_offices(vec![OfficeSettings::standard(office_id, office_name)])
    }

    /// A service of these offices, with the default limits and rules.
    pub fn with_offices(offices: Vec<OfficeSettings>) -> CentralSettings {
        CentralSettings {
            offices,
            ping_every: Duration::from_secs(15),
            default_service_minutes: 6,
            rules: BookingRules::default(),
            limits: Limits::default(),
            event_retention_days: 7,
            maintenance_every: Duration::from_secs(3600),
        }
    }

    /// The office with this id.
    pub fn office(&self, id: &str) -> Option<&OfficeSettings> {
        self.offices.iter().find(|o| o.id == id)
    }
}

/// The breaks of a day of `sessions`: every gap between one session's end
/// and the next one's start (by start time), as `HH:MM-HH:MM`.
pub fn breaks_between(sessions: &[SessionDef]) -> Vec<String> {
    let mut slots: Vec<Slot> = sessions
        .iter()
        .filter_map(|s| Slot::parse(&s.slot))
        .collect();
    slots.sort_by_key(|s| s.start);
    slots
        .windows(2)
        .filter(|w| w[0].end < w[1].start)
        .map(|w| {
            format!(
                "{}-{}",
                w[0].end.format("%H:%M"),
                w[1].start.format("%H:%M")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(slots: &[&str]) -> Vec<SessionDef> {
        slots
            .iter()
            .zip('A'..)
            .map(|(s, l)| SessionDef {
                slot: s.to_string(),
                letter: l.to_string(),
                quota: 1,
            })
            .collect()
    }

    #[test]
    fn breaks_are_the_gaps_between_sessions() {
        let cases: [(&[&str], &[&str]); 5] = [
            (&[], &[]),
            (&["08:00-09:00", "09:00-10:00"], &[]),
            (
                &["08:00-09:00", "11:00-12:00", "13:00-14:00"],
                &["09:00-11:00", "12:00-13:00"],
            ),
            // Listed out of order: still by time.
            (
                &["13:00-15:00", "08:00-10:00", "10:00-12:00"],
                &["12:00-13:00"],
            ),
            (
                &[
                    "08:00-09:00",
                    "09:00-10:00",
                    "10:00-11:00",
                    "11:00-12:00",
                    "13:00-14:00",
                ],
                &["12:00-13:00"],
            ),
        ];
        for (slots, want) in cases {
            assert_eq!(breaks_between(&day(slots)), want, "{slots:?}");
        }
    }

    #[test]
    fn the_standard_day_is_the_seeds_day() {
        let o = OfficeSettings::standard("kota-bogor", "Kota Bogor");
        let slots: Vec<&str> = o.sessions.iter().map(|s| s.slot.as_str()).collect();
        assert_eq!(
            slots,
            [
                "08:00-09:00",
                "09:00-10:00",
                "10:00-11:00",
                "11:00-12:00",
                "13:00-14:00"
            ]
        );
        assert!(o.sessions.iter().all(|s| s.quota == 50));
        assert_eq!(o.breaks, ["12:00-13:00"]);
        assert_eq!(o.opening_hours().as_deref(), Some("08:00-14:00"));
        assert_eq!(o.priority, PriorityPolicy::FirstInSession);
    }

    #[test]
    fn dedicated_counters_call_priority_first_alone() {
        let p = PriorityPolicy::DedicatedCounter(vec!["4".into()]);
        assert!(p.calls_priority_first("4") && !p.calls_priority_first("1"));
        assert!(PriorityPolicy::FirstInSession.calls_priority_first("1"));
    }
}
