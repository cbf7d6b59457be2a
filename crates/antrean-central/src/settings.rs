//! The central service's settings as the service uses them: typed and
//! already valid (the configuration file becomes these in `config.rs`,
//! once, at start). No parsing and no I/O here.

use std::time::Duration;

use chrono_tz::Tz;

use crate::limits::Limits;
use crate::rules::BookingRules;

/// One session of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDef {
    pub slot: String,
    pub letter: String,
    pub quota: u32,
}

/// How the central service is set up.
#[derive(Debug, Clone)]
pub struct CentralSettings {
    pub office_id: String,
    pub office_name: String,
    pub timezone: Tz,
    pub sessions: Vec<SessionDef>,
    /// (code, name).
    pub services: Vec<(String, String)>,
    /// (id, label).
    pub counters: Vec<(String, String)>,
    /// Booking codes start with this, e.g. `BGR`.
    pub booking_prefix: String,
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
    /// The usual six one-hour sessions 08:00-14:00 (A-F), five services,
    /// four counters.
    pub fn standard(office_id: &str, office_name: &str) -> CentralSettings {
        CentralSettings {
            office_id: office_id.into(),
            office_name: office_name.into(),
            timezone: chrono_tz::Asia::Jakarta,
            sessions: (8..14)
                .zip('A'..)
                .map(|(h, l)| SessionDef {
                    slot: format!("{h:02}:00-{:02}:00", h + 1),
                    letter: l.to_string(),
                    quota: 40,
                })
                .collect(),
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
            ping_every: Duration::from_secs(15),
            default_service_minutes: 6,
            rules: BookingRules::default(),
            limits: Limits::default(),
            event_retention_days: 7,
            maintenance_every: Duration::from_secs(3600),
        }
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
}
