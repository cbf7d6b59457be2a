//! The kiosk side of the screens: what the screens are told and what they
//! may ask. Scans go straight to the kiosk loop; the walk-in help and the
//! information slip are requests handled here, on the async runtime
//! (manifests from the cache and the central service, the slip encoded and
//! printed by the kiosk loop), answered by message. The screens' state
//! (clock, link, printer, board, scan results) is pushed to them when it
//! changes, never polled: tasks await the watch channels and a timer to
//! the next minute, and push an [`Update`] to the [`Screens`] only when
//! what they show changes. Nothing here knows Slint.

use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, Timelike};
use tokio::sync::{mpsc, watch};

use crate::central::board_sync::BoardFeed;
use crate::central::client::{CentralClient, ManifestFetch};
use crate::central::sync::LinkStatus;
use crate::config::Config;
use crate::kiosk::{Event, ScanReport};
use crate::printer::PrinterError;
use antrean_core::api::PrinterHealth;
use antrean_core::board::BoardState;
use antrean_core::checkin::at_office;
use antrean_core::framing::{Frame, ScanFramer};
use antrean_core::manifest::Manifest;
use antrean_core::printer_status::PrinterState;
use antrean_core::walkin::{FreeSession, Schedule};
use antrean_host::clock::Clock;

/// How long a board without events or pings still counts as live.
pub const BOARD_LIVE_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// How long the walk-in help waits for each day's manifest.
const WALKIN_FETCH: Duration = Duration::from_secs(3);
/// Requests waiting for the screen feed at most.
const REQUESTS: usize = 8;

/// What a person asked for on the screen, besides scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// "Belum punya booking?": the next sessions with free places.
    WalkInHelp,
    /// "Cetak info": the walk-in help as a printed slip.
    PrintInfo,
}

/// Everything the screens show besides scan results and the board.
#[derive(Debug, Clone)]
pub struct Situation {
    /// Office time, to the minute.
    pub now: DateTime<FixedOffset>,
    /// Today's manifest as the kiosk loop holds it.
    pub manifest: Option<Arc<Manifest>>,
    /// A central service is configured and cannot be reached.
    pub offline: bool,
    pub printer: PrinterState,
    /// The printer answers no status queries (its profile says so): it is
    /// only known to be reachable.
    pub printer_status_unknown: bool,
    /// The kiosk's clock differs from the central service's by more than
    /// two minutes (never for a shifted training clock).
    pub clock_skew_seconds: Option<i64>,
}

impl PartialEq for Situation {
    fn eq(&self, other: &Situation) -> bool {
        let same_manifest = match (&self.manifest, &other.manifest) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
            (None, None) => true,
            _ => false,
        };
        same_manifest
            && self.now == other.now
            && self.offline == other.offline
            && self.printer == other.printer
            && self.printer_status_unknown == other.printer_status_unknown
            && self.clock_skew_seconds == other.clock_skew_seconds
    }
}

/// The call board as the central service's events left it.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardPicture {
    pub state: BoardState,
    /// Events or pings arrived within [`BOARD_LIVE_FOR`].
    pub live: bool,
    /// When the board is not live: when the last event, ping or snapshot
    /// arrived (office time). Absent while live (pings are not news).
    pub last_contact: Option<DateTime<FixedOffset>>,
}

/// The walk-in help's answer: sessions with free places on the next
/// service days.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkInAnswer {
    pub free: Vec<FreeSession>,
    /// The figures may be old: the central service is not reachable.
    pub offline: bool,
}

/// Why the information slip did not print.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlipError {
    #[error("the kiosk is busy with scans; try again")]
    Busy,
    #[error("the kiosk loop has stopped")]
    Stopped,
    #[error(transparent)]
    Printer(#[from] PrinterError),
}

