//! Keeps a [`BoardState`] in step with the central service: a `/board`
//! snapshot, then the `/events` stream resumed with `Last-Event-ID`; a gap
//! or a `reset` fetches the snapshot again; no event or ping for the
//! heartbeat timeout (45 s) reconnects; failures back off with jitter.
//! The state is published on a watch channel with its freshness.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::api::BoardEvent;
use super::backoff::Backoff;
use super::client::CentralClient;
use super::sse::{SseItem, SseParser};
use super::sync::LinkStatus;
use crate::clock::Clock;
use crate::core::board::{Applied, BoardState};
use crate::metrics::Metrics;

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
    pub calls: Option<std::sync::mpsc::Sender<super::api::CallEvent>>,
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

enum StreamEnd {
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
                    tracing::warn!(error = %e, "board snapshot not fetched; retrying");
                    feed.send_if_modified(|f| std::mem::replace(&mut f.connected, false));
                    status.send_modify(|s| s.board_live = false);
                    if wait(backoff.next_delay(rand::random()), &mut shutdown).await {
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
        let end = stream(
            &client,
            &clock,
            &options,
            since,
            &feed,
            &status,
            &mut shutdown,
        )
        .await;
        feed.send_if_modified(|f| std::mem::replace(&mut f.connected, false));
        status.send_modify(|s| s.board_live = false);
        match end {
            StreamEnd::Shutdown => return,
            StreamEnd::NeedSnapshot => {
                need_snapshot = true;
                backoff.reset();
            }
            StreamEnd::Reset => {
                need_snapshot = true;
                after_reset = true;
                backoff.reset();
            }
            StreamEnd::Reconnect => {
                if wait(backoff.next_delay(rand::random()), &mut shutdown).await {
                    return;
                }
            }
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

async fn stream(
    client: &CentralClient,
    clock: &Clock,
    options: &BoardSyncOptions,
    since: u64,
    feed: &watch::Sender<BoardFeed>,
    status: &watch::Sender<LinkStatus>,
    shutdown: &mut watch::Receiver<bool>,
) -> StreamEnd {
    let connect = tokio::select! {
        r = client.events(Some(since)) => r,
        _ = shutdown.changed() => return StreamEnd::Shutdown,
    };
    let mut resp = match connect {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "event stream not connected; retrying");
            return StreamEnd::Reconnect;
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
    let resnapshot = tokio::time::sleep(options.resnapshot_every);
    tokio::pin!(resnapshot);
    loop {
        let chunk = tokio::select! {
            c = tokio::time::timeout(options.heartbeat_timeout, resp.chunk()) => c,
            _ = &mut resnapshot => return StreamEnd::NeedSnapshot,
            _ = shutdown.changed() => return StreamEnd::Shutdown,
        };
        let bytes = match chunk {
            Err(_) => {
                tracing::warn!(timeout = ?options.heartbeat_timeout, "no event or ping from the central service; reconnecting");
                return StreamEnd::Reconnect;
            }
            Ok(Ok(Some(bytes))) => bytes,
            Ok(Ok(None)) => {
                tracing::info!("event stream ended; reconnecting");
                return StreamEnd::Reconnect;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "event stream broke; reconnecting");
                return StreamEnd::Reconnect;
            }
        };
        let now = clock.now();
        status.send_modify(|s| s.last_board_contact = Some(now));
        let mut end = None;
        feed.send_if_modified(|f| {
            f.last_contact = Some(now);
            let mut changed = false;
            for item in parser.push(&bytes) {
                let SseItem::Message(m) = item else { continue };
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
            return end;
        }
    }
}
