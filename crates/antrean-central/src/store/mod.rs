//! The central service's storage, as domain operations: the [`Store`]
//! trait. Each method is one transaction, takes the office it works on, and
//! allocates what must be unique (queue serials, booking codes, event `seq`)
//! inside that transaction: gap-free and never reused, whatever runs at the
//! same time, from any instance sharing the database. All SQL of the crate
//! lives behind this trait: `sqlite.rs` (one file, one instance: the
//! embedded default) and `postgres.rs` (a city: several instances on one
//! PostgreSQL). Both apply their versioned migrations when they open, and
//! both put committed events into the [`Feed`], per office in commit
//! order. Nothing here decides a rule that is not about storage: the
//! service (`service/`) validates before it calls.

mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use tokio::sync::broadcast;

use crate::auth::{Principal, Role, TokenInfo};
use crate::call_order::PriorityChange;
use antrean_core::api::{HealthReport, PriorityState};
use antrean_core::events::{BoardEvent, CallEvent, CheckinEvent, CounterEvent, EncodedEvent};
use antrean_core::manifest::BookingStatus;

pub use crate::fanout::Feed;
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::SqliteStore;

/// A migration a store applied when it opened: `0002_offices`.
pub type AppliedMigration = String;

/// A booking as the central service keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBooking {
    pub code: String,
    pub date: NaiveDate,
    pub slot: String,
    pub letter: String,
    pub serial: u32,
    pub number: String,
    pub service: String,
    pub status: BookingStatus,
    pub masked_name: Option<String>,
    pub checked_in_at: Option<String>,
    pub kiosk: Option<String>,
    pub offline: bool,
    pub called_at: Option<String>,
    pub counter: Option<String>,
    pub ahead: Option<u32>,
    pub estimated_call: Option<String>,
    /// When the counter finished with it (served or no-show).
    pub done_at: Option<String>,
    /// Its priority claim, if the resident made one.
    pub priority: Option<PriorityState>,
}

impl StoredBooking {
    /// The board's `call` event for this booking (numbered when appended).
    pub fn call_event(&self, counter: &str, called_at: &str, recall: bool) -> BoardEvent {
        BoardEvent::Call(CallEvent {
            seq: 0,
            number: self.number.clone(),
            counter: counter.to_string(),
            service: self.service.clone(),
            called_at: called_at.to_string(),
            recall,
            priority: self.priority == Some(PriorityState::Confirmed),
        })
    }

    /// `done` (served) or `skip` (no-show) of this booking at `counter`.
    pub fn finish_event(&self, counter: &str, finish: Finish) -> BoardEvent {
        let e = CounterEvent {
            seq: 0,
            number: self.number.clone(),
            counter: counter.to_string(),
        };
        match finish {
            Finish::Done => BoardEvent::Done(e),
            Finish::Skip => BoardEvent::Skip(e),
        }
    }

    /// The `checkin` event of this booking.
    pub fn checkin_event(&self) -> BoardEvent {
        BoardEvent::Checkin(CheckinEvent {
            seq: 0,
            number: self.number.clone(),
            slot: self.slot.clone(),
        })
    }
}

/// A booking to make: the store allocates its serial, number and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBooking {
    pub date: NaiveDate,
    pub slot: String,
    /// The session's letter (`A-001`).
    pub letter: String,
    /// Live (not cancelled) bookings the session may hold.
    pub quota: u32,
    pub service: String,
    pub masked_name: Option<String>,
    /// Booking codes start with this (`BGR-20240508-00001`).
    pub code_prefix: String,
}

impl NewBooking {
    /// The booking as it is stored once the store allocated the office-day's
    /// `running` number (its code) and the session's `serial` (its queue
    /// number).
    pub(crate) fn booked(&self, running: usize, serial: u32) -> StoredBooking {
        StoredBooking {
            code: crate::rules::booking_code(&self.code_prefix, self.date, running),
            date: self.date,
            slot: self.slot.clone(),
            letter: self.letter.clone(),
            serial,
            number: crate::rules::queue_number(&self.letter, serial),
            service: self.service.clone(),
            status: BookingStatus::Booked,
            masked_name: self.masked_name.clone(),
            checked_in_at: None,
            kiosk: None,
            offline: false,
            called_at: None,
            counter: None,
            ahead: None,
            estimated_call: None,
            done_at: None,
            priority: None,
        }
    }
}

/// A check-in to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckin {
    pub code: String,
    /// As the kiosk sent it (RFC 3339).
    pub at: String,
    pub kiosk: String,
    pub offline: bool,
    /// The service's day: events are dated by it.
    pub today: NaiveDate,
}

/// What [`Store::check_in`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckinOutcome {
    /// No such booking.
    Unknown,
    /// This check-in was the first: the row as written (with `ahead`, the
    /// checked-in bookings of the day before it) and the events appended.
    First {
        booking: StoredBooking,
        events: Vec<BoardEvent>,
    },
    /// It was not `booked` any more (checked in before, called, served,
    /// cancelled): nothing changed.
    Already(StoredBooking),
}

