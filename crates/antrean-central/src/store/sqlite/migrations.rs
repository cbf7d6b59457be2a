//! The SQLite schema's versions: numbered SQL files
//! (`migrations/sqlite/NNNN_name.sql`), applied in order, each in its own
//! transaction, with the version kept in `PRAGMA user_version`. A database
//! of one office from before offices (version 0 with tables, or 1) moves
//! forward keeping its data: its rows become the `legacy` office's.

use rusqlite::Connection;

use crate::store::{AppliedMigration, StoreError, StoreResult};

/// (version, name, SQL), in order; a version is never changed once shipped.
const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "offices",
        include_str!("../../../migrations/sqlite/0002_offices.sql"),
    ),
    (
        3,
        "priority",
        include_str!("../../../migrations/sqlite/0003_priority.sql"),
    ),
];

/// The newest schema version this build knows.
pub(crate) fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies the migrations `c`'s database has not had; rows of a database
/// from before offices go to `legacy` office. Returns what it applied
/// (`0002_offices`). A database newer than this build is refused.
pub(crate) fn apply(c: &mut Connection, legacy: &str) -> StoreResult<Vec<AppliedMigration>> {
    let fail = |name: &str, e: rusqlite::Error| {
        StoreError::Migrate(format!("SQLite migration {name}: {e}"))
    };
    let current: u32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| fail("user_version", e))?;
    if current > latest() {
        return Err(StoreError::Migrate(format!(
            "the database is at schema version {current}, newer than this antrean-central knows ({}); run the newer version",
            latest()
        )));
    }
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let label = format!("{version:04}_{name}");
        let tx = c.transaction().map_err(|e| fail(&label, e))?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS legacy_office (office TEXT NOT NULL);
             DELETE FROM legacy_office;",
        )
        .map_err(|e| fail(&label, e))?;
        tx.execute("INSERT INTO legacy_office (office) VALUES (?1)", [legacy])
            .map_err(|e| fail(&label, e))?;
        tx.execute_batch(sql).map_err(|e| fail(&label, e))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|e| fail(&label, e))?;
        tx.commit().map_err(|e| fail(&label, e))?;
        applied.push(label);
    }
    c.execute_batch("DROP TABLE IF EXISTS temp.legacy_office")
        .map_err(|e| fail("cleanup", e))?;
    Ok(applied)
}
