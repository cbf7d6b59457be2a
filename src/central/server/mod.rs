//! `antrean-central`: the reference central booking service, the other side
//! of `docs/central-api.md`. Bookings with queue numbers and signed `AQ1.`
//! tokens, idempotent check-ins, counters calling in order, the board and
//! its event stream, kiosk health, a staff page. SQLite storage survives
//! restarts. The demo, the kiosk's embedded mode and the tests run it for
//! real on 127.0.0.1. Shutdown is injected.

pub mod config;
pub mod demo;
pub mod keys;
pub mod store;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast;

use self::keys::KeyStore;
use self::store::{Queries, Store, StoredBooking, StoredEvent};
use super::api::{
    ApiError, BoardCounter, BoardSnapshot, BookingRequest, BookingResponse, CheckinRequest,
    CheckinResponse, HealthReport, RecentCall, Serving, Waiting,
};
use crate::clock::Clock;
use crate::core::booking::{is_booking_code, parse_date, Slot};
use crate::core::manifest::{BookingStatus, Counter, Manifest, ManifestBooking, Service, Session};

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
    /// Bearer tokens accepted (kiosks and staff).
    pub tokens: Vec<String>,
    pub sessions: Vec<SessionDef>,
    pub services: Vec<(String, String)>,
    pub counters: Vec<(String, String)>,
    /// Booking codes start with this, e.g. `BGR`.
    pub booking_prefix: String,
    /// `: ping` comment interval on event streams (at most 15 s).
    pub ping_every: Duration,
    /// Minutes one resident takes at a counter, until the day shows better.
    pub default_service_minutes: u32,
}

impl CentralSettings {
    /// The usual six one-hour sessions 08:00-14:00 (A-F), five services,
    /// four counters.
    pub fn standard(office_id: &str, office_name: &str, tokens: Vec<String>) -> CentralSettings {
        CentralSettings {
            office_id: office_id.into(),
            office_name: office_name.into(),
            timezone: chrono_tz::Asia::Jakarta,
            tokens,
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
        }
    }
}

/// A refusal with the spec's error code and a human message.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiFailure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status,
            code,
            message: message.into(),
        }
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
        (
            self.status,
            Json(ApiError {
                error: self.code.to_string(),
                message: self.message,
            }),
        )
            .into_response()
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
        Central {
            inner: Arc::new(Inner {
                settings,
                store: Mutex::new(store),
                keys,
                clock,
                events,
                closing: tokio::sync::watch::Sender::new(false),
            }),
        }
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
        let date = parse_date(&req.date)
            .ok_or_else(|| bad(format!("date {:?} is not YYYY-MM-DD", req.date)))?;
        if date < self.today() {
            return Err(ApiFailure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "expired",
                "that date has passed",
            ));
        }
        let session = self
            .session(&req.slot)
            .ok_or_else(|| bad(format!("no session {:?} at this office", req.slot)))?
            .clone();
        if !self
            .inner
            .settings
            .services
            .iter()
            .any(|(c, _)| *c == req.service)
        {
            return Err(bad(format!("no service {:?} at this office", req.service)));
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
                code: format!(
                    "{}-{}-{running:05}",
                    settings.booking_prefix,
                    date.format("%y%m%d")
                ),
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
                let done = self.done_at(&b.code)?;
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

    fn done_at(&self, code: &str) -> Option<DateTime<FixedOffset>> {
        let store = self.inner.store.try_lock().ok()?;
        let at: Option<String> = store
            .conn()
            .query_row(
                "SELECT done_at FROM bookings WHERE code = ?1",
                [code],
                |r| r.get(0),
            )
            .ok()?;
        DateTime::parse_from_rfc3339(&at?).ok()
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
        let local_day = at.with_timezone(&self.inner.settings.timezone).date_naive();
        let b = self.store().conn().booking(&req.booking)?.ok_or_else(|| {
            ApiFailure::new(StatusCode::NOT_FOUND, "unknown_booking", "no such booking")
        })?;
        if b.number != req.number {
            return Err(ApiFailure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_format",
                format!(
                    "booking {} has number {}, not {}",
                    b.code, b.number, req.number
                ),
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
        if b.date < local_day {
            return Err(ApiFailure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "expired",
                "the booking's date has passed",
            ));
        }
        if b.date > local_day {
            return Err(ApiFailure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_today",
                "the booking is for another day",
            ));
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
        self.store().conn().execute(
            "UPDATE bookings SET estimated_call = ?2 WHERE code = ?1",
            rusqlite::params![b.code, est],
        )?;
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
                    tx.execute(
                        "UPDATE bookings SET called_at = ?2 WHERE code = ?1",
                        rusqlite::params![b.code, now],
                    )?;
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
    /// cannot resume from there (the client must fetch `/board`).
    pub fn replay(&self, last_id: u64) -> ApiResult<Option<Vec<StoredEvent>>> {
        let store = self.store();
        let last = store.conn().last_seq()?;
        if last_id > last {
            return Ok(None);
        }
        Ok(Some(store.conn().events_after(last_id)?))
    }

    /// The current last `seq`.
    pub fn seq(&self) -> ApiResult<u64> {
        Ok(self.store().conn().last_seq()?)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StoredEvent> {
        self.inner.events.subscribe()
    }

    fn authorised(&self, headers: &HeaderMap) -> ApiResult<()> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(t) if self.inner.settings.tokens.iter().any(|k| k == t) => Ok(()),
            _ => Err(ApiFailure::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong token",
            )),
        }
    }

    fn office(&self, office: &str) -> ApiResult<()> {
        if office == self.inner.settings.office_id {
            Ok(())
        } else {
            Err(ApiFailure::new(
                StatusCode::NOT_FOUND,
                "unknown_office",
                format!("no office {office:?} here"),
            ))
        }
    }
}

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

