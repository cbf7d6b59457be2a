//! The kiosk's side of the central booking service: its HTTP client and
//! the sync tasks (check-ins, health, manifest, the board's event stream).
//! The wire types are `antrean_core::api`; the reference service is the
//! `antrean-central` crate.

pub mod board_sync;
pub mod client;
pub mod sync;
