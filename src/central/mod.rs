//! The central booking service: its wire types, the kiosk's client and
//! sync tasks, and the reference server (`antrean-central`).

pub mod api;
pub mod backoff;
pub mod board_sync;

pub mod client;
pub mod server;
pub mod sse;
pub mod sync;