/// What [`Store::set_priority`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriorityOutcome {
    Unknown,
    Refused(crate::call_order::PriorityRefusal),
    /// The booking with its claim now.
    Set(Box<StoredBooking>),
}

/// What [`Store::cancel`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Unknown,
    /// Cancelled now, or it was already.
    Cancelled,
    /// Checked in (or further): a booking can no longer be cancelled then.
    TooLate,
}

/// How a counter finishes with whom it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Served: `done`.
    Done,
    /// Did not come: `skip` (no-show).
    Skip,
}

/// What a counter does with the booking it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterAction {
    /// Calls it again (a `call` event with `recall`).
    Recall,
    Finish(Finish),
}

/// A counter's call or action: the booking it concerns and the events
/// appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Called {
    pub booking: StoredBooking,
    pub events: Vec<BoardEvent>,
}

/// The board's rows, read in one transaction (so `seq` matches the rest).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoardRows {
    pub seq: u64,
    /// (counter id, the booking it calls now), for counters serving someone
    /// called today.
    pub serving: Vec<(String, StoredBooking)>,
    /// Today's `call` events, newest first, at most the limit asked.
    pub recent: Vec<CallEvent>,
    /// Checked-in, not yet called bookings of today per session slot.
    pub waiting: Vec<(String, u32)>,
    pub notice: Option<String>,
}

/// Events to send after a client's `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// These, in order (empty when it is up to date).
    Events(Vec<BoardEvent>),
    /// It cannot resume from there (see [`crate::rules::can_replay`]): it
    /// must fetch `/board`; the log's last `seq` now.
    Reset { seq: u64 },
}

/// A kiosk's last health report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskHealth {
    pub kiosk: String,
    pub report: HealthReport,
    /// When the service received it (RFC 3339).
    pub at: String,
}

/// A token row to insert: only the hash of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub hash: [u8; 32],
    pub prefix: String,
    pub role: Role,
    pub office: String,
    pub kiosk: Option<String>,
    pub label: Option<String>,
    pub created: String,
}

