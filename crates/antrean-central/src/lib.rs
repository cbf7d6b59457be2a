//! `antrean-central`: the reference central booking service, the other side
//! of `docs/central-api.md`. Bookings with queue numbers and signed `AQ1.`
//! tokens, idempotent check-ins, counters calling in order, the board and
//! its event stream, kiosk health, a staff page; tokens with roles. SQLite
//! storage survives restarts. The demo, the kiosk's embedded mode and the
//! tests run it for real on 127.0.0.1. Shutdown is injected.
//!
//! This file holds the service's operations (`Central`), called from the
//! routes on tokio's blocking pool. Rules live in `rules.rs`, tokens and
//! roles in `auth.rs`, connection hygiene in `limits.rs`, HTTP in
//! `routes.rs`, SQL in `store.rs`.

pub mod auth;
pub mod config;
pub mod demo;
pub mod keys;
pub mod limits;
pub mod maintenance;
pub mod routes;
pub mod rules;
pub mod store;

pub use routes::{router, serve};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use tokio::sync::broadcast;

use self::auth::{Principal, Role, TokenInfo, TokenSpecError};
use self::keys::KeyStore;
use self::limits::{Limits, StreamSlots, WriteLimiter};
use self::rules::{BookingRules, Refusal};
use self::store::{NewToken, Queries, Store, StoredBooking, StoredEvent};
use antrean_core::api::{
    ApiError, BoardCounter, BoardSnapshot, BookingRequest, BookingResponse, CheckinRequest,
    CheckinResponse, HealthReport, RecentCall, Serving, Waiting,
};
use antrean_core::booking::{parse_date, Slot};
use antrean_core::manifest::{BookingStatus, Counter, Manifest, ManifestBooking, Service, Session};
use antrean_host::clock::Clock;

/// One session of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDef {
    pub slot: String,
    pub letter: String,
    pub quota: u32,
}

/// How the central service is set up.
#[derive(Debug, Clone)]
pub struct CentralSettings {
    pub office_id: String,
    pub office_name: String,
    pub timezone: Tz,
    pub sessions: Vec<SessionDef>,
    pub services: Vec<(String, String)>,
    pub counters: Vec<(String, String)>,
    /// Booking codes start with this, e.g. `BGR`.
    pub booking_prefix: String,
    /// `: ping` comment interval on event streams (at most 15 s).
    pub ping_every: Duration,
    /// Minutes one resident takes at a counter, until the day shows better.
    pub default_service_minutes: u32,
    /// What may be booked and when a check-in is believable.
    pub rules: BookingRules,
    /// Connections, timeouts, body size, streams, write rates.
    pub limits: Limits,
    /// Board events older than this many days are pruned.
    pub event_retention_days: u32,
    /// How often the maintenance task prunes.
    pub maintenance_every: Duration,
}

impl CentralSettings {
    /// The usual six one-hour sessions 08:00-14:00 (A-F), five services,
    /// four counters.
    pub fn standard(office_id: &str, office_name: &str) -> CentralSettings {
        CentralSettings {
            office_id: office_id.into(),
            office_name: office_name.into(),
            timezone: chrono_tz::Asia::Jakarta,
            sessions: (8..14)
                .zip('A'..)
                .map(|(h, l)| SessionDef {
                    slot: format!("{h:02}:00-{:02}:00", h + 1),
                    letter: l.to_string(),
                    quota: 40,
                })
                .collect(),
            services: [
                ("KTP-EL", "KTP Elektronik"),
                ("KK", "Kartu Keluarga"),
                ("AKTA-LAHIR", "Akta Kelahiran"),
                ("PINDAH", "Surat Pindah"),
                ("KIA", "Kartu Identitas Anak"),
            ]
            .iter()
            .map(|(c, n)| (c.to_string(), n.to_string()))
            .collect(),
            counters: (1..=4)
                .map(|i| (i.to_string(), format!("Loket {i}")))
                .collect(),
            booking_prefix: "BGR".into(),
            ping_every: Duration::from_secs(15),
            default_service_minutes: 6,
            rules: BookingRules::default(),
            limits: Limits::default(),
            event_retention_days: 7,
            maintenance_every: Duration::from_secs(3600),
        }
    }
}

