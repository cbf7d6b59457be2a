//! Keeps a [`BoardState`] in step with the central service: a `/board`
//! snapshot, then the `/events` stream resumed with `Last-Event-ID`; a gap
//! or a `reset` fetches the snapshot again; no whole event or ping for the
//! heartbeat timeout (45 s) reconnects, and so does an oversized line or
//! event; every minute a fresh snapshot is fetched (the board stays live
//! meanwhile). Every new connection waits its turn of a capped, jittered
//! backoff, which starts again from its base only after a stream stayed up
//! for a while: a server that breaks every stream at once cannot make the
//! kiosk reconnect in a loop. The state is published on a watch channel
//! with its freshness.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::client::CentralClient;
use super::sync::LinkStatus;
use crate::metrics::Metrics;
use antrean_core::api::BoardEvent;
use antrean_core::backoff::Backoff;
use antrean_core::board::{Applied, BoardState};
use antrean_core::sse::{SseItem, SseParser};
use antrean_host::clock::Clock;

/// The board as the screens see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoardFeed {
    pub state: BoardState,
    /// The stream is connected.
    pub connected: bool,
    /// When the last event, ping or snapshot arrived.
    pub last_contact: Option<DateTime<Utc>>,
}

/// Settings of the board sync.
#[derive(Debug, Clone)]
pub struct BoardSyncOptions {
    /// No event or ping for this long: reconnect.
    pub heartbeat_timeout: Duration,
    /// Fetch a fresh snapshot this often anyway (waiting counts converge).
    pub resnapshot_every: Duration,
    /// Longest pause between reconnection tries.
    pub retry_max: Duration,
    /// Every applied call also goes here (the spoken announcements).
    pub calls: Option<std::sync::mpsc::Sender<antrean_core::api::CallEvent>>,
}

impl Default for BoardSyncOptions {
    fn default() -> Self {
        BoardSyncOptions {
            heartbeat_timeout: Duration::from_secs(45),
            resnapshot_every: Duration::from_secs(60),
            retry_max: Duration::from_secs(30),
            calls: None,
        }
    }
}

/// A stream that stayed up this long was healthy: the backoff starts over.
const STABLE: Duration = Duration::from_secs(30);

enum StreamEnd {
    /// The periodic fresh snapshot: the stream was healthy, the board
    /// stays live meanwhile.
    Refresh,
    NeedSnapshot,
    /// The server reset the stream: its board replaces ours.
    Reset,
    Reconnect,
    Shutdown,
}

/// Runs until `shutdown`, publishing to `feed` and noting contact in `status`.
pub async fn run_board(
    client: CentralClient,
    clock: Clock,
    options: BoardSyncOptions,
    feed: watch::Sender<BoardFeed>,
    status: std::sync::Arc<watch::Sender<LinkStatus>>,
    metrics: std::sync::Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(250), options.retry_max);
    let mut need_snapshot = true;
    let mut after_reset = false;
    let mut first = true;
    loop {
        if need_snapshot {
            let fetched = tokio::select! {
                r = client.board() => r,
                _ = shutdown.changed() => return,
            };
            metrics.attempt(
                "board",
                fetched.as_ref().map_or_else(|e| e.label(), |_| "ok"),
            );
            match fetched {
                Ok(snap) => {
                    let now = clock.now();
                    feed.send_modify(|f| {
                        if after_reset {
                            f.state.replace_after_reset(snap);
                        } else {
                            f.state.apply_snapshot(snap);
                        }
                        f.last_contact = Some(now);
                    });
                    need_snapshot = false;
                    after_reset = false;
                }
                Err(e) => {
                    let pause = match e.retry() {
                        super::client::Retry::Soon(at_least) => {
                            backoff.next_delay_at_least(rand::random(), at_least)
                        }
                        _ => backoff.cap(),
                    };
                    tracing::warn!(error = %e, retry_in = ?pause, "board snapshot not fetched; retrying");
                    feed.send_if_modified(|f| std::mem::replace(&mut f.connected, false));
                    status.send_if_modified(|s| std::mem::replace(&mut s.board_live, false));
                    if wait(pause, &mut shutdown).await {
                        return;
                    }
                    continue;
                }
            }
        }
        if !first {
            metrics.reconnect("events");
        }
        first = false;
        let since = feed.borrow().state.seq();
        let started = tokio::time::Instant::now();
        let (end, asked) = stream(
            &client,
            &clock,
            &options,
            since,
            &feed,
            &status,
            &metrics,
            &mut shutdown,
        )
        .await;
        if !matches!(end, StreamEnd::Refresh) {
            feed.send_if_modified(|f| std::mem::replace(&mut f.connected, false));
            status.send_if_modified(|s| std::mem::replace(&mut s.board_live, false));
        }
        if started.elapsed() >= STABLE {
            backoff.reset();
        }
        match end {
            StreamEnd::Shutdown => return,
            StreamEnd::Refresh | StreamEnd::NeedSnapshot => need_snapshot = true,
            StreamEnd::Reset => {
                need_snapshot = true;
                after_reset = true;
            }
            StreamEnd::Reconnect => {}
        }
        if wait(
            backoff.next_delay_at_least(rand::random(), asked),
            &mut shutdown,
        )
        .await
        {
            return;
        }
    }
}

