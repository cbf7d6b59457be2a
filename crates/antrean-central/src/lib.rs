//! `antrean-central`: the reference central booking service, the other side
//! of `docs/central-api.md`. Bookings with queue numbers and signed `AQ1.`
//! tokens, idempotent check-ins, counters calling in order, the board and
//! its event stream, kiosk health, a staff page; tokens with roles. One
//! service holds one office or a city of them; it keeps everything in
//! SQLite (one instance) or PostgreSQL (several stateless instances behind
//! a load balancer). The demo, the kiosk's embedded mode and the tests run
//! it for real on 127.0.0.1. Shutdown is injected.
//!
//! Rooms, and which way imports run (nothing imports `routes` but `lib`):
//! `routes` (HTTP) -> `service` (the domain) -> `store` (all SQL),
//! `fanout` (event streams); `settings`, `config` (the file), `error`,
//! `rules` and `auth` (pure decisions), `limits`, `keys`, `maintenance`,
//! `metrics` (counted from the HTTP answers), `shutdown`,
//! `demo`.

pub mod auth;
pub mod call_order;
pub mod config;
pub mod demo;
pub mod error;
pub mod fanout;
pub mod keys;
pub mod limits;
pub mod maintenance;
pub mod metrics;
pub mod priority_routes;
pub mod public;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod store;

pub use error::{ServiceError, ServiceResult};
pub use routes::{router, serve};
pub use service::{revoke_token, store_token, Central, Office, TokenError};
pub use settings::{CentralSettings, OfficeSettings, SessionDef};
pub use store::{PostgresStore, SqliteStore, Store, StoredBooking};

/// Session letter and slot for display (`A 08.00-09.00`).
pub fn slot_display(slot: &str) -> String {
    antrean_core::booking::Slot::parse(slot)
        .map(|s| s.display())
        .unwrap_or_else(|| slot.to_string())
}
