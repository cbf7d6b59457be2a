//! The central booking service: its wire types, the kiosk's client, and the
//! reference server (`antrean-central`).

pub mod api;
