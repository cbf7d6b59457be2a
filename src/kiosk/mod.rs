//! The kiosk loop: one thread that handles a closed set of [`Event`]s in
//! order. For a scan it asks the pure core what to do (verify, rule 10),
//! then journals, prints and reports. It is composed of parts that each
//! own one thing: the [`Day`] (manifest, keys, freshness), the
//! [`Printer`] (port, status, the "can we print" decision), the journal,
//! the [`Uplink`] to the central service, the retention of old records.
//! It never waits on the network longer than the configured answer
//! deadline, and only when the central service is believed reachable.

pub mod day;
pub mod ticket;
pub mod uplink;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::config::Config;
use crate::journal::{Journal, JournalError};
use crate::metrics::Metrics;
use crate::printer::{Printer, PrinterError};
use antrean_core::api::CheckinResponse;
use antrean_core::booking::Booking;
use antrean_core::checkin::{
    at_office, checkin_decision, verify, CheckinDecision, DoubleReadFilter, Rejection, Rules,
};
use antrean_core::framing::Frame;
use antrean_core::manifest::Manifest;
use antrean_core::printer_status::PrinterState;
use antrean_core::ticket::Ticket;
use antrean_host::clock::Clock;

pub use day::Day;
pub use ticket::{compose_ticket, sample_booking, TicketContext};
pub use uplink::{CentralLink, Confirmation, SendResult, Uplink};

/// Where scan reports go (the screens, tests). Called on the kiosk loop's
/// thread: it must not block. Returns false when the observer is gone.
pub type ReportSink = Box<dyn FnMut(&ScanReport) -> bool + Send>;

/// A [`ReportSink`] that sends each report into a channel.
pub fn report_channel(tx: std::sync::mpsc::Sender<ScanReport>) -> ReportSink {
    Box::new(move |r| tx.send(r.clone()).is_ok())
}

/// The answer to a [`Event::PrintSlip`].
pub type SlipReply = tokio::sync::oneshot::Sender<Result<(), PrinterError>>;

/// Everything the kiosk loop reacts to.
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
    PrintSlip { bytes: Vec<u8>, reply: SlipReply },
    /// From now on, every scan's report also goes here.
    Observe(ReportSink),
    /// Screens that can offer the "Prioritas" choice are attached: from
    /// now on a fresh ticket waits `[kiosk] priority_wait_seconds` for it.
    OfferPriority,
    /// The resident pressed "Prioritas" for this queue number.
    Priority { number: String },
    /// Stop after the current scan.
    Shutdown,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Scan(frame) => f.debug_tuple("Scan").field(frame).finish(),
            Event::ManifestUpdated(m) => f.debug_tuple("ManifestUpdated").field(&m.date).finish(),
            Event::ManifestConfirmed(d) => f.debug_tuple("ManifestConfirmed").field(d).finish(),
            Event::InputClosed => f.write_str("InputClosed"),
            Event::PrintSlip { bytes, .. } => write!(f, "PrintSlip({} bytes)", bytes.len()),
            Event::Observe(_) => f.write_str("Observe"),
            Event::OfferPriority => f.write_str("OfferPriority"),
            Event::Priority { number } => f.debug_tuple("Priority").field(number).finish(),
            Event::Shutdown => f.write_str("Shutdown"),
        }
    }
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
    /// Checked in (or reprint asked) but the ticket did not print: the
    /// printer's state (the detail is in the log).
    PrinterFault(PrinterState),
    /// The journal could not record the check-in: nothing was printed
    /// (the detail is in the log).
    JournalFault,
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
            Outcome::JournalFault => "journal_fault",
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
    /// Checked in; the ticket prints once the resident chose "Prioritas"
    /// or this long passed. Only observers see such a report; the scan's
    /// log line comes with the printed ticket.
    pub choosing: Option<Duration>,
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
            choosing: None,
        }
    }
}

