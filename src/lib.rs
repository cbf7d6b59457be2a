//! antrean-kiosk: the lobby kiosk and ticket-printer daemon for Indonesian
//! civil-registry offices. See `ARCHITECTURE.md` for the code map.

pub mod app;
pub mod audio;
pub mod central;
pub mod config;
pub mod daemon;
pub mod embedded;
pub mod escpos_decode;
pub mod journal;
pub mod kiosk;
pub mod manifest_cache;
pub mod metrics;
pub mod printer;
pub mod report;
pub mod scanner;
pub mod screen_feed;
pub mod status_server;
pub mod ui;
