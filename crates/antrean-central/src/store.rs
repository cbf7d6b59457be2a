//! The reference central service's storage: one SQLite file (WAL,
//! `synchronous=FULL`) with bookings, the board's event log (`seq` strictly
//! increasing across restarts, pruned after the retention), counters, the
//! notice, kiosk health and API tokens (hashes only). Names are stored
//! masked only. The file (and its WAL/SHM) is private to the service's
//! user: created 0600, refused at start when others may read it.

use std::path::Path;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use crate::auth::{Principal, Role, TokenInfo};
use antrean_core::manifest::BookingStatus;

/// A token row to insert: only the hash of the secret.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub hash: [u8; 32],
    pub prefix: &'a str,
    pub role: Role,
    pub office: &'a str,
    pub kiosk: Option<&'a str>,
    pub label: Option<&'a str>,
    pub created: &'a str,
}

/// A booking as the central service keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBooking {
    pub code: String,
    pub date: NaiveDate,
    pub slot: String,
    pub letter: String,
    pub serial: u32,
    pub number: String,
    pub service: String,
    pub status: BookingStatus,
    pub masked_name: Option<String>,
    pub checked_in_at: Option<String>,
    pub kiosk: Option<String>,
    pub offline: bool,
    pub called_at: Option<String>,
    pub counter: Option<String>,
    pub ahead: Option<u32>,
    pub estimated_call: Option<String>,
    /// When the counter finished with it (served or no-show).
    pub done_at: Option<String>,
}

/// One stored board event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub date: NaiveDate,
    pub kind: String,
    pub data: String,
}

pub struct Store {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bookings (
    code TEXT PRIMARY KEY, date TEXT NOT NULL, slot TEXT NOT NULL, letter TEXT NOT NULL,
    serial INTEGER NOT NULL, number TEXT NOT NULL, service TEXT NOT NULL, status TEXT NOT NULL,
    name TEXT, checked_in_at TEXT, kiosk TEXT, offline INTEGER NOT NULL DEFAULT 0,
    called_at TEXT, counter TEXT, done_at TEXT, ahead INTEGER, estimated_call TEXT
);
CREATE INDEX IF NOT EXISTS bookings_by_day ON bookings(date, slot, serial);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, date TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    id TEXT PRIMARY KEY, booking TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS health (kiosk TEXT PRIMARY KEY, report TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT, hash BLOB NOT NULL UNIQUE, prefix TEXT NOT NULL,
    role TEXT NOT NULL, office TEXT NOT NULL, kiosk TEXT, label TEXT,
    created TEXT NOT NULL, revoked TEXT
);
CREATE INDEX IF NOT EXISTS events_by_date ON events(date);
";

/// Why the database cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("the central database {path} can be read by other users (mode {mode:o}); refusing to start. Fix it with: chmod 600 {path}")]
    Open { path: String, mode: u32 },
    #[error("cannot create the central database {path}: {reason}. Check that the directory exists and belongs to the service's user.")]
    Create { path: String, reason: String },
    #[error("cannot open the central database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
}

/// Refuses a file that group or others may read or write.
fn check_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(StoreError::Open {
                    path: path.display().to_string(),
                    mode,
                });
            }
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

/// The database file and SQLite's companions of it.
fn db_files(path: &Path) -> [std::path::PathBuf; 3] {
    let with = |suffix: &str| {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        std::path::PathBuf::from(s)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

fn status_of(s: &str) -> BookingStatus {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .unwrap_or(BookingStatus::Unknown)
}

impl Store {
    /// Opens (or creates, mode 0600) the database at `path`. A file, WAL or
    /// SHM that others may read is refused with a `chmod 600` hint; SQLite
    /// gives the WAL and SHM files the database file's mode.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        for f in db_files(path) {
            check_private(&f)?;
        }
        if !path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| StoreError::Create {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
        }
        let sqlite = |source| StoreError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        conn.execute_batch(SCHEMA).map_err(sqlite)?;
        for f in db_files(path) {
            check_private(&f)?;
        }
        Ok(Store { conn })
    }

    pub fn in_memory() -> rusqlite::Result<Store> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store { conn })
    }

    pub fn tx<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let tx = self.conn.transaction()?;
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

const BOOKING_COLS: &str =
    "code, date, slot, letter, serial, number, service, status, name, checked_in_at,
    kiosk, offline, called_at, counter, ahead, estimated_call, done_at";

fn booking_row(r: &rusqlite::Row) -> rusqlite::Result<StoredBooking> {
    let date: String = r.get(1)?;
    let status: String = r.get(7)?;
    Ok(StoredBooking {
        code: r.get(0)?,
        date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap_or_default(),
        slot: r.get(2)?,
        letter: r.get(3)?,
        serial: r.get(4)?,
        number: r.get(5)?,
        service: r.get(6)?,
        status: status_of(&status),
        masked_name: r.get(8)?,
        checked_in_at: r.get(9)?,
        kiosk: r.get(10)?,
        offline: r.get(11)?,
        called_at: r.get(12)?,
        counter: r.get(13)?,
        ahead: r.get(14)?,
        estimated_call: r.get(15)?,
        done_at: r.get(16)?,
    })
}

