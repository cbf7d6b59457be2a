//! [`Store`] on PostgreSQL: a city's offices in one database, shared by
//! several stateless instances of the service behind a load balancer.
//! A pool of connections (sqlx) serves the domain operations, each one
//! transaction; what must be unique is allocated inside it under row locks
//! (`queries.rs`): a booking takes its office-day's `booking_days` row, a
//! board change its office's `office_state` row, so queue serials, codes
//! and `seq` are gap-free and never reused whichever instance asks, and
//! quotas hold. Each board change also `NOTIFY`s inside its transaction
//! (delivered on commit); this instance's `LISTEN` task (`listener.rs`)
//! puts every instance's events into the [`Feed`], catching up from the
//! events table after a missed notification or a reconnect. Migrations
//! (`migrations/postgres/`, embedded) run at connect, under sqlx's
//! advisory lock, so instances starting together migrate once.

mod listener;
mod queries;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::broadcast;

use super::PriorityOutcome;
use super::{
    AppliedMigration, BoardRows, Called, CancelOutcome, CheckinOutcome, CounterAction, Feed,
    KioskHealth, NewBooking, NewCheckin, NewToken, Replay, Store, StoreError, StoreResult,
    StoredBooking,
};
use crate::auth::{Principal, TokenInfo};
use crate::call_order::PriorityChange;
use antrean_core::api::HealthReport;
use antrean_core::events::{BoardEvent, EncodedEvent};

/// How an instance uses PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Pool connections at most (the listener has one more of its own).
    pub max_connections: u32,
    /// A request waits this long for a connection, then gets `503`.
    pub acquire_timeout: Duration,
    /// Listen for the other instances' events (`serve`); the command-line
    /// tools do not.
    pub listen: bool,
    /// The listener proves its connection alive this often (a `NOTIFY` to
    /// itself); silent for three periods, it reconnects.
    pub heartbeat: Duration,
    /// The listener's reconnect delays grow up to this (with jitter).
    pub reconnect_cap: Duration,
}

impl Default for PostgresOptions {
    fn default() -> PostgresOptions {
        PostgresOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            listen: true,
            heartbeat: Duration::from_secs(10),
            reconnect_cap: Duration::from_secs(10),
        }
    }
}

/// The PostgreSQL store of one instance.
pub struct PostgresStore {
    pool: PgPool,
    feed: Arc<Feed>,
    listening: Arc<listener::State>,
    task: Option<tokio::task::JoinHandle<()>>,
    applied: Vec<AppliedMigration>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Errors that mean "the database cannot be reached now" (retry later)
/// rather than "this statement failed".
fn classify(e: sqlx::Error) -> StoreError {
    let unavailable = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            // Connection exceptions, operator intervention (shutdown,
            // terminated), too many connections, no such database, a
            // database that does not accept connections now.
            c.starts_with("08")
                || c.starts_with("57P")
                || c.starts_with("53")
                || c == "3D000"
                || c == "55000"
        }),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Backend(Box::new(e))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        classify(e)
    }
}

/// The PostgreSQL schema's versions (`migrations/postgres/NNNN_name.sql`),
/// embedded: (version, name, SQL), in order; a version is never changed once
/// shipped. Handed to sqlx's migrator as they are (the same checksums as
/// its `migrate!` macro, whose compile-time cost this saves); a test holds
/// the list to the directory.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "city",
        include_str!("../../migrations/postgres/0001_city.sql"),
    ),
    (
        2,
        "priority",
        include_str!("../../migrations/postgres/0002_priority.sql"),
    ),
];

/// [`MIGRATIONS`] as a source for `sqlx::migrate::Migrator`.
#[derive(Debug)]
struct Embedded;

