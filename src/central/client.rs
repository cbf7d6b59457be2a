//! The kiosk's HTTP client for the central service (`docs/central-api.md`):
//! one method per endpoint, typed answers, and errors that say whether the
//! service was unreachable, refused a check-in for good, asked us to wait,
//! or needs staff to fix the configuration. It holds no state beyond the
//! connection pool; retries and schedules are `sync`'s.
//!
//! Everything the service sends is bounded: each request has a time limit
//! (connecting included, and the event stream's headers), each body is read
//! as a stream up to a size cap (never buffered whole), and redirects are
//! not followed.

use std::time::Duration;

use chrono::NaiveDate;
use reqwest::{header, StatusCode};

use antrean_core::api::{
    is_definitive_refusal, ApiError, BoardSnapshot, CheckinRequest, CheckinResponse, HealthReport,
    PriorityAnswer, PriorityRequest, API_PREFIX,
};
use antrean_core::manifest::Manifest;

/// Largest manifest accepted (a busy office's day is well under 2 MiB).
pub const MAX_MANIFEST_BYTES: usize = 8 << 20;
/// Largest board snapshot accepted.
pub const MAX_BOARD_BYTES: usize = 256 << 10;
/// Largest check-in answer accepted.
pub const MAX_ANSWER_BYTES: usize = 64 << 10;
/// Largest error body read (only its code and message are used).
pub const MAX_ERROR_BYTES: usize = 16 << 10;
/// Time to set up a connection (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for the manifest, the largest answer.
pub const MANIFEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking to the central service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("central service at {url} is unreachable: {reason}. Check the network cable and [central] url; check-ins continue from the cache.")]
    Unreachable { url: String, reason: String },
    #[error("central service did not answer within {0:?}; it will be retried")]
    Timeout(Duration),
    #[error("central service refused the kiosk token (401). Check [central] token or token_file.")]
    Unauthorized,
    #[error("central service does not allow this kiosk's token here (403 {code}: {message}). Check that the token is a `kiosk` token for this office and kiosk id ([office] id, [kiosk] id).")]
    Forbidden { code: String, message: String },
    /// The contract's final answer to a check-in (see
    /// [`is_definitive_refusal`]).
    #[error("central service refused the check-in: {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("central service (or a proxy) asked to wait: HTTP {status}. It will be retried.")]
    Busy {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("central service failed: HTTP {status}. It will be retried.")]
    Server {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("central service answered HTTP {status} {code}: {message}. Not an answer the kiosk expects: check [central] url (a proxy in between?); it is retried slowly.")]
    Unexpected {
        status: u16,
        code: String,
        message: String,
    },
    #[error("central service answered something unreadable: {0}")]
    Malformed(String),
    #[error("central service sent a {what} larger than {limit} bytes; ignored")]
    TooLarge { what: &'static str, limit: usize },
    #[error("[central] url {0:?} is not a valid URL")]
    BadUrl(String),
}

/// How a failed request should be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// With the ordinary backoff, but not before the server's `Retry-After`.
    Soon(Option<Duration>),
    /// A configuration problem (token, role, URL): slowly, and staff must
    /// be told; sending again only helps once someone fixed it.
    Slowly,
    /// Never: the service gave its final answer.
    Never,
}

impl ClientError {
    /// True when the service could not be reached at all (the kiosk is offline).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. } | ClientError::Timeout(_)
        )
    }

    /// How to try again.
    pub fn retry(&self) -> Retry {
        match self {
            ClientError::Refused { .. } => Retry::Never,
            ClientError::Unauthorized
            | ClientError::Forbidden { .. }
            | ClientError::Unexpected { .. }
            | ClientError::BadUrl(_) => Retry::Slowly,
            ClientError::Busy { retry_after, .. } | ClientError::Server { retry_after, .. } => {
                Retry::Soon(*retry_after)
            }
            ClientError::Unreachable { .. }
            | ClientError::Timeout(_)
            | ClientError::Malformed(_)
            | ClientError::TooLarge { .. } => Retry::Soon(None),
        }
    }

    /// True when sending again later can help.
    pub fn is_transient(&self) -> bool {
        self.retry() != Retry::Never
    }

    /// True when staff must fix something (token, role, URL).
    pub fn needs_staff(&self) -> bool {
        self.retry() == Retry::Slowly
    }

    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Timeout(_) => "timeout",
            ClientError::Unauthorized => "unauthorized",
            ClientError::Forbidden { .. } => "forbidden",
            ClientError::Refused { .. } => "refused",
            ClientError::Busy { .. } => "busy",
            ClientError::Server { .. } => "server",
            ClientError::Unexpected { .. } => "unexpected",
            ClientError::Malformed(_) => "malformed",
            ClientError::TooLarge { .. } => "too_large",
            ClientError::BadUrl(_) => "bad_url",
        }
    }
}