/// Why the storage failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("the central database {path} can be read by other users (mode {mode:o}); refusing to start. Fix it with: chmod 600 {path}")]
    NotPrivate { path: String, mode: u32 },
    #[error("cannot create the central database {path}: {reason}. Check that the directory exists and belongs to the service's user.")]
    Create { path: String, reason: String },
    #[error("cannot open the central database {path}: {source}. Check the path and that the file is an antrean-central database.")]
    Open {
        path: String,
        #[source]
        source: BackendError,
    },
    #[error("cannot connect to the central database {url} (check that PostgreSQL runs and accepts this host in pg_hba.conf, and the URL's host, port, database, user and password)")]
    Connect {
        url: String,
        #[source]
        source: BackendError,
    },
    #[error("the central database failed: {0}. Check the disk and the service's log; the request can be retried.")]
    Backend(#[source] BackendError),
    #[error("the central database cannot be reached: {0}. Check that PostgreSQL runs and this host may connect; the request can be retried.")]
    Unavailable(#[source] BackendError),
    #[error("cannot migrate the central database: {0}")]
    Migrate(String),
    #[error("the central database holds a damaged row: {0}")]
    Damaged(String),
    #[error("that token is (or was) in the database already")]
    DuplicateToken,
    #[error("the central database's worker threads are gone (the service is stopping)")]
    Closed,
}

/// A back end's own error (SQLite's, PostgreSQL's), kept as the source.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

pub type StoreResult<T> = Result<T, StoreError>;

/// The central service's storage. Every method is one transaction and may
/// run concurrently with any other, from several instances of the service
/// sharing one database. Events appended get the office's next `seq`;
/// when the log's last event is of an earlier day than `today`, a `reset`
/// event is appended first (a board never carries a day over). Once
/// committed, appended events go to [`Store::subscribe`]rs of every
/// instance, per office in `seq` order.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Committed events of `office` from now on, whichever instance
    /// committed them, in `seq` order (a subscriber that falls too far
    /// behind, or that this instance can no longer serve in order, sees
    /// its channel close and must start again from the log).
    fn subscribe(&self, office: &str) -> broadcast::Receiver<Arc<EncodedEvent>>;

    /// `Ok` when the database answers now (and, for PostgreSQL, this
    /// instance is listening for the other instances' events).
    async fn ready(&self) -> StoreResult<()>;

    /// Books a place: the session's next serial (`max + 1`, never reused,
    /// cancelled ones included), the day's next running number for the
    /// code. `None` when `quota` live bookings hold the session already.
    async fn book(&self, office: &str, new: NewBooking) -> StoreResult<Option<StoredBooking>>;

    /// The booking with this code.
    async fn booking(&self, office: &str, code: &str) -> StoreResult<Option<StoredBooking>>;

    /// The bookings of `date`, by session and serial.
    async fn bookings_on(&self, office: &str, date: NaiveDate) -> StoreResult<Vec<StoredBooking>>;

    /// Cancels a booking that is still only booked.
    async fn cancel(&self, office: &str, code: &str) -> StoreResult<CancelOutcome>;

    /// Checks a booking in if it is still `booked` (the first check-in
    /// wins), counts who is ahead, appends its `checkin` event.
    async fn check_in(&self, office: &str, checkin: NewCheckin) -> StoreResult<CheckinOutcome>;

    /// Records the estimated call time (`HH:MM`) told to the resident.
    async fn set_estimate(&self, office: &str, code: &str, estimated_call: &str)
        -> StoreResult<()>;

    /// Counter `counter` calls the next one: whom it served (if called) is
    /// finished as served, then [`crate::call_order::next_to_call`] of the
    /// checked-in bookings of `today`'s current session (the earliest with
    /// anyone waiting) is called (`call` event), confirmed priority first
    /// when `priority_first`. `None` when nobody waits (the current one is
    /// finished all the same).
    async fn call_next(
        &self,
        office: &str,
        counter: &str,
        today: NaiveDate,
        now: &str,
        priority_first: bool,
    ) -> StoreResult<Option<Called>>;

    /// Changes the booking's priority claim as
    /// [`crate::call_order::priority_after`] says.
    async fn set_priority(
        &self,
        office: &str,
        code: &str,
        change: PriorityChange,
    ) -> StoreResult<PriorityOutcome>;

    /// Recall, done or skip on the booking counter `counter` has called;
    /// `None` when it serves nobody.
    async fn counter_action(
        &self,
        office: &str,
        counter: &str,
        action: CounterAction,
        today: NaiveDate,
        now: &str,
    ) -> StoreResult<Option<Called>>;

    /// Sets (or clears) the notice; appends its `notice` event.
    async fn set_notice(
        &self,
        office: &str,
        text: Option<String>,
        today: NaiveDate,
    ) -> StoreResult<Vec<BoardEvent>>;

    /// The board of `today` in one read.
    async fn board(&self, office: &str, today: NaiveDate, recent: usize) -> StoreResult<BoardRows>;

    /// The last `seq` of the office's log (0 before the first event).
    async fn last_seq(&self, office: &str) -> StoreResult<u64>;

    /// The events after `after` for a reconnecting client, within `today`
    /// and at most `max` of them ([`crate::rules::can_replay`] decides).
    async fn replay(
        &self,
        office: &str,
        after: u64,
        today: NaiveDate,
        max: u64,
    ) -> StoreResult<Replay>;

    /// Deletes events dated before `before`, always keeping the newest (so
    /// `seq` never goes back). Returns how many went.
    async fn prune_events(&self, office: &str, before: NaiveDate) -> StoreResult<usize>;

    /// Keeps a kiosk's latest health report.
    async fn put_health(
        &self,
        office: &str,
        kiosk: &str,
        report: &HealthReport,
        at: &str,
    ) -> StoreResult<()>;

    /// Every kiosk's latest health report, by kiosk id.
    async fn health(&self, office: &str) -> StoreResult<Vec<KioskHealth>>;

    /// Stores a token (its hash); its id. [`StoreError::DuplicateToken`]
    /// when the hash is known, revoked or not.
    async fn insert_token(&self, token: NewToken) -> StoreResult<i64>;

    /// The live (not revoked) token with this hash, and its stored hash.
    async fn token_by_hash(&self, hash: [u8; 32]) -> StoreResult<Option<(Principal, Vec<u8>)>>;

    /// Every token, revoked ones too, by id.
    async fn tokens(&self) -> StoreResult<Vec<TokenInfo>>;

    /// Revokes token `id`; false when there is no live one.
    async fn revoke_token(&self, id: i64, at: &str) -> StoreResult<bool>;

    /// Revokes every live token with this label; how many.
    async fn revoke_labelled(&self, label: &str, at: &str) -> StoreResult<usize>;
}

/// What a write appended to the log: published to the [`Feed`] once the
/// transaction committed.
pub(crate) trait Appended {
    fn appended(&self) -> &[BoardEvent] {
        &[]
    }
}

impl Appended for Vec<BoardEvent> {
    fn appended(&self) -> &[BoardEvent] {
        self
    }
}

impl Appended for Option<Called> {
    fn appended(&self) -> &[BoardEvent] {
        self.as_ref().map_or(&[], |c| &c.events)
    }
}

impl Appended for CheckinOutcome {
    fn appended(&self) -> &[BoardEvent] {
        match self {
            CheckinOutcome::First { events, .. } => events,
            _ => &[],
        }
    }
}

impl Appended for Option<StoredBooking> {}
impl Appended for CancelOutcome {}
impl Appended for PriorityOutcome {}
impl Appended for () {}
impl Appended for usize {}
impl Appended for i64 {}
impl Appended for bool {}
