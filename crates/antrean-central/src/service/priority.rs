//! Priority arrivals (UU 25/2009 art. 29): the kiosk passes on the
//! resident's claim after a check-in, staff confirm or decline it at the
//! counter; confirmed claims change the call order (`call_order.rs`), the
//! number stays. No SQL and no HTTP here.

use super::Office;
use crate::call_order::{PriorityChange, PriorityRefusal};
use crate::error::{ServiceError, ServiceResult};
use crate::rules;
use crate::store::PriorityOutcome;
use antrean_core::api::{PriorityAnswer, PriorityRequest};

impl Office {
    /// `POST checkins/{booking}/priority`: idempotent; a confirmed or
    /// declined claim stays as staff left it.
    pub async fn request_priority(
        &self,
        code: &str,
        req: &PriorityRequest,
    ) -> ServiceResult<PriorityAnswer> {
        rules::check_short("requested_at", &req.requested_at, 40).map_err(ServiceError::Refused)?;
        if !crate::auth::is_identifier(&req.kiosk) {
            return Err(ServiceError::unprocessable(
                "the kiosk id must be 1-64 lower-case letters, digits, - or _",
            ));
        }
        if chrono::DateTime::parse_from_rfc3339(&req.requested_at).is_err() {
            return Err(ServiceError::unprocessable(
                "requested_at must be RFC 3339 with an offset, e.g. 2024-05-08T09:12:00+07:00",
            ));
        }
        let answer = self.change_priority(code, PriorityChange::Request).await?;
        tracing::info!(booking = %code, kiosk = %req.kiosk, priority = ?answer.priority, "priority requested");
        Ok(answer)
    }

    /// `POST checkins/{booking}/priority/confirm` (`confirm`) or
    /// `.../decline`.
    pub async fn decide_priority(
        &self,
        code: &str,
        confirm: bool,
    ) -> ServiceResult<PriorityAnswer> {
        let change = if confirm {
            PriorityChange::Confirm
        } else {
            PriorityChange::Decline
        };
        let answer = self.change_priority(code, change).await?;
        tracing::info!(booking = %code, priority = ?answer.priority, "priority decided");
        Ok(answer)
    }

    async fn change_priority(
        &self,
        code: &str,
        change: PriorityChange,
    ) -> ServiceResult<PriorityAnswer> {
        match self.store().set_priority(self.id(), code, change).await? {
            PriorityOutcome::Unknown => Err(ServiceError::UnknownBooking),
            PriorityOutcome::Refused(PriorityRefusal::NotCheckedIn) => {
                Err(ServiceError::NotCheckedIn)
            }
            PriorityOutcome::Refused(PriorityRefusal::Cancelled) => Err(ServiceError::Cancelled),
            PriorityOutcome::Set(b) => Ok(PriorityAnswer {
                booking: b.code,
                number: b.number,
                priority: b
                    .priority
                    .unwrap_or(antrean_core::api::PriorityState::Requested),
            }),
        }
    }
}