/// The result of a manifest request.
#[derive(Debug)]
pub enum ManifestFetch {
    /// `304`: the cached copy is current.
    NotModified,
    Fresh {
        manifest: Box<Manifest>,
        etag: Option<String>,
    },
}

/// A client for one office of one central service.
#[derive(Clone)]
pub struct CentralClient {
    base: String,
    office: String,
    token: String,
    http: reqwest::Client,
    timeout: Duration,
}

impl CentralClient {
    /// `base` is e.g. `https://antrean.example.go.id` (no trailing path).
    pub fn new(base: &str, office: &str, token: &str) -> Result<CentralClient, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        reqwest::Url::parse(&base).map_err(|_| ClientError::BadUrl(base.clone()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // A stalled read of any body, the event stream included (it
            // has a ping every 15 s), fails instead of hanging.
            .read_timeout(Duration::from_secs(60))
            // Below the reference service's idle close (`header_read_timeout_ms`,
            // 10 s): a pooled connection is never reused as the server drops it.
            .pool_idle_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(4)
            .tcp_keepalive(Duration::from_secs(30))
            // Small requests go out at once (no Nagle wait for an ACK);
            // reqwest's default too, said here because latency depends on it.
            .tcp_nodelay(true)
            // The API never redirects; following one could leave https.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("antrean-kiosk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::BadUrl(e.to_string()))?;
        Ok(CentralClient {
            base,
            office: office.to_string(),
            token: token.to_string(),
            http,
            timeout: Duration::from_secs(10),
        })
    }

    /// The per-request time limit for ordinary calls (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> CentralClient {
        self.timeout = timeout;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `{base}/v1/offices/{office}/{rest}`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}{}/{}/{}", self.base, API_PREFIX, self.office, rest)
    }

    fn unreachable(&self, e: reqwest::Error, timeout: Duration) -> ClientError {
        if e.is_timeout() {
            return ClientError::Timeout(timeout);
        }
        ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.without_url().to_string(),
        }
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .bearer_auth(&self.token)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.unreachable(e, timeout))?;
        self.classify(resp).await
    }

    /// Passes 2xx and 304 on; turns everything else into its error.
    async fn classify(&self, resp: reqwest::Response) -> Result<reqwest::Response, ClientError> {
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| antrean_core::backoff::parse_retry_after(v, chrono::Utc::now()));
        let code = status.as_u16();
        Err(match status {
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized,
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::TOO_MANY_REQUESTS => ClientError::Busy {
                status: code,
                retry_after,
            },
            s if s.is_server_error() => ClientError::Server {
                status: code,
                retry_after,
            },
            StatusCode::FORBIDDEN => {
                let e = self.error_body(resp).await;
                ClientError::Forbidden {
                    code: e.error,
                    message: e.message,
                }
            }
            _ => {
                let e = self.error_body(resp).await;
                ClientError::Unexpected {
                    status: code,
                    code: e.error,
                    message: e.message,
                }
            }
        })
    }

    /// The `{"error","message"}` of an error answer, read up to
    /// [`MAX_ERROR_BYTES`]; something else becomes `http_error`.
    async fn error_body(&self, resp: reqwest::Response) -> ApiError {
        let body = read_limited(resp, MAX_ERROR_BYTES, "error body")
            .await
            .unwrap_or_default();
        serde_json::from_slice::<ApiError>(&body).unwrap_or_else(|_| ApiError {
            error: "http_error".into(),
            message: String::from_utf8_lossy(&body).chars().take(200).collect(),
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
        limit: usize,
        what: &'static str,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let bytes = read_limited(resp, limit, what).await.map_err(|e| match e {
            BodyError::TooLarge => ClientError::TooLarge { what, limit },
            BodyError::Read(e) => self.unreachable(e, timeout),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Malformed(e.to_string()))
    }

    /// `GET /manifest?date=` with `If-None-Match` when an ETag is known.
    /// Masked names are dropped: the kiosk neither shows nor keeps them.
    pub async fn manifest(
        &self,
        date: NaiveDate,
        etag: Option<&str>,
    ) -> Result<ManifestFetch, ClientError> {
        let timeout = self.timeout.max(MANIFEST_TIMEOUT);
        let mut req = self
            .http
            .get(self.url("manifest"))
            .query(&[("date", date.to_string())]);
        if let Some(tag) = etag {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        let resp = self.send(req, timeout).await?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(ManifestFetch::NotModified);
        }
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|t| t.len() <= 256)
            .map(str::to_string);
        let mut manifest: Manifest = self
            .json(resp, MAX_MANIFEST_BYTES, "manifest", timeout)
            .await?;
        if manifest.date != date || manifest.office != self.office {
            return Err(ClientError::Malformed(format!(
                "asked for {} {date}, got {} {}",
                self.office, manifest.office, manifest.date
            )));
        }
        for b in &mut manifest.bookings {
            b.name = None;
        }
        Ok(ManifestFetch::Fresh {
            manifest: Box::new(manifest),
            etag,
        })
    }

    /// `POST /checkins`. A `duplicate` answer is a success; only the
    /// contract's definitive answers are [`ClientError::Refused`].
    pub async fn checkin(&self, request: &CheckinRequest) -> Result<CheckinResponse, ClientError> {
        self.post_refusable(
            "checkins",
            request,
            is_definitive_refusal,
            "check-in answer",
        )
        .await
    }

    /// `POST /checkins/{booking}/priority` (an addition of this
    /// implementation). `404 unknown_booking` and `409 cancelled` are
    /// [`ClientError::Refused`]; `409 not_checked_in` stays `Unexpected`
    /// (the check-in has not arrived yet: try later).
    pub async fn priority(
        &self,
        booking: &str,
        request: &PriorityRequest,
    ) -> Result<PriorityAnswer, ClientError> {
        self.post_refusable(
            &format!("checkins/{booking}/priority"),
            request,
            |status, code| {
                matches!(
                    (status, code),
                    (404, "unknown_booking") | (409, "cancelled")
                )
            },
            "priority answer",
        )
        .await
    }

    /// POSTs `body` to `path` and reads the JSON answer; an error answer for
    /// which `refused(status, code)` holds is [`ClientError::Refused`] (the
    /// caller stops retrying), any other stays as `send` sorted it.
    async fn post_refusable<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        refused: impl Fn(u16, &str) -> bool,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let resp = self
            .send(self.http.post(self.url(path)).json(body), self.timeout)
            .await
            .map_err(|e| match e {
                ClientError::Unexpected {
                    status,
                    code,
                    message,
                } if refused(status, &code) => ClientError::Refused {
                    status,
                    code,
                    message,
                },
                e => e,
            })?;
        self.json(resp, MAX_ANSWER_BYTES, what, self.timeout).await
    }

    /// `GET /board`.
    pub async fn board(&self) -> Result<BoardSnapshot, ClientError> {
        let resp = self
            .send(self.http.get(self.url("board")), self.timeout)
            .await?;
        self.json(resp, MAX_BOARD_BYTES, "board", self.timeout)
            .await
    }

    /// `GET /events`, resuming after `last_event_id`. The response's headers
    /// must come within the request time limit; its body is the event
    /// stream, which the caller reads with its own heartbeat limit.
    pub async fn events(
        &self,
        last_event_id: Option<u64>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .http
            .get(self.url("events"))
            .header(header::ACCEPT, "text/event-stream")
            .bearer_auth(&self.token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = tokio::time::timeout(self.timeout, req.send())
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
            .map_err(|e| self.unreachable(e, self.timeout))?;
        self.classify(resp).await
    }

    /// `PUT /kiosks/{kiosk}/health`; returns the server's `Date` header.
    pub async fn health(
        &self,
        kiosk: &str,
        report: &HealthReport,
    ) -> Result<Option<String>, ClientError> {
        let resp = self
            .send(
                self.http
                    .put(self.url(&format!("kiosks/{kiosk}/health")))
                    .json(report),
                self.timeout,
            )
            .await?;
        Ok(resp
            .headers()
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .filter(|d| d.len() <= 64)
            .map(str::to_string))
    }
}

/// Why a body could not be read.
#[derive(Debug)]
enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

/// Reads a body chunk by chunk, giving up as soon as it passes `limit`
/// (at once when `Content-Length` says it will).
async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
    what: &'static str,
) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        tracing::debug!(what, limit, "body announced larger than the cap");
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(
        resp.content_length()
            .map(|n| n as usize)
            .unwrap_or(0)
            .min(limit),
    );
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
