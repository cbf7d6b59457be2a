//! The kiosk loop's side of the central service: send a fresh check-in
//! now (waiting at most the answer deadline, and only when the service is
//! believed reachable), ask it to confirm a booking the manifest does not
//! list, and nudge the outbox. The HTTP work is behind [`CentralLink`].

use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use antrean_core::api::{CheckinRequest, CheckinResponse};
use antrean_core::booking::Booking;
use antrean_core::checkin::{Reason, Rejection};

/// The result of sending a check-in at once.
#[derive(Debug)]
pub enum SendResult {
    Acked(CheckinResponse),
    /// Not sent (unreachable, timeout, error): it stays in the outbox.
    /// `offline` is true when the service was unreachable, not just slow.
    Failed {
        offline: bool,
    },
    /// A definitive refusal with the spec's reason code (`unknown_booking`,
    /// `cancelled`, or another code of `booking-qr.md`).
    Refused {
        code: String,
    },
}

/// The kiosk loop's blocking view of the link to the central service.
pub trait CentralLink: Send {
    /// True when the last contact succeeded (worth waiting for an answer).
    fn is_online(&self) -> bool;
    /// Sends a check-in and waits at most `deadline` for the answer.
    fn send_checkin(&self, request: &CheckinRequest, deadline: Duration) -> SendResult;
    /// A check-in was journaled; the outbox sender should look.
    fn nudge_outbox(&self);
}

/// What the central service said of an unlisted booking.
pub enum Confirmation {
    Confirmed(CheckinResponse),
    Refused(Rejection),
    /// No answer in time, or offline: the signature decides.
    Unsure,
}

/// The link, this kiosk's id and the answer deadline.
pub struct Uplink {
    link: Option<Box<dyn CentralLink>>,
    kiosk: String,
    deadline: Duration,
}

impl Uplink {
    /// No central service configured.
    pub fn none(kiosk: &str) -> Uplink {
        Uplink {
            link: None,
            kiosk: kiosk.to_string(),
            deadline: Duration::ZERO,
        }
    }

    pub fn new(link: Box<dyn CentralLink>, kiosk: &str, deadline: Duration) -> Uplink {
        Uplink {
            link: Some(link),
            kiosk: kiosk.to_string(),
            deadline,
        }
    }

    /// True when a central service is configured.
    pub fn configured(&self) -> bool {
        self.link.is_some()
    }

    /// True when the last contact succeeded.
    pub fn online(&self) -> bool {
        self.link.as_ref().is_some_and(|l| l.is_online())
    }

    fn request(&self, booking: &Booking, at: DateTime<FixedOffset>) -> CheckinRequest {
        CheckinRequest {
            booking: booking.booking.clone(),
            number: booking.number.clone(),
            kiosk: self.kiosk.clone(),
            checked_in_at: at.to_rfc3339(),
            offline: false,
        }
    }

    /// Sends a fresh check-in now, when the service is reachable.
    pub fn send_now(&self, booking: &Booking, at: DateTime<FixedOffset>) -> SendResult {
        match self.link.as_ref().filter(|l| l.is_online()) {
            Some(link) => link.send_checkin(&self.request(booking, at), self.deadline),
            None => SendResult::Failed { offline: true },
        }
    }

    /// Asks the central service about a signed booking the fresh manifest
    /// does not list; without an answer in time, the signature decides.
    pub fn confirm(&self, booking: &Booking, at: DateTime<FixedOffset>) -> Confirmation {
        let Some(link) = self.link.as_ref().filter(|l| l.is_online()) else {
            return Confirmation::Unsure;
        };
        match link.send_checkin(&self.request(booking, at), self.deadline) {
            SendResult::Acked(answer) => Confirmation::Confirmed(answer),
            SendResult::Refused { code } => {
                let reason = Reason::from_code(&code).unwrap_or(Reason::UnknownBooking);
                tracing::warn!(booking = %booking.booking, code = %code,
                    "the central service does not confirm a booking its manifest does not list");
                Confirmation::Refused(Rejection::about(reason, booking))
            }
            SendResult::Failed { .. } => Confirmation::Unsure,
        }
    }

    /// A check-in was journaled: the outbox should look.
    pub fn nudge(&self) {
        if let Some(l) = &self.link {
            l.nudge_outbox();
        }
    }
}
