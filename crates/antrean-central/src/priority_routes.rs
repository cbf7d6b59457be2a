//! HTTP of priority arrivals (additions of this implementation, see
//! `docs/central-api.md`): the kiosk's claim after a check-in (role
//! `kiosk`, its own id in the body) and the staff's confirmation or
//! decline (role `staff`). Kept beside `routes.rs`, which merges them.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};

use crate::auth::Action;
use crate::error::{ServiceError, ServiceResult};
use crate::routes::{body, guard, who};
use crate::Central;
use antrean_core::api::{PriorityAnswer, PriorityRequest};
use antrean_core::booking::is_booking_code;

async fn post_priority(
    State(c): State<Central>,
    Path((office, booking)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ServiceResult<Json<PriorityAnswer>> {
    let p = who(&c, &headers).await?;
    let req: PriorityRequest = body(&bytes)?;
    let o = c.authorize(&p, &office, Action::PriorityRequest { kiosk: &req.kiosk })?;
    if !is_booking_code(&booking) {
        return Err(ServiceError::UnknownBooking);
    }
    Ok(Json(o.request_priority(&booking, &req).await?))
}

async fn post_decision(
    State(c): State<Central>,
    Path((office, booking, decision)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ServiceResult<Json<PriorityAnswer>> {
    let o = guard(&c, &headers, &office, Action::PriorityDecision).await?;
    let confirm = match decision.as_str() {
        "confirm" => true,
        "decline" => false,
        _ => return Err(ServiceError::NotFound),
    };
    if !is_booking_code(&booking) {
        return Err(ServiceError::UnknownBooking);
    }
    Ok(Json(o.decide_priority(&booking, confirm).await?))
}

/// The priority routes (under `/v1/offices/{office}/checkins/{booking}`).
pub(crate) fn routes() -> Router<Central> {
    let at = "/v1/offices/:office/checkins/:booking/priority";
    Router::new()
        .route(at, post(post_priority))
        .route(&format!("{at}/:decision"), post(post_decision))
}
