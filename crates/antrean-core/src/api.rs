//! Wire types of the central service API (`docs/central-api.md`), shared by
//! the kiosk's client and the reference server. Plain serde structs: unknown
//! fields are ignored and missing optional fields are absent, both ways.
//! The manifest lives in `core::manifest`; the board's events, with their
//! one encoder and decoder, in `core::events` (re-exported here, since they
//! are wire types too).

use serde::{Deserialize, Serialize};

pub use crate::events::{
    BadEvent, BoardEvent, CallEvent, CheckinEvent, CounterEvent, EncodedEvent, NoticeEvent,
    ResetEvent,
};

/// Path prefix of every endpoint.
pub const API_PREFIX: &str = "/v1/offices";

/// `{"error": "<code>", "message": "<human text>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    #[serde(default)]
    pub message: String,
}

/// The reason codes of `booking-qr.md` (and `unknown_booking`): a 422
/// carrying one of them is the central service's final word on a check-in.
pub const REASON_CODES: &[&str] = &[
    "invalid_format",
    "unknown_key",
    "bad_signature",
    "wrong_office",
    "cancelled",
    "expired",
    "not_today",
    "too_early",
    "too_late",
    "already_printed",
    "unknown_booking",
];

/// True only for the contract's definitive answers to `POST /checkins`:
/// `404 unknown_booking`, `409 cancelled`, or `422` with a reason code.
/// Anything else (a proxy's 404 page, 408, 413, 429, 5xx, an unknown code)
/// may come out differently when sent again, so it is not a refusal.
pub fn is_definitive_refusal(status: u16, code: &str) -> bool {
    match status {
        404 => code == "unknown_booking",
        409 => code == "cancelled",
        422 => REASON_CODES.contains(&code),
        _ => false,
    }
}

/// `POST /checkins` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinRequest {
    pub booking: String,
    pub number: String,
    pub kiosk: String,
    /// RFC 3339 with offset.
    pub checked_in_at: String,
    #[serde(default)]
    pub offline: bool,
}

/// `POST /checkins` answer (201 first, 200 with `duplicate` afterwards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinResponse {
    pub booking: String,
    pub number: String,
    pub status: String,
    pub checked_in_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u32>,
    /// `HH:MM` office time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_call: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// What a counter is serving now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serving {
    pub number: String,
    #[serde(default)]
    pub service: String,
    pub called_at: String,
    /// Called first as a confirmed priority arrival (addition; see
    /// `CallEvent::priority`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub priority: bool,
}

/// One counter on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardCounter {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub serving: Option<Serving>,
}

/// One entry of the recent-calls list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentCall {
    pub number: String,
    pub counter: String,
    pub called_at: String,
}

/// People waiting in a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub slot: String,
    pub count: u32,
}

/// `GET /board`: the call board's whole state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BoardSnapshot {
    pub seq: u64,
    #[serde(default)]
    pub counters: Vec<BoardCounter>,
    /// Newest first, at most 10.
    #[serde(default)]
    pub recent: Vec<RecentCall>,
    #[serde(default)]
    pub waiting: Vec<Waiting>,
    #[serde(default)]
    pub notice: Option<String>,
}

/// Printer part of a health report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterHealth {
    /// `ok`, `paper_low`, `paper_out`, `cover_open`, `offline` or `error`
    /// on the wire.
    pub state: crate::printer_status::PrinterState,
    #[serde(default)]
    pub detail: Option<String>,
}

/// `PUT /kiosks/{kiosk}/health` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub at: String,
    pub version: String,
    pub printer: PrinterHealth,
    pub pending_checkins: u64,
    #[serde(default)]
    pub last_event_seq: Option<u64>,
}

/// Where a check-in's priority claim stands (an addition to `central-api.md`:
/// elderly, disabled, pregnant or with a small child, UU 25/2009 art. 29).
/// The resident asks at the kiosk; staff confirm it at the counter; only a
/// confirmed claim changes the call order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityState {
    Requested,
    Confirmed,
    Declined,
}

/// `POST /v1/offices/{office}/checkins/{booking}/priority` body: the kiosk
/// passes on the resident's request (idempotent; role `kiosk`, own id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityRequest {
    pub kiosk: String,
    /// RFC 3339 with offset.
    pub requested_at: String,
}

/// Answer to a priority request, confirmation or decline: where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityAnswer {
    pub booking: String,
    pub number: String,
    pub priority: PriorityState,
}

/// `POST /bookings` body (staff and booking side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingRequest {
    pub date: String,
    pub slot: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /bookings` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingResponse {
    pub booking: String,
    pub number: String,
    /// A signed `AQ1.` token for the booking's QR code.
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_contract_answers_refuse_a_checkin() {
        let cases: &[(u16, &str, bool)] = &[
            (404, "unknown_booking", true),
            (404, "http_error", false),
            (404, "not_found", false),
            (409, "cancelled", true),
            (409, "conflict", false),
            (422, "too_late", true),
            (422, "not_today", true),
            (422, "invalid_format", true),
            (422, "invalid_request", false),
            (422, "", false),
            (400, "cancelled", false),
            (408, "unknown_booking", false),
            (413, "too_late", false),
            (429, "cancelled", false),
            (500, "cancelled", false),
            (503, "unknown_booking", false),
            (401, "unauthorized", false),
            (403, "forbidden", false),
        ];
        for (status, code, refused) in cases {
            assert_eq!(
                is_definitive_refusal(*status, code),
                *refused,
                "{status} {code}"
            );
        }
    }
}
