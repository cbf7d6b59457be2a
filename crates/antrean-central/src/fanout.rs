//! Event fan-out: board events, once committed, go to every open event
//! stream of this process (a broadcast channel of events encoded once, by
//! `antrean_core::events`), and each stream becomes an SSE response: the
//! replay (or a `reset`) first, then live events, pings while idle, until
//! the client goes or the server stops. No storage and no rules here: the
//! service decides what to replay and publishes what the store appended.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::{broadcast, watch};

use crate::limits::StreamSlot;
use antrean_core::events::{BoardEvent, EncodedEvent};

/// Live events a slow stream may fall behind before it is ended (its
/// client reconnects with `Last-Event-ID` and gets the rest replayed).
const BACKLOG: usize = 1024;

/// The broadcast of committed events, and the "server stopping" signal.
pub struct Fanout {
    events: broadcast::Sender<Arc<EncodedEvent>>,
    closing: watch::Sender<bool>,
}

impl Default for Fanout {
    fn default() -> Fanout {
        Fanout {
            events: broadcast::channel(BACKLOG).0,
            closing: watch::Sender::new(false),
        }
    }
}

impl Fanout {
    /// Sends committed events to every stream (encoded once for all).
    pub fn publish(&self, events: &[BoardEvent]) {
        for e in events {
            // No stream open is not an error.
            let _ = self.events.send(Arc::new(e.encode()));
        }
    }

    /// Live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EncodedEvent>> {
        self.events.subscribe()
    }

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