/// Reads and writes used by the handlers (on a connection or transaction).
pub trait Queries {
    fn c(&self) -> &Connection;

    fn booking(&self, code: &str) -> rusqlite::Result<Option<StoredBooking>> {
        self.c()
            .query_row(
                &format!("SELECT {BOOKING_COLS} FROM bookings WHERE code = ?1"),
                [code],
                booking_row,
            )
            .optional()
    }

    fn bookings_on(&self, date: NaiveDate) -> rusqlite::Result<Vec<StoredBooking>> {
        let mut stmt = self.c().prepare_cached(&format!(
            "SELECT {BOOKING_COLS} FROM bookings WHERE date = ?1 ORDER BY slot, serial"
        ))?;
        let rows = stmt.query_map([date.to_string()], booking_row)?;
        rows.collect()
    }

    fn insert_booking(&self, b: &StoredBooking) -> rusqlite::Result<()> {
        self.c().execute(
            "INSERT INTO bookings (code, date, slot, letter, serial, number, service, status, name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                b.code,
                b.date.to_string(),
                b.slot,
                b.letter,
                b.serial,
                b.number,
                b.service,
                b.status.as_str(),
                b.masked_name
            ],
        )?;
        Ok(())
    }

    fn set_status(&self, code: &str, status: BookingStatus) -> rusqlite::Result<()> {
        self.c().execute(
            "UPDATE bookings SET status = ?2 WHERE code = ?1",
            params![code, status.as_str()],
        )?;
        Ok(())
    }

    fn check_in(
        &self,
        code: &str,
        at: &str,
        kiosk: &str,
        offline: bool,
        ahead: u32,
        estimated_call: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.c().execute(
            "UPDATE bookings SET status = 'checked_in', checked_in_at = ?2, kiosk = ?3, offline = ?4,
             ahead = ?5, estimated_call = ?6 WHERE code = ?1",
            params![code, at, kiosk, offline, ahead, estimated_call],
        )?;
        Ok(())
    }

    fn call(&self, code: &str, counter: &str, at: &str) -> rusqlite::Result<()> {
        self.c().execute(
            "UPDATE bookings SET status = 'called', called_at = ?3, counter = ?2 WHERE code = ?1",
            params![code, counter, at],
        )?;
        self.c().execute(
            "INSERT INTO counters (id, booking) VALUES (?1, ?2)
             ON CONFLICT(id) DO UPDATE SET booking = excluded.booking",
            params![counter, code],
        )?;
        Ok(())
    }

    fn finish(
        &self,
        code: &str,
        counter: &str,
        status: BookingStatus,
        at: &str,
    ) -> rusqlite::Result<()> {
        self.c().execute(
            "UPDATE bookings SET status = ?2, done_at = ?3 WHERE code = ?1",
            params![code, status.as_str(), at],
        )?;
        self.c().execute(
            "UPDATE counters SET booking = NULL WHERE id = ?1",
            [counter],
        )?;
        Ok(())
    }

    /// The booking a counter is serving.
    fn serving(&self, counter: &str) -> rusqlite::Result<Option<StoredBooking>> {
        let code: Option<Option<String>> = self
            .c()
            .query_row(
                "SELECT booking FROM counters WHERE id = ?1",
                [counter],
                |r| r.get(0),
            )
            .optional()?;
        match code.flatten() {
            Some(c) => self.booking(&c),
            None => Ok(None),
        }
    }

    fn append_event(
        &self,
        date: NaiveDate,
        kind: &str,
        data_without_seq: serde_json::Value,
    ) -> rusqlite::Result<StoredEvent> {
        let seq: u64 =
            self.c()
                .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM events", [], |r| {
                    r.get(0)
                })?;
        let mut data = data_without_seq;
        if let Some(obj) = data.as_object_mut() {
            obj.insert("seq".into(), serde_json::Value::from(seq));
        }
        let data = data.to_string();
        self.c().execute(
            "INSERT INTO events (seq, date, kind, data) VALUES (?1, ?2, ?3, ?4)",
            params![seq, date.to_string(), kind, data],
        )?;
        Ok(StoredEvent {
            seq,
            date,
            kind: kind.to_string(),
            data,
        })
    }

    fn last_seq(&self) -> rusqlite::Result<u64> {
        self.c()
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
    }

    fn events_after(&self, seq: u64) -> rusqlite::Result<Vec<StoredEvent>> {
        let mut stmt = self.c().prepare_cached(
            "SELECT seq, date, kind, data FROM events WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([seq], |r| {
            let date: String = r.get(1)?;
            Ok(StoredEvent {
                seq: r.get(0)?,
                date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap_or_default(),
                kind: r.get(2)?,
                data: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    fn event_date(&self, seq: u64) -> rusqlite::Result<Option<NaiveDate>> {
        let d: Option<String> = self
            .c()
            .query_row("SELECT date FROM events WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(d.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
    }

    /// Today's calls, newest first.
    fn calls_on(&self, date: NaiveDate, limit: usize) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.c().prepare_cached(
            "SELECT data FROM events WHERE date = ?1 AND kind = 'call' ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![date.to_string(), limit as i64], |r| r.get(0))?;
        rows.collect()
    }

    fn meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        let v: Option<Option<String>> = self
            .c()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        Ok(v.flatten())
    }

    fn set_meta(&self, key: &str, value: Option<&str>) -> rusqlite::Result<()> {
        self.c().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn put_health(&self, kiosk: &str, report: &str, at: &str) -> rusqlite::Result<()> {
        self.c().execute(
            "INSERT INTO health (kiosk, report, at) VALUES (?1, ?2, ?3)
             ON CONFLICT(kiosk) DO UPDATE SET report = excluded.report, at = excluded.at",
            params![kiosk, report, at],
        )?;
        Ok(())
    }

    fn set_estimate(&self, code: &str, estimated_call: &str) -> rusqlite::Result<()> {
        self.c().execute(
            "UPDATE bookings SET estimated_call = ?2 WHERE code = ?1",
            params![code, estimated_call],
        )?;
        Ok(())
    }

    fn set_called_at(&self, code: &str, at: &str) -> rusqlite::Result<()> {
        self.c().execute(
            "UPDATE bookings SET called_at = ?2 WHERE code = ?1",
            params![code, at],
        )?;
        Ok(())
    }

    /// The first `seq` from which the log can be replayed: the first event
    /// of `date` still kept (a replay never crosses a day), or `None` when
    /// the day has no events.
    fn first_seq_on(&self, date: NaiveDate) -> rusqlite::Result<Option<u64>> {
        self.c().query_row(
            "SELECT MIN(seq) FROM events WHERE date = ?1",
            [date.to_string()],
            |r| r.get(0),
        )
    }

    /// Deletes events dated before `before`, always keeping the newest
    /// event so that `seq` never goes back. Returns how many went.
    fn prune_events(&self, before: NaiveDate) -> rusqlite::Result<usize> {
        self.c().execute(
            "DELETE FROM events WHERE date < ?1 AND seq < (SELECT MAX(seq) FROM events)",
            [before.to_string()],
        )
    }

    fn insert_token(&self, t: &NewToken<'_>) -> rusqlite::Result<i64> {
        self.c().execute(
            "INSERT INTO tokens (hash, prefix, role, office, kiosk, label, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                &t.hash[..],
                t.prefix,
                t.role.as_str(),
                t.office,
                t.kiosk,
                t.label,
                t.created
            ],
        )?;
        Ok(self.c().last_insert_rowid())
    }

    /// The live (not revoked) token with this hash, and its stored hash.
    fn token_by_hash(&self, hash: &[u8; 32]) -> rusqlite::Result<Option<(Principal, Vec<u8>)>> {
        self.c()
            .query_row(
                "SELECT id, role, office, kiosk, hash FROM tokens WHERE hash = ?1 AND revoked IS NULL",
                [&hash[..]],
                |r| {
                    let role: String = r.get(1)?;
                    Ok((
                        Principal {
                            id: r.get(0)?,
                            // Rows are written through `Role::as_str`; an
                            // unknown one grants the least.
                            role: Role::parse(&role).unwrap_or(Role::Board),
                            office: r.get(2)?,
                            kiosk: r.get(3)?,
                        },
                        r.get(4)?,
                    ))
                },
            )
            .optional()
    }

    fn tokens(&self) -> rusqlite::Result<Vec<TokenInfo>> {
        let mut stmt = self.c().prepare(
            "SELECT id, prefix, role, office, kiosk, label, created, revoked FROM tokens ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let role: String = r.get(2)?;
            Ok(TokenInfo {
                id: r.get(0)?,
                prefix: r.get(1)?,
                role: Role::parse(&role).unwrap_or(Role::Board),
                office: r.get(3)?,
                kiosk: r.get(4)?,
                label: r.get(5)?,
                created: r.get(6)?,
                revoked: r.get(7)?,
            })
        })?;
        rows.collect()
    }

    /// Revokes token `id`; false when there is none (or it was revoked).
    fn revoke_token(&self, id: i64, at: &str) -> rusqlite::Result<bool> {
        Ok(self.c().execute(
            "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
            params![id, at],
        )? == 1)
    }

    /// Revokes every live token with this label (the embedded mode's own).
    fn revoke_labelled(&self, label: &str, at: &str) -> rusqlite::Result<usize> {
        self.c().execute(
            "UPDATE tokens SET revoked = ?2 WHERE label = ?1 AND revoked IS NULL",
            params![label, at],
        )
    }

    fn health(&self) -> rusqlite::Result<Vec<(String, String, String)>> {
        let mut stmt = self
            .c()
            .prepare_cached("SELECT kiosk, report, at FROM health ORDER BY kiosk")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect()
    }
}

impl Queries for Connection {
    fn c(&self) -> &Connection {
        self
    }
}

impl Queries for rusqlite::Transaction<'_> {
    fn c(&self) -> &Connection {
        self
    }
}
