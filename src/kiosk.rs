//! The kiosk loop: one thread that owns the journal and the printer and
//! handles a closed set of [`Event`]s in order. For a scan it asks the pure
//! core what to do (verify, rule 10), then journals, prints and reports.
//! It never waits on the network longer than the configured answer deadline,
//! and only when the central service is believed reachable.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;

use crate::config::Config;
use crate::journal::{Journal, JournalError};
use crate::metrics::Metrics;
use crate::printer::port::{PrinterError, TicketPrinter};
use antrean_core::api::{CheckinRequest, CheckinResponse, PrinterHealth};
use antrean_core::booking::Booking;
use antrean_core::checkin::{
    at_office, checkin_decision, verify, CheckinDecision, DoubleReadFilter, KnownDay, Reason,
    Rejection, Rules,
};
use antrean_core::framing::Frame;
use antrean_core::keys::{KeyRing, TrustedKey};
use antrean_core::manifest::{default_service_name, Manifest};
use antrean_core::printer_status::PrinterStatus;
use antrean_core::ticket::{compose, Ticket, TicketInput};
use antrean_host::clock::Clock;

/// Longest pause between periodic checks of a printer that cannot be reached.
const PRINTER_CHECK_MAX: Duration = Duration::from_secs(30);

/// Everything the kiosk loop reacts to.
#[derive(Debug)]
pub enum Event {
    /// A framed read from a scanner, the keypad or the keyboard wedge.
    Scan(Frame),
    /// The central client fetched a newer manifest (already cached on disk).
    ManifestUpdated(Box<Manifest>),
    /// The central service confirmed that the manifest of this date is
    /// still current (`304`): the copy in hand is fresh.
    ManifestConfirmed(NaiveDate),
    /// Standard input ended (headless stdin mode): finish and stop.
    InputClosed,
    /// Print an information slip (walk-in help); the result goes to `reply`.
    PrintSlip {
        bytes: Vec<u8>,
        reply: Sender<Result<(), String>>,
    },
    /// Stop after the current scan.
    Shutdown,
}

/// What happened to one scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// First check-in, ticket printed.
    Accept,
    /// Same number printed again, `CETAK ULANG`.
    Reprint,
    /// Refused, with the reason and what the resident is told.
    Rejected(Rejection),
    /// The same scan within 3 seconds: nothing happens.
    DoubleRead,
    /// Checked in (or reprint asked) but the ticket did not print.
    PrinterFault(String),
    /// The journal could not record the check-in: nothing was printed.
    JournalFault(String),
}

impl Outcome {
    /// The code used in logs, the journal and reports.
    pub fn code(&self) -> &str {
        match self {
            Outcome::Accept => "accept",
            Outcome::Reprint => "reprint",
            Outcome::Rejected(r) => r.reason.code(),
            Outcome::DoubleRead => "double_read",
            Outcome::PrinterFault(_) => "printer_fault",
            Outcome::JournalFault(_) => "journal_fault",
        }
    }
}

/// A scan's result, as the UI and the tests see it.
#[derive(Debug, Clone)]
pub struct ScanReport {
    pub outcome: Outcome,
    pub at: DateTime<FixedOffset>,
    pub booking: Option<Booking>,
    /// The ticket that was (or should have been) printed.
    pub ticket: Option<Ticket>,
    /// People ahead, when the central service answered in time.
    pub ahead: Option<u32>,
    pub estimated_call: Option<String>,
    /// A ticket that was owed after a crash or printer fault was printed now.
    pub resumed: bool,
}

/// The result of sending a check-in at once.
#[derive(Debug)]
pub enum SendResult {
    Acked(CheckinResponse),
    /// Not sent (unreachable, timeout, error): it stays in the outbox.
    /// `offline` is true when the service was unreachable, not just slow.
    Failed {
        offline: bool,
    },
    /// A definitive refusal with the spec's reason code (`unknown_booking`,
    /// `cancelled`, or another code of `booking-qr.md`).
    Refused {
        code: String,
    },
}

