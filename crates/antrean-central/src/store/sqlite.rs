//! [`Store`] on one SQLite file (WAL, `synchronous=FULL`): every office of
//! one instance. Connections live on their own threads, never on tokio's
//! workers: one writer thread owns the only write connection (writes queue
//! there, in order), and reader threads own read-only connections, so a
//! read never waits behind a write or its fsync (WAL lets readers go on).
//! Queues are bounded: a caller waits asynchronously for room. The file
//! (and its WAL/SHM) is private to the service's user: created 0600,
//! refused at start when others may read it. Names are stored masked only.
//! The writer thread puts each write's events into the [`Feed`] right
//! after its commit, so streams see them in commit (`seq`) order. The
//! schema is versioned (`migrations.rs`), migrated when the file opens.

mod migrations;
mod queries;
mod records;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::Connection;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::PriorityOutcome;
use super::{
    Appended, AppliedMigration, BoardRows, Called, CancelOutcome, CheckinOutcome, CounterAction,
    Feed, KioskHealth, NewBooking, NewCheckin, NewToken, Replay, Store, StoreError, StoreResult,
    StoredBooking,
};
use crate::auth::{Principal, TokenInfo};
use crate::call_order::PriorityChange;
use antrean_core::api::HealthReport;
use antrean_core::events::{BoardEvent, EncodedEvent};

/// Work for a connection's thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Read-only connections (and threads) beside the writer.
const READERS: usize = 2;

/// Jobs waiting per queue before callers wait for room.
const QUEUE: usize = 256;

/// The SQLite store (every office of one instance).
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: mpsc::Sender<Job>,
    feed: Arc<Feed>,
    applied: Vec<AppliedMigration>,
}

/// Refuses a file that group or others may read or write.
fn check_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(StoreError::NotPrivate {
                    path: path.display().to_string(),
                    mode,
                });
            }
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

/// The database file and SQLite's companions of it.
fn db_files(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Backend(Box::new(e))
    }
}

impl SqliteStore {
    /// Opens (or creates, mode 0600) the database at `path`, migrates it
    /// to this version's schema and starts its threads. Rows of a database
    /// from before offices belong to `legacy_office` (the configuration's
    /// first office). A file, WAL or SHM that others may read is refused
    /// with a `chmod 600` hint; SQLite gives the WAL and SHM files the
    /// database file's mode.
    pub fn open(path: &Path, legacy_office: &str) -> StoreResult<SqliteStore> {
        use std::os::unix::fs::OpenOptionsExt;
        for f in db_files(path) {
            check_private(&f)?;
        }
        if !path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| StoreError::Create {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
        }
        let open = |read_only: bool| -> StoreResult<Connection> {
            let fail = |source: rusqlite::Error| StoreError::Open {
                path: path.display().to_string(),
                source: Box::new(source),
            };
            let c = Connection::open(path).map_err(fail)?;
            c.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(fail)?;
            if read_only {
                c.pragma_update(None, "query_only", true).map_err(fail)?;
            } else {
                c.pragma_update(None, "journal_mode", "WAL").map_err(fail)?;
                c.pragma_update(None, "synchronous", "FULL").map_err(fail)?;
            }
            Ok(c)
        };
        let mut writer = open(false)?;
        let applied = migrations::apply(&mut writer, legacy_office)?;
        let readers = (0..READERS)
            .map(|_| open(true))
            .collect::<StoreResult<Vec<_>>>()?;
        for f in db_files(path) {
            check_private(&f)?;
        }
        let (write_tx, mut write_rx) = mpsc::channel::<Job>(QUEUE);
        spawn_worker("antrean-db-write", writer, move || write_rx.blocking_recv())?;
        let (read_tx, read_rx) = mpsc::channel::<Job>(QUEUE);
        let read_rx = Arc::new(Mutex::new(read_rx));
        for conn in readers {
            let rx = read_rx.clone();
            spawn_worker("antrean-db-read", conn, move || {
                // One idle reader waits on the queue; the others on the lock.
                rx.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv()
            })?;
        }
        Ok(SqliteStore {
            writer: write_tx,
            readers: read_tx,
            feed: Arc::new(Feed::default()),
            applied,
        })
    }

    /// The migrations [`SqliteStore::open`] applied (empty when the file
    /// was up to date).
    pub fn applied_migrations(&self) -> &[AppliedMigration] {
        &self.applied
    }

    /// The schema version this build migrates to.
    pub fn schema_version() -> u32 {
        migrations::latest()
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        run(&self.writer, f).await
    }

    /// A write of `office` whose appended events go to the feed as soon
    /// as it committed, on the writer thread: in commit order.
    async fn write_office<T: Appended + Send + 'static>(
        &self,
        office: &str,
        f: impl FnOnce(&mut Connection, &str) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (feed, office) = (self.feed.clone(), office.to_string());
        run(&self.writer, move |c| {
            let r = f(c, &office);
            if let Ok(done) = &r {
                feed.publish(&office, done.appended());
            }
            r
        })
        .await
    }

    async fn read_office<T: Send + 'static>(
        &self,
        office: &str,
        f: impl FnOnce(&mut Connection, &str) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let office = office.to_string();
        run(&self.readers, move |c| f(c, &office)).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        run(&self.readers, f).await
    }
}

/// A thread that owns `conn` and runs the jobs `next` gives it, until the
/// store (every sender) is gone.
fn spawn_worker(
    name: &str,
    mut conn: Connection,
    mut next: impl FnMut() -> Option<Job> + Send + 'static,
) -> StoreResult<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            while let Some(job) = next() {
                job(&mut conn);
            }
        })
        .map(drop)
        .map_err(|e| StoreError::Create {
            path: name.to_string(),
            reason: format!("cannot start a database thread: {e}"),
        })
}

