//! The local status endpoint for office IT and monitoring, bound to a
//! loopback address only: `/healthz` (printer, central link, outbox depth,
//! age of the last board event; 503 when the kiosk cannot serve residents)
//! `/metrics` (Prometheus text) and `/board` (the call board as this kiosk
//! shows it). Read-only; it changes nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::watch;

use crate::central::sync::LinkStatus;
use crate::metrics::Metrics;
use antrean_core::api::PrinterHealth;
use antrean_host::clock::Clock;

/// What `/healthz` reads.
#[derive(Clone)]
pub struct StatusSources {
    pub metrics: Arc<Metrics>,
    pub printer: watch::Receiver<PrinterHealth>,
    /// Absent when no central service is configured.
    pub link: Option<watch::Receiver<LinkStatus>>,
    /// The call board as this kiosk sees it (absent without a central service).
    pub board: Option<watch::Receiver<crate::central::board_sync::BoardFeed>>,
    pub clock: Clock,
}

/// The `/healthz` body.
#[derive(Debug, Serialize)]
pub struct Healthz {
    /// `ok`, or `degraded` when residents cannot get a ticket.
    pub status: &'static str,
    pub printer: PrinterHealth,
    pub central: Option<CentralHealth>,
    pub outbox_depth: u64,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct CentralHealth {
    pub online: bool,
    pub last_contact: Option<String>,
    pub last_error: Option<String>,
    /// A configuration problem staff must fix (token, role, URL).
    pub attention: Option<String>,
    pub board_live: bool,
    pub last_event_age_seconds: Option<i64>,
    pub last_event_seq: Option<u64>,
    pub clock_skew_seconds: Option<i64>,
}

fn healthz_of(src: &StatusSources) -> Healthz {
    let printer = src.printer.borrow().clone();
    let can_print = printer.state.can_print();
    let now = src.clock.now();
    let central = src.link.as_ref().map(|l| {
        let s = l.borrow().clone();
        CentralHealth {
            online: s.online,
            last_contact: s.last_contact.map(|t| t.to_rfc3339()),
            last_error: s.last_error,
            attention: s.attention.map(|a| format!("{}: {}", a.task, a.message)),
            board_live: s.board_live,
            last_event_age_seconds: s.last_board_contact.map(|t| (now - t).num_seconds()),
            last_event_seq: s.last_event_seq,
            clock_skew_seconds: s.clock_skew_seconds,
        }
    });
    let outbox_depth = src.link.as_ref().map(|l| l.borrow().outbox).unwrap_or(0);
    Healthz {
        status: if can_print { "ok" } else { "degraded" },
        printer,
        central,
        outbox_depth,
        version: env!("CARGO_PKG_VERSION"),
    }
}

async fn healthz(State(src): State<StatusSources>) -> impl IntoResponse {
    let h = healthz_of(&src);
    let code = if h.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(h))
}

async fn metrics(State(src): State<StatusSources>) -> impl IntoResponse {
    if let Some(l) = &src.link {
        src.metrics.outbox_depth.set(l.borrow().outbox as i64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        src.metrics.render(),
    )
}

async fn board(State(src): State<StatusSources>) -> impl IntoResponse {
    match &src.board {
        Some(b) => {
            let feed = b.borrow().clone();
            (
                StatusCode::OK,
                Json(serde_json::json!({
                    "connected": feed.connected,
                    "last_contact": feed.last_contact.map(|t| t.to_rfc3339()),
                    "board": feed.state.snapshot(),
                })),
            )
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no central service configured"})),
        ),
    }
}

/// The router (for tests and for [`serve`]).
pub fn router(src: StatusSources) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/board", get(board))
        .route("/metrics", get(metrics))
        .with_state(src)
}

/// The address is not on the loopback interface.
#[derive(Debug, thiserror::Error)]
#[error("[status] listen = {0} is not a loopback address: the status endpoint is for this machine only (use 127.0.0.1:PORT)")]
pub struct NotLoopback(pub SocketAddr);

/// Binds `addr` (loopback only) and serves until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    src: StatusSources,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            NotLoopback(addr).to_string(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(src))
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .await;
    });
    Ok(local)
}
