//! The kiosk's HTTP client for the central service (`docs/central-api.md`):
//! one method per endpoint, typed answers, and errors that say whether the
//! service was unreachable, refused us, or answered nonsense. It holds no
//! state beyond the connection pool; retries and schedules are `sync`'s.

use std::time::Duration;

use chrono::NaiveDate;
use reqwest::{header, StatusCode};

use super::api::{
    ApiError, BoardSnapshot, CheckinRequest, CheckinResponse, HealthReport, API_PREFIX,
};
use crate::core::manifest::Manifest;

/// What went wrong talking to the central service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("central service at {url} is unreachable: {reason}. Check the network cable and [central] url; check-ins continue from the cache.")]
    Unreachable { url: String, reason: String },
    #[error("central service did not answer within {0:?}")]
    Timeout(Duration),
    #[error("central service refused the kiosk token (401). Check [central] token or token_file.")]
    Unauthorized,
    #[error("central service refused the request: {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("central service failed: HTTP {status}. It will be retried.")]
    Server { status: u16 },
    #[error("central service answered something unreadable: {0}")]
    Malformed(String),
    #[error("[central] url {0:?} is not a valid URL")]
    BadUrl(String),
}

impl ClientError {
    /// True when the service could not be reached at all (the kiosk is offline).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. } | ClientError::Timeout(_)
        )
    }

    /// True when sending again later can help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. }
                | ClientError::Timeout(_)
                | ClientError::Server { .. }
                | ClientError::Malformed(_)
                | ClientError::Unauthorized
        )
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
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
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

    fn unreachable(&self, e: reqwest::Error) -> ClientError {
        if e.is_timeout() {
            return ClientError::Timeout(self.timeout);
        }
        ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.without_url().to_string(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .bearer_auth(&self.token)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized);
        }
        if status.is_server_error() {
            return Err(ClientError::Server {
                status: status.as_u16(),
            });
        }
        let body = resp.text().await.unwrap_or_default();
        let err: ApiError = serde_json::from_str(&body).unwrap_or(ApiError {
            error: "http_error".into(),
            message: body.chars().take(200).collect(),
        });
        Err(ClientError::Refused {
            status: status.as_u16(),
            code: err.error,
            message: err.message,
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Malformed(e.to_string()))
    }

    /// `GET /manifest?date=` with `If-None-Match` when an ETag is known.
    pub async fn manifest(
        &self,
        date: NaiveDate,
        etag: Option<&str>,
    ) -> Result<ManifestFetch, ClientError> {
        let mut req = self
            .http
            .get(self.url("manifest"))
            .query(&[("date", date.to_string())]);
        if let Some(tag) = etag {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        let resp = self.send(req).await?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(ManifestFetch::NotModified);
        }
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let manifest: Manifest = self.json(resp).await?;
        if manifest.date != date || manifest.office != self.office {
            return Err(ClientError::Malformed(format!(
                "asked for {} {date}, got {} {}",
                self.office, manifest.office, manifest.date
            )));
        }
        Ok(ManifestFetch::Fresh {
            manifest: Box::new(manifest),
            etag,
        })
    }

    /// `POST /checkins`. A `duplicate` answer is a success.
    pub async fn checkin(&self, request: &CheckinRequest) -> Result<CheckinResponse, ClientError> {
        let resp = self
            .send(self.http.post(self.url("checkins")).json(request))
            .await?;
        self.json(resp).await
    }

    /// `GET /board`.
    pub async fn board(&self) -> Result<BoardSnapshot, ClientError> {
        let resp = self.send(self.http.get(self.url("board"))).await?;
        self.json(resp).await
    }

    /// `GET /events`, resuming after `last_event_id`. The response body is
    /// the event stream; no overall timeout applies to it.
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
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        match resp.status() {
            s if s.is_success() => Ok(resp),
            StatusCode::UNAUTHORIZED => Err(ClientError::Unauthorized),
            s => Err(ClientError::Server { status: s.as_u16() }),
        }
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
            )
            .await?;
        Ok(resp
            .headers()
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string))
    }
}
