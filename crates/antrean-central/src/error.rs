//! Every way a request to the central service can fail, as one enum, and
//! how each one answers over HTTP: status, the spec's error code, a
//! message for the caller (and `Retry-After` where waiting helps). The
//! service returns these; only the `IntoResponse` impl knows about HTTP.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::auth::Role;
use crate::rules::Refusal;
use crate::store::StoreError;
use antrean_core::api::ApiError;

/// A refusal or failure of the central service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// `400 invalid_request`: the request cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// `422`: readable, but a rule refuses it (the refusal's code).
    #[error("{}", .0.message)]
    Refused(Refusal),
    #[error("missing, wrong or revoked token; ask the office's administrator for one (antrean-central token add)")]
    Unauthorized,
    #[error(
        "this {0} token may not do that here (see \"Tokens and roles\" in docs/central-api.md)"
    )]
    Forbidden(Role),
    #[error("no such office here")]
    UnknownOffice,
    #[error("no such booking")]
    UnknownBooking,
    #[error("no counter {0:?}")]
    UnknownCounter(String),
    #[error("use next, recall, done or skip")]
    UnknownAction,
    #[error("no such endpoint")]
    NotFound,
    #[error("session {slot} on {date} is full")]
    SlotFull { slot: String, date: String },
    #[error("a checked-in booking cannot be cancelled")]
    AlreadyCheckedIn,
    #[error("Booking sudah dibatalkan.")]
    Cancelled,
    /// `409 not_checked_in`: a priority claim before its check-in arrived.
    #[error("Check-in belum diterima; coba lagi sebentar. / The check-in has not arrived yet; retry later.")]
    NotCheckedIn,
    #[error("this counter serves nobody now")]
    NothingCalled,
    #[error("too many writes with this token; retry after {0} s")]
    RateLimited(u64),
    #[error("this office has {0} event streams open already ([server] max_streams_per_office); retry later")]
    TooManyStreams(usize),
    /// The database failed (logged; the caller sees only that it may retry).
    #[error("storage failed; try again")]
    Storage(#[from] StoreError),
    /// A bug or a lost worker (logged like `Storage`).
    #[error("storage failed; try again")]
    Internal(String),
}

impl ServiceError {
    /// `422 invalid_request` with this message.
    pub fn unprocessable(message: impl Into<String>) -> ServiceError {
        ServiceError::Refused(Refusal {
            code: "invalid_request",
            message: message.into(),
        })
    }

    pub fn status(&self) -> StatusCode {
        use ServiceError::*;
        match self {
            BadRequest(_) => StatusCode::BAD_REQUEST,
            Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Unauthorized => StatusCode::UNAUTHORIZED,
            Forbidden(_) => StatusCode::FORBIDDEN,
            UnknownOffice | UnknownBooking | UnknownCounter(_) | UnknownAction | NotFound => {
                StatusCode::NOT_FOUND
            }
            SlotFull { .. } | AlreadyCheckedIn | Cancelled | NothingCalled | NotCheckedIn => {
                StatusCode::CONFLICT
            }
            RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            TooManyStreams(_) => StatusCode::SERVICE_UNAVAILABLE,
            Storage(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Storage(_) | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The spec's error code.
    pub fn code(&self) -> &'static str {
        use ServiceError::*;
        match self {
            BadRequest(_) => "invalid_request",
            Refused(r) => r.code,
            Unauthorized => "unauthorized",
            Forbidden(_) => "forbidden",
            UnknownOffice => "unknown_office",
            UnknownBooking => "unknown_booking",
            UnknownCounter(_) => "unknown_counter",
            UnknownAction => "unknown_action",
            NotFound => "not_found",
            SlotFull { .. } => "slot_full",
            AlreadyCheckedIn => "already_checked_in",
            Cancelled => "cancelled",
            NothingCalled => "nothing_called",
            NotCheckedIn => "not_checked_in",
            RateLimited(_) => "rate_limited",
            TooManyStreams(_) => "too_many_streams",
            Storage(StoreError::Unavailable(_)) => "unavailable",
            Storage(_) | Internal(_) => "internal",
        }
    }

    /// Seconds for a `Retry-After` header.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ServiceError::RateLimited(secs) => Some(*secs),
            ServiceError::TooManyStreams(_) => Some(30),
            ServiceError::Storage(StoreError::Unavailable(_)) => Some(5),
            _ => None,
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        match &self {
            ServiceError::Storage(e) => tracing::error!(error = %e, "central storage failed"),
            ServiceError::Internal(e) => tracing::error!(error = %e, "central service failed"),
            _ => {}
        }
        let retry = self.retry_after();
        let mut resp = (
            self.status(),
            Json(ApiError {
                error: self.code().to_string(),
                message: self.to_string(),
            }),
        )
            .into_response();
        if let Some(secs) = retry {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        resp
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status_and_code() {
        // (error, status, code, Retry-After)
        let cases = [
            (
                ServiceError::BadRequest("x".into()),
                400,
                "invalid_request",
                None,
            ),
            (
                ServiceError::unprocessable("x"),
                422,
                "invalid_request",
                None,
            ),
            (
                ServiceError::Refused(Refusal {
                    code: "too_early",
                    message: "x".into(),
                }),
                422,
                "too_early",
                None,
            ),
            (ServiceError::Unauthorized, 401, "unauthorized", None),
            (ServiceError::Forbidden(Role::Board), 403, "forbidden", None),
            (ServiceError::UnknownOffice, 404, "unknown_office", None),
            (ServiceError::UnknownBooking, 404, "unknown_booking", None),
            (ServiceError::Cancelled, 409, "cancelled", None),
            (ServiceError::RateLimited(3), 429, "rate_limited", Some(3)),
            (
                ServiceError::TooManyStreams(5),
                503,
                "too_many_streams",
                Some(30),
            ),
            (ServiceError::Internal("bug".into()), 500, "internal", None),
            (
                ServiceError::Storage(StoreError::Unavailable("refused".into())),
                503,
                "unavailable",
                Some(5),
            ),
        ];
        for (e, status, code, retry) in cases {
            assert_eq!(
                (e.status().as_u16(), e.code(), e.retry_after()),
                (status, code, retry),
                "{e:?}"
            );
        }
        assert!(!ServiceError::Internal("secret detail".into())
            .to_string()
            .contains("secret"));
    }
}
