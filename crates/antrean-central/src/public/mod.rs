//! The public pages (additions of this implementation; no token, no
//! personal data): the office's official page `/p/{office}`, a number's
//! live status `/p/{office}/{date}/{number}` (what the ticket's status QR
//! opens), its JSON `/p/{office}/status/{date}/{number}`, and the office's
//! board events `/p/{office}/events` (the same typed core events as the
//! kiosks' stream). Cacheable (`Cache-Control: public`), rate limited per
//! client address with the write limits' rate (`[server]
//! writes_per_minute`, `write_burst`), public streams capped per office
//! (`max_streams_per_office`, apart from the devices' streams) and ended
//! after [`STREAM_LIFETIME`] (browsers reconnect with `Last-Event-ID`).
//! Unknown office, date or number: a bilingual 404 page. The data is
//! `view.rs`, the HTML `html.rs`; the script `p.js` keeps the status page
//! live. Merged into the router by `routes.rs`.

pub mod html;
pub mod view;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::limits::{StreamSlots, WriteLimiter};
use crate::{fanout, Central, Office, ServiceError};
use antrean_core::booking::parse_date;
use html::Lang;

/// A public event stream ends after this (the browser reconnects with
/// `Last-Event-ID` and misses nothing): no connection is held forever.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Client addresses the rate limiter keeps before it forgets idle ones.
const MAX_TRACKED_CLIENTS: usize = 10_000;

/// What the public routes share.
#[derive(Clone)]
struct Public {
    central: Central,
    /// Requests per client address.
    rate: Arc<governor::DefaultKeyedRateLimiter<IpAddr>>,
    /// Public streams per office (apart from the devices' own).
    streams: Arc<StreamSlots>,
}

impl Public {
    /// The client's address: the peer, or behind a reverse proxy on the
    /// same host (a loopback peer) the last `X-Forwarded-For` hop.
    fn client(peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip());
        if peer.is_loopback() {
            let forwarded = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok());
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        peer
    }

    /// `Ok` when the client may ask now, else `429` with `Retry-After`.
    fn admit(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Result<(), Refused> {
        use governor::clock::{Clock, DefaultClock};
        let ip = Public::client(peer, headers);
        // Bounded memory: forget addresses that have not asked lately.
        if self.rate.len() > MAX_TRACKED_CLIENTS {
            self.rate.retain_recent();
        }
        self.rate.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            Refused::Service(ServiceError::RateLimited(secs))
        })
    }

    fn office(&self, id: &str) -> Result<Office, Refused> {
        self.central.office(id).ok_or(Refused::NotFound)
    }
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn cached(max_age: u32, content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CACHE_CONTROL, format!("public, max-age={max_age}")),
            (header::CONTENT_TYPE, content_type.to_string()),
        ],
        body,
    )
        .into_response()
}

const HTML: &str = "text/html; charset=utf-8";

/// The bilingual 404 page.
fn not_found() -> Response {
    let mut r = cached(60, HTML, html::not_found_page());
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// Why a public request is not answered with its page.
enum Refused {
    /// The bilingual 404 page.
    NotFound,
    /// An error as the API answers it (JSON, status, `Retry-After`).
    Service(ServiceError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotFound => not_found(),
            Refused::Service(e) => e.into_response(),
        }
    }
}

impl From<ServiceError> for Refused {
    fn from(e: ServiceError) -> Refused {
        Refused::Service(e)
    }
}

type Peer = Option<ConnectInfo<SocketAddr>>;

async fn office_page(
    State(p): State<Public>,
    peer: Peer,
    Path(office): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        p.admit(peer.map(|c| c.0), &headers)?;
        let o = p.office(&office)?;
        let view = o.public_office().await?;
        Ok::<_, Refused>(cached(
            30,
            HTML,
            html::office_page(Lang::from_query(q.lang.as_deref()), &view),
        ))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// The office, date and number of a status path, or the 404 page.
async fn status_of(
    p: &Public,
    office: &str,
    date: &str,
    number: &str,
) -> Result<(Office, view::PublicStatus), Refused> {
    let o = p.office(office)?;
    let date = parse_date(date).ok_or(Refused::NotFound)?;
    if !view::is_public_number(number) {
        return Err(Refused::NotFound);
    }
    let status = o.public_status(date, number).await?;
    Ok((o, status.ok_or(Refused::NotFound)?))
}

async fn status_page(
    State(p): State<Public>,
    peer: Peer,
    Path((office, date, number)): Path<(String, String, String)>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        p.admit(peer.map(|c| c.0), &headers)?;
        let (o, s) = status_of(&p, &office, &date, &number).await?;
        let today = s.date == o.today().to_string();
        Ok::<_, Refused>(cached(
            5,
            HTML,
            html::status_page(Lang::from_query(q.lang.as_deref()), &s, today),
        ))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn status_json(
    State(p): State<Public>,
    peer: Peer,
    Path((office, date, number)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        p.admit(peer.map(|c| c.0), &headers)?;
        let (_, s) = match status_of(&p, &office, &date, &number).await {
            Ok(found) => found,
            // The JSON endpoint answers JSON, not the page.
            Err(Refused::NotFound) => return Err(ServiceError::NotFound.into()),
            Err(r) => return Err(r),
        };
        Ok::<_, Refused>(cached(5, "application/json", Json(s)))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn events(
    State(p): State<Public>,
    peer: Peer,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        p.admit(peer.map(|c| c.0), &headers)?;
        let o = p.office(&office)?;
        let limit = p.central.settings().limits.max_streams_per_office;
        let slot = p
            .streams
            .take(o.id())
            .ok_or(ServiceError::TooManyStreams(limit))?;
        let last_id = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        // Subscribe before reading the log: nothing falls between the two.
        let live = o.subscribe();
        let (first, upto) = o.stream_start(last_id).await?;
        // Ends when the server stops or the stream has lived long enough.
        let (end, ending) = tokio::sync::watch::channel(false);
        let mut stopping = p.central.fanout().closing();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(STREAM_LIFETIME) => {}
                _ = stopping.wait_for(|c| *c) => {}
                _ = end.closed() => return,
            }
            let _ = end.send(true);
        });
        let ping = p.central.settings().ping_every.min(Duration::from_secs(15));
        let sse = fanout::event_stream(first, upto, live, ending, slot, ping);
        Ok::<_, Refused>(
            (
                [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
                sse,
            )
                .into_response(),
        )
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn p_js() -> Response {
    cached(3600, "text/javascript; charset=utf-8", include_str!("p.js"))
}

async fn p_css() -> Response {
    cached(3600, "text/css; charset=utf-8", include_str!("p.css"))
}

/// The public routes with their own layers (timeout but for the stream,
/// body limit, the staff page's CSP and security headers; caching is each
/// answer's own).
pub fn router(central: Central) -> Router {
    let limits = central.settings().limits.clone();
    let public = Public {
        rate: Arc::new(WriteLimiter::keyed_quota(&limits)),
        streams: StreamSlots::new(limits.max_streams_per_office),
        central,
    };
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    Router::new()
        .route("/p.js", get(p_js))
        .route("/p.css", get(p_css))
        .route("/p/:office", get(office_page))
        .route("/p/:office/:date/:number", get(status_page))
        .route("/p/:office/status/:date/:number", get(status_json))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .route("/p/:office/events", get(events))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(header(header::CONTENT_SECURITY_POLICY, crate::routes::CSP))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .with_state(public)
}
