//! Keeping the kiosk in step with the central service, as tokio tasks:
//! the manifest (fetched at start and every few minutes with ETag, cached
//! per date), the check-in outbox (sent in order, idempotent by booking),
//! the health report, and the link state the kiosk loop and the screens
//! read. The call board's stream is `board_sync`.
//!
//! Every task retries with capped, jittered backoff, honours `Retry-After`
//! within its cap, retries configuration problems (401, 403, unexpected
//! answers) slowly, and never wakes itself by its own failure: a failed
//! request changes the link state, and no task reacts to that by trying
//! again at once. Each attempt is counted in `antrean_attempts_total`.

use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::{watch, Notify};

use super::client::{CentralClient, ClientError, ManifestFetch, Retry};
use crate::journal::{CheckinRecord, Journal};
use crate::kiosk::{CentralLink, Event, SendResult};
use crate::metrics::Metrics;
use antrean_core::api::{CheckinRequest, HealthReport, PrinterHealth};
use antrean_core::backoff::Backoff;
use antrean_core::checkin::at_office;
use antrean_host::clock::Clock;

/// The outbox looks at the journal this often when it is empty (a new
/// check-in nudges it sooner).
const OUTBOX_IDLE: Duration = Duration::from_secs(30);
/// The manifest is never fetched more often than this, whatever the
/// configuration says.
const MIN_MANIFEST_EVERY: Duration = Duration::from_secs(10);
/// A change in the health report is sent at once, but never sooner than
/// this after the previous report.
const HEALTH_MIN_GAP: Duration = Duration::from_secs(2);
/// Unexpected answers about single check-ins in a row before the outbox
/// takes the service itself for broken and waits.
const UNEXPECTED_IN_A_ROW: usize = 3;

/// Something staff must fix (a token, a role, the URL), and which task saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    pub task: &'static str,
    pub message: String,
}

/// What the kiosk knows of its link to the central service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkStatus {
    /// The last request reached the service.
    pub online: bool,
    /// When the service last answered anything.
    pub last_contact: Option<DateTime<Utc>>,
    /// The last error, for staff.
    pub last_error: Option<String>,
    /// A configuration problem that retrying will not fix (401, 403, an
    /// answer outside the contract); cleared when the same task succeeds.
    pub attention: Option<Attention>,
    /// Check-ins waiting to be sent (refused ones are not waiting).
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
    pub metrics: Arc<Metrics>,
}

impl SyncShared {
    /// Records a successful contact by `task` (`checkins`, `manifest`,
    /// `health`): a configuration problem that task saw is over.
    pub fn contact_ok(&self, task: &'static str) {
        let now = self.clock.now();
        self.status.send_if_modified(|s| {
            let before = (s.online, s.last_error.is_some(), s.attention.clone());
            s.online = true;
            s.last_contact = Some(now);
            s.last_error = None;
            if s.attention.as_ref().is_some_and(|a| a.task == task) {
                tracing::info!(task, "central service accepts the kiosk again");
                s.attention = None;
            }
            // The contact time alone is not news worth waking anyone for.
            before != (s.online, s.last_error.is_some(), s.attention.clone())
        });
    }

    /// Records a failed contact by `task` (only reachability errors make
    /// us offline; configuration problems are flagged for staff).
    pub fn contact_failed(&self, task: &'static str, e: &ClientError) {
        let offline = e.is_unreachable() || matches!(e, ClientError::Server { .. });
        let message = e.to_string();
        self.status.send_if_modified(|s| {
            let before = (s.online, s.last_error.clone(), s.attention.clone());
            if offline {
                s.online = false;
            }
            if e.needs_staff() {
                let attention = Attention {
                    task,
                    message: message.clone(),
                };
                if s.attention.as_ref() != Some(&attention) {
                    tracing::error!(task, error = %message, "the central service does not accept this kiosk: staff must fix the configuration");
                }
                s.attention = Some(attention);
            }
            s.last_error = Some(message.clone());
            before != (s.online, s.last_error.clone(), s.attention.clone())
        });
    }

    /// The backoff for configuration problems: from `retry_max` up to ten
    /// times that.
    fn slow_backoff(&self) -> Backoff {
        slow_backoff(self.retry_max)
    }
}

