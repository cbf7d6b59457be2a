//! The day's manifest (`GET /manifest` of `docs/central-api.md`): sessions,
//! services, counters, keys and bookings. Wire types plus pure look-ups; the
//! cache on disk and the fetching live in adapters.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::booking::{is_booking_code, Booking, Slot};
use crate::keys::TrustedKey;

/// A booking's status as the central service knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Booked,
    CheckedIn,
    Called,
    Served,
    NoShow,
    Cancelled,
    /// A status this version does not know (forward compatibility).
    #[serde(other)]
    Unknown,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::CheckedIn => "checked_in",
            BookingStatus::Called => "called",
            BookingStatus::Served => "served",
            BookingStatus::NoShow => "no_show",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub slot: String,
    pub letter: String,
    pub quota: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestKey {
    pub kid: String,
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestBooking {
    pub booking: String,
    pub number: String,
    pub slot: String,
    pub service: String,
    pub status: BookingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One office's plan for one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub office: String,
    pub date: NaiveDate,
    #[serde(default = "default_tz")]
    pub timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_name: Option<String>,
    #[serde(default)]
    pub sessions: Vec<Session>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub counters: Vec<Counter>,
    #[serde(default)]
    pub keys: Vec<ManifestKey>,
    #[serde(default)]
    pub bookings: Vec<ManifestBooking>,
}

fn default_tz() -> String {
    "Asia/Jakarta".into()
}

impl Manifest {
    /// The booking with this code, when its fields are well formed.
    pub fn booking(&self, code: &str) -> Option<Booking> {
        let b = self.bookings.iter().find(|b| b.booking == code)?;
        if !is_booking_code(&b.booking) {
            return None;
        }
        Some(Booking {
            booking: b.booking.clone(),
            number: b.number.clone(),
            date: self.date,
            slot: Slot::parse(&b.slot)?,
            service: b.service.clone(),
            masked_name: b.name.clone(),
        })
    }

    /// The status of a booking in this manifest.
    pub fn status_of(&self, code: &str) -> Option<BookingStatus> {
        self.bookings
            .iter()
            .find(|b| b.booking == code)
            .map(|b| b.status)
    }

    /// The human name of a service code, falling back to the code.
    pub fn service_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.services
            .iter()
            .find(|s| s.code == code)
            .map(|s| s.name.as_str())
            .unwrap_or(code)
    }

    /// The keys this manifest delivers (malformed ones are skipped).
    pub fn trusted_keys(&self) -> Vec<TrustedKey> {
        self.keys
            .iter()
            .filter_map(|k| TrustedKey::from_base64(&k.kid, &k.public_key).ok())
            .collect()
    }

    /// The counter's label, falling back to `Loket {id}`.
    pub fn counter_label(&self, id: &str) -> String {
        self.counters
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.label.clone())
            .unwrap_or_else(|| format!("Loket {id}"))
    }
}

/// Human service names for the common Disdukcapil service codes, used when
/// no manifest is at hand.
pub fn default_service_name(code: &str) -> &str {
    match code {
        "KTP-EL" => "KTP Elektronik",
        "KK" => "Kartu Keluarga",
        "AKTA-LAHIR" => "Akta Kelahiran",
        "AKTA-MATI" => "Akta Kematian",
        "PINDAH" => "Surat Pindah",
        "KIA" => "Kartu Identitas Anak",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example_and_ignores_unknown_fields() {
        let text = r#"{"office": "kota-bogor", "date": "2024-05-08", "timezone": "Asia/Jakarta",
 "office_name": "Disdukcapil Kota Bogor", "future_field": [1,2],
 "sessions": [{"slot": "08:00-09:00", "letter": "A", "quota": 50}],
 "services": [{"code": "KTP-EL", "name": "KTP Elektronik"}],
 "counters": [{"id": "1", "label": "Loket 1"}],
 "keys": [{"kid": "k2024a", "public_key": "fnMA8bqxc-ap9RYG7LrXNR37RPbLIoqgSpC1nMj3R6Q"}],
 "bookings": [{"booking": "BGR-240508-00123", "number": "B-015",
               "slot": "09:00-10:00", "service": "KTP-EL",
               "status": "booked", "name": "S***i R."},
              {"booking": "BGR-240508-00124", "number": "B-016",
               "slot": "09:00-10:00", "service": "KK", "status": "teleported"}]}"#;
        let m: Manifest = serde_json::from_str(text).unwrap();
        let b = m.booking("BGR-240508-00123").unwrap();
        assert_eq!(b.number, "B-015");
        assert_eq!(b.masked_name.as_deref(), Some("S***i R."));
        assert_eq!(
            m.status_of("BGR-240508-00124"),
            Some(BookingStatus::Unknown)
        );
        assert_eq!(m.service_name("KTP-EL"), "KTP Elektronik");
        assert_eq!(m.service_name("XYZ"), "XYZ");
        assert_eq!(m.trusted_keys().len(), 1);
        assert_eq!(m.counter_label("1"), "Loket 1");
        assert_eq!(m.counter_label("7"), "Loket 7");
    }
}