/// The kiosk loop's view of the central service.
pub trait CentralLink: Send {
    /// True when the last contact succeeded (worth waiting for an answer).
    fn is_online(&self) -> bool;
    /// Sends a check-in and waits at most `deadline` for the answer.
    fn send_checkin(&self, request: &CheckinRequest, deadline: Duration) -> SendResult;
    /// A check-in was journaled; the outbox sender should look.
    fn nudge_outbox(&self);
}

/// The kiosk loop's state.
pub struct Kiosk {
    rules: Rules,
    config_keys: Vec<TrustedKey>,
    keys: KeyRing,
    manifest: Option<Manifest>,
    manifest_checked: Option<(NaiveDate, Option<std::time::SystemTime>)>,
    /// When the central service last confirmed `manifest` (fetched or `304`).
    manifest_confirmed: Option<DateTime<chrono::Utc>>,
    /// How long a confirmed manifest counts as fresh.
    manifest_fresh_for: chrono::Duration,
    retention_days: u32,
    purged_on: Option<NaiveDate>,
    status_every: Duration,
    status_checked: Instant,
    /// Pause before the next periodic printer check: `status_every`, or
    /// longer and longer while the printer cannot be reached.
    status_wait: Duration,
    printer_backoff: antrean_core::backoff::Backoff,
    state_dir: PathBuf,
    kiosk_id: String,
    office_name: String,
    columns: u8,
    footer: Vec<String>,
    answer_deadline: Duration,
    journal: Journal,
    printer: Box<dyn TicketPrinter>,
    clock: Clock,
    double: DoubleReadFilter,
    central: Option<Box<dyn CentralLink>>,
    reports: Vec<Sender<ScanReport>>,
    printer_health: tokio::sync::watch::Sender<PrinterHealth>,
    metrics: Arc<Metrics>,
    heartbeat: Arc<Heartbeat>,
    manifest_watch: tokio::sync::watch::Sender<Option<Arc<Manifest>>>,
}

