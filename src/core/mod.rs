//! The pure core: booking rules, manifests, ticket composition, wording and
//! (later) the board's state. Nothing in here does I/O or reads a clock.

pub mod announce;
pub mod board;
pub mod booking;
pub mod framing;
pub mod locale;
pub mod manifest;
pub mod printer_status;
pub mod ticket;
pub mod walkin;