/// What the screens are told.
#[derive(Debug)]
pub enum Update {
    Situation(Situation),
    Board(BoardPicture),
    /// A scan's result, with today's manifest (service names).
    Scan {
        report: Box<ScanReport>,
        manifest: Option<Arc<Manifest>>,
    },
    WalkIn(WalkInAnswer),
    Slip(Result<(), SlipError>),
}

/// The screens, as the kiosk side sees them: updates go in, from any
/// thread; the screens apply them on their own thread.
pub trait Screens: Send + Sync + 'static {
    fn show(&self, update: Update);
}

/// The screens' way in: scans to the kiosk loop, requests to the feed.
/// Never blocks: a full queue drops the input (the person tries again).
#[derive(Clone)]
pub struct ScreenFeed {
    scans: SyncSender<Event>,
    requests: mpsc::Sender<Request>,
}

impl ScreenFeed {
    /// A scan typed by a keyboard-wedge scanner or on the keypad goes to
    /// the kiosk loop at once; false when the loop could not take it.
    pub fn scan(&self, text: &str) -> bool {
        let mut framer = ScanFramer::new();
        let mut frames = framer.push(text.as_bytes());
        frames.extend(framer.idle());
        if text.trim().is_empty() {
            frames.push(Frame::Garbage);
        }
        frames
            .into_iter()
            .all(|frame| match self.scans.try_send(Event::Scan(frame)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    tracing::warn!("the kiosk loop is busy; an input from the screen was dropped");
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            })
    }

    /// The resident chose "Prioritas" for this number: to the kiosk loop,
    /// which prints the waiting ticket with `PRIORITAS`.
    pub fn priority(&self, number: &str) -> bool {
        self.scans
            .try_send(Event::Priority {
                number: number.to_string(),
            })
            .is_ok()
    }

    /// Asks for the walk-in help or a slip; the answer comes as an [`Update`].
    pub fn request(&self, request: Request) -> bool {
        self.requests.try_send(request).is_ok()
    }
}

/// What the feed reads.
pub struct FeedSources {
    pub config: Config,
    pub clock: Clock,
    pub scans: SyncSender<Event>,
    pub manifest: watch::Receiver<Option<Arc<Manifest>>>,
    pub printer: watch::Receiver<PrinterHealth>,
    /// Absent without a central service.
    pub link: Option<watch::Receiver<LinkStatus>>,
    pub board: Option<watch::Receiver<BoardFeed>>,
    pub client: Option<CentralClient>,
    pub shutdown: watch::Receiver<bool>,
}

/// Starts the feed's tasks on `runtime`, pushing to `screens`.
pub fn start(
    runtime: &tokio::runtime::Handle,
    src: FeedSources,
    screens: Arc<dyn Screens>,
) -> ScreenFeed {
    let (requests_tx, requests_rx) = mpsc::channel(REQUESTS);
    let feed = ScreenFeed {
        scans: src.scans.clone(),
        requests: requests_tx,
    };
    // Scan results come from the kiosk loop itself.
    let manifest = src.manifest.clone();
    let s = screens.clone();
    let observe = Event::Observe(Box::new(move |report| {
        s.show(Update::Scan {
            report: Box::new(report.clone()),
            manifest: manifest.borrow().clone(),
        });
        true
    }));
    // Once, at start: waiting for the loop to take it is brief.
    if src.scans.send(observe).is_err() {
        tracing::warn!("the kiosk loop has stopped: the screens get no scan results");
    }
    // A kiosk screen offers "Prioritas" after a successful scan.
    if src.config.ui.role.shows_kiosk() {
        let _ = src.scans.send(Event::OfferPriority);
    }
    let src = Arc::new(src);
    runtime.spawn(situation(src.clone(), screens.clone()));
    if src.board.is_some() {
        runtime.spawn(board(src.clone(), screens.clone()));
    }
    runtime.spawn(requests(src, screens, requests_rx));
    feed
}

fn office_now(src: &FeedSources) -> DateTime<FixedOffset> {
    at_office(src.clock.now(), src.config.timezone())
}

