//! Event fan-out: board events, once committed, go to every open event
//! stream of their office. The [`Feed`] is where a store puts committed
//! events, per office and in commit order (SQLite: its writer thread
//! after each commit; PostgreSQL: the instance's `LISTEN` task, so that
//! events committed by any instance reach this instance's streams), each
//! encoded once by `antrean_core::events`. Each stream becomes an SSE
//! response: the replay (or a `reset`) first, then live events, pings
//! while idle, until the client goes or the server stops ([`Fanout`]).
//! No storage and no rules here: the service decides what to replay.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::{broadcast, watch};

use crate::limits::StreamSlot;
use antrean_core::events::{BoardEvent, EncodedEvent};

/// Live events a slow stream may fall behind before it is ended (its
/// client reconnects with `Last-Event-ID` and gets the rest replayed).
const BACKLOG: usize = 1024;

/// Committed events per office, to this process's open streams.
#[derive(Default)]
pub struct Feed {
    offices: Mutex<HashMap<String, broadcast::Sender<Arc<EncodedEvent>>>>,
}

impl Feed {
    /// Sends committed events of `office` to its streams (encoded once for
    /// all), in the order given.
    pub fn publish<'a>(&self, office: &str, events: impl IntoIterator<Item = &'a BoardEvent>) {
        self.publish_encoded(office, events.into_iter().map(BoardEvent::encode));
    }

    /// [`Feed::publish`] of events already encoded.
    pub fn publish_encoded(&self, office: &str, events: impl IntoIterator<Item = EncodedEvent>) {
        let offices = self.offices.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = offices.get(office) {
            for e in events {
                // No stream open is not an error.
                let _ = tx.send(Arc::new(e));
            }
        }
    }

    /// Live events of `office` from now on.
    pub fn subscribe(&self, office: &str) -> broadcast::Receiver<Arc<EncodedEvent>> {
        let mut offices = self.offices.lock().unwrap_or_else(|p| p.into_inner());
        offices
            .entry(office.to_string())
            .or_insert_with(|| broadcast::channel(BACKLOG).0)
            .subscribe()
    }

    /// Ends every open stream of `office` (this process can no longer
    /// vouch for what they missed): their clients reconnect with
    /// `Last-Event-ID` and are answered from the log.
    pub fn restart(&self, office: &str) {
        let mut offices = self.offices.lock().unwrap_or_else(|p| p.into_inner());
        offices.remove(office);
    }

    /// Streams open now for `office` on this feed.
    pub fn subscribers(&self, office: &str) -> usize {
        let offices = self.offices.lock().unwrap_or_else(|p| p.into_inner());
        offices.get(office).map_or(0, |tx| tx.receiver_count())
    }
}

/// The "server stopping" signal that ends open streams.
pub struct Fanout {
    closing: watch::Sender<bool>,
}

impl Default for Fanout {
    fn default() -> Fanout {
        Fanout {
            closing: watch::Sender::new(false),
        }
    }
}

impl Fanout {
    /// Ends every open stream (the server is stopping).
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }

    /// Becomes `true` when the server stops.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

/// One event as an SSE frame (id, event name, one data line).
fn frame(e: &EncodedEvent) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default()
        .id(e.seq.to_string())
        .event(e.kind)
        .data(&e.data))
}

/// A client's event stream: `first` (a replay, or a `reset`), then the
/// live events after `upto` from `live` (subscribed before `first` was
/// read, so nothing falls between), a `: ping` every `ping` while idle.
/// It holds `slot` until it ends: when the client goes, when it falls more
/// than the backlog behind, or when `closing` turns true.
pub fn event_stream(
    first: Vec<BoardEvent>,
    upto: u64,
    live: broadcast::Receiver<Arc<EncodedEvent>>,
    mut closing: watch::Receiver<bool>,
    slot: StreamSlot,
    ping: Duration,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let first = stream::iter(first).map(|e| frame(&e.encode()));
    let live = tokio_stream::wrappers::BroadcastStream::new(live)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(move |r| std::future::ready(r.ok().filter(|e| e.seq > upto)))
        .map(|e| frame(&e));
    let stream = first
        .chain(live)
        .take_until(async move {
            let _ = closing.wait_for(|c| *c).await;
        })
        // The stream holds its slot until the client goes or the server stops.
        .map(move |e| {
            let _held = &slot;
            e
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(ping).text("ping"))
}
