//! Keeping the kiosk in step with the central service, as tokio tasks:
//! the manifest (fetched at start and every few minutes with ETag, cached
//! per date), the check-in outbox (sent in order, retried with capped
//! exponential backoff and jitter, idempotent by booking), the health
//! report, and the link state the kiosk loop and the screens read.
//! The call board's stream is `board_sync`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::{watch, Notify};

use super::api::{CheckinRequest, HealthReport, PrinterHealth};
use super::backoff::Backoff;
use super::client::{CentralClient, ClientError, ManifestFetch};
use crate::clock::Clock;
use crate::core::booking::at_office;
use crate::journal::{CheckinRecord, Journal};
use crate::kiosk::{CentralLink, Event, SendResult};

/// What the kiosk knows of its link to the central service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkStatus {
    /// The last request reached the service.
    pub online: bool,
    /// When the service last answered anything.
    pub last_contact: Option<DateTime<Utc>>,
    /// The last error, for staff.
    pub last_error: Option<String>,
    /// Check-ins waiting to be sent.
    pub outbox: u64,
    /// Seconds the central service's clock is ahead of ours (health answers).
    pub clock_skew_seconds: Option<i64>,
    /// Board events are flowing (the stream is connected and fresh).
    pub board_live: bool,
    /// When the last board event or ping arrived.
    pub last_board_contact: Option<DateTime<Utc>>,
    pub last_event_seq: Option<u64>,
}

/// Shared handles of the sync tasks.
#[derive(Clone)]
pub struct SyncShared {
    pub client: CentralClient,
    pub clock: Clock,
    pub timezone: Tz,
    pub kiosk_id: String,
    pub state_dir: PathBuf,
    pub status: Arc<watch::Sender<LinkStatus>>,
    pub nudge: Arc<Notify>,
    pub printer: watch::Receiver<PrinterHealth>,
    /// Longest pause between retries.
    pub retry_max: Duration,
}

impl SyncShared {
    /// Records a successful contact.
    pub fn contact_ok(&self) {
        let now = self.clock.now();
        self.status.send_modify(|s| {
            s.online = true;
            s.last_contact = Some(now);
            s.last_error = None;
        });
    }

    /// Records a failed contact (only reachability errors make us offline).
    pub fn contact_failed(&self, e: &ClientError) {
        let unreachable = e.is_unreachable() || matches!(e, ClientError::Server { .. });
        self.status.send_modify(|s| {
            if unreachable {
                s.online = false;
            }
            s.last_error = Some(e.to_string());
        });
    }
}

/// The kiosk loop's blocking view of the link.
pub struct Link {
    shared: SyncShared,
    runtime: tokio::runtime::Handle,
}

impl Link {
    pub fn new(shared: SyncShared, runtime: tokio::runtime::Handle) -> Link {
        Link { shared, runtime }
    }
}

impl CentralLink for Link {
    fn is_online(&self) -> bool {
        self.shared.status.borrow().online
    }

    fn send_checkin(&self, request: &CheckinRequest, deadline: Duration) -> SendResult {
        let client = self.shared.client.clone();
        let answer = self
            .runtime
            .block_on(async { tokio::time::timeout(deadline, client.checkin(request)).await });
        match answer {
            Ok(Ok(resp)) => {
                self.shared.contact_ok();
                SendResult::Acked(resp)
            }
            Ok(Err(ClientError::Refused {
                status: 404 | 409 | 422,
                code,
                ..
            })) => {
                self.shared.contact_ok();
                SendResult::Refused { code }
            }
            Ok(Err(e)) => {
                self.shared.contact_failed(&e);
                SendResult::Failed {
                    offline: e.is_unreachable(),
                }
            }
            // Too slow for this ticket; the outbox sends it again.
            Err(_) => SendResult::Failed { offline: false },
        }
    }

    fn nudge_outbox(&self) {
        self.shared.nudge.notify_one();
    }
}

fn request_of(r: &CheckinRecord, kiosk: &str) -> CheckinRequest {
    CheckinRequest {
        booking: r.booking.clone(),
        number: r.number.clone(),
        kiosk: kiosk.to_string(),
        checked_in_at: r.checked_in_at.to_rfc3339(),
        offline: r.offline,
    }
}

/// Runs a journal operation off the async threads; `None` when it failed
/// (logged).
async fn with_journal<T: Send + 'static>(
    journal: Arc<Mutex<Journal>>,
    op: impl FnOnce(&Journal) -> Result<T, crate::journal::JournalError> + Send + 'static,
) -> Option<T> {
    let result = tokio::task::spawn_blocking(move || match journal.lock() {
        Ok(j) => op(&j).map_err(|e| e.to_string()),
        Err(_) => Err("journal lock poisoned".to_string()),
    })
    .await;
    match result {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "journal operation failed in the outbox");
            None
        }
        Err(_) => None,
    }
}

