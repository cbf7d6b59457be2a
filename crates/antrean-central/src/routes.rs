//! The central service over HTTP: one handler per endpoint of
//! `docs/central-api.md`, each authenticating the bearer token (`401`),
//! checking the role (`403`), then doing its work on the blocking pool.
//! The router adds the request timeout (not on the event stream), the
//! body limit and the staff page's security headers; `serve` runs it
//! through the connection limits of `limits.rs`.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{self, Action, Principal};
use crate::store::StoredEvent;
use crate::{ApiFailure, ApiResult, Central};
use antrean_core::api::{BookingRequest, CheckinRequest, HealthReport};
use antrean_core::booking::{is_booking_code, parse_date};
use antrean_core::manifest::{BookingStatus, Manifest};

/// Reads a JSON body; bad JSON is `400 invalid_request`.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("bad JSON: {e}"),
        )
    })
}

/// The bearer token's principal (`401` without a valid one).
async fn who(c: &Central, headers: &HeaderMap) -> ApiResult<Principal> {
    let token = auth::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .map(str::to_string);
    let Some(token) = token else {
        return Err(ApiFailure::unauthorized());
    };
    c.blocking(move |c| c.authenticate(Some(&token))).await
}

/// Authenticates and checks the role for an action that needs no body.
async fn guard(
    c: &Central,
    headers: &HeaderMap,
    office: &str,
    action: Action<'_>,
) -> ApiResult<Principal> {
    let p = who(c, headers).await?;
    c.authorize(&p, office, action)?;
    Ok(p)
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
    guard(&c, &headers, &office, Action::Manifest).await?;
    let date = match q.date.as_deref() {
        None => c.today(),
        Some(d) => parse_date(d).ok_or_else(|| {
            ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "date must be YYYY-MM-DD",
            )
        })?,
    };
    let m = c.blocking(move |c| c.manifest(date)).await?;
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
    c.authorize(&p, &office, Action::Checkin { kiosk: &req.kiosk })?;
    if !is_booking_code(&req.booking) {
        return Err(ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "booking code has a bad shape",
        ));
    }
    let (status, answer) = c.blocking(move |c| c.checkin(&req)).await?;
    Ok((status, Json(answer)).into_response())
}

async fn get_board(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    guard(&c, &headers, &office, Action::Board).await?;
    Ok(Json(c.blocking(|c| c.board()).await?).into_response())
}

async fn get_events(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    guard(&c, &headers, &office, Action::Events).await?;
    let slot = c.stream_slot(&office)?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // Subscribe before reading the log: nothing falls between the two.
    let live = c.subscribe();
    let (first, upto): (Vec<StoredEvent>, u64) = c
        .blocking(move |c| {
            Ok(match last_id {
                None => (vec![], c.seq()?),
                Some(id) => match c.replay(id)? {
                    Some(events) => {
                        let upto = events.last().map(|e| e.seq).unwrap_or(id);
                        (events, upto)
                    }
                    None => {
                        let seq = c.seq()?;
                        let reset = StoredEvent {
                            seq,
                            date: c.today(),
                            kind: "reset".into(),
                            data: serde_json::json!({"seq": seq}).to_string(),
                        };
                        (vec![reset], seq)
                    }
                },
            })
        })
        .await?;
    let to_sse = |e: StoredEvent| -> Result<SseEvent, Infallible> {
        Ok(SseEvent::default()
            .id(e.seq.to_string())
            .event(e.kind)
            .data(e.data))
    };
    let live = tokio_stream::wrappers::BroadcastStream::new(live)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(move |r| std::future::ready(r.ok().filter(|e| e.seq > upto)))
        .map(to_sse);
    let mut closing = c.closing();
    let stream = stream::iter(first.into_iter().map(to_sse))
        .chain(live)
        .take_until(async move {
            let _ = closing.wait_for(|c| *c).await;
        })
        // The stream holds its slot until the client goes or the server stops.
        .map(move |e| {
            let _held = &slot;
            e
        });
    let ping = c.settings().ping_every.min(Duration::from_secs(15));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(ping).text("ping")))
}

async fn put_health(
    State(c): State<Central>,
    Path((office, kiosk)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    guard(&c, &headers, &office, Action::Health { kiosk: &kiosk }).await?;
    let report: HealthReport = body(&bytes)?;
    c.blocking(move |c| c.health(&kiosk, &report)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_booking(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    guard(&c, &headers, &office, Action::Book).await?;
    let req: BookingRequest = body(&bytes)?;
    let answer = c.blocking(move |c| c.book(&req)).await?;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn post_cancel(
    State(c): State<Central>,
    Path((office, booking)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    guard(&c, &headers, &office, Action::Cancel).await?;
    if !is_booking_code(&booking) {
        return Err(ApiFailure::new(
            StatusCode::NOT_FOUND,
            "unknown_booking",
            "no such booking",
        ));
    }
    Ok(Json(c.blocking(move |c| c.cancel(&booking)).await?))
}

async fn post_counter(
    State(c): State<Central>,
    Path((office, counter, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    guard(&c, &headers, &office, Action::Counter).await?;
    match action.as_str() {
        "next" => Ok(match c.blocking(move |c| c.next(&counter)).await? {
            Some(v) => (StatusCode::OK, Json(v)).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        }),
        "recall" | "done" | "skip" => Ok(Json(
            c.blocking(move |c| c.counter_action(&counter, &action))
                .await?,
        )
        .into_response()),
        _ => Err(ApiFailure::new(
            StatusCode::NOT_FOUND,
            "unknown_action",
            "use next, recall, done or skip",
        )),
    }
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
    guard(&c, &headers, &office, Action::Notice).await?;
    let n: NoticeBody = body(&bytes)?;
    c.blocking(move |c| c.notice(n.text)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Staff overview for the page: who waits, what counters serve, kiosks.
async fn get_staff(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    guard(&c, &headers, &office, Action::StaffView).await?;
    c.blocking(|c| {
        let board = c.board()?;
        let today = c.today();
        let waiting: Vec<serde_json::Value> = c
            .bookings_on(today)?
            .into_iter()
            .filter(|b| b.status == BookingStatus::CheckedIn)
            .map(|b| serde_json::json!({"number": b.number, "slot": b.slot, "service": b.service}))
            .collect();
        let kiosks: Vec<serde_json::Value> = c
            .kiosk_health()?
            .into_iter()
            .map(|(k, r, at)| serde_json::json!({"kiosk": k, "printer": r.printer.state, "pending": r.pending_checkins, "at": at}))
            .collect();
        Ok(Json(
            serde_json::json!({"date": today.to_string(), "board": board, "waiting": waiting, "kiosks": kiosks}),
        ))
    })
    .await
}

/// Escapes text for HTML (the office's name and id come from configuration).
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn staff_page(State(c): State<Central>) -> Html<String> {
    Html(
        include_str!("staff.html")
            .replace("{{OFFICE_ID}}", &html_escape(&c.settings().office_id))
            .replace("{{OFFICE_NAME}}", &html_escape(&c.settings().office_name)),
    )
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

async fn fallback() -> ApiFailure {
    ApiFailure::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
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
        .fallback(fallback)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ));
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    timed
        // Event streams live long: no request timeout on them.
        .route(&format!("{office}/events"), get(get_events))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .with_state(central)
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
