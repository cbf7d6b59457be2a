//! The stores the behaviour cases of `store.rs` run on, each fresh and
//! empty, holding [`OFFICE`]. A back end joins the cases by adding its
//! constructor here.

use std::sync::Arc;

use antrean_central::{SqliteStore, Store};

use super::OFFICE;

/// A fresh store of every back end: (name, store). `dir` outlives them.
pub fn every_store(dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn Store>)> {
    vec![(
        "sqlite",
        Arc::new(SqliteStore::open(&dir.join("store.sqlite3"), OFFICE).unwrap()) as Arc<dyn Store>,
    )]
}