/// What kind of ticket is printed.
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    /// `CETAK ULANG`.
    reprint: bool,
    /// `PRIORITAS`.
    priority: bool,
    /// The owed ticket of an earlier check-in.
    resumed: bool,
}

/// A fresh check-in, journaled and sent, whose ticket waits for the
/// resident's priority choice.
struct Pending {
    checked_in_at: DateTime<FixedOffset>,
    booking: Booking,
    ahead: Option<u32>,
    estimated_call: Option<String>,
    until: Instant,
    started: Instant,
}

/// The kiosk loop's sign of life, for the systemd watchdog: a hung loop
/// stops beating and gets restarted.
#[derive(Debug)]
pub struct Heartbeat {
    start: Instant,
    last_ms: AtomicU64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the last beat.
    pub fn age(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// Forgets, once a day, what is older than the retention period.
struct Retention {
    days: u32,
    state_dir: PathBuf,
    purged_on: Option<NaiveDate>,
}

impl Retention {
    fn purge_if_due(&mut self, today: NaiveDate, journal: &Journal) {
        if self.purged_on == Some(today) {
            return;
        }
        self.purged_on = Some(today);
        let cutoff = today - chrono::Duration::days(i64::from(self.days));
        match journal.purge_before(cutoff) {
            Ok(n) => {
                let m = crate::manifest_cache::purge_before(&self.state_dir, cutoff);
                if n > 0 || m > 0 {
                    tracing::info!(checkins = n, manifests = m, before = %cutoff, "old records purged");
                }
            }
            Err(e) => tracing::warn!(error = %e, "purge failed"),
        }
    }
}

/// The kiosk loop's parts.
pub struct Kiosk {
    rules: Rules,
    clock: Clock,
    day: Day,
    printer: Printer,
    journal: Journal,
    uplink: Uplink,
    /// Office id and name, paper width, footer, status page.
    office_id: String,
    office_name: String,
    columns: u8,
    footer: Vec<String>,
    status_url: String,
    retention: Retention,
    double: DoubleReadFilter,
    observers: Vec<ReportSink>,
    metrics: Arc<Metrics>,
    heartbeat: Arc<Heartbeat>,
    /// The loop beats at least this often.
    beat_every: Duration,
    /// How long a fresh ticket waits for "Prioritas" (zero: never asked).
    priority_wait: Duration,
    /// Screens that offer the choice are attached.
    offer_priority: bool,
    pending: Option<Pending>,
}

impl Kiosk {
    /// Builds the loop's state; the journal must already be open.
    pub fn new(
        config: &Config,
        journal: Journal,
        printer: Printer,
        uplink: Uplink,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Kiosk {
        Kiosk {
            rules: config.rules(),
            clock,
            day: Day::new(config),
            printer,
            journal,
            uplink,
            office_id: config.office.id.clone(),
            office_name: config.office.name.clone(),
            columns: config.printer.columns,
            footer: config.ticket.footer.clone(),
            status_url: config.ticket.status_url.clone(),
            retention: Retention {
                days: config.kiosk.retention_days,
                state_dir: config.kiosk.state_dir.clone(),
                purged_on: None,
            },
            double: DoubleReadFilter::default(),
            observers: Vec::new(),
            metrics,
            heartbeat: Arc::new(Heartbeat::default()),
            beat_every: Duration::from_secs(5),
            priority_wait: Duration::from_secs(config.kiosk.priority_wait_seconds),
            offer_priority: false,
            pending: None,
        }
    }

    /// Beats at least this often (a quarter of the systemd watchdog period).
    pub fn beating_every(mut self, every: Duration) -> Kiosk {
        self.beat_every = every.max(Duration::from_millis(10));
        self
    }

    /// Today's manifest as the loop holds it.
    pub fn manifest_watch(&self) -> tokio::sync::watch::Receiver<Option<Arc<Manifest>>> {
        self.day.watch()
    }

    /// The loop's heartbeat.
    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// The printer's state as last seen (health reports, board, screens).
    pub fn printer_health(&self) -> tokio::sync::watch::Receiver<antrean_core::api::PrinterHealth> {
        self.printer.health()
    }

    /// Every scan's report also goes to `sink`.
    pub fn observe(&mut self, sink: ReportSink) {
        self.observers.push(sink);
    }

    /// Handles events until shutdown, end of input or all senders gone.
    /// Between events it sleeps until the next periodic printer check or
    /// heartbeat is due.
    pub fn run(mut self, rx: Receiver<Event>) {
        self.housekeeping();
        loop {
            self.heartbeat.beat();
            let now = Instant::now();
            let mut wait = self
                .printer
                .next_check()
                .saturating_duration_since(now)
                .min(self.beat_every);
            if let Some(p) = &self.pending {
                wait = wait.min(p.until.saturating_duration_since(now));
            }
            let event = rx.recv_timeout(wait);
            // Anything but the choice itself prints a waiting ticket first
            // (as ordinary), so tickets come out in check-in order.
            if !matches!(
                event,
                Ok(Event::Priority { .. })
                    | Ok(Event::Observe(_))
                    | Ok(Event::ManifestConfirmed(_))
                    | Err(RecvTimeoutError::Timeout)
            ) {
                self.resolve_pending(false);
            }
            match event {
                Ok(Event::Scan(frame)) => {
                    self.handle_frame(frame);
                }
                Ok(Event::OfferPriority) => {
                    self.offer_priority = !self.priority_wait.is_zero();
                }
                Ok(Event::Priority { number }) => {
                    if self
                        .pending
                        .as_ref()
                        .is_some_and(|p| p.booking.number == number)
                    {
                        self.resolve_pending(true);
                    } else {
                        tracing::info!(number = %number, "priority chosen too late: the ticket was already printed; staff can help at the counter");
                    }
                }
                Ok(Event::ManifestUpdated(m)) => {
                    let (today, now) = (self.today(), self.clock.now());
                    self.day.fetched(*m, today, now);
                }
                Ok(Event::ManifestConfirmed(date)) => self.day.confirmed(date, self.clock.now()),
                Ok(Event::PrintSlip { bytes, reply }) => {
                    let result = self
                        .printer
                        .ready()
                        .and_then(|()| self.printer.print(&bytes, "info"));
                    if let Err(e) = &result {
                        tracing::warn!(error = %e, "information slip not printed");
                    }
                    let _ = reply.send(result);
                }
                Ok(Event::Observe(sink)) => self.observers.push(sink),
                Ok(Event::InputClosed) | Ok(Event::Shutdown) => break,
                Err(RecvTimeoutError::Timeout) => {
                    if self
                        .pending
                        .as_ref()
                        .is_some_and(|p| p.until <= Instant::now())
                    {
                        self.resolve_pending(false);
                    }
                    self.housekeeping();
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::info!("kiosk loop stopped");
    }

    /// Between events: today's manifest (the date or the cache may have
    /// changed), old records, the periodic printer check.
    fn housekeeping(&mut self) {
        let today = self.today();
        self.day.refresh(today);
        self.retention.purge_if_due(today, &self.journal);
        self.printer.check_if_due();
    }

    fn office_now(&self) -> DateTime<FixedOffset> {
        at_office(self.clock.now(), self.rules.timezone)
    }

    fn today(&self) -> NaiveDate {
        self.office_now().date_naive()
    }

    /// Handles one frame; `None` for frames that are not scans.
    pub fn handle_frame(&mut self, frame: Frame) -> Option<ScanReport> {
        let started = Instant::now();
        let report = match frame {
            Frame::Scan(text) if text.trim().is_empty() => return None,
            Frame::Scan(text) => self.handle_scan(&text),
            Frame::Garbage => {
                let at = self.office_now();
                ScanReport::bare(Outcome::Rejected(Rejection::invalid_format()), at)
            }
        };
        if report.choosing.is_some() {
            self.observers.retain_mut(|sink| sink(&report));
            return Some(report);
        }
        self.printed(&report, started);
        Some(report)
    }

    /// Prints a waiting ticket: with `PRIORITAS` (the request journaled
    /// first, for the priority outbox) or ordinary.
    fn resolve_pending(&mut self, priority: bool) {
        let Some(p) = self.pending.take() else {
            return;
        };
        if priority {
            match self
                .journal
                .record_priority(&p.booking.booking, self.office_now())
            {
                Ok(()) => self.uplink.nudge(),
                Err(e) => {
                    tracing::error!(error = %e, "priority request not journaled; staff can mark it at the counter")
                }
            }
        }
        let marks = Marks {
            priority,
            ..Marks::default()
        };
        let report = self.print(p.checked_in_at, p.booking, marks, p.ahead, p.estimated_call);
        self.printed(&report, p.started);
    }

    /// Metrics, journal, log line and observers of a finished scan.
    fn printed(&mut self, report: &ScanReport, started: Instant) {
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
        self.finish(report);
    }

    fn handle_scan(&mut self, text: &str) -> ScanReport {
        let now_utc = self.clock.now();
        let at = at_office(now_utc, self.rules.timezone);
        if self.double.is_double(text, now_utc) {
            return ScanReport::bare(Outcome::DoubleRead, at);
        }
        self.day.refresh(at.date_naive());
        let verified = match verify(
            text,
            at,
            &self.rules,
            self.day.keys(),
            self.day.known(now_utc),
        ) {
            Ok(v) => v,
            Err(rejection) => return ScanReport::bare(Outcome::Rejected(rejection), at),
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
            if let Err(e) = self.printer.ready() {
                let reason = e.to_string();
                tracing::warn!(error = %reason, "check-in refused: the printer cannot print");
                let _ = self
                    .journal
                    .record_printer_fault(at, Some(&booking.booking), &reason);
                return ScanReport {
                    booking: Some(booking),
                    ..ScanReport::bare(Outcome::PrinterFault(e.state()), at)
                };
            }
        }
        match decision {
            CheckinDecision::Accept if unlisted => match self.uplink.confirm(&booking, at) {
                Confirmation::Refused(rejection) => {
                    ScanReport::bare(Outcome::Rejected(rejection), at)
                }
                Confirmation::Confirmed(answer) => self.accept_confirmed(at, booking, answer),
                Confirmation::Unsure => self.accept(at, booking),
            },
            CheckinDecision::Accept => self.accept(at, booking),
            CheckinDecision::ResumePrint => self.resume(at, booking),
            CheckinDecision::Reprint => self.reprint(at, booking),
            CheckinDecision::AlreadyPrinted => {
                ScanReport::bare(Outcome::Rejected(Rejection::already_printed(&booking)), at)
            }
        }
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
            ..ScanReport::bare(Outcome::JournalFault, at)
        }
    }

    fn accept(&mut self, at: DateTime<FixedOffset>, booking: Booking) -> ScanReport {
        let online = self.uplink.online();
        let offline = self.uplink.configured() && !online;
        if let Err(e) = self.journal.record_checkin(&booking, at, offline) {
            return self.journal_fault(at, booking, e);
        }
        let (ahead, estimated_call) = if online {
            self.send_now(&booking, at)
        } else {
            (None, None)
        };
        self.uplink.nudge();
        self.print_or_offer(at, booking, ahead, estimated_call)
    }

    /// Prints a fresh ticket, or, with screens that offer "Prioritas",
    /// holds it for the resident's choice (the check-in is journaled and
    /// sent already: only the paper waits).
    fn print_or_offer(
        &mut self,
        at: DateTime<FixedOffset>,
        booking: Booking,
        ahead: Option<u32>,
        estimated_call: Option<String>,
    ) -> ScanReport {
        if !self.offer_priority {
            return self.print(at, booking, Marks::default(), ahead, estimated_call);
        }
        let now = Instant::now();
        self.pending = Some(Pending {
            checked_in_at: at,
            booking: booking.clone(),
            ahead,
            estimated_call: estimated_call.clone(),
            until: now + self.priority_wait,
            started: now,
        });
        ScanReport {
            booking: Some(booking),
            ahead,
            estimated_call,
            choosing: Some(self.priority_wait),
            ..ScanReport::bare(Outcome::Accept, at)
        }
    }

    /// Sends a fresh check-in at once when nothing older waits in the outbox
    /// (the outbox drains in order), and returns `ahead`/`estimated_call`.
    fn send_now(
        &mut self,
        booking: &Booking,
        at: DateTime<FixedOffset>,
    ) -> (Option<u32>, Option<String>) {
        if self.journal.outbox_len().unwrap_or(u64::MAX) > 1 {
            return (None, None);
        }
        match self.uplink.send_now(booking, at) {
            SendResult::Acked(answer) => {
                self.mark_sent(&booking.booking, &answer);
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

    fn mark_sent(&mut self, booking: &str, answer: &CheckinResponse) {
        if let Err(e) = self.journal.mark_sent(
            booking,
            self.office_now(),
            answer.ahead,
            answer.estimated_call.as_deref(),
        ) {
            tracing::warn!(error = %e, "could not mark the check-in as sent; the outbox will resend it");
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
        self.mark_sent(&booking.booking, &answer);
        self.print_or_offer(at, booking, answer.ahead, answer.estimated_call)
    }

    fn resume(&mut self, at: DateTime<FixedOffset>, booking: Booking) -> ScanReport {
        // The original check-in time and answer belong on the owed ticket.
        let record = self.journal.checkin(&booking.booking).ok().flatten();
        let original = record.as_ref().map(|r| r.checked_in_at).unwrap_or(at);
        let ahead = record.as_ref().and_then(|r| r.ahead);
        let est = record.and_then(|r| r.estimated_call);
        let marks = Marks {
            resumed: true,
            priority: self.priority_of(&booking),
            ..Marks::default()
        };
        let mut report = self.print(original, booking, marks, ahead, est);
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
        let marks = Marks {
            reprint: true,
            priority: self.priority_of(&booking),
            ..Marks::default()
        };
        let mut report = self.print(original, booking, marks, None, None);
        report.at = at;
        report
    }

    /// The resident chose priority for this booking earlier.
    fn priority_of(&self, booking: &Booking) -> bool {
        self.journal
            .priority_requested(&booking.booking)
            .unwrap_or(false)
    }

    /// Composes, encodes and prints; journals the result.
    fn print(
        &mut self,
        checked_in_at: DateTime<FixedOffset>,
        booking: Booking,
        marks: Marks,
        ahead: Option<u32>,
        estimated_call: Option<String>,
    ) -> ScanReport {
        let Marks {
            reprint,
            priority,
            resumed,
        } = marks;
        let ticket = compose_ticket(
            &TicketContext {
                office_id: &self.office_id,
                office_name: &self.office_name,
                columns: self.columns,
                footer: &self.footer,
                timezone: self.rules.timezone,
                manifest: self.day.manifest(),
                status_url: &self.status_url,
            },
            &booking,
            checked_in_at,
            reprint,
            priority,
            ahead,
            estimated_call.as_deref(),
        );
        let bytes = crate::printer::encode::encode_ticket_with(&ticket, &self.printer.encoding());
        let label = if reprint {
            format!("{}-ulang", booking.booking)
        } else {
            booking.booking.clone()
        };
        let now = self.office_now();
        let outcome = match self.printer.print(&bytes, &label) {
            Ok(()) => {
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
                let _ =
                    self.journal
                        .record_printer_fault(now, Some(&booking.booking), &e.to_string());
                Outcome::PrinterFault(e.state())
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
            choosing: None,
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
        self.observers.retain_mut(|sink| sink(report));
    }
}