/// A refusal with the spec's error code and a human message.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiFailure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn unprocessable(r: Refusal) -> ApiFailure {
        ApiFailure::new(StatusCode::UNPROCESSABLE_ENTITY, r.code, r.message)
    }

    fn unauthorized() -> ApiFailure {
        ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing, wrong or revoked token; ask the office's administrator for one (antrean-central token add)",
        )
    }

    fn forbidden(who: &Principal) -> ApiFailure {
        ApiFailure::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this {} token may not do that here (see \"Tokens and roles\" in docs/central-api.md)",
                who.role
            ),
        )
    }
    fn internal(e: impl std::fmt::Display) -> ApiFailure {
        tracing::error!(error = %e, "central storage failed");
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "storage failed; try again",
        )
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ApiError {
                error: self.code.to_string(),
                message: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        resp
    }
}

impl From<rusqlite::Error> for ApiFailure {
    fn from(e: rusqlite::Error) -> Self {
        ApiFailure::internal(e)
    }
}

type ApiResult<T> = Result<T, ApiFailure>;

struct Inner {
    settings: CentralSettings,
    store: Mutex<Store>,
    keys: KeyStore,
    clock: Clock,
    events: broadcast::Sender<StoredEvent>,
    /// Set when the server stops: open event streams end.
    closing: tokio::sync::watch::Sender<bool>,
    writes: WriteLimiter,
    streams: Arc<StreamSlots>,
    maintenance_runs: AtomicU64,
}

