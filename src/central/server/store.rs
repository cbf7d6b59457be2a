//! The reference central service's storage: one SQLite file (WAL,
//! `synchronous=FULL`) with bookings, the board's event log (`seq` strictly
//! increasing across restarts), counters, the notice and kiosk health.
//! Names are stored masked only.

use std::path::Path;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use crate::core::manifest::BookingStatus;

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
";

fn status_of(s: &str) -> BookingStatus {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .unwrap_or(BookingStatus::Unknown)
}

impl Store {
    pub fn open(path: &Path) -> rusqlite::Result<Store> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
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
    kiosk, offline, called_at, counter, ahead, estimated_call";

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