/// The kiosk loop's sign of life, for the systemd watchdog: a hung loop
/// stops beating and gets restarted.
#[derive(Debug)]
pub struct Heartbeat {
    start: Instant,
    last_ms: std::sync::atomic::AtomicU64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            start: Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Time since the last beat.
    pub fn age(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(std::sync::atomic::Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

impl Kiosk {
    /// Builds the loop's state; the journal must already be open.
    pub fn new(
        config: &Config,
        journal: Journal,
        printer: Box<dyn TicketPrinter>,
        clock: Clock,
    ) -> Kiosk {
        let config_keys = config.trusted_keys();
        Kiosk {
            rules: config.rules(),
            keys: KeyRing::new(config_keys.clone()),
            config_keys,
            manifest: None,
            manifest_checked: None,
            manifest_confirmed: None,
            manifest_fresh_for: chrono::Duration::seconds(
                config
                    .central
                    .as_ref()
                    .map(|c| (2 * c.manifest_refresh_seconds).max(60) as i64)
                    .unwrap_or(0),
            ),
            retention_days: config.kiosk.retention_days,
            purged_on: None,
            status_every: Duration::from_secs(config.printer.status_every_seconds.max(1)),
            status_checked: Instant::now(),
            status_wait: Duration::from_secs(config.printer.status_every_seconds.max(1)),
            printer_backoff: antrean_core::backoff::Backoff::new(
                Duration::from_secs(config.printer.status_every_seconds.max(1)),
                PRINTER_CHECK_MAX,
            ),
            state_dir: config.kiosk.state_dir.clone(),
            kiosk_id: config.kiosk.id.clone(),
            office_name: config.office.name.clone(),
            columns: config.printer.columns,
            footer: config.ticket.footer.clone(),
            answer_deadline: Duration::from_millis(
                config
                    .central
                    .as_ref()
                    .map(|c| c.answer_deadline_ms)
                    .unwrap_or(0),
            ),
            journal,
            printer,
            clock,
            double: DoubleReadFilter::default(),
            central: None,
            reports: Vec::new(),
            printer_health: tokio::sync::watch::Sender::new(PrinterHealth {
                state: "ok".into(),
                detail: None,
            }),
            metrics: Arc::new(Metrics::new()),
            heartbeat: Arc::new(Heartbeat::default()),
            manifest_watch: tokio::sync::watch::Sender::new(None),
        }
    }

    /// Today's manifest as the loop uses it (screens read service names
    /// and sessions from it without touching the disk).
    pub fn manifest_watch(&self) -> tokio::sync::watch::Receiver<Option<Arc<Manifest>>> {
        self.manifest_watch.subscribe()
    }

    /// The loop's heartbeat (beats at least once a second while healthy).
    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// Counts into these metrics (shared with the status endpoint).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Kiosk {
        self.metrics = metrics;
        self
    }

    /// The printer's state as last seen (health reports, board, screens).
    pub fn printer_health(&self) -> tokio::sync::watch::Receiver<PrinterHealth> {
        self.printer_health.subscribe()
    }

    /// Asks the printer how it is and publishes the answer. While it cannot
    /// be reached (unplugged, switched off), the periodic checks back off.
    fn check_printer(&mut self) -> PrinterStatus {
        self.status_checked = Instant::now();
        let status = self.printer.status();
        self.metrics.attempt("printer_check", status.state.as_str());
        if status.state == antrean_core::printer_status::PrinterState::Offline {
            self.status_wait = self.printer_backoff.next_delay(rand::random());
        } else {
            self.printer_backoff.reset();
            self.status_wait = self.status_every;
        }
        self.set_printer_health(status.state.as_str(), status.detail.clone());
        status
    }

    fn set_printer_health(&self, state: &str, detail: Option<String>) {
        if self.printer_health.borrow().state != state {
            if state == "ok" || state == "paper_low" {
                tracing::info!(state, detail = ?detail, "printer state");
            } else {
                tracing::warn!(state, detail = ?detail,
                    "printer cannot print: new check-ins are refused until it is fixed");
            }
        }
        self.metrics
            .printer_ok
            .set(i64::from(state == "ok" || state == "paper_low"));
        self.printer_health.send_if_modified(|h| {
            let changed = h.state != state || h.detail != detail;
            h.state = state.to_string();
            h.detail = detail;
            changed
        });
    }

    /// Connects the central service link.
    pub fn with_central(mut self, link: Box<dyn CentralLink>) -> Kiosk {
        self.central = Some(link);
        self
    }

    /// Every scan's report is also sent here (UI, tests).
    pub fn report_to(&mut self, tx: Sender<ScanReport>) {
        self.reports.push(tx);
    }

    /// Handles events until shutdown, end of input or all senders gone.
    pub fn run(mut self, rx: Receiver<Event>) {
        self.purge();
        self.refresh_manifest();
        loop {
            self.heartbeat.beat();
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(Event::Scan(frame)) => {
                    self.handle_frame(frame);
                }
                Ok(Event::ManifestUpdated(m)) => {
                    if self.install_manifest(*m) {
                        self.manifest_confirmed = Some(self.clock.now());
                    }
                }
                Ok(Event::ManifestConfirmed(date)) => {
                    if self.manifest.as_ref().is_some_and(|m| m.date == date) {
                        self.manifest_confirmed = Some(self.clock.now());
                    }
                }
                Ok(Event::PrintSlip { bytes, reply }) => {
                    let result = self
                        .printer
                        .print(&bytes, "info")
                        .map_err(|e| e.to_string());
                    if let Err(e) = &result {
                        self.set_printer_health("offline", Some(e.clone()));
                    }
                    let _ = reply.send(result);
                }
                Ok(Event::InputClosed) | Ok(Event::Shutdown) => break,
                Err(RecvTimeoutError::Timeout) => {
                    self.refresh_manifest();
                    self.purge();
                    if self.status_checked.elapsed() >= self.status_wait {
                        self.check_printer();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::info!("kiosk loop stopped");
    }

    /// Once a day: forget what is older than the retention period.
    fn purge(&mut self) {
        let today = self.today();
        if self.purged_on == Some(today) {
            return;
        }
        self.purged_on = Some(today);
        let cutoff = today - chrono::Duration::days(i64::from(self.retention_days));
        match self.journal.purge_before(cutoff) {
            Ok(n) => {
                let m = crate::manifest_cache::purge_before(&self.state_dir, cutoff);
                if n > 0 || m > 0 {
                    tracing::info!(checkins = n, manifests = m, before = %cutoff, "old records purged");
                }
            }
            Err(e) => tracing::warn!(error = %e, "purge failed"),
        }
    }

    fn office_now(&self) -> DateTime<FixedOffset> {
        at_office(self.clock.now(), self.rules.timezone)
    }

    fn today(&self) -> NaiveDate {
        self.office_now().date_naive()
    }

    /// Takes a manifest of today for this office; false when it is not one.
    fn install_manifest(&mut self, m: Manifest) -> bool {
        if m.office != self.rules.office || m.date != self.today() {
            return false;
        }
        self.keys = KeyRing::new(self.config_keys.clone());
        let office = &self.rules.office;
        let (keys, published): (Vec<_>, Vec<_>) = m
            .trusted_keys()
            .into_iter()
            .partition(|k| k.trustworthy_for(office));
        for k in published {
            tracing::error!(kid = %k.kid, published_as = k.published_as(),
                "the central service's manifest offers a published test key; it is NOT trusted. Tell the central service's operators: see SECURITY.md");
        }
        self.keys.extend(keys);
        self.manifest_watch.send_replace(Some(Arc::new(m.clone())));
        self.manifest = Some(m);
        true
    }

    /// Loads today's cached manifest when the date changed or the file did.
    fn refresh_manifest(&mut self) {
        let today = self.today();
        let modified = crate::manifest_cache::modified(&self.state_dir, today);
        if self.manifest_checked == Some((today, modified)) {
            return;
        }
        self.manifest_checked = Some((today, modified));
        match crate::manifest_cache::load(&self.state_dir, today) {
            Ok(Some(m)) => {
                self.install_manifest(m);
            }
            Ok(None) => {
                if self.manifest.as_ref().is_some_and(|m| m.date != today) {
                    self.manifest = None;
                    self.manifest_confirmed = None;
                    self.manifest_watch.send_replace(None);
                    self.keys = KeyRing::new(self.config_keys.clone());
                }
            }
            Err(e) => tracing::warn!(error = %e, "cached manifest unusable"),
        }
    }

    /// Handles one frame; `None` for frames that are not scans.
    pub fn handle_frame(&mut self, frame: Frame) -> Option<ScanReport> {
        let started = Instant::now();
        let report = match frame {
            Frame::Scan(text) if text.trim().is_empty() => return None,
            Frame::Scan(text) => self.handle_scan(&text),
            Frame::Garbage => {
                let at = self.office_now();
                self.reject(at, Rejection::invalid_format())
            }
        };
        if matches!(report.outcome, Outcome::Accept | Outcome::Reprint) {
            self.metrics
                .print_seconds
                .observe(started.elapsed().as_secs_f64());
            self.metrics.ticket(if report.resumed {
                "resumed"
            } else if report.outcome == Outcome::Reprint {
                "reprint"
            } else {
                "first"
            });
        }
        self.finish(&report);
        Some(report)
    }

    fn handle_scan(&mut self, text: &str) -> ScanReport {
        let now_utc = self.clock.now();
        let at = at_office(now_utc, self.rules.timezone);
        if self.double.is_double(text, now_utc) {
            return ScanReport::bare(Outcome::DoubleRead, at);
        }
        self.refresh_manifest();
        let fresh = self
            .manifest_confirmed
            .is_some_and(|t| now_utc.signed_duration_since(t) <= self.manifest_fresh_for);
        let day = self
            .manifest
            .as_ref()
            .map(|manifest| KnownDay { manifest, fresh });
        let verified = match verify(text, at, &self.rules, &self.keys, day) {
            Ok(v) => v,
            Err(rejection) => return self.reject(at, rejection),
        };
        if verified.corrected {
            tracing::warn!(booking = %verified.booking.booking, number = %verified.booking.number,
                "the QR code disagrees with the central service's manifest for this booking; the manifest's number and session are used");
        }
        let unlisted = verified.unlisted;
        let booking = verified.booking;
        let state = match self.journal.state(&booking.booking) {
            Ok(s) => s,
            Err(e) => return self.journal_fault(at, booking, e),
        };
        let decision = checkin_decision(state, self.rules.reprint_limit);
        if decision != CheckinDecision::AlreadyPrinted {
            // No new check-in (and no ticket) while the printer cannot print.
            let status = self.check_printer();
            if !status.state.can_print() {
                let reason = format!(
                    "printer {}: {}",
                    status.state.as_str(),
                    status.detail.unwrap_or_default()
                );
                let _ = self
                    .journal
                    .record_printer_fault(at, Some(&booking.booking), &reason);
                return ScanReport {
                    booking: Some(booking),
                    ..ScanReport::bare(Outcome::PrinterFault(reason), at)
                };
            }
        }
        match decision {
            CheckinDecision::Accept if unlisted => match self.confirm_unlisted(&booking, at) {
                Confirmation::Refused(rejection) => self.reject(at, rejection),
                Confirmation::Confirmed(answer) => self.accept_confirmed(at, booking, answer),
                Confirmation::Unsure => self.accept(at, booking),
            },
            CheckinDecision::Accept => self.accept(at, booking),
            CheckinDecision::ResumePrint => self.resume(at, booking),
            CheckinDecision::Reprint => self.reprint(at, booking),
            CheckinDecision::AlreadyPrinted => {
                self.reject(at, Rejection::already_printed(&booking))
            }
        }
    }

    fn reject(&mut self, at: DateTime<FixedOffset>, rejection: Rejection) -> ScanReport {
        ScanReport::bare(Outcome::Rejected(rejection), at)
    }

    fn journal_fault(
        &mut self,
        at: DateTime<FixedOffset>,
        booking: Booking,
        e: JournalError,
    ) -> ScanReport {
        tracing::error!(error = %e, "journal unusable; check-in refused so that nothing is lost");
        ScanReport {
            booking: Some(booking),
            ..ScanReport::bare(Outcome::JournalFault(e.to_string()), at)
        }
    }

    fn accept(&mut self, at: DateTime<FixedOffset>, booking: Booking) -> ScanReport {
        let online = self.central.as_ref().is_some_and(|c| c.is_online());
        let offline = self.central.is_some() && !online;
        match self.journal.record_checkin(&booking, at, offline) {
            Ok(_) => {}
            Err(e) => return self.journal_fault(at, booking, e),
        }
        let (ahead, estimated_call) = if online {
            self.send_now(&booking, at)
        } else {
            (None, None)
        };
        if let Some(c) = &self.central {
            c.nudge_outbox();
        }
        self.print(at, booking, false, ahead, estimated_call, false)
    }

    /// Sends a fresh check-in at once when nothing older waits in the outbox
    /// (the outbox drains in order), and returns `ahead`/`estimated_call`.
    fn send_now(
        &mut self,
        booking: &Booking,
        at: DateTime<FixedOffset>,
    ) -> (Option<u32>, Option<String>) {
        let Some(central) = &self.central else {
            return (None, None);
        };
        if self.journal.outbox_len().unwrap_or(u64::MAX) > 1 {
            return (None, None);
        }
        let request = CheckinRequest {
            booking: booking.booking.clone(),
            number: booking.number.clone(),
            kiosk: self.kiosk_id.clone(),
            checked_in_at: at.to_rfc3339(),
            offline: false,
        };
        match central.send_checkin(&request, self.answer_deadline) {
            SendResult::Acked(answer) => {
                if let Err(e) = self.journal.mark_sent(
                    &booking.booking,
                    self.office_now(),
                    answer.ahead,
                    answer.estimated_call.as_deref(),
                ) {
                    tracing::warn!(error = %e, "could not mark the check-in as sent; the outbox will resend it");
                }
                (answer.ahead, answer.estimated_call)
            }
            SendResult::Failed { offline } => {
                if offline {
                    let _ = self.journal.mark_offline(&booking.booking);
                }
                (None, None)
            }
            // The outbox sends it again and records the refusal for staff.
            SendResult::Refused { .. } => (None, None),
        }
    }

    /// A signed booking that the fresh manifest does not list (booked in the
    /// last minutes, or unknown to the office): the central service decides
    /// when it answers in time; otherwise the signature does.
    fn confirm_unlisted(&mut self, booking: &Booking, at: DateTime<FixedOffset>) -> Confirmation {
        let Some(central) = self.central.as_ref().filter(|c| c.is_online()) else {
            return Confirmation::Unsure;
        };
        let request = CheckinRequest {
            booking: booking.booking.clone(),
            number: booking.number.clone(),
            kiosk: self.kiosk_id.clone(),
            checked_in_at: at.to_rfc3339(),
            offline: false,
        };
        match central.send_checkin(&request, self.answer_deadline) {
            SendResult::Acked(answer) => Confirmation::Confirmed(answer),
            SendResult::Refused { code } => {
                let reason = Reason::from_code(&code).unwrap_or(Reason::UnknownBooking);
                tracing::warn!(booking = %booking.booking, code = %code,
                    "the central service does not confirm a booking its manifest does not list");
                Confirmation::Refused(Rejection::about(reason, booking))
            }
            SendResult::Failed { .. } => Confirmation::Unsure,
        }
    }

    /// Journals and prints a check-in the central service already took.
    fn accept_confirmed(
        &mut self,
        at: DateTime<FixedOffset>,
        mut booking: Booking,
        answer: CheckinResponse,
    ) -> ScanReport {
        if answer.number != booking.number {
            tracing::warn!(booking = %booking.booking, number = %answer.number,
                "the central service gave this booking another number than its QR code; printing the central service's");
            booking.number = answer.number.clone();
        }
        if let Err(e) = self.journal.record_checkin(&booking, at, false) {
            return self.journal_fault(at, booking, e);
        }
        if let Err(e) = self.journal.mark_sent(
            &booking.booking,
            self.office_now(),
            answer.ahead,
            answer.estimated_call.as_deref(),
        ) {
            tracing::warn!(error = %e, "could not mark the check-in as sent; the outbox will resend it");
        }
        self.print(
            at,
            booking,
            false,
            answer.ahead,
            answer.estimated_call,
            false,
        )
    }

    fn resume(&mut self, at: DateTime<FixedOffset>, booking: Booking) -> ScanReport {
        // The original check-in time and answer belong on the owed ticket.
        let record = self.journal.checkin(&booking.booking).ok().flatten();
        let original = record.as_ref().map(|r| r.checked_in_at).unwrap_or(at);
        let ahead = record.as_ref().and_then(|r| r.ahead);
        let est = record.and_then(|r| r.estimated_call);
        let mut report = self.print(original, booking, false, ahead, est, true);
        report.at = at;
        report
    }

    fn reprint(&mut self, at: DateTime<FixedOffset>, booking: Booking) -> ScanReport {
        let original = self
            .journal
            .checkin(&booking.booking)
            .ok()
            .flatten()
            .map(|r| r.checked_in_at)
            .unwrap_or(at);
        let mut report = self.print(original, booking, true, None, None, false);
        report.at = at;
        report
    }

    /// Composes, encodes and prints; journals the result.
    fn print(
        &mut self,
        checked_in_at: DateTime<FixedOffset>,
        booking: Booking,
        reprint: bool,
        ahead: Option<u32>,
        estimated_call: Option<String>,
        resumed: bool,
    ) -> ScanReport {
        let ticket = compose_ticket(
            &TicketContext {
                office_name: &self.office_name,
                columns: self.columns,
                footer: &self.footer,
                timezone: self.rules.timezone,
                manifest: self.manifest.as_ref(),
            },
            &booking,
            checked_in_at,
            reprint,
            ahead,
            estimated_call.as_deref(),
        );
        let bytes = crate::printer::encode::encode_ticket(&ticket);
        let label = if reprint {
            format!("{}-ulang", booking.booking)
        } else {
            booking.booking.clone()
        };
        let now = self.office_now();
        let outcome = match self.printer.print(&bytes, &label) {
            Ok(()) => {
                self.set_printer_health("ok", None);
                let marked = if reprint {
                    self.journal.count_reprint(&booking.booking)
                } else {
                    self.journal.mark_printed(&booking.booking, now)
                };
                if let Err(e) = marked {
                    tracing::error!(error = %e, booking = %booking.booking, "ticket printed but the journal could not record it");
                }
                if reprint {
                    Outcome::Reprint
                } else {
                    Outcome::Accept
                }
            }
            Err(e) => {
                tracing::error!(error = %e, printer = %self.printer.describe(), "ticket not printed");
                let state = match &e {
                    PrinterError::NotReady { state, .. }
                    | PrinterError::AfterPrint { state, .. } => state,
                    _ => "offline",
                };
                self.set_printer_health(state, Some(e.to_string()));
                let _ =
                    self.journal
                        .record_printer_fault(now, Some(&booking.booking), &e.to_string());
                Outcome::PrinterFault(e.to_string())
            }
        };
        ScanReport {
            outcome,
            at: now,
            booking: Some(booking),
            ticket: Some(ticket),
            ahead,
            estimated_call,
            resumed,
        }
    }

    /// Journals the outcome, writes the scan's one log line, tells observers.
    fn finish(&mut self, report: &ScanReport) {
        let booking = report
            .booking
            .as_ref()
            .map(|b| b.booking.clone())
            .or_else(|| match &report.outcome {
                Outcome::Rejected(r) => r.booking.clone(),
                _ => None,
            });
        let number = report.booking.as_ref().map(|b| b.number.as_str());
        self.metrics.scan(report.outcome.code());
        if let Err(e) =
            self.journal
                .record_scan(report.at, report.outcome.code(), booking.as_deref())
        {
            tracing::warn!(error = %e, "scan not counted in the journal");
        }
        tracing::info!(
            target: "antrean_kiosk::scan",
            outcome = report.outcome.code(),
            booking = booking.as_deref(),
            number,
            resumed = report.resumed,
            ahead = report.ahead,
            "scan"
        );
        self.reports.retain(|tx| tx.send(report.clone()).is_ok());
    }
}

/// What the central service said of an unlisted booking.
enum Confirmation {
    Confirmed(CheckinResponse),
    Refused(Rejection),
    /// No answer in time, or offline: the signature decides.
    Unsure,
}

impl ScanReport {
    fn bare(outcome: Outcome, at: DateTime<FixedOffset>) -> ScanReport {
        ScanReport {
            outcome,
            at,
            booking: None,
            ticket: None,
            ahead: None,
            estimated_call: None,
            resumed: false,
        }
    }
}

/// What a ticket needs beyond the booking.
pub struct TicketContext<'a> {
    pub office_name: &'a str,
    pub columns: u8,
    pub footer: &'a [String],
    pub timezone: Tz,
    pub manifest: Option<&'a Manifest>,
}

impl<'a> TicketContext<'a> {
    pub fn from_config(config: &'a Config, manifest: Option<&'a Manifest>) -> TicketContext<'a> {
        TicketContext {
            office_name: &config.office.name,
            columns: config.printer.columns,
            footer: &config.ticket.footer,
            timezone: config.timezone(),
            manifest,
        }
    }
}

/// Composes a booking's ticket (service names from the manifest when known).
pub fn compose_ticket(
    ctx: &TicketContext,
    booking: &Booking,
    checked_in_at: DateTime<FixedOffset>,
    reprint: bool,
    ahead: Option<u32>,
    estimated_call: Option<&str>,
) -> Ticket {
    let service_name = ctx
        .manifest
        .map(|m| m.service_name(&booking.service))
        .filter(|name| *name != booking.service)
        .unwrap_or_else(|| default_service_name(&booking.service));
    compose(&TicketInput {
        columns: ctx.columns,
        office_name: ctx.office_name,
        booking,
        service_name,
        checked_in_at,
        timezone: ctx.timezone,
        reprint,
        ahead,
        estimated_call,
        footer: ctx.footer,
    })
}

/// A sample booking for `print-test` and `ticket-preview --sample`.
pub fn sample_booking(date: NaiveDate) -> Booking {
    Booking {
        booking: "CONTOH-0001".into(),
        number: "A-001".into(),
        date,
        slot: antrean_core::booking::Slot::parse("08:00-09:00").expect("valid slot"),
        service: "KTP-EL".into(),
        masked_name: None,
    }
}

/// Office time now on `clock`.
pub fn office_time(clock: &Clock, tz: Tz) -> DateTime<FixedOffset> {
    at_office(clock.now(), tz)
}