/// Why a token cannot be made, imported or revoked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error(transparent)]
    Spec(#[from] TokenSpecError),
    #[error("that token is (or was) in the database already; nothing changed. Make a new one with `antrean-central token add`.")]
    Duplicate,
    #[error("no live token with id {0}; `antrean-central token list` shows the ids")]
    NoSuchToken(i64),
    #[error("the central database failed: {0}")]
    Storage(#[from] rusqlite::Error),
}

/// The central service (cheap to clone).
#[derive(Clone)]
pub struct Central {
    inner: Arc<Inner>,
}

/// Masks a name as the booking system shows it: `Siti Rahma` -> `S***a R.`.
pub fn mask_name(name: &str) -> Option<String> {
    let mut words = name.split_whitespace();
    let first: Vec<char> = words.next()?.chars().collect();
    let mut masked = match first.as_slice() {
        [] => return None,
        [one] => format!("{one}***"),
        [a, .., z] => format!("{a}***{z}"),
    };
    if let Some(second) = words.next().and_then(|w| w.chars().next()) {
        masked.push_str(&format!(" {second}."));
    }
    Some(masked)
}

impl Central {
    pub fn new(settings: CentralSettings, store: Store, keys: KeyStore, clock: Clock) -> Central {
        let (events, _) = broadcast::channel(1024);
        let writes = WriteLimiter::new(&settings.limits);
        let streams = StreamSlots::new(settings.limits.max_streams_per_office);
        Central {
            inner: Arc::new(Inner {
                settings,
                store: Mutex::new(store),
                keys,
                clock,
                events,
                closing: tokio::sync::watch::Sender::new(false),
                writes,
                streams,
                maintenance_runs: AtomicU64::new(0),
            }),
        }
    }

    /// Runs `f` on tokio's blocking pool: SQLite work (and its fsync) never
    /// holds up the async workers.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Central) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let c = self.clone();
        tokio::task::spawn_blocking(move || f(&c))
            .await
            .map_err(ApiFailure::internal)?
    }

    pub fn settings(&self) -> &CentralSettings {
        &self.inner.settings
    }

    pub fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    fn now(&self) -> DateTime<FixedOffset> {
        self.inner
            .clock
            .now()
            .with_timezone(&self.inner.settings.timezone)
            .fixed_offset()
    }

    /// Today in the office's time zone.
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.inner.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn session(&self, slot: &str) -> Option<&SessionDef> {
        self.inner.settings.sessions.iter().find(|s| s.slot == slot)
    }

    /// Appends an event (a `reset` first when the day changed) and tells
    /// the connected streams.
    fn emit(
        &self,
        tx: &rusqlite::Transaction,
        kind: &str,
        data: serde_json::Value,
    ) -> rusqlite::Result<Vec<StoredEvent>> {
        let today = self.today();
        let mut out = Vec::new();
        let last = tx.last_seq()?;
        if last > 0 && tx.event_date(last)? != Some(today) {
            out.push(tx.append_event(today, "reset", serde_json::json!({}))?);
        }
        out.push(tx.append_event(today, kind, data)?);
        Ok(out)
    }

    fn publish(&self, events: Vec<StoredEvent>) {
        for e in events {
            let _ = self.inner.events.send(e);
        }
    }

    /// `GET /manifest`.
    pub fn manifest(&self, date: NaiveDate) -> ApiResult<Manifest> {
        let s = &self.inner.settings;
        let bookings = self.store().conn().bookings_on(date)?;
        Ok(Manifest {
            office: s.office_id.clone(),
            date,
            timezone: s.timezone.name().to_string(),
            office_name: Some(s.office_name.clone()),
            sessions: s
                .sessions
                .iter()
                .map(|x| Session {
                    slot: x.slot.clone(),
                    letter: x.letter.clone(),
                    quota: x.quota,
                })
                .collect(),
            services: s
                .services
                .iter()
                .map(|(code, name)| Service {
                    code: code.clone(),
                    name: name.clone(),
                })
                .collect(),
            counters: s
                .counters
                .iter()
                .map(|(id, label)| Counter {
                    id: id.clone(),
                    label: label.clone(),
                })
                .collect(),
            keys: self.inner.keys.published(),
            bookings: bookings
                .into_iter()
                .map(|b| ManifestBooking {
                    booking: b.code,
                    number: b.number,
                    slot: b.slot,
                    service: b.service,
                    status: b.status,
                    name: b.masked_name,
                })
                .collect(),
        })
    }

    /// `POST /bookings`.
    pub fn book(&self, req: &BookingRequest) -> ApiResult<BookingResponse> {
        let bad =
            |m: String| ApiFailure::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m);
        let rules = &self.inner.settings.rules;
        let date = parse_date(&req.date).ok_or_else(|| {
            bad(format!(
                "date {:?} is not YYYY-MM-DD",
                req.date.chars().take(16).collect::<String>()
            ))
        })?;
        rules::check_booking_date(rules, date, self.today()).map_err(ApiFailure::unprocessable)?;
        if let Some(name) = &req.name {
            rules::check_name(rules, name).map_err(ApiFailure::unprocessable)?;
        }
        let session = self
            .session(&req.slot)
            .ok_or_else(|| {
                bad("no such session at this office; see the manifest's sessions".into())
            })?
            .clone();
        if !self
            .inner
            .settings
            .services
            .iter()
            .any(|(c, _)| *c == req.service)
        {
            return Err(bad(
                "no such service at this office; see the manifest's services".into(),
            ));
        }
        let settings = &self.inner.settings;
        let mut store = self.store();
        let booking = store.tx(|tx| {
            let day = tx.bookings_on(date)?;
            let in_slot: Vec<&StoredBooking> = day.iter().filter(|b| b.slot == req.slot).collect();
            let taken = in_slot
                .iter()
                .filter(|b| b.status != BookingStatus::Cancelled)
                .count() as u32;
            if taken >= session.quota {
                return Ok(None);
            }
            let serial = in_slot.iter().map(|b| b.serial).max().unwrap_or(0) + 1;
            let running = day.len() + 1;
            let b = StoredBooking {
                code: rules::booking_code(&settings.booking_prefix, date, running),
                date,
                slot: req.slot.clone(),
                letter: session.letter.clone(),
                serial,
                number: format!("{}-{serial:03}", session.letter),
                service: req.service.clone(),
                status: BookingStatus::Booked,
                masked_name: req.name.as_deref().and_then(mask_name),
                checked_in_at: None,
                kiosk: None,
                offline: false,
                called_at: None,
                counter: None,
                ahead: None,
                estimated_call: None,
                done_at: None,
            };
            tx.insert_booking(&b)?;
            Ok(Some(b))
        })?;
        let Some(b) = booking else {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                "slot_full",
                format!("session {} on {date} is full", req.slot),
            ));
        };
        let token = self.token_for(&b);
        Ok(BookingResponse {
            booking: b.code,
            number: b.number,
            token,
        })
    }

    /// The signed QR token of a booking.
    pub fn token_for(&self, b: &StoredBooking) -> String {
        let mut payload = serde_json::json!({
            "kid": self.inner.keys.active_kid(),
            "office": self.inner.settings.office_id,
            "booking": b.code,
            "date": b.date.to_string(),
            "slot": b.slot,
            "service": b.service,
            "number": b.number,
        });
        if let Some(name) = &b.masked_name {
            payload["name"] = serde_json::Value::String(name.clone());
        }
        self.inner.keys.sign_token(&payload)
    }

    /// The bookings of `date`, by session and serial.
    pub fn bookings_on(&self, date: NaiveDate) -> ApiResult<Vec<StoredBooking>> {
        Ok(self.store().conn().bookings_on(date)?)
    }

    /// The booking with this code (tests, demo).
    pub fn booking(&self, code: &str) -> ApiResult<Option<StoredBooking>> {
        Ok(self.store().conn().booking(code)?)
    }

    /// `POST /bookings/{b}/cancel`.
    pub fn cancel(&self, code: &str) -> ApiResult<serde_json::Value> {
        let store = self.store();
        let b = store.conn().booking(code)?.ok_or_else(|| {
            ApiFailure::new(StatusCode::NOT_FOUND, "unknown_booking", "no such booking")
        })?;
        if !matches!(b.status, BookingStatus::Booked | BookingStatus::Cancelled) {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                "already_checked_in",
                "a checked-in booking cannot be cancelled",
            ));
        }
        store.conn().set_status(code, BookingStatus::Cancelled)?;
        Ok(serde_json::json!({"booking": code, "status": "cancelled"}))
    }

    /// Minutes per resident and open counters, from today's finished calls.
    fn pace(&self, day: &[StoredBooking]) -> f64 {
        let s = &self.inner.settings;
        let counters = s.counters.len().max(1) as f64;
        let served: Vec<f64> = day
            .iter()
            .filter(|b| matches!(b.status, BookingStatus::Served))
            .filter_map(|b| {
                let called = DateTime::parse_from_rfc3339(b.called_at.as_deref()?).ok()?;
                let done = DateTime::parse_from_rfc3339(b.done_at.as_deref()?).ok()?;
                Some((done - called).num_seconds() as f64 / 60.0)
            })
            .filter(|m| *m > 0.0 && *m < 120.0)
            .collect();
        let per_person = if served.len() >= 3 {
            served.iter().sum::<f64>() / served.len() as f64
        } else {
            f64::from(s.default_service_minutes)
        };
        per_person / counters
    }

    /// `POST /checkins`: the first check-in of a booking wins.
    pub fn checkin(&self, req: &CheckinRequest) -> ApiResult<(StatusCode, CheckinResponse)> {
        let at = DateTime::parse_from_rfc3339(&req.checked_in_at).map_err(|_| {
            ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "checked_in_at is not RFC 3339",
            )
        })?;
        let at = at
            .with_timezone(&self.inner.settings.timezone)
            .fixed_offset();
        if !auth::is_identifier(&req.kiosk) {
            return Err(ApiFailure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "kiosk must be the kiosk's id: 1-64 lower-case letters, digits, - or _",
            ));
        }
        let b = self.store().conn().booking(&req.booking)?.ok_or_else(|| {
            ApiFailure::new(StatusCode::NOT_FOUND, "unknown_booking", "no such booking")
        })?;
        if b.number != req.number {
            // Never tell which number the booking has: a code alone must not
            // give away someone's place.
            return Err(ApiFailure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_format",
                "the number does not match this booking",
            ));
        }
        let answer = |b: &StoredBooking, duplicate| CheckinResponse {
            booking: b.code.clone(),
            number: b.number.clone(),
            status: "checked_in".into(),
            checked_in_at: b.checked_in_at.clone().unwrap_or_default(),
            ahead: b.ahead,
            estimated_call: b.estimated_call.clone(),
            duplicate,
        };
        match b.status {
            BookingStatus::Cancelled => {
                return Err(ApiFailure::new(
                    StatusCode::CONFLICT,
                    "cancelled",
                    "Booking sudah dibatalkan.",
                ))
            }
            BookingStatus::Booked => {}
            _ => return Ok((StatusCode::OK, answer(&b, true))),
        }
        let slot = Slot::parse(&b.slot).ok_or_else(|| {
            ApiFailure::internal(format!("booking {} has a damaged slot", b.code))
        })?;
        let now = self.now();
        rules::check_checkin_time(&self.inner.settings.rules, b.date, &slot, at, now)
            .map_err(ApiFailure::unprocessable)?;
        let behind = now - at;
        if !req.offline
            && behind
                > chrono::Duration::minutes(i64::from(self.inner.settings.rules.clock_skew_minutes))
        {
            // A resend of a slow answer, or a kiosk clock running behind.
            tracing::warn!(kiosk = %req.kiosk, behind_minutes = behind.num_minutes(), "an online check-in's time is behind the service's clock");
        }
        let mut store = self.store();
        let (events, updated) = store.tx(|tx| {
            // Checked again inside the transaction: two kiosks at once.
            let current = tx.booking(&b.code)?.expect("read above");
            if current.status != BookingStatus::Booked {
                return Ok((vec![], current));
            }
            let day = tx.bookings_on(b.date)?;
            let ahead = day
                .iter()
                .filter(|o| o.status == BookingStatus::CheckedIn)
                .filter(|o| (o.slot.as_str(), o.serial) < (b.slot.as_str(), b.serial))
                .count() as u32;
            drop(day);
            let est = None::<String>;
            tx.check_in(
                &b.code,
                &req.checked_in_at,
                &req.kiosk,
                req.offline,
                ahead,
                est.as_deref(),
            )?;
            let events = self.emit(
                tx,
                "checkin",
                serde_json::json!({"number": b.number, "slot": b.slot}),
            )?;
            Ok((events, tx.booking(&b.code)?.expect("just written")))
        })?;
        drop(store);
        if events.is_empty() {
            return Ok((StatusCode::OK, answer(&updated, true)));
        }
        // The estimate needs the day's pace (outside the write lock).
        let day = self.store().conn().bookings_on(b.date)?;
        let per = self.pace(&day);
        let ahead = updated.ahead.unwrap_or(0);
        let base = self.now().max(at);
        let est = (base
            + chrono::Duration::seconds(((f64::from(ahead) + 1.0) * per * 60.0) as i64))
        .format("%H:%M")
        .to_string();
        self.store().conn().set_estimate(&b.code, &est)?;
        self.publish(events);
        let mut body = answer(&updated, false);
        body.estimated_call = Some(est);
        tracing::info!(booking = %b.code, number = %b.number, kiosk = %req.kiosk, offline = req.offline, "checked in");
        Ok((StatusCode::CREATED, body))
    }

    /// `GET /board`.
    pub fn board(&self) -> ApiResult<BoardSnapshot> {
        let today = self.today();
        let store = self.store();
        let c = store.conn();
        let seq = c.last_seq()?;
        let day = c.bookings_on(today)?;
        let mut counters = Vec::new();
        for (id, label) in &self.inner.settings.counters {
            let serving = c
                .serving(id)?
                .filter(|b| b.date == today && b.status == BookingStatus::Called)
                .map(|b| Serving {
                    number: b.number,
                    service: b.service,
                    called_at: b.called_at.unwrap_or_default(),
                });
            counters.push(BoardCounter {
                id: id.clone(),
                label: label.clone(),
                serving,
            });
        }
        let recent = c
            .calls_on(today, 10)?
            .iter()
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .map(|v| RecentCall {
                number: v["number"].as_str().unwrap_or_default().to_string(),
                counter: v["counter"].as_str().unwrap_or_default().to_string(),
                called_at: v["called_at"].as_str().unwrap_or_default().to_string(),
            })
            .fold(Vec::<RecentCall>::new(), |mut acc, r| {
                if !acc
                    .iter()
                    .any(|x| x.number == r.number && x.counter == r.counter)
                {
                    acc.push(r);
                }
                acc
            });
        let mut waiting: BTreeMap<&str, u32> = self
            .inner
            .settings
            .sessions
            .iter()
            .map(|s| (s.slot.as_str(), 0))
            .collect();
        for b in day.iter().filter(|b| b.status == BookingStatus::CheckedIn) {
            if let Some(n) = waiting.get_mut(b.slot.as_str()) {
                *n += 1;
            }
        }
        Ok(BoardSnapshot {
            seq,
            counters,
            recent,
            waiting: waiting
                .into_iter()
                .map(|(slot, count)| Waiting {
                    slot: slot.to_string(),
                    count,
                })
                .collect(),
            notice: c.meta("notice")?,
        })
    }

    /// `POST /counters/{c}/next`: the first checked-in, not yet called
    /// booking of today, by session then serial.
    pub fn next(&self, counter: &str) -> ApiResult<Option<serde_json::Value>> {
        self.known_counter(counter)?;
        let today = self.today();
        let now = self.now().to_rfc3339();
        let mut store = self.store();
        let result = store.tx(|tx| {
            if let Some(current) = tx
                .serving(counter)?
                .filter(|b| b.status == BookingStatus::Called)
            {
                // Calling the next one finishes the current one.
                tx.finish(&current.code, counter, BookingStatus::Served, &now)?;
            }
            let day = tx.bookings_on(today)?;
            let Some(b) = day
                .into_iter()
                .find(|b| b.status == BookingStatus::CheckedIn)
            else {
                return Ok(None);
            };
            tx.call(&b.code, counter, &now)?;
            let events = self.emit(
                tx,
                "call",
                serde_json::json!({"number": b.number, "counter": counter, "service": b.service,
                                   "called_at": now, "recall": false}),
            )?;
            Ok(Some((b, events)))
        })?;
        drop(store);
        Ok(result.map(|(b, events)| {
            self.publish(events);
            serde_json::json!({"booking": b.code, "number": b.number, "counter": counter,
                               "service": b.service, "called_at": now})
        }))
    }

    fn known_counter(&self, counter: &str) -> ApiResult<()> {
        if self
            .inner
            .settings
            .counters
            .iter()
            .any(|(id, _)| id == counter)
        {
            Ok(())
        } else {
            Err(ApiFailure::new(
                StatusCode::NOT_FOUND,
                "unknown_counter",
                format!("no counter {counter:?}"),
            ))
        }
    }

    /// `recall`, `done`, `skip` on what a counter serves.
    pub fn counter_action(&self, counter: &str, action: &str) -> ApiResult<serde_json::Value> {
        self.known_counter(counter)?;
        let now = self.now().to_rfc3339();
        let mut store = self.store();
        let result = store.tx(|tx| {
            let Some(b) = tx
                .serving(counter)?
                .filter(|b| b.status == BookingStatus::Called)
            else {
                return Ok(None);
            };
            let events = match action {
                "recall" => {
                    // The board shows when the number was last called.
                    tx.set_called_at(&b.code, &now)?;
                    self.emit(
                    tx,
                    "call",
                    serde_json::json!({"number": b.number, "counter": counter, "service": b.service,
                                       "called_at": now, "recall": true}),
                    )?
                }
                "done" | "skip" => {
                    let status = if action == "done" {
                        BookingStatus::Served
                    } else {
                        BookingStatus::NoShow
                    };
                    tx.finish(&b.code, counter, status, &now)?;
                    self.emit(
                        tx,
                        action,
                        serde_json::json!({"number": b.number, "counter": counter}),
                    )?
                }
                _ => unreachable!("routes only"),
            };
            Ok(Some((b, events)))
        })?;
        drop(store);
        let Some((b, events)) = result else {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                "nothing_called",
                "this counter serves nobody now",
            ));
        };
        self.publish(events);
        Ok(
            serde_json::json!({"booking": b.code, "number": b.number, "counter": counter, "action": action}),
        )
    }

    /// `POST /notice`.
    pub fn notice(&self, text: Option<String>) -> ApiResult<()> {
        let text = text.filter(|t| !t.trim().is_empty());
        if let Some(t) = &text {
            rules::check_notice(&self.inner.settings.rules, t)
                .map_err(ApiFailure::unprocessable)?;
        }
        let mut store = self.store();
        let events = store.tx(|tx| {
            tx.set_meta("notice", text.as_deref())?;
            self.emit(tx, "notice", serde_json::json!({"text": text}))
        })?;
        drop(store);
        self.publish(events);
        Ok(())
    }

    /// `PUT /kiosks/{k}/health`.
    pub fn health(&self, kiosk: &str, report: &HealthReport) -> ApiResult<()> {
        if !auth::is_identifier(kiosk) {
            return Err(ApiFailure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "the kiosk id must be 1-64 lower-case letters, digits, - or _",
            ));
        }
        for (field, value, max) in [
            ("at", report.at.as_str(), 40),
            ("version", report.version.as_str(), 64),
            ("printer.state", report.printer.state.as_str(), 32),
            (
                "printer.detail",
                report.printer.detail.as_deref().unwrap_or(""),
                200,
            ),
        ] {
            rules::check_short(field, value, max).map_err(ApiFailure::unprocessable)?;
        }
        let text = serde_json::to_string(report).map_err(ApiFailure::internal)?;
        self.store()
            .conn()
            .put_health(kiosk, &text, &self.now().to_rfc3339())?;
        Ok(())
    }

    /// The last health report of every kiosk.
    pub fn kiosk_health(&self) -> ApiResult<Vec<(String, HealthReport, String)>> {
        Ok(self
            .store()
            .conn()
            .health()?
            .into_iter()
            .filter_map(|(k, r, at)| Some((k, serde_json::from_str(&r).ok()?, at)))
            .collect())
    }

    /// The events to replay after `last_id`, or `None` when the stream
    /// cannot resume from there and the client must fetch `/board` (a
    /// `reset`): an id the service never issued, or one older than today's
    /// retained log (a replay never crosses a day, never re-sends a whole
    /// history, and pruned events are gone).
    pub fn replay(&self, last_id: u64) -> ApiResult<Option<Vec<StoredEvent>>> {
        let store = self.store();
        let c = store.conn();
        let last = c.last_seq()?;
        if last_id > last {
            return Ok(None);
        }
        if last_id == last {
            return Ok(Some(vec![]));
        }
        let Some(first) = c.first_seq_on(self.today())? else {
            return Ok(None);
        };
        if last_id + 1 < first || last - last_id > MAX_REPLAY {
            return Ok(None);
        }
        Ok(Some(c.events_after(last_id)?))
    }

    /// Deletes board events older than the retention; returns how many.
    pub fn prune_events(&self) -> ApiResult<usize> {
        let days = i64::from(self.inner.settings.event_retention_days);
        let before = self.today() - chrono::Duration::days(days);
        let n = self.store().conn().prune_events(before)?;
        self.inner.writes.forget_idle();
        Ok(n)
    }

    /// How many maintenance rounds ran (each prunes once).
    pub fn maintenance_runs(&self) -> u64 {
        self.inner.maintenance_runs.load(Ordering::Relaxed)
    }

    fn count_maintenance(&self) {
        self.inner.maintenance_runs.fetch_add(1, Ordering::Relaxed);
    }

    /// The current last `seq`.
    pub fn seq(&self) -> ApiResult<u64> {
        Ok(self.store().conn().last_seq()?)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StoredEvent> {
        self.inner.events.subscribe()
    }

    /// The principal of a bearer token, or `401` (blocking: reads the
    /// database, so that tokens added or revoked by another process or
    /// instance count at once).
    pub fn authenticate(&self, token: Option<&str>) -> ApiResult<Principal> {
        let Some(token) = token else {
            return Err(ApiFailure::unauthorized());
        };
        let hash = auth::hash(token);
        match self.store().conn().token_by_hash(&hash)? {
            Some((who, stored)) if auth::same_hash(&stored, &hash) => Ok(who),
            _ => Err(ApiFailure::unauthorized()),
        }
    }

    /// `403` unless `who` may do `action` at `office`; `404` for an office
    /// this service does not hold; `429` when a write comes too fast.
    pub fn authorize(
        &self,
        who: &Principal,
        office: &str,
        action: auth::Action<'_>,
    ) -> ApiResult<()> {
        if !auth::allows(who, office, action) {
            return Err(ApiFailure::forbidden(who));
        }
        if office != self.inner.settings.office_id {
            return Err(ApiFailure::new(
                StatusCode::NOT_FOUND,
                "unknown_office",
                "no such office here",
            ));
        }
        if action.is_write() {
            if let Err(wait) = self.inner.writes.check(who.id) {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                let mut f = ApiFailure::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many writes with this token; retry after {secs} s"),
                );
                f.retry_after = Some(secs);
                return Err(f);
            }
        }
        Ok(())
    }

    /// A slot for one more event stream of `office`, or `503`.
    pub fn stream_slot(&self, office: &str) -> ApiResult<limits::StreamSlot> {
        self.inner.streams.take(office).ok_or_else(|| {
            let mut f = ApiFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_streams",
                format!(
                    "this office has {} event streams open already ([server] max_streams_per_office); retry later",
                    self.inner.settings.limits.max_streams_per_office
                ),
            );
            f.retry_after = Some(30);
            f
        })
    }

    /// Makes a token; returns its id and the secret (shown once, never
    /// stored).
    pub fn add_token(
        &self,
        role: Role,
        office: &str,
        kiosk: Option<&str>,
        label: Option<&str>,
    ) -> Result<(i64, String), TokenError> {
        let secret = auth::new_secret();
        let id = self.import_token(&secret, role, office, kiosk, label)?;
        Ok((id, secret))
    }

    /// Stores the hash of a token chosen elsewhere (an old configuration's).
    pub fn import_token(
        &self,
        secret: &str,
        role: Role,
        office: &str,
        kiosk: Option<&str>,
        label: Option<&str>,
    ) -> Result<i64, TokenError> {
        let now = self.now().to_rfc3339();
        store_token(&self.store(), secret, role, office, kiosk, label, &now)
    }

    /// Every token, without secrets.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, TokenError> {
        Ok(self.store().conn().tokens()?)
    }

    /// Revokes token `id`: it gets `401` from now on, on every instance.
    pub fn revoke_token(&self, id: i64) -> Result<(), TokenError> {
        let now = self.now().to_rfc3339();
        revoke_token(&self.store(), id, &now)
    }

    /// Revokes every live token labelled `label` (the embedded mode renews
    /// its own tokens at each start).
    pub fn revoke_labelled(&self, label: &str) -> Result<usize, TokenError> {
        let now = self.now().to_rfc3339();
        Ok(self.store().conn().revoke_labelled(label, &now)?)
    }

    /// True when this service holds `office`.
    pub fn serves(&self, office: &str) -> bool {
        office == self.inner.settings.office_id
    }

    /// Ends open event streams (the server is stopping).
    pub fn close_streams(&self) {
        let _ = self.inner.closing.send(true);
    }

    /// Resolves when the server stops.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// Streams open now for `office`.
    pub fn open_streams(&self, office: &str) -> usize {
        self.inner.streams.open(office)
    }
}

