//! The central service over HTTP: one handler per endpoint of
//! `docs/central-api.md`, each authenticating the bearer token (`401`),
//! checking the role for the office its path names (`403`; `404` for an
//! office the service does not hold), reading the request, then calling
//! that office of the service (`service/`), whose storage never runs on
//! the async workers. Beside them: the offices a token may see (for the
//! staff page), liveness and readiness for a load balancer (no token), the
//! instance's metrics (`metrics.rs`, which also times every request).
//! The router adds the request timeout (not on the event stream), the
//! body limit and the staff page's security headers; `serve` runs it
//! through the connection limits of `limits.rs`. No rules and no SQL here.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::stream::Stream;
use serde::Deserialize;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{self, Action, Principal};
use crate::error::{ServiceError, ServiceResult};
use crate::fanout;
use crate::service::{CallAnswer, CancelAnswer, CounterAnswer, Office, OfficeList, StaffView};
use crate::store::{CounterAction, Finish};
use crate::Central;
use antrean_core::api::{BoardSnapshot, BookingRequest, CheckinRequest, HealthReport};
use antrean_core::booking::{is_booking_code, parse_date};
use antrean_core::manifest::Manifest;

type ApiResult<T> = ServiceResult<T>;

/// Reads a JSON body; bad JSON is `400 invalid_request`.
pub(crate) fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| ServiceError::BadRequest(format!("bad JSON: {e}")))
}

/// The bearer token's principal (`401` without a valid one).
pub(crate) async fn who(c: &Central, headers: &HeaderMap) -> ApiResult<Principal> {
    let token = auth::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    c.authenticate(token).await
}

/// Authenticates and checks the role at `office` for an action that
/// needs no body; the office to work on.
pub(crate) async fn guard(
    c: &Central,
    headers: &HeaderMap,
    office: &str,
    action: Action<'_>,
) -> ApiResult<Office> {
    let p = who(c, headers).await?;
    c.authorize(&p, office, action)
}

#[derive(Deserialize)]
struct DateQuery {
    date: Option<String>,
}

fn etag_of(m: &Manifest) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(m).unwrap_or_default().hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

async fn get_manifest(
    State(c): State<Central>,
    Path(office): Path<String>,
    Query(q): Query<DateQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let o = guard(&c, &headers, &office, Action::Manifest).await?;
    let date = match q.date.as_deref() {
        None => o.today(),
        Some(d) => parse_date(d)
            .ok_or_else(|| ServiceError::BadRequest("date must be YYYY-MM-DD".into()))?,
    };
    let m = o.manifest(date).await?;
    let tag = etag_of(&m);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    Ok(([(header::ETAG, tag)], Json(m)).into_response())
}

async fn post_checkin(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    let p = who(&c, &headers).await?;
    let req: CheckinRequest = body(&bytes)?;
    let o = c.authorize(&p, &office, Action::Checkin { kiosk: &req.kiosk })?;
    if !is_booking_code(&req.booking) {
        return Err(ServiceError::BadRequest(
            "booking code has a bad shape".into(),
        ));
    }
    let answer = o.checkin(&req).await?;
    let status = if answer.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(answer)).into_response())
}