fn situation_now(src: &FeedSources) -> Situation {
    let now = office_now(src);
    let link = src.link.as_ref().map(|l| l.borrow().clone());
    Situation {
        now: now
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now),
        manifest: src.manifest.borrow().clone(),
        offline: link.as_ref().is_some_and(|l| !l.online),
        printer: src.printer.borrow().state,
        printer_status_unknown: {
            let h = src.printer.borrow();
            antrean_core::printer_status::is_unknown(h.state, h.detail.as_deref())
        },
        clock_skew_seconds: link
            .and_then(|l| l.clock_skew_seconds)
            .filter(|s| s.abs() > 120 && !src.clock.is_shifted()),
    }
}

/// Time until the next minute starts on the kiosk's clock.
fn to_next_minute(clock: &Clock) -> Duration {
    let now = clock.now();
    let into = Duration::from_secs(u64::from(now.second()))
        + Duration::from_nanos(u64::from(now.nanosecond().min(999_999_999)));
    Duration::from_secs(60).saturating_sub(into) + Duration::from_millis(5)
}

/// Pushes the situation when it changes: the minute, today's manifest,
/// the link, the printer.
async fn situation(src: Arc<FeedSources>, screens: Arc<dyn Screens>) {
    let mut manifest = src.manifest.clone();
    let mut printer = src.printer.clone();
    let mut link = src.link.clone();
    let mut shutdown = src.shutdown.clone();
    let mut shown: Option<Situation> = None;
    loop {
        let now = situation_now(&src);
        if shown.as_ref() != Some(&now) {
            screens.show(Update::Situation(now.clone()));
            shown = Some(now);
        }
        let link_changed = async {
            match link.as_mut() {
                Some(l) => l.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = manifest.changed() => if r.is_err() { return },
            r = printer.changed() => if r.is_err() { return },
            r = link_changed => if r.is_err() { return },
            _ = tokio::time::sleep(to_next_minute(&src.clock)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The board's picture at `now`.
fn board_picture(feed: &BoardFeed, now: DateTime<chrono::Utc>, src: &FeedSources) -> BoardPicture {
    let live = feed.connected && feed.last_contact.is_some_and(|t| now - t <= BOARD_LIVE_FOR);
    BoardPicture {
        state: feed.state.clone(),
        live,
        last_contact: feed
            .last_contact
            .filter(|_| !live)
            .map(|t| at_office(t, src.config.timezone())),
    }
}

/// Pushes the board when it changes, and when it stops being live (no
/// event or ping for a minute: the waiting room is told).
async fn board(src: Arc<FeedSources>, screens: Arc<dyn Screens>) {
    let Some(mut feed) = src.board.clone() else {
        return;
    };
    let mut shutdown = src.shutdown.clone();
    let mut shown: Option<BoardPicture> = None;
    loop {
        let now = src.clock.now();
        let (picture, stale_at) = {
            let f = feed.borrow_and_update();
            let picture = board_picture(&f, now, &src);
            let stale_at = f
                .last_contact
                .filter(|_| picture.live)
                .map(|t| t + BOARD_LIVE_FOR - now);
            (picture, stale_at)
        };
        if shown.as_ref() != Some(&picture) {
            screens.show(Update::Board(picture.clone()));
            shown = Some(picture);
        }
        // Pings move the last contact on without news: look again when the
        // board would turn stale.
        let recheck = stale_at
            .and_then(|d| d.to_std().ok())
            .map(|d| d + Duration::from_millis(5));
        let stale = async {
            match recheck {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = feed.changed() => if r.is_err() { return },
            _ = stale => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Answers the screens' requests, each on its own task.
async fn requests(
    src: Arc<FeedSources>,
    screens: Arc<dyn Screens>,
    mut rx: mpsc::Receiver<Request>,
) {
    let mut shutdown = src.shutdown.clone();
    loop {
        let request = tokio::select! {
            r = rx.recv() => match r { Some(r) => r, None => return },
            _ = shutdown.changed() => return,
        };
        let (src, screens) = (src.clone(), screens.clone());
        tokio::spawn(async move {
            match request {
                Request::WalkInHelp => walk_in(&src, screens.as_ref()).await,
                Request::PrintInfo => {
                    let result = print_info(&src).await;
                    screens.show(Update::Slip(result));
                }
            }
        });
    }
}

fn schedule_and_days(src: &FeedSources) -> (Schedule, Vec<NaiveDate>, DateTime<FixedOffset>) {
    let now = office_now(src);
    let schedule = src.config.walkin.schedule();
    let days = schedule.next_days(now.date_naive(), src.config.walkin.days_ahead);
    (schedule, days, now)
}

fn walk_in_answer(src: &FeedSources, manifests: &[Manifest]) -> WalkInAnswer {
    let (schedule, days, now) = schedule_and_days(src);
    let refs: Vec<&Manifest> = manifests.iter().collect();
    WalkInAnswer {
        free: antrean_core::walkin::free_sessions(&schedule, &days, &refs, now.naive_local()),
        offline: src.link.as_ref().is_none_or(|l| !l.borrow().online),
    }
}

/// Answers at once from today's manifest in hand, then again with the
/// next days' manifests (fetched, or from the disk cache).
async fn walk_in(src: &FeedSources, screens: &dyn Screens) {
    let (_, days, _) = schedule_and_days(src);
    let today = src.manifest.borrow().clone();
    let at_hand: Vec<Manifest> = today
        .iter()
        .filter(|m| days.contains(&m.date))
        .map(|m| (**m).clone())
        .collect();
    screens.show(Update::WalkIn(walk_in_answer(src, &at_hand)));
    let mut found = Vec::new();
    for day in days {
        let dir = src.config.kiosk.state_dir.clone();
        let from_disk = tokio::task::spawn_blocking(move || {
            crate::manifest_cache::load(&dir, day).ok().flatten()
        })
        .await
        .ok()
        .flatten();
        let fetched = match &src.client {
            Some(client) => tokio::time::timeout(WALKIN_FETCH, client.manifest(day, None))
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        match fetched {
            Some(ManifestFetch::Fresh { manifest, .. }) => found.push(*manifest),
            _ => found.extend(from_disk),
        }
    }
    screens.show(Update::WalkIn(walk_in_answer(src, &found)));
}

/// Composes the walk-in slip, hands it to the kiosk loop (it owns the
/// printer) and waits for the result.
async fn print_info(src: &FeedSources) -> Result<(), SlipError> {
    let (schedule, days, now) = schedule_and_days(src);
    let today = src.manifest.borrow().clone();
    let refs: Vec<&Manifest> = today.iter().map(|m| m.as_ref()).collect();
    let free = antrean_core::walkin::free_sessions(&schedule, &days, &refs, now.naive_local());
    let c = &src.config;
    let lines = antrean_core::walkin::slip_lines(
        &free,
        c.timezone(),
        &c.walkin.office_hours,
        &c.walkin.desk_location,
        c.printer.columns,
    );
    let bytes = crate::printer::encode::encode_slip_with(
        c.printer.columns,
        &["Belum punya booking?".to_string(), c.office.name.clone()],
        &lines,
        Some(&c.walkin.booking_url),
        &crate::printer::encode::Encoding::from_config(&c.printer),
    );
    let (reply, answer) = tokio::sync::oneshot::channel();
    match src.scans.try_send(Event::PrintSlip { bytes, reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => return Err(SlipError::Busy),
        Err(TrySendError::Disconnected(_)) => return Err(SlipError::Stopped),
    }
    match answer.await {
        Ok(result) => result.map_err(SlipError::from),
        Err(_) => Err(SlipError::Stopped),
    }
}