impl sqlx::migrate::MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>,
                > + Send,
        >,
    > {
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                sqlx::migrate::Migration::new(
                    *version,
                    (*name).into(),
                    sqlx::migrate::MigrationType::Simple,
                    (*sql).into(),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

impl PostgresStore {
    /// A future that closes the pool (the graceful stop): it waits for
    /// the connections in use to come back, then closes them all, so that
    /// the server sees a clean goodbye rather than dropped sockets.
    pub fn closer(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let pool = self.pool.clone();
        async move { pool.close().await }
    }

    /// Connects to `url`, applies the migrations it has not had, and (with
    /// `options.listen`) starts listening for every instance's events.
    pub async fn connect(url: &str, options: PostgresOptions) -> StoreResult<PostgresStore> {
        let connect: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| StoreError::Open {
            path: crate::config::redact_url(url),
            source: Box::new(e),
        })?;
        // Statements are not logged (they carry no personal data, but the
        // log is not the place for them), nor the server's notices.
        let connect = connect
            .disable_statement_logging()
            .options([("client_min_messages", "warning")]);
        // One connection first: its error says what is wrong (refused,
        // password, no such database), where the pool's would only time out.
        let first = tokio::time::timeout(options.acquire_timeout, connect.connect())
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
            .map_err(|e| StoreError::Connect {
                url: crate::config::redact_url(url),
                source: Box::new(e),
            })?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_lazy_with(connect.clone());
        let applied = migrate(&pool).await?;
        let feed = Arc::new(Feed::default());
        let listening = Arc::new(listener::State::default());
        // Where this instance's feed is complete from: the log's heads now
        // (streams opened later read the log themselves).
        let heads: HashMap<String, u64> = queries::heads(&pool).await?.into_iter().collect();
        let task = options.listen.then(|| {
            tokio::spawn(listener::run(
                connect,
                pool.clone(),
                feed.clone(),
                listening.clone(),
                heads,
                options.clone(),
            ))
        });
        Ok(PostgresStore {
            pool,
            feed,
            listening,
            task,
            applied,
        })
    }

    /// The migrations [`PostgresStore::connect`] applied (empty when the
    /// database was up to date).
    pub fn applied_migrations(&self) -> &[AppliedMigration] {
        &self.applied
    }

    /// How many times the listener tried to connect (tests hold its
    /// retry loop to a few tries a minute).
    pub fn listener_attempts(&self) -> u64 {
        self.listening.attempts()
    }
}

/// Applies the embedded migrations; the ones it applied, by name.
async fn migrate(pool: &PgPool) -> StoreResult<Vec<AppliedMigration>> {
    // Before the first migration the table does not exist: nothing applied.
    let done: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let fail = |e: sqlx::migrate::MigrateError| StoreError::Migrate(format!("PostgreSQL: {e}"));
    let migrator = sqlx::migrate::Migrator::new(Embedded).await.map_err(fail)?;
    migrator.run(pool).await.map_err(fail)?;
    Ok(migrator
        .iter()
        .filter(|m| !done.contains(&m.version))
        .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
        .collect())
}

#[async_trait]
impl Store for PostgresStore {
    fn subscribe(&self, office: &str) -> broadcast::Receiver<Arc<EncodedEvent>> {
        self.feed.subscribe(office)
    }

    async fn ready(&self) -> StoreResult<()> {
        if self.task.is_some() && !self.listening.connected() {
            return Err(StoreError::Unavailable(
                "this instance is not listening for the other instances' events (reconnecting)"
                    .into(),
            ));
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn book(&self, office: &str, new: NewBooking) -> StoreResult<Option<StoredBooking>> {
        queries::book(&self.pool, office, &new).await
    }

    async fn booking(&self, office: &str, code: &str) -> StoreResult<Option<StoredBooking>> {
        queries::booking(&self.pool, office, code).await
    }

    async fn bookings_on(&self, office: &str, date: NaiveDate) -> StoreResult<Vec<StoredBooking>> {
        queries::bookings_on(&self.pool, office, date).await
    }

    async fn cancel(&self, office: &str, code: &str) -> StoreResult<CancelOutcome> {
        queries::cancel(&self.pool, office, code).await
    }

    async fn check_in(&self, office: &str, checkin: NewCheckin) -> StoreResult<CheckinOutcome> {
        queries::check_in(&self.pool, office, &checkin).await
    }

    async fn set_estimate(
        &self,
        office: &str,
        code: &str,
        estimated_call: &str,
    ) -> StoreResult<()> {
        queries::set_estimate(&self.pool, office, code, estimated_call).await
    }

    async fn call_next(
        &self,
        office: &str,
        counter: &str,
        today: NaiveDate,
        now: &str,
        priority_first: bool,
    ) -> StoreResult<Option<Called>> {
        queries::call_next(&self.pool, office, counter, today, now, priority_first).await
    }

    async fn set_priority(
        &self,
        office: &str,
        code: &str,
        change: PriorityChange,
    ) -> StoreResult<PriorityOutcome> {
        queries::set_priority(&self.pool, office, code, change).await
    }

    async fn counter_action(
        &self,
        office: &str,
        counter: &str,
        action: CounterAction,
        today: NaiveDate,
        now: &str,
    ) -> StoreResult<Option<Called>> {
        queries::counter_action(&self.pool, office, counter, action, today, now).await
    }

    async fn set_notice(
        &self,
        office: &str,
        text: Option<String>,
        today: NaiveDate,
    ) -> StoreResult<Vec<BoardEvent>> {
        queries::set_notice(&self.pool, office, text, today).await
    }

    async fn board(&self, office: &str, today: NaiveDate, recent: usize) -> StoreResult<BoardRows> {
        queries::board(&self.pool, office, today, recent).await
    }

    async fn last_seq(&self, office: &str) -> StoreResult<u64> {
        queries::last_seq(&self.pool, office).await
    }

    async fn replay(
        &self,
        office: &str,
        after: u64,
        today: NaiveDate,
        max: u64,
    ) -> StoreResult<Replay> {
        queries::replay(&self.pool, office, after, today, max).await
    }

    async fn prune_events(&self, office: &str, before: NaiveDate) -> StoreResult<usize> {
        queries::prune_events(&self.pool, office, before).await
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
        queries::put_health(&self.pool, office, kiosk, &report, at).await
    }

    async fn health(&self, office: &str) -> StoreResult<Vec<KioskHealth>> {
        queries::health(&self.pool, office).await
    }

    async fn insert_token(&self, token: NewToken) -> StoreResult<i64> {
        queries::insert_token(&self.pool, &token).await
    }

    async fn token_by_hash(&self, hash: [u8; 32]) -> StoreResult<Option<(Principal, Vec<u8>)>> {
        queries::token_by_hash(&self.pool, &hash).await
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        queries::tokens(&self.pool).await
    }

    async fn revoke_token(&self, id: i64, at: &str) -> StoreResult<bool> {
        queries::revoke_token(&self.pool, id, at).await
    }

    async fn revoke_labelled(&self, label: &str, at: &str) -> StoreResult<usize> {
        queries::revoke_labelled(&self.pool, label, at).await
    }
}

#[cfg(test)]
mod tests {
    /// Every file of `migrations/postgres` is embedded, in order, under its
    /// own version and name (a new file not listed would never be applied).
    #[test]
    fn every_migration_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let listed: Vec<String> = super::MIGRATIONS
            .iter()
            .map(|(v, name, _)| format!("{v:04}_{name}.sql"))
            .collect();
        assert_eq!(files, listed);
        for (file, (_, _, sql)) in files.iter().zip(super::MIGRATIONS) {
            assert_eq!(
                std::fs::read_to_string(format!("{dir}/{file}")).unwrap(),
                *sql
            );
        }
    }
}