async fn get_board(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<BoardSnapshot>> {
    let o = guard(&c, &headers, &office, Action::Board).await?;
    Ok(Json(o.board().await?))
}

async fn get_events(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let o = guard(&c, &headers, &office, Action::Events).await?;
    let slot = c.stream_slot(o.id())?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // Subscribe before reading the log: nothing falls between the two.
    let live = o.subscribe();
    let (first, upto) = o.stream_start(last_id).await?;
    let ping = c.settings().ping_every.min(Duration::from_secs(15));
    Ok(fanout::event_stream(
        first,
        upto,
        live,
        c.fanout().closing(),
        slot,
        ping,
    ))
}

async fn put_health(
    State(c): State<Central>,
    Path((office, kiosk)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let o = guard(&c, &headers, &office, Action::Health { kiosk: &kiosk }).await?;
    let report: HealthReport = body(&bytes)?;
    o.health(&kiosk, &report).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_booking(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    let o = guard(&c, &headers, &office, Action::Book).await?;
    let req: BookingRequest = body(&bytes)?;
    let answer = o.book(&req).await?;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn post_cancel(
    State(c): State<Central>,
    Path((office, booking)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<CancelAnswer>> {
    let o = guard(&c, &headers, &office, Action::Cancel).await?;
    if !is_booking_code(&booking) {
        return Err(ServiceError::UnknownBooking);
    }
    Ok(Json(o.cancel(&booking).await?))
}

async fn post_counter(
    State(c): State<Central>,
    Path((office, counter, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let o = guard(&c, &headers, &office, Action::Counter).await?;
    let action = match action.as_str() {
        "next" => {
            let called: Option<CallAnswer> = o.next(&counter).await?;
            return Ok(match called {
                Some(v) => (StatusCode::OK, Json(v)).into_response(),
                None => StatusCode::NO_CONTENT.into_response(),
            });
        }
        "recall" => CounterAction::Recall,
        "done" => CounterAction::Finish(Finish::Done),
        "skip" => CounterAction::Finish(Finish::Skip),
        _ => return Err(ServiceError::UnknownAction),
    };
    let answer: CounterAnswer = o.counter_action(&counter, action).await?;
    Ok(Json(answer).into_response())
}

#[derive(Deserialize)]
struct NoticeBody {
    #[serde(default)]
    text: Option<String>,
}

async fn post_notice(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let o = guard(&c, &headers, &office, Action::Notice).await?;
    let n: NoticeBody = body(&bytes)?;
    o.notice(n.text).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Staff overview for the page: who waits, what counters serve, kiosks.
async fn get_staff(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<StaffView>> {
    let o = guard(&c, &headers, &office, Action::StaffView).await?;
    Ok(Json(o.staff_view().await?))
}

/// `GET /v1/offices`: the offices this token may see (every office for an
/// admin token of all offices, else its own), for the staff page's choice.
async fn get_offices(State(c): State<Central>, headers: HeaderMap) -> ApiResult<Json<OfficeList>> {
    let p = who(&c, &headers).await?;
    Ok(Json(c.visible_offices(&p)))
}

/// `GET /livez`: the process answers (no token; for the load balancer).
async fn livez() -> Response {
    (StatusCode::OK, Json(serde_json::json!({"status": "live"}))).into_response()
}

/// How long readiness may take before it counts as not ready.
const READY_WITHIN: Duration = Duration::from_secs(3);

/// `GET /readyz`: `200` when this instance can serve (its database answers
/// and it hears the other instances' events), else `503` with why (no
/// token; a load balancer stops sending requests here meanwhile).
async fn readyz(State(c): State<Central>) -> Response {
    let why = match tokio::time::timeout(READY_WITHIN, c.ready()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(match e {
            ServiceError::Storage(s) => s.to_string(),
            other => other.to_string(),
        }),
        Err(_) => Some(format!(
            "the database did not answer within {READY_WITHIN:?}"
        )),
    };
    match why {
        None => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))).into_response(),
        Some(why) => {
            tracing::debug!(reason = %why, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
                Json(serde_json::json!({"status": "not_ready", "error": "not_ready", "message": why})),
            )
                .into_response()
        }
    }
}

async fn staff_page() -> Html<&'static str> {
    Html(include_str!("staff.html"))
}

async fn staff_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("staff.js"),
    )
}

async fn staff_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("staff.css"),
    )
}

async fn fallback() -> ServiceError {
    ServiceError::NotFound
}

/// The staff page's Content-Security-Policy: its own script, style and API
/// only; no frames, no inline code.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The HTTP routes, with the request timeout (not on the event stream),
/// the body limit and security headers on every answer.
pub fn router(central: Central) -> Router {
    let office = "/v1/offices/:office";
    let limits = central.settings().limits.clone();
    let timed = Router::new()
        .route("/", get(staff_page))
        .route("/staff.js", get(staff_js))
        .route("/staff.css", get(staff_css))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::endpoint))
        .route("/v1/offices", get(get_offices))
        .route(&format!("{office}/manifest"), get(get_manifest))
        .route(&format!("{office}/checkins"), post(post_checkin))
        .route(&format!("{office}/board"), get(get_board))
        .route(&format!("{office}/kiosks/:kiosk/health"), put(put_health))
        .route(&format!("{office}/bookings"), post(post_booking))
        .route(
            &format!("{office}/bookings/:booking/cancel"),
            post(post_cancel),
        )
        .route(
            &format!("{office}/counters/:counter/:action"),
            post(post_counter),
        )
        .route(&format!("{office}/notice"), post(post_notice))
        .route(&format!("{office}/staff"), get(get_staff))
        .merge(crate::priority_routes::routes())
        .fallback(fallback)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ));
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    let metrics = crate::metrics::Metrics::of(&central);
    timed
        // Event streams live long: no request timeout on them.
        .route(&format!("{office}/events"), get(get_events))
        .layer(axum::Extension(metrics.clone()))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .with_state(central.clone())
        // The public pages (no token), with their own caching and limits.
        .merge(crate::public::router(central))
}

/// Serves until `shutdown` resolves, within the connection limits; open
/// event streams end when it does.
pub async fn serve(
    listener: tokio::net::TcpListener,
    central: Central,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = central.settings().limits.clone();
    let app = router(central.clone());
    crate::limits::serve_connections(listener, app, &limits, shutdown, move || {
        // Event streams never end by themselves: end them so that the
        // graceful shutdown can finish.
        central.close_streams();
    })
    .await
}