fn guard(c: &Central, headers: &HeaderMap, office: &str) -> ApiResult<()> {
    c.authorised(headers)?;
    c.office(office)
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
    guard(&c, &headers, &office)?;
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
    let m = c.manifest(date)?;
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
    guard(&c, &headers, &office)?;
    let req: CheckinRequest = body(&bytes)?;
    if !is_booking_code(&req.booking) {
        return Err(ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "booking code has a bad shape",
        ));
    }
    let (status, answer) = c.checkin(&req)?;
    Ok((status, Json(answer)).into_response())
}

async fn get_board(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<BoardSnapshot>> {
    guard(&c, &headers, &office)?;
    Ok(Json(c.board()?))
}

async fn get_events(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    guard(&c, &headers, &office)?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // Subscribe before reading the log: nothing falls between the two.
    let live = c.subscribe();
    let (first, upto): (Vec<StoredEvent>, u64) = match last_id {
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
    };
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
    let mut closing = c.inner.closing.subscribe();
    let stream = stream::iter(first.into_iter().map(to_sse))
        .chain(live)
        .take_until(async move {
            let _ = closing.wait_for(|c| *c).await;
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
    guard(&c, &headers, &office)?;
    let report: HealthReport = body(&bytes)?;
    c.health(&kiosk, &report)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_booking(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    guard(&c, &headers, &office)?;
    let req: BookingRequest = body(&bytes)?;
    Ok((StatusCode::CREATED, Json(c.book(&req)?)).into_response())
}

async fn post_cancel(
    State(c): State<Central>,
    Path((office, booking)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    guard(&c, &headers, &office)?;
    Ok(Json(c.cancel(&booking)?))
}

async fn post_counter(
    State(c): State<Central>,
    Path((office, counter, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    guard(&c, &headers, &office)?;
    match action.as_str() {
        "next" => Ok(match c.next(&counter)? {
            Some(v) => (StatusCode::OK, Json(v)).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        }),
        "recall" | "done" | "skip" => {
            Ok(Json(c.counter_action(&counter, &action)?).into_response())
        }
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
    guard(&c, &headers, &office)?;
    let n: NoticeBody = body(&bytes)?;
    c.notice(n.text)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Staff overview for the page: who waits, what counters serve, kiosks.
async fn get_staff(
    State(c): State<Central>,
    Path(office): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    guard(&c, &headers, &office)?;
    let board = c.board()?;
    let today = c.today();
    let waiting: Vec<serde_json::Value> = c
        .store()
        .conn()
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
}

async fn staff_page(State(c): State<Central>) -> Html<String> {
    Html(
        include_str!("staff.html")
            .replace("{{OFFICE_ID}}", &c.settings().office_id)
            .replace("{{OFFICE_NAME}}", &c.settings().office_name),
    )
}

async fn fallback() -> ApiFailure {
    ApiFailure::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The HTTP routes.
pub fn router(central: Central) -> Router {
    let office = "/v1/offices/:office";
    Router::new()
        .route("/", get(staff_page))
        .route(&format!("{office}/manifest"), get(get_manifest))
        .route(&format!("{office}/checkins"), post(post_checkin))
        .route(&format!("{office}/board"), get(get_board))
        .route(&format!("{office}/events"), get(get_events))
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
        .with_state(central)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    central: Central,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = central.inner.closing.clone();
    axum::serve(listener, router(central))
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Event streams never end by themselves: end them so that the
            // graceful shutdown can finish.
            let _ = closing.send(true);
        })
        .await
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
