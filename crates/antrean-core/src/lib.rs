//! The pure core of antrean-kiosk: the booking's shape, trusted keys, the
//! `AQ1.` token format and the check-in rules, manifests, ticket
//! composition, wording, the board's state, announcements, walk-in help,
//! the wire types of `docs/central-api.md`, the SSE framing and the backoff
//! policy. Nothing in here does I/O or reads a clock: callers pass `now` in.
//!
//! Imports run one way, and nothing outside this crate is imported:
//! `booking`, `keys`, `events`, `sse`, `backoff` and `printer_status`
//! import no other module; `api` re-exports `events`; `token` and `framing` use `booking`; `manifest` uses
//! `booking` and `keys`; `checkin` uses those and `token`; `locale` uses
//! `checkin`; `ticket` uses `locale`; `walkin` uses `ticket`; `board` uses
//! `api` and `events`; `announce` uses `events`.

pub mod announce;
pub mod api;
pub mod backoff;
pub mod board;
pub mod booking;
pub mod checkin;
pub mod events;
pub mod framing;
pub mod keys;
pub mod locale;
pub mod manifest;
pub mod printer_status;
pub mod sse;
pub mod ticket;
pub mod token;
pub mod walkin;
