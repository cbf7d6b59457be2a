//! The central service's integration tests, one binary: the roles matrix
//! and token commands (`roles`), connection hygiene (`limits`), rules at
//! the edge, private files and loops (`safety`), the API end to end
//! (`server`), the event log (`event_log`), the staff page in headless
//! Chromium (`staff_page`), and the [`antrean_central::Store`] trait's
//! behaviour, case by case, on every back end (`store`). Support is split
//! by concern under `support/`.

mod event_log;
mod limits;
mod roles;
mod safety;
mod server;
mod staff_page;
mod store;
mod store_log;
mod support;