/// Longest replay after a `Last-Event-ID`; further back gets `reset`.
pub const MAX_REPLAY: u64 = 5000;

/// Stores a token's hash (used by the service and by the `token` commands,
/// which work on the database without a running service).
pub fn store_token(
    store: &Store,
    secret: &str,
    role: Role,
    office: &str,
    kiosk: Option<&str>,
    label: Option<&str>,
    now: &str,
) -> Result<i64, TokenError> {
    auth::check_spec(role, office, kiosk, label)?;
    let hash = auth::hash(secret);
    let prefix = auth::display_prefix(secret);
    let row = NewToken {
        hash,
        prefix: &prefix,
        role,
        office,
        kiosk,
        label,
        created: now,
    };
    match store.conn().insert_token(&row) {
        Ok(id) => Ok(id),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(TokenError::Duplicate)
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes token `id` in `store`.
pub fn revoke_token(store: &Store, id: i64, now: &str) -> Result<(), TokenError> {
    if store.conn().revoke_token(id, now)? {
        Ok(())
    } else {
        Err(TokenError::NoSuchToken(id))
    }
}

/// Session letter and slot for display (`A 08.00-09.00`).
pub fn slot_display(slot: &str) -> String {
    Slot::parse(slot)
        .map(|s| s.display())
        .unwrap_or_else(|| slot.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked() {
        for (name, masked) in [
            ("Siti Rahma", Some("S***i R.")),
            ("Budi", Some("B***i")),
            ("A", Some("A***")),
            ("  ", None),
            ("Maria Ulfa Santoso", Some("M***a U.")),
        ] {
            assert_eq!(mask_name(name).as_deref(), masked, "{name}");
        }
    }
}