/// Sleeps; true when shutdown came first.
async fn wait(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.changed() => true,
    }
}

/// Reads one event stream until it ends; also returns the pause the
/// server asked for (`retry:` or `Retry-After`).
#[allow(clippy::too_many_arguments)]
async fn stream(
    client: &CentralClient,
    clock: &Clock,
    options: &BoardSyncOptions,
    since: u64,
    feed: &watch::Sender<BoardFeed>,
    status: &watch::Sender<LinkStatus>,
    metrics: &Metrics,
    shutdown: &mut watch::Receiver<bool>,
) -> (StreamEnd, Option<Duration>) {
    let connect = tokio::select! {
        r = client.events(Some(since)) => r,
        _ = shutdown.changed() => return (StreamEnd::Shutdown, None),
    };
    metrics.attempt(
        "events",
        connect.as_ref().map_or_else(|e| e.label(), |_| "ok"),
    );
    let mut resp = match connect {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "event stream not connected; retrying");
            let asked = match e.retry() {
                super::client::Retry::Soon(at_least) => at_least,
                _ => Some(options.retry_max),
            };
            return (StreamEnd::Reconnect, asked);
        }
    };
    tracing::info!(since, "event stream connected");
    let now = clock.now();
    feed.send_modify(|f| {
        f.connected = true;
        f.last_contact = Some(now);
    });
    status.send_modify(|s| {
        s.board_live = true;
        s.last_board_contact = Some(now);
    });
    let mut parser = SseParser::new();
    let mut asked: Option<Duration> = None;
    let resnapshot = tokio::time::sleep(options.resnapshot_every);
    tokio::pin!(resnapshot);
    // Only whole events and pings count as signs of life, not bytes.
    let heartbeat = tokio::time::sleep(options.heartbeat_timeout);
    tokio::pin!(heartbeat);
    loop {
        let chunk = tokio::select! {
            c = resp.chunk() => c,
            _ = &mut heartbeat => {
                tracing::warn!(timeout = ?options.heartbeat_timeout, "no event or ping from the central service; reconnecting");
                return (StreamEnd::Reconnect, asked);
            }
            _ = &mut resnapshot => return (StreamEnd::Refresh, asked),
            _ = shutdown.changed() => return (StreamEnd::Shutdown, asked),
        };
        let bytes = match chunk {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                tracing::info!("event stream ended; reconnecting");
                return (StreamEnd::Reconnect, asked);
            }
            Err(e) => {
                tracing::warn!(error = %e, "event stream broke; reconnecting");
                return (StreamEnd::Reconnect, asked);
            }
        };
        let items = parser.push(&bytes);
        if items.is_empty() {
            continue;
        }
        let now = clock.now();
        heartbeat
            .as_mut()
            .reset(tokio::time::Instant::now() + options.heartbeat_timeout);
        // Noted at most once a second: a flood of pings is not news.
        status.send_if_modified(|s| {
            let stale = s
                .last_board_contact
                .is_none_or(|t| now - t >= chrono::TimeDelta::seconds(1));
            if stale {
                s.last_board_contact = Some(now);
            }
            stale
        });
        let mut end = None;
        feed.send_if_modified(|f| {
            f.last_contact = Some(now);
            let mut changed = false;
            for item in items {
                let m = match item {
                    SseItem::Message(m) => m,
                    SseItem::Comment(_) => continue,
                    SseItem::Retry(ms) => {
                        asked = Some(Duration::from_millis(ms));
                        continue;
                    }
                    SseItem::Oversized => {
                        tracing::warn!(
                            max_line = antrean_core::sse::MAX_LINE,
                            max_event = antrean_core::sse::MAX_EVENT,
                            "the central service sent an oversized line or event; reconnecting"
                        );
                        end = Some(StreamEnd::Reconnect);
                        break;
                    }
                };
                let event = match BoardEvent::parse(&m.event, &m.data) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable board event skipped; re-fetching the board");
                        end = Some(StreamEnd::NeedSnapshot);
                        break;
                    }
                };
                match f.state.apply_event(&event) {
                    Applied::Updated => {
                        changed = true;
                        if let BoardEvent::Call(c) = &event {
                            tracing::info!(seq = c.seq, number = %c.number, counter = %c.counter, recall = c.recall, "board call");
                            if let Some(tx) = &options.calls {
                                let _ = tx.send(c.clone());
                            }
                        }
                    }
                    Applied::Duplicate | Applied::Stale => {}
                    Applied::Gap { have, got } => {
                        tracing::info!(have, got, "board events missing; re-fetching the board");
                        end = Some(StreamEnd::NeedSnapshot);
                        break;
                    }
                    Applied::ResetNeeded => {
                        tracing::info!("board reset by the central service; re-fetching the board");
                        end = Some(StreamEnd::Reset);
                        break;
                    }
                }
            }
            changed
        });
        let seq = feed.borrow().state.seq();
        status.send_if_modified(|s| {
            let changed = s.last_event_seq != Some(seq);
            s.last_event_seq = Some(seq);
            changed
        });
        if let Some(end) = end {
            return (end, asked);
        }
    }
}