fn slow_backoff(retry_max: Duration) -> Backoff {
    Backoff::new(retry_max, retry_max.saturating_mul(10))
}

/// The pause after a failure, by the error's retry class.
fn retry_delay(e: &ClientError, soon: &mut Backoff, slow: &mut Backoff) -> Duration {
    match e.retry() {
        Retry::Soon(at_least) => soon.next_delay_at_least(rand::random(), at_least),
        Retry::Slowly | Retry::Never => slow.next_delay(rand::random()),
    }
}

fn result_label<T>(r: &Result<T, ClientError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.label(),
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
        let label = match &answer {
            Ok(r) => result_label(r),
            Err(_) => "deadline",
        };
        self.shared.metrics.attempt("checkin_now", label);
        match answer {
            Ok(Ok(resp)) => {
                self.shared.contact_ok("checkins");
                SendResult::Acked(resp)
            }
            Ok(Err(ClientError::Refused { code, .. })) => {
                self.shared.contact_ok("checkins");
                SendResult::Refused { code }
            }
            Ok(Err(e)) => {
                self.shared.contact_failed("checkins", &e);
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

/// Sends the outbox, oldest first, until `shutdown`. Only the contract's
/// definitive answers refuse a check-in; everything else keeps it waiting.
pub async fn run_outbox(shared: SyncShared, journal: Journal, mut shutdown: watch::Receiver<bool>) {
    let journal = Arc::new(Mutex::new(journal));
    let mut soon = Backoff::new(Duration::from_millis(500), shared.retry_max);
    let mut slow = shared.slow_backoff();
    loop {
        let Some(pending) = with_journal(journal.clone(), |j| j.outbox()).await else {
            tracing::warn!("outbox unreadable; retrying");
            if wait(OUTBOX_IDLE, &mut shutdown).await {
                return;
            }
            continue;
        };
        let set_depth = |n: u64| {
            shared.status.send_if_modified(|s| {
                let changed = s.outbox != n;
                s.outbox = n;
                changed
            });
        };
        let mut left = pending.len() as u64;
        set_depth(left);
        // The pause when the service failed as a whole.
        let mut failure: Option<Duration> = None;
        let mut skipped = 0usize;
        let mut unexpected = 0usize;
        for record in &pending {
            let request = request_of(record, &shared.kiosk_id);
            let result = tokio::select! {
                r = shared.client.checkin(&request) => r,
                _ = shutdown.changed() => return,
            };
            shared.metrics.attempt("outbox", result_label(&result));
            let j = journal.clone();
            let booking = record.booking.clone();
            match result {
                Ok(resp) => {
                    shared.contact_ok("checkins");
                    soon.reset();
                    slow.reset();
                    unexpected = 0;
                    let now = at_office(shared.clock.now(), shared.timezone);
                    with_journal(j, move |j| {
                        j.mark_sent(&booking, now, resp.ahead, resp.estimated_call.as_deref())
                    })
                    .await;
                    left -= 1;
                    set_depth(left);
                    tracing::info!(booking = %record.booking, offline = record.offline, duplicate = resp.duplicate, "check-in delivered");
                }
                Err(ClientError::Refused {
                    code,
                    message,
                    status,
                }) => {
                    shared.contact_ok("checkins");
                    tracing::warn!(booking = %record.booking, status, code = %code, message = %message,
                        "central service refused a check-in; listed for staff in the day report");
                    with_journal(j, move |j| j.mark_refused(&booking, &code)).await;
                    left -= 1;
                    set_depth(left);
                }
                Err(e @ ClientError::Unexpected { .. }) => {
                    // An answer about this check-in that may change: it
                    // stays in the outbox, the next one is tried.
                    shared.contact_failed("checkins", &e);
                    tracing::warn!(booking = %record.booking, error = %e, "outbox not delivered; will retry slowly");
                    skipped += 1;
                    unexpected += 1;
                    if unexpected >= UNEXPECTED_IN_A_ROW {
                        failure = Some(slow.next_delay(rand::random()));
                        break;
                    }
                }
                Err(e) => {
                    shared.contact_failed("checkins", &e);
                    let pause = retry_delay(&e, &mut soon, &mut slow);
                    tracing::warn!(error = %e, pending = left, retry_in = ?pause, "outbox not delivered; will retry");
                    failure = Some(pause);
                    break;
                }
            }
        }
        // Priority requests go after their check-ins were delivered.
        if failure.is_none() {
            let outcome = tokio::select! {
                o = send_priorities(&shared, &journal) => o,
                _ = shutdown.changed() => return,
            };
            match outcome {
                PriorityOutcome::Done => {}
                PriorityOutcome::Later { slowly: true } => skipped += 1,
                PriorityOutcome::Later { slowly: false } => {
                    failure = Some(soon.next_delay(rand::random()));
                }
                PriorityOutcome::Failed(e) => {
                    failure = Some(retry_delay(&e, &mut soon, &mut slow));
                }
            }
        }
        let pause = match failure {
            Some(d) => d,
            None if skipped > 0 => slow.next_delay(rand::random()),
            None if pending.is_empty() => OUTBOX_IDLE,
            // Everything went out: look again at once for newer ones.
            None => Duration::ZERO,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            // A new check-in is only worth an early try when the service answers.
            _ = shared.nudge.notified(), if failure.is_none() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// How a round of priority requests went.
enum PriorityOutcome {
    /// Nothing left to send.
    Done,
    /// Some wait for the service: `409 not_checked_in` (soon, with the
    /// ordinary backoff) or an unexpected answer (slowly).
    Later { slowly: bool },
    /// The service could not be reached: back off.
    Failed(ClientError),
}

/// Sends the priority outbox (requests whose check-in was delivered),
/// oldest first. A definitive refusal (`unknown_booking`, `cancelled`)
/// ends a request; `not_checked_in` and other answers keep it.
async fn send_priorities(shared: &SyncShared, journal: &Arc<Mutex<Journal>>) -> PriorityOutcome {
    let Some(pending) = with_journal(journal.clone(), |j| j.priority_outbox()).await else {
        return PriorityOutcome::Later { slowly: true };
    };
    let mut later: Option<bool> = None;
    for (booking, requested_at) in pending {
        let request = antrean_core::api::PriorityRequest {
            kiosk: shared.kiosk_id.clone(),
            requested_at,
        };
        let result = shared.client.priority(&booking, &request).await;
        shared.metrics.attempt("priority", result_label(&result));
        let j = journal.clone();
        match result {
            Ok(answer) => {
                shared.contact_ok("checkins");
                let now = at_office(shared.clock.now(), shared.timezone);
                let state = serde_json::to_value(answer.priority)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "requested".into());
                tracing::info!(booking = %booking, state = %state, "priority request delivered");
                with_journal(j, move |j| j.mark_priority_sent(&booking, now, &state)).await;
            }
            Err(ClientError::Refused { code, status, .. }) => {
                shared.contact_ok("checkins");
                tracing::warn!(booking = %booking, status, code = %code, "central service refused a priority request");
                with_journal(j, move |j| j.mark_priority_refused(&booking, &code)).await;
            }
            Err(ClientError::Unexpected { status, code, .. })
                if status == 409 && code == "not_checked_in" =>
            {
                tracing::info!(booking = %booking, "priority request: the check-in has not arrived yet; will retry");
                later = Some(later.unwrap_or(false));
            }
            Err(e @ ClientError::Unexpected { .. }) => {
                tracing::warn!(booking = %booking, error = %e, "priority request not delivered; will retry slowly");
                later = Some(true);
            }
            Err(e) => {
                shared.contact_failed("checkins", &e);
                tracing::warn!(error = %e, "priority request not delivered; will retry");
                return PriorityOutcome::Failed(e);
            }
        }
    }
    match later {
        Some(slowly) => PriorityOutcome::Later { slowly },
        None => PriorityOutcome::Done,
    }
}

/// Sleeps; true when shutdown came first.
async fn wait(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.changed() => true,
    }
}

/// Fetches today's manifest at start and every `every` (at least 10 s),
/// caches it, and hands it to the kiosk loop.
pub async fn run_manifest(
    shared: SyncShared,
    kiosk: SyncSender<Event>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = every.max(MIN_MANIFEST_EVERY);
    let mut etag: Option<(chrono::NaiveDate, String)> = None;
    let mut soon = Backoff::new(Duration::from_secs(1), shared.retry_max.min(every));
    let mut slow = shared.slow_backoff();
    loop {
        let today = at_office(shared.clock.now(), shared.timezone).date_naive();
        let tag = etag
            .as_ref()
            .filter(|(d, _)| *d == today)
            .map(|(_, t)| t.as_str());
        let fetched = tokio::select! {
            r = shared.client.manifest(today, tag) => r,
            _ = shutdown.changed() => return,
        };
        shared.metrics.attempt("manifest", result_label(&fetched));
        let pause = match fetched {
            Ok(ManifestFetch::NotModified) => {
                shared.contact_ok("manifest");
                soon.reset();
                slow.reset();
                match kiosk.try_send(Event::ManifestConfirmed(today)) {
                    Ok(()) | Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => return,
                }
                every
            }
            Ok(ManifestFetch::Fresh {
                manifest,
                etag: new_tag,
            }) => {
                shared.contact_ok("manifest");
                soon.reset();
                slow.reset();
                let dir = shared.state_dir.clone();
                let m = manifest.clone();
                match tokio::task::spawn_blocking(move || crate::manifest_cache::store(&dir, &m))
                    .await
                {
                    Ok(Ok(_)) => {
                        etag = new_tag.map(|t| (today, t));
                        tracing::info!(date = %today, bookings = manifest.bookings.len(), "manifest updated");
                        match kiosk.try_send(Event::ManifestUpdated(manifest)) {
                            Ok(()) => {}
                            // The loop is busy: it reads the cached file itself.
                            Err(TrySendError::Full(_)) => {}
                            Err(TrySendError::Disconnected(_)) => return,
                        }
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "manifest not cached"),
                    Err(_) => {}
                }
                every
            }
            Err(e) => {
                shared.contact_failed("manifest", &e);
                let pause = retry_delay(&e, &mut soon, &mut slow);
                tracing::warn!(error = %e, retry_in = ?pause, "manifest not refreshed; using the cached copy");
                pause
            }
        };
        if wait(pause, &mut shutdown).await {
            return;
        }
    }
}

/// Sends the health report every `every`, and soon after something in it
/// changes (never sooner than 2 s after the previous one); failures back
/// off and do not listen for changes. Notes the clock skew from the
/// answer's `Date` header.
pub async fn run_health(shared: SyncShared, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut status = shared.status.subscribe();
    let mut printer = shared.printer.clone();
    let mut soon = Backoff::new(Duration::from_secs(1), every);
    let mut slow = slow_backoff(every);
    let mut last_sent: Option<(antrean_core::printer_status::PrinterState, u64)> = None;
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
        let key = (report.printer.state, report.pending_checkins);
        let sent_at = tokio::time::Instant::now();
        let result = tokio::select! {
            r = shared.client.health(&shared.kiosk_id, &report) => r,
            _ = shutdown.changed() => return,
        };
        shared.metrics.attempt("health", result_label(&result));
        let (pause, delivered) = match result {
            Ok(date) => {
                shared.contact_ok("health");
                soon.reset();
                slow.reset();
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
                (every, true)
            }
            Err(e) => {
                shared.contact_failed("health", &e);
                (retry_delay(&e, &mut soon, &mut slow), false)
            }
        };
        // Our own contact_ok/contact_failed is not news.
        status.borrow_and_update();
        let deadline = tokio::time::sleep(pause);
        tokio::pin!(deadline);
        // Only after a delivered report does a change bring the next one
        // forward; after a failure the next try carries the latest state.
        let mut watching = delivered;
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = shutdown.changed() => return,
                r = printer.changed(), if watching => if r.is_err() { return },
                r = status.changed(), if watching => if r.is_err() { return },
            }
            let now_key = (
                printer.borrow_and_update().state,
                status.borrow_and_update().outbox,
            );
            if last_sent.as_ref() != Some(&now_key) {
                watching = false;
                let soonest = (sent_at + HEALTH_MIN_GAP).max(tokio::time::Instant::now());
                if soonest < deadline.deadline() {
                    deadline.as_mut().reset(soonest);
                }
            }
        }
    }
}