/// Sends the outbox, oldest first, until `shutdown`.
pub async fn run_outbox(shared: SyncShared, journal: Journal, mut shutdown: watch::Receiver<bool>) {
    let journal = Arc::new(Mutex::new(journal));
    let mut backoff = Backoff::new(Duration::from_millis(500), shared.retry_max);
    loop {
        let pending = match with_journal(journal.clone(), |j| j.outbox()).await {
            Some(p) => p,
            None => {
                tracing::warn!("outbox unreadable; retrying");
                Vec::new()
            }
        };
        shared.status.send_if_modified(|s| {
            let changed = s.outbox != pending.len() as u64;
            s.outbox = pending.len() as u64;
            changed
        });
        let mut failed = false;
        for record in &pending {
            let request = request_of(record, &shared.kiosk_id);
            let result = tokio::select! {
                r = shared.client.checkin(&request) => r,
                _ = shutdown.changed() => return,
            };
            let j = journal.clone();
            let booking = record.booking.clone();
            match result {
                Ok(resp) => {
                    shared.contact_ok();
                    backoff.reset();
                    let now = at_office(shared.clock.now(), shared.timezone);
                    with_journal(j, move |j| {
                        j.mark_sent(&booking, now, resp.ahead, resp.estimated_call.as_deref())
                    })
                    .await;
                    tracing::info!(booking = %record.booking, offline = record.offline, duplicate = resp.duplicate, "check-in delivered");
                }
                Err(ClientError::Refused { code, message, .. }) => {
                    shared.contact_ok();
                    tracing::warn!(booking = %record.booking, code = %code, message = %message,
                        "central service refused a check-in; listed for staff in the day report");
                    with_journal(j, move |j| j.mark_refused(&booking, &code)).await;
                }
                Err(e) => {
                    shared.contact_failed(&e);
                    tracing::warn!(error = %e, pending = pending.len(), "outbox not delivered; will retry");
                    failed = true;
                    break;
                }
            }
        }
        let wait = if failed {
            backoff.next_delay(rand::random::<f64>())
        } else if pending.is_empty() {
            Duration::from_secs(30)
        } else {
            Duration::ZERO
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            // A new check-in is only worth an early try when the link is up.
            _ = shared.nudge.notified(), if !failed => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Fetches today's manifest at start and every `every`, caches it, and
/// hands it to the kiosk loop.
pub async fn run_manifest(
    shared: SyncShared,
    kiosk: std::sync::mpsc::Sender<Event>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut etag: Option<(chrono::NaiveDate, String)> = None;
    let mut backoff = Backoff::new(
        Duration::from_secs(1),
        shared.retry_max.min(every).max(Duration::from_secs(1)),
    );
    loop {
        let today = at_office(shared.clock.now(), shared.timezone).date_naive();
        let tag = etag
            .as_ref()
            .filter(|(d, _)| *d == today)
            .map(|(_, t)| t.as_str());
        let wait = match shared.client.manifest(today, tag).await {
            Ok(ManifestFetch::NotModified) => {
                shared.contact_ok();
                backoff.reset();
                if kiosk.send(Event::ManifestConfirmed(today)).is_err() {
                    return;
                }
                every
            }
            Ok(ManifestFetch::Fresh {
                manifest,
                etag: new_tag,
            }) => {
                shared.contact_ok();
                backoff.reset();
                let dir = shared.state_dir.clone();
                let m = manifest.clone();
                match tokio::task::spawn_blocking(move || crate::manifest_cache::store(&dir, &m))
                    .await
                {
                    Ok(Ok(_)) => {
                        etag = new_tag.map(|t| (today, t));
                        tracing::info!(date = %today, bookings = manifest.bookings.len(), "manifest updated");
                        if kiosk.send(Event::ManifestUpdated(manifest)).is_err() {
                            return;
                        }
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "manifest not cached"),
                    Err(_) => {}
                }
                every
            }
            Err(e) => {
                shared.contact_failed(&e);
                tracing::warn!(error = %e, "manifest not refreshed; using the cached copy");
                backoff.next_delay(rand::random::<f64>())
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Sends the health report every `every` and whenever something in it
/// changes; notes the clock skew from the answer's `Date` header.
pub async fn run_health(shared: SyncShared, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut status = shared.status.subscribe();
    let mut printer = shared.printer.clone();
    let mut last_sent: Option<(String, u64)> = None;
    loop {
        let report = {
            let s = status.borrow_and_update().clone();
            HealthReport {
                at: at_office(shared.clock.now(), shared.timezone).to_rfc3339(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                printer: printer.borrow_and_update().clone(),
                pending_checkins: s.outbox,
                last_event_seq: s.last_event_seq,
            }
        };
        let key = (report.printer.state.clone(), report.pending_checkins);
        match shared.client.health(&shared.kiosk_id, &report).await {
            Ok(date) => {
                shared.contact_ok();
                last_sent = Some(key);
                if let Some(server) = date.and_then(|d| DateTime::parse_from_rfc2822(&d).ok()) {
                    let skew = server
                        .to_utc()
                        .signed_duration_since(shared.clock.now())
                        .num_seconds();
                    shared.status.send_if_modified(|s| {
                        let changed = s.clock_skew_seconds != Some(skew);
                        s.clock_skew_seconds = Some(skew);
                        changed
                    });
                    // A training clock (ANTREAN_NOW) differs on purpose.
                    if skew.abs() > 120 && !shared.clock.is_shifted() {
                        tracing::warn!(skew_seconds = skew,
                            "the kiosk clock differs from the central service by more than 2 minutes; check-in windows depend on it: fix NTP");
                    }
                }
            }
            Err(e) => shared.contact_failed(&e),
        }
        // Wait for the period, or a change worth reporting at once.
        let deadline = tokio::time::sleep(every);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = shutdown.changed() => return,
                r = printer.changed() => {
                    if r.is_err() { return; }
                    break;
                }
                r = status.changed() => {
                    if r.is_err() { return; }
                    let outbox = status.borrow().outbox;
                    if last_sent.as_ref().is_none_or(|(_, o)| *o != outbox) {
                        break;
                    }
                }
            }
        }
    }
}
