//! Prometheus metrics of one instance (OpenMetrics text at `GET /metrics`,
//! for an admin token of every office): per office, bookings made,
//! check-ins recorded and numbers called (counters), and the event streams
//! open now (a gauge, read at each scrape); per route template, method and
//! status class, request latency (a histogram). Counted from the answers
//! of the HTTP API by one middleware ([`track`]), so the handlers and the
//! domain stay untouched; labels come from the configuration and the
//! router's templates, never from raw paths, so their number is bounded.
//! Each instance counts its own requests: Prometheus scrapes every
//! instance and sums. No storage and no rules here.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::auth::{self, Role};
use crate::error::ServiceError;
use crate::Central;

/// An office of the configuration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OfficeLabel {
    pub office: String,
}

/// A request as the latency histogram tells them apart.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// The router's template (`/v1/offices/:office/bookings`), or
    /// `unmatched`.
    pub route: String,
    pub method: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status: String,
}

/// Latency buckets in seconds: 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// The figures of one instance.
pub struct Metrics {
    registry: Registry,
    offices: HashSet<String>,
    pub bookings: Family<OfficeLabel, Counter>,
    pub checkins: Family<OfficeLabel, Counter>,
    pub calls: Family<OfficeLabel, Counter>,
    pub streams: Family<OfficeLabel, Gauge>,
    pub requests: Family<RouteLabel, Histogram, fn() -> Histogram>,
}

impl Metrics {
    /// Metrics of a service holding `offices` (each starts at zero, so
    /// that a scrape lists every office before its first booking).
    pub fn new<'a>(offices: impl IntoIterator<Item = &'a str>) -> Metrics {
        let mut registry = Registry::with_prefix("antrean_central");
        let bookings = Family::<OfficeLabel, Counter>::default();
        let checkins = Family::<OfficeLabel, Counter>::default();
        let calls = Family::<OfficeLabel, Counter>::default();
        let streams = Family::<OfficeLabel, Gauge>::default();
        let requests = Family::<RouteLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "bookings",
            "Bookings made (201 answers of POST bookings), per office",
            bookings.clone(),
        );
        registry.register(
            "checkins",
            "Check-ins recorded (201 answers of POST checkins; repeats not counted), per office",
            checkins.clone(),
        );
        registry.register(
            "calls",
            "Numbers called (200 answers of POST counters/{c}/next), per office",
            calls.clone(),
        );
        registry.register(
            "sse_subscribers",
            "Event streams open on this instance, per office",
            streams.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the answer's head, per route template, method and status class",
            requests.clone(),
        );
        let offices: HashSet<String> = offices.into_iter().map(str::to_string).collect();
        for o in &offices {
            let l = OfficeLabel { office: o.clone() };
            let _ = bookings.get_or_create(&l);
            let _ = checkins.get_or_create(&l);
            let _ = calls.get_or_create(&l);
            let _ = streams.get_or_create(&l);
        }
        Metrics {
            registry,
            offices,
            bookings,
            checkins,
            calls,
            streams,
            requests,
        }
    }

    /// The metrics of `central`'s offices.
    pub fn of(central: &Central) -> Arc<Metrics> {
        Arc::new(Metrics::new(
            central.settings().offices.iter().map(|o| o.id.as_str()),
        ))
    }

    /// Counts one answer: `route` is the router's template, `path` the
    /// request's path (for the office).
    pub fn record(&self, method: &Method, route: &str, path: &str, status: StatusCode) {
        if let Some(office) = office_of(path).filter(|o| self.offices.contains(*o)) {
            if let Some(family) = self.domain_counter(method, route, path, status) {
                family
                    .get_or_create(&OfficeLabel {
                        office: office.to_string(),
                    })
                    .inc();
            }
        }
    }

    /// The domain counter an answer adds to, if any.
    fn domain_counter(
        &self,
        method: &Method,
        route: &str,
        path: &str,
        status: StatusCode,
    ) -> Option<&Family<OfficeLabel, Counter>> {
        if method != Method::POST {
            return None;
        }
        match (route, status) {
            ("/v1/offices/:office/bookings", StatusCode::CREATED) => Some(&self.bookings),
            ("/v1/offices/:office/checkins", StatusCode::CREATED) => Some(&self.checkins),
            ("/v1/offices/:office/counters/:counter/:action", StatusCode::OK)
                if path.ends_with("/next") =>
            {
                Some(&self.calls)
            }
            _ => None,
        }
    }

    /// The OpenMetrics text, with the stream gauges read from `central`.
    pub fn render(&self, central: &Central) -> String {
        for o in &self.offices {
            let open = i64::try_from(central.open_streams(o)).unwrap_or(i64::MAX);
            self.streams
                .get_or_create(&OfficeLabel { office: o.clone() })
                .set(open);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The office a path names (`/v1/offices/{office}/...`).
fn office_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/offices/")?;
    rest.split('/').next().filter(|o| !o.is_empty())
}

fn status_class(s: StatusCode) -> &'static str {
    match s.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The middleware that times every request and counts the domain's
/// answers (an event stream's time is to its head, not its end).
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    m.requests
        .get_or_create(&RouteLabel {
            route: route.clone(),
            method: method.as_str().to_string(),
            status: status_class(status).to_string(),
        })
        .observe(start.elapsed().as_secs_f64());
    m.record(&method, &route, &path, status);
    resp
}