async fn run<T: Send + 'static>(
    queue: &mpsc::Sender<Job>,
    f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |c| {
        let _ = tx.send(f(c));
    });
    queue.send(job).await.map_err(|_| StoreError::Closed)?;
    rx.await.map_err(|_| StoreError::Closed)?
}

#[async_trait]
impl Store for SqliteStore {
    fn subscribe(&self, office: &str) -> broadcast::Receiver<Arc<EncodedEvent>> {
        self.feed.subscribe(office)
    }

    async fn ready(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn book(&self, office: &str, new: NewBooking) -> StoreResult<Option<StoredBooking>> {
        self.write_office(office, move |c, o| queries::book(c, o, &new))
            .await
    }

    async fn booking(&self, office: &str, code: &str) -> StoreResult<Option<StoredBooking>> {
        let code = code.to_string();
        self.read_office(office, move |c, o| queries::booking(c, o, &code))
            .await
    }

    async fn bookings_on(&self, office: &str, date: NaiveDate) -> StoreResult<Vec<StoredBooking>> {
        self.read_office(office, move |c, o| queries::bookings_on(c, o, date))
            .await
    }

    async fn cancel(&self, office: &str, code: &str) -> StoreResult<CancelOutcome> {
        let code = code.to_string();
        self.write_office(office, move |c, o| queries::cancel(c, o, &code))
            .await
    }

    async fn check_in(&self, office: &str, checkin: NewCheckin) -> StoreResult<CheckinOutcome> {
        self.write_office(office, move |c, o| queries::check_in(c, o, &checkin))
            .await
    }

    async fn set_estimate(
        &self,
        office: &str,
        code: &str,
        estimated_call: &str,
    ) -> StoreResult<()> {
        let (code, est) = (code.to_string(), estimated_call.to_string());
        self.write_office(office, move |c, o| queries::set_estimate(c, o, &code, &est))
            .await
    }

    async fn call_next(
        &self,
        office: &str,
        counter: &str,
        today: NaiveDate,
        now: &str,
        priority_first: bool,
    ) -> StoreResult<Option<Called>> {
        let (counter, now) = (counter.to_string(), now.to_string());
        self.write_office(office, move |c, o| {
            queries::call_next(c, o, &counter, today, &now, priority_first)
        })
        .await
    }

    async fn set_priority(
        &self,
        office: &str,
        code: &str,
        change: PriorityChange,
    ) -> StoreResult<PriorityOutcome> {
        let code = code.to_string();
        self.write_office(office, move |c, o| {
            queries::set_priority(c, o, &code, change)
        })
        .await
    }

    async fn counter_action(
        &self,
        office: &str,
        counter: &str,
        action: CounterAction,
        today: NaiveDate,
        now: &str,
    ) -> StoreResult<Option<Called>> {
        let (counter, now) = (counter.to_string(), now.to_string());
        self.write_office(office, move |c, o| {
            queries::counter_action(c, o, &counter, action, today, &now)
        })
        .await
    }

    async fn set_notice(
        &self,
        office: &str,
        text: Option<String>,
        today: NaiveDate,
    ) -> StoreResult<Vec<BoardEvent>> {
        self.write_office(office, move |c, o| queries::set_notice(c, o, text, today))
            .await
    }

    async fn board(&self, office: &str, today: NaiveDate, recent: usize) -> StoreResult<BoardRows> {
        self.read_office(office, move |c, o| queries::board(c, o, today, recent))
            .await
    }

    async fn last_seq(&self, office: &str) -> StoreResult<u64> {
        self.read_office(office, |c, o| queries::current_seq(c, o))
            .await
    }

    async fn replay(
        &self,
        office: &str,
        after: u64,
        today: NaiveDate,
        max: u64,
    ) -> StoreResult<Replay> {
        self.read_office(office, move |c, o| queries::replay(c, o, after, today, max))
            .await
    }

    async fn prune_events(&self, office: &str, before: NaiveDate) -> StoreResult<usize> {
        self.write_office(office, move |c, o| queries::prune_events(c, o, before))
            .await
    }

    async fn put_health(
        &self,
        office: &str,
        kiosk: &str,
        report: &HealthReport,
        at: &str,
    ) -> StoreResult<()> {
        let report = serde_json::to_string(report)
            .map_err(|e| StoreError::Damaged(format!("health report: {e}")))?;
        let (kiosk, at) = (kiosk.to_string(), at.to_string());
        self.write_office(office, move |c, o| {
            records::put_health(c, o, &kiosk, &report, &at)
        })
        .await
    }

    async fn health(&self, office: &str) -> StoreResult<Vec<KioskHealth>> {
        self.read_office(office, |c, o| records::health(c, o)).await
    }

    async fn insert_token(&self, token: NewToken) -> StoreResult<i64> {
        self.write(move |c| records::insert_token(c, &token)).await
    }

    async fn token_by_hash(&self, hash: [u8; 32]) -> StoreResult<Option<(Principal, Vec<u8>)>> {
        self.read(move |c| records::token_by_hash(c, &hash)).await
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        self.read(|c| records::tokens(c)).await
    }

    async fn revoke_token(&self, id: i64, at: &str) -> StoreResult<bool> {
        let at = at.to_string();
        self.write(move |c| records::revoke_token(c, id, &at)).await
    }

    async fn revoke_labelled(&self, label: &str, at: &str) -> StoreResult<usize> {
        let (label, at) = (label.to_string(), at.to_string());
        self.write(move |c| records::revoke_labelled(c, &label, &at))
            .await
    }
}
