//! What a ticket needs beyond the booking (office name, paper width,
//! footer, time zone, service names from the manifest), and composing it
//! with the pure core. Shared by the kiosk loop and the CLI's previews.

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;

use crate::config::Config;
use antrean_core::booking::Booking;
use antrean_core::manifest::{default_service_name, Manifest};
use antrean_core::ticket::{compose, Ticket, TicketInput};

/// What a ticket needs beyond the booking.
pub struct TicketContext<'a> {
    pub office_id: &'a str,
    pub office_name: &'a str,
    pub columns: u8,
    pub footer: &'a [String],
    pub timezone: Tz,
    pub manifest: Option<&'a Manifest>,
    /// `[ticket] status_url` (empty: no status QR).
    pub status_url: &'a str,
}

impl<'a> TicketContext<'a> {
    pub fn from_config(config: &'a Config, manifest: Option<&'a Manifest>) -> TicketContext<'a> {
        TicketContext {
            office_id: &config.office.id,
            office_name: &config.office.name,
            columns: config.printer.columns,
            footer: &config.ticket.footer,
            timezone: config.timezone(),
            manifest,
            status_url: &config.ticket.status_url,
        }
    }
}

/// Composes a booking's ticket (service names from the manifest when known).
pub fn compose_ticket(
    ctx: &TicketContext,
    booking: &Booking,
    checked_in_at: DateTime<FixedOffset>,
    reprint: bool,
    priority: bool,
    ahead: Option<u32>,
    estimated_call: Option<&str>,
) -> Ticket {
    let service_name = ctx
        .manifest
        .map(|m| m.service_name(&booking.service))
        .filter(|name| *name != booking.service)
        .unwrap_or_else(|| default_service_name(&booking.service));
    compose(&TicketInput {
        columns: ctx.columns,
        office_id: ctx.office_id,
        office_name: ctx.office_name,
        booking,
        service_name,
        checked_in_at,
        timezone: ctx.timezone,
        reprint,
        priority,
        ahead,
        estimated_call,
        footer: ctx.footer,
        status_url: ctx.status_url,
    })
}

/// A sample booking for `print-test` and `ticket-preview --sample`.
pub fn sample_booking(date: NaiveDate) -> Booking {
    Booking {
        booking: "CONTOH-0001".into(),
        number: "A-001".into(),
        date,
        slot: antrean_core::booking::Slot {
            start: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            end: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
        },
        service: "KTP-EL".into(),
        masked_name: None,
    }
}
