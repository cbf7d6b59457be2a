//! This instance's ear on PostgreSQL: one task, on a connection of its
//! own, `LISTEN`s on the events channel and puts every committed event of
//! every instance into the [`Feed`], per office in `seq` order. It keeps,
//! per office, the `seq` up to which its feed is complete: a notification
//! that is next is published as it came; one after a gap (a missed
//! notification, a payload too large to carry the event) makes it read
//! the missing events from the events table first; after a reconnect it
//! catches up every office from the table. When it cannot catch up (the
//! events were pruned, or too many), it ends that office's streams: their
//! clients reconnect and are answered from the log. A `NOTIFY` to itself
//! every heartbeat proves the connection alive; three silent heartbeats
//! and it reconnects. Reconnects back off (capped, jittered): a database
//! that is gone costs a few tries a minute, never a hot loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::queries::{self, CHANNEL};
use super::PostgresOptions;
use crate::fanout::Feed;
use crate::store::StoreError;
use antrean_core::backoff::Backoff;
use antrean_core::events::BoardEvent;

/// Events a listener reads back from the table for one office at most;
/// further behind, that office's streams start again from the log.
const MAX_CATCH_UP: u64 = 1000;

/// The first reconnect waits about this long; later ones longer.
const FIRST_RETRY: Duration = Duration::from_millis(250);

/// Connecting (and subscribing) may take this long.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// Whether the listener is connected, and how often it tried.
#[derive(Default)]
pub(super) struct State {
    connected: AtomicBool,
    attempts: AtomicU64,
}

impl State {
    pub(super) fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(super) fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }
}

/// A notification's payload: an event (whole, or only its office and
/// `seq`), or a heartbeat.
#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    office: Option<String>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    data: Option<String>,
}

/// Listens until the task is aborted (the store is dropped). `published`:
/// per office, the `seq` the feed is complete up to.
pub(super) async fn run(
    connect: PgConnectOptions,
    pool: PgPool,
    feed: Arc<Feed>,
    state: Arc<State>,
    mut published: HashMap<String, u64>,
    options: PostgresOptions,
) {
    let mut backoff = Backoff::new(FIRST_RETRY, options.reconnect_cap);
    loop {
        state.attempts.fetch_add(1, Ordering::Relaxed);
        let why = session(
            &connect,
            &pool,
            &feed,
            &state,
            &mut published,
            &options,
            &mut backoff,
        )
        .await;
        state.connected.store(false, Ordering::Relaxed);
        let wait = backoff.next_delay(rand::thread_rng().gen());
        tracing::warn!(reason = %why, retry_in = ?wait, "not listening for other instances' events; reconnecting");
        tokio::time::sleep(wait).await;
    }
}

/// One connection's life: connect, `LISTEN`, catch up, then publish what
/// comes; returns why it ended.
async fn session(
    connect: &PgConnectOptions,
    pool: &PgPool,
    feed: &Feed,
    state: &State,
    published: &mut HashMap<String, u64>,
    options: &PostgresOptions,
    backoff: &mut Backoff,
) -> String {
    let mut listener = match tokio::time::timeout(CONNECT_WITHIN, listen(connect)).await {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return format!("cannot listen: {e}"),
        Err(_) => return format!("connecting took more than {CONNECT_WITHIN:?}"),
    };
    // Subscribed first, then caught up: nothing committed meanwhile is lost
    // (it is in the table or comes as a notification, or both).
    if let Err(e) = catch_up_all(pool, feed, published).await {
        return format!("cannot read the events table: {e}");
    }
    state.connected.store(true, Ordering::Relaxed);
    backoff.reset();
    tracing::info!("listening for every instance's board events");
    let mut heard = Instant::now();
    let mut tick = tokio::time::interval(options.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = {
            let recv = listener.try_recv();
            tokio::pin!(recv);
            loop {
                tokio::select! {
                    r = &mut recv => break r,
                    _ = tick.tick() => {
                        if heard.elapsed() > options.heartbeat * 3 {
                            return format!("no notification, not even its own heartbeat, for {:?}", heard.elapsed());
                        }
                        let pool = pool.clone();
                        tokio::spawn(async move {
                            // A failure shows as silence, handled above.
                            let _ = sqlx::query("SELECT pg_notify($1, '{}')")
                                .bind(CHANNEL)
                                .execute(&pool)
                                .await;
                        });
                    }
                }
            }
        };
        match next {
            Ok(Some(n)) => {
                heard = Instant::now();
                if let Err(e) = on_notification(n.payload(), pool, feed, published).await {
                    return format!("cannot read the events table: {e}");
                }
            }
            Ok(None) => return "the connection was lost".into(),
            Err(e) => return format!("the connection failed: {e}"),
        }
    }
}

/// A listener on a connection of its own (not the pool's: a `LISTEN`ing
/// connection is never handed to a request).
async fn listen(connect: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(CONNECT_WITHIN)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(connect.clone())
        .await?;
    let mut listener = PgListener::connect_with(&own).await?;
    // A lost connection ends the session (and is caught up after the
    // reconnect) instead of being replaced silently.
    listener.eager_reconnect(false);
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn on_notification(
    payload: &str,
    pool: &PgPool,
    feed: &Feed,
    published: &mut HashMap<String, u64>,
) -> Result<(), StoreError> {
    let Ok(p) = serde_json::from_str::<Payload>(payload) else {
        return Ok(());
    };
    let (Some(office), Some(seq)) = (p.office, p.seq) else {
        // A heartbeat.
        return Ok(());
    };
    let done = published.get(&office).copied().unwrap_or(0);
    if seq <= done {
        return Ok(());
    }
    if seq == done + 1 {
        if let (Some(kind), Some(data)) = (p.kind, p.data) {
            if let Ok(event) = BoardEvent::parse(&kind, &data) {
                feed.publish(&office, [&event]);
                published.insert(office, seq);
                return Ok(());
            }
        }
    }
    catch_up(pool, feed, published, &office, seq).await
}

/// Publishes what the table holds after the office's published `seq`
/// (up to `at_least`, or as far as it goes); when that cannot be done in
/// order, ends the office's streams instead.
async fn catch_up(
    pool: &PgPool,
    feed: &Feed,
    published: &mut HashMap<String, u64>,
    office: &str,
    at_least: u64,
) -> Result<(), StoreError> {
    let done = published.get(office).copied().unwrap_or(0);
    let mut c = pool.acquire().await?;
    let events = queries::events_after(&mut c, office, done, MAX_CATCH_UP + 1).await?;
    let in_order = events.first().is_some_and(|e| e.seq() == done + 1)
        && (events.len() as u64) <= MAX_CATCH_UP;
    let mut last = events.last().map_or(done, BoardEvent::seq);
    if in_order {
        feed.publish(office, &events);
        tracing::debug!(
            office,
            from = done,
            to = last,
            "caught up from the events table"
        );
    } else {
        last = last.max(at_least);
        tracing::warn!(office, from = done, to = last, "too far behind (or the events were pruned): ending this office's event streams, their clients resume from the log");
        feed.restart(office);
    }
    published.insert(office.to_string(), last);
    Ok(())
}

/// [`catch_up`] for every office whose log moved on since it was published.
async fn catch_up_all(
    pool: &PgPool,
    feed: &Feed,
    published: &mut HashMap<String, u64>,
) -> Result<(), StoreError> {
    for (office, head) in queries::heads(pool).await? {
        if head > published.get(&office).copied().unwrap_or(0) {
            catch_up(pool, feed, published, &office, head).await?;
        }
    }
    Ok(())
}
