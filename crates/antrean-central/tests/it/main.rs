//! The central service's integration tests, one binary: the roles matrix
//! and token commands (`roles`), connection hygiene (`limits`), rules at
//! the edge, private files and loops (`safety`), the API end to end
//! (`server`), the event log (`event_log`), the staff page in headless
//! Chromium (`staff_page`), the [`antrean_central::Store`] trait's
//! behaviour, case by case (`store`), three offices kept apart
//! (`offices`), schema migrations (`migrations`), and several instances
//! of the real binary on one PostgreSQL (`instances`), metrics per
//! office (`metrics`), the real binary's graceful stop (`shutdown`). Behaviour tests run
//! on every back end: SQLite, and PostgreSQL from a throwaway cluster the
//! tests start themselves. Support is split by concern under `support/`.

mod dependencies;
mod event_log;
mod instances;
mod limits;
mod metrics;
mod migrations;
mod offices;
mod packaging;
mod priority;
mod public;
mod roles;
mod safety;
mod server;
mod shutdown;
mod staff_page;
mod status_page;
mod store;
mod store_log;
mod support;
