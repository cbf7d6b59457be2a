//! The central service's settings as the service uses them: typed and
//! already valid (the configuration file becomes these in `config.rs`,
//! once, at start). One service holds one or more offices, each with its
//! own plan (sessions, services, counters) and devices; limits and rules
//! are the service's. No parsing and no I/O here.

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
}

impl OfficeSettings {
    /// The usual six one-hour sessions 08:00-14:00 (A-F), five services,
    /// four counters, no device list.
    pub fn standard(id: &str, name: &str) -> OfficeSettings {
        OfficeSettings {
            id: id.into(),
            name: name.into(),
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
            kiosks: Vec::new(),
            boards: Vec::new(),
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
