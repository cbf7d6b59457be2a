//! The back ends the behaviour tests run on: SQLite (always: a file in a
//! temporary directory) and PostgreSQL (a fresh database of this run's
//! throwaway cluster, when PostgreSQL is installed). A test that should
//! hold on every back end loops over [`backends`]; the [`Store`] cases of
//! `store.rs` take [`every_store`].

use std::sync::Arc;
use std::time::Duration;

use antrean_central::store::{PostgresOptions, PostgresStore};
use antrean_central::{SqliteStore, Store};

use super::postgres::cluster;
use super::OFFICE;

/// A storage back end of the central service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// SQLite, and PostgreSQL when it is installed (see `postgres.rs`).
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if cluster().is_some() {
        out.push(Backend::Postgres);
    }
    out
}

/// How the tests' PostgreSQL stores run: small pools, a quick heartbeat
/// and reconnects (the listener's loop is still bounded by its backoff).
pub fn test_postgres_options() -> PostgresOptions {
    PostgresOptions {
        max_connections: 8,
        heartbeat: Duration::from_millis(500),
        reconnect_cap: Duration::from_secs(2),
        ..PostgresOptions::default()
    }
}

/// A fresh, empty store of `backend`; the SQLite file goes into `dir`
/// (which must outlive the store). Old SQLite rows belong to [`OFFICE`].
pub async fn fresh_store(backend: Backend, dir: &std::path::Path) -> Arc<dyn Store> {
    match backend {
        Backend::Sqlite => Arc::new(
            SqliteStore::open(
                &dir.join(format!("store-{}.sqlite3", rand_suffix())),
                OFFICE,
            )
            .unwrap(),
        ),
        Backend::Postgres => {
            let url = cluster()
                .expect("PostgreSQL cases run only with a cluster")
                .fresh_database();
            Arc::new(
                PostgresStore::connect(&url, test_postgres_options())
                    .await
                    .unwrap(),
            )
        }
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A fresh store of every back end: (name, store). `dir` outlives them.
pub async fn every_store(dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn Store>)> {
    let mut out = Vec::new();
    for b in backends() {
        out.push((b.name(), fresh_store(b, dir).await));
    }
    out
}
