//! antrean-kiosk: the lobby kiosk and ticket-printer daemon for Indonesian
//! civil-registry offices. See `ARCHITECTURE.md` for the code map.

pub mod central;
pub mod config;
pub mod core;
pub mod journal;