/// `GET /metrics`: the figures, for an admin token of every office (they
/// cover every office; `403` for any other token).
pub async fn endpoint(
    State(c): State<Central>,
    Extension(m): Extension<Arc<Metrics>>,
    headers: HeaderMap,
) -> Result<Response, ServiceError> {
    let token = auth::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    let who = c.authenticate(token).await?;
    if who.role != Role::Admin || who.office != auth::ALL_OFFICES {
        return Err(ServiceError::Forbidden(who.role));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.render(&c),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_count_for_their_office_only_when_the_domain_changed() {
        let bookings = "/v1/offices/:office/bookings";
        let checkins = "/v1/offices/:office/checkins";
        let counter = "/v1/offices/:office/counters/:counter/:action";
        // (method, route, path, status, bookings, checkins, calls) of kota-bogor
        let cases = [
            (
                Method::POST,
                bookings,
                "/v1/offices/kota-bogor/bookings",
                201,
                1,
                0,
                0,
            ),
            (
                Method::POST,
                bookings,
                "/v1/offices/kota-bogor/bookings",
                409,
                0,
                0,
                0,
            ),
            (
                Method::POST,
                bookings,
                "/v1/offices/elsewhere/bookings",
                201,
                0,
                0,
                0,
            ),
            (
                Method::POST,
                checkins,
                "/v1/offices/kota-bogor/checkins",
                201,
                0,
                1,
                0,
            ),
            (
                Method::POST,
                checkins,
                "/v1/offices/kota-bogor/checkins",
                200,
                0,
                0,
                0,
            ),
            (
                Method::POST,
                counter,
                "/v1/offices/kota-bogor/counters/1/next",
                200,
                0,
                0,
                1,
            ),
            (
                Method::POST,
                counter,
                "/v1/offices/kota-bogor/counters/1/next",
                204,
                0,
                0,
                0,
            ),
            (
                Method::POST,
                counter,
                "/v1/offices/kota-bogor/counters/1/recall",
                200,
                0,
                0,
                0,
            ),
            (
                Method::GET,
                "/v1/offices/:office/board",
                "/v1/offices/kota-bogor/board",
                200,
                0,
                0,
                0,
            ),
        ];
        for (method, route, path, status, b, ch, ca) in cases {
            let m = Metrics::new(["kota-bogor"]);
            m.record(&method, route, path, StatusCode::from_u16(status).unwrap());
            let l = OfficeLabel {
                office: "kota-bogor".into(),
            };
            let got = (
                m.bookings.get_or_create(&l).get(),
                m.checkins.get_or_create(&l).get(),
                m.calls.get_or_create(&l).get(),
            );
            assert_eq!(got, (b, ch, ca), "{method} {path} {status}");
        }
    }

    #[test]
    fn offices_come_from_the_path() {
        for (path, want) in [
            ("/v1/offices/kota-bogor/bookings", Some("kota-bogor")),
            ("/v1/offices/x", Some("x")),
            ("/v1/offices/", None),
            ("/metrics", None),
        ] {
            assert_eq!(office_of(path), want, "{path}");
        }
    }
}
