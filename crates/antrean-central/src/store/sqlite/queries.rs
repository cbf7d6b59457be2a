//! The SQL of [`super::SqliteStore`] for bookings, counters and the event
//! log (health and tokens: `records.rs`): one plain function per domain
//! operation, on the connection of the thread that runs it. Writes open an
//! `IMMEDIATE` transaction (the write lock first, so two writers never
//! deadlock upgrading); reads one deferred transaction (one snapshot of the
//! WAL). Nothing here knows about threads, HTTP or the service's rules
//! beyond what a row must hold.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::rules;
use crate::store::{
    BoardRows, Called, CancelOutcome, CheckinOutcome, CounterAction, Finish, NewBooking,
    NewCheckin, Replay, StoreError, StoreResult, StoredBooking,
};
use antrean_core::events::{BoardEvent, ResetEvent};
use antrean_core::manifest::BookingStatus;

pub(super) const SCHEMA: &str = "
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

const BOOKING_COLS: &str =
    "code, date, slot, letter, serial, number, service, status, name, checked_in_at,
    kiosk, offline, called_at, counter, ahead, estimated_call, done_at";

fn parse_day(s: &str) -> rusqlite::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn status_of(s: &str) -> BookingStatus {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .unwrap_or(BookingStatus::Unknown)
}

fn booking_row(r: &rusqlite::Row) -> rusqlite::Result<StoredBooking> {
    let date: String = r.get(1)?;
    let status: String = r.get(7)?;
    Ok(StoredBooking {
        code: r.get(0)?,
        date: parse_day(&date)?,
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

fn write_tx(c: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    c.transaction_with_behavior(TransactionBehavior::Immediate)
}

pub(super) fn booking(c: &Connection, code: &str) -> StoreResult<Option<StoredBooking>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE code = ?1"
    ))?
    .query_row([code], booking_row)
    .optional()?)
}

pub(super) fn bookings_on(c: &Connection, date: NaiveDate) -> StoreResult<Vec<StoredBooking>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE date = ?1 ORDER BY slot, serial"
    ))?;
    let rows = stmt.query_map([date.to_string()], booking_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn book(c: &mut Connection, new: &NewBooking) -> StoreResult<Option<StoredBooking>> {
    let tx = write_tx(c)?;
    let day = new.date.to_string();
    let (taken, last_serial): (u32, u32) = tx.query_row(
        "SELECT COALESCE(SUM(status <> 'cancelled'), 0), COALESCE(MAX(serial), 0)
         FROM bookings WHERE date = ?1 AND slot = ?2",
        params![day, new.slot],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if taken >= new.quota {
        return Ok(None);
    }
    let running: usize = tx.query_row(
        "SELECT COUNT(*) + 1 FROM bookings WHERE date = ?1",
        [&day],
        |r| r.get(0),
    )?;
    let serial = last_serial + 1;
    let b = StoredBooking {
        code: rules::booking_code(&new.code_prefix, new.date, running),
        date: new.date,
        slot: new.slot.clone(),
        letter: new.letter.clone(),
        serial,
        number: rules::queue_number(&new.letter, serial),
        service: new.service.clone(),
        status: BookingStatus::Booked,
        masked_name: new.masked_name.clone(),
        checked_in_at: None,
        kiosk: None,
        offline: false,
        called_at: None,
        counter: None,
        ahead: None,
        estimated_call: None,
        done_at: None,
    };
    tx.execute(
        "INSERT INTO bookings (code, date, slot, letter, serial, number, service, status, name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            b.code,
            day,
            b.slot,
            b.letter,
            b.serial,
            b.number,
            b.service,
            b.status.as_str(),
            b.masked_name
        ],
    )?;
    tx.commit()?;
    Ok(Some(b))
}

pub(super) fn cancel(c: &mut Connection, code: &str) -> StoreResult<CancelOutcome> {
    let tx = write_tx(c)?;
    let Some(b) = booking(&tx, code)? else {
        return Ok(CancelOutcome::Unknown);
    };
    if !matches!(b.status, BookingStatus::Booked | BookingStatus::Cancelled) {
        return Ok(CancelOutcome::TooLate);
    }
    tx.execute(
        "UPDATE bookings SET status = 'cancelled' WHERE code = ?1",
        [code],
    )?;
    tx.commit()?;
    Ok(CancelOutcome::Cancelled)
}

pub(super) fn check_in(c: &mut Connection, ci: &NewCheckin) -> StoreResult<CheckinOutcome> {
    let tx = write_tx(c)?;
    let Some(b) = booking(&tx, &ci.code)? else {
        return Ok(CheckinOutcome::Unknown);
    };
    if b.status != BookingStatus::Booked {
        return Ok(CheckinOutcome::Already(b));
    }
    let ahead: u32 = tx.query_row(
        "SELECT COUNT(*) FROM bookings WHERE date = ?1 AND status = 'checked_in'
         AND (slot < ?2 OR (slot = ?2 AND serial < ?3))",
        params![b.date.to_string(), b.slot, b.serial],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE bookings SET status = 'checked_in', checked_in_at = ?2, kiosk = ?3, offline = ?4,
         ahead = ?5 WHERE code = ?1",
        params![ci.code, ci.at, ci.kiosk, ci.offline, ahead],
    )?;
    let events = append(&tx, ci.today, b.checkin_event())?;
    let booking = booking(&tx, &ci.code)?.ok_or_else(|| damaged(&ci.code))?;
    tx.commit()?;
    Ok(CheckinOutcome::First { booking, events })
}

fn damaged(code: &str) -> StoreError {
    StoreError::Damaged(format!("booking {code} vanished inside its transaction"))
}

pub(super) fn set_estimate(c: &mut Connection, code: &str, est: &str) -> StoreResult<()> {
    c.execute(
        "UPDATE bookings SET estimated_call = ?2 WHERE code = ?1",
        params![code, est],
    )?;
    Ok(())
}

/// The booking counter `counter` has called (status `called`), if any.
fn serving(tx: &Connection, counter: &str) -> StoreResult<Option<StoredBooking>> {
    let code: Option<Option<String>> = tx
        .query_row(
            "SELECT booking FROM counters WHERE id = ?1",
            [counter],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match code.flatten() {
        Some(code) => booking(tx, &code)?.filter(|b| b.status == BookingStatus::Called),
        None => None,
    })
}

fn finish(tx: &Connection, code: &str, counter: &str, how: Finish, at: &str) -> StoreResult<()> {
    let status = match how {
        Finish::Done => BookingStatus::Served,
        Finish::Skip => BookingStatus::NoShow,
    };
    tx.execute(
        "UPDATE bookings SET status = ?2, done_at = ?3 WHERE code = ?1",
        params![code, status.as_str(), at],
    )?;
    tx.execute(
        "UPDATE counters SET booking = NULL WHERE id = ?1",
        [counter],
    )?;
    Ok(())
}

pub(super) fn call_next(
    c: &mut Connection,
    counter: &str,
    today: NaiveDate,
    now: &str,
) -> StoreResult<Option<Called>> {
    let tx = write_tx(c)?;
    if let Some(current) = serving(&tx, counter)? {
        // Calling the next one finishes the current one.
        finish(&tx, &current.code, counter, Finish::Done, now)?;
    }
    let next = tx
        .prepare_cached(&format!(
            "SELECT {BOOKING_COLS} FROM bookings WHERE date = ?1 AND status = 'checked_in'
             ORDER BY slot, serial LIMIT 1"
        ))?
        .query_row([today.to_string()], booking_row)
        .optional()?;
    let Some(b) = next else {
        tx.commit()?;
        return Ok(None);
    };
    tx.execute(
        "UPDATE bookings SET status = 'called', called_at = ?3, counter = ?2 WHERE code = ?1",
        params![b.code, counter, now],
    )?;
    tx.execute(
        "INSERT INTO counters (id, booking) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET booking = excluded.booking",
        params![counter, b.code],
    )?;
    let events = append(&tx, today, b.call_event(counter, now, false))?;
    let booking = booking(&tx, &b.code)?.ok_or_else(|| damaged(&b.code))?;
    tx.commit()?;
    Ok(Some(Called { booking, events }))
}

pub(super) fn counter_action(
    c: &mut Connection,
    counter: &str,
    action: CounterAction,
    today: NaiveDate,
    now: &str,
) -> StoreResult<Option<Called>> {
    let tx = write_tx(c)?;
    let Some(b) = serving(&tx, counter)? else {
        return Ok(None);
    };
    let event = match action {
        CounterAction::Recall => {
            // The board shows when the number was last called.
            tx.execute(
                "UPDATE bookings SET called_at = ?2 WHERE code = ?1",
                params![b.code, now],
            )?;
            b.call_event(counter, now, true)
        }
        CounterAction::Finish(how) => {
            finish(&tx, &b.code, counter, how, now)?;
            b.finish_event(counter, how)
        }
    };
    let events = append(&tx, today, event)?;
    let booking = booking(&tx, &b.code)?.ok_or_else(|| damaged(&b.code))?;
    tx.commit()?;
    Ok(Some(Called { booking, events }))
}

pub(super) fn set_notice(
    c: &mut Connection,
    text: Option<String>,
    today: NaiveDate,
) -> StoreResult<Vec<BoardEvent>> {
    let tx = write_tx(c)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('notice', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [&text],
    )?;
    let event = BoardEvent::Notice(antrean_core::events::NoticeEvent { seq: 0, text });
    let events = append(&tx, today, event)?;
    tx.commit()?;
    Ok(events)
}

fn last_seq(c: &Connection) -> StoreResult<u64> {
    Ok(c.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?)
}

/// Appends `event` with the next `seq` (a `reset` first when the log's last
/// event is of another day); returns what was appended.
fn append(
    tx: &Transaction<'_>,
    today: NaiveDate,
    event: BoardEvent,
) -> StoreResult<Vec<BoardEvent>> {
    let mut seq = last_seq(tx)?;
    let mut out = Vec::with_capacity(2);
    if seq > 0 {
        let last_day: Option<String> = tx
            .query_row("SELECT date FROM events WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .optional()?;
        if last_day.as_deref() != Some(today.to_string().as_str()) {
            seq += 1;
            out.push(BoardEvent::Reset(ResetEvent { seq }));
        }
    }
    out.push(event.with_seq(seq + 1));
    for e in &out {
        let wire = e.encode();
        tx.prepare_cached("INSERT INTO events (seq, date, kind, data) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![wire.seq, today.to_string(), wire.kind, wire.data])?;
    }
    Ok(out)
}

fn decode(kind: &str, data: &str) -> StoreResult<BoardEvent> {
    BoardEvent::parse(kind, data).map_err(|e| StoreError::Damaged(e.to_string()))
}

pub(super) fn board(c: &mut Connection, today: NaiveDate, recent: usize) -> StoreResult<BoardRows> {
    let tx = c.transaction()?;
    let day = today.to_string();
    let seq = last_seq(&tx)?;
    let mut serving = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT id, booking FROM counters WHERE booking IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (counter, code) = row?;
            if let Some(b) = booking(&tx, &code)?
                .filter(|b| b.date == today && b.status == BookingStatus::Called)
            {
                serving.push((counter, b));
            }
        }
    }
    let mut calls = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT kind, data FROM events WHERE date = ?1 AND kind = 'call'
             ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![day, recent as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (kind, data) = row?;
            if let BoardEvent::Call(call) = decode(&kind, &data)? {
                calls.push(call);
            }
        }
    }
    let waiting = {
        let mut stmt = tx.prepare_cached(
            "SELECT slot, COUNT(*) FROM bookings WHERE date = ?1 AND status = 'checked_in'
             GROUP BY slot ORDER BY slot",
        )?;
        let rows = stmt.query_map([&day], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<Vec<(String, u32)>>>()?
    };
    let notice: Option<Option<String>> = tx
        .query_row("SELECT value FROM meta WHERE key = 'notice'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(BoardRows {
        seq,
        serving,
        recent: calls,
        waiting,
        notice: notice.flatten(),
    })
}

pub(super) fn current_seq(c: &Connection) -> StoreResult<u64> {
    last_seq(c)
}

pub(super) fn replay(
    c: &mut Connection,
    after: u64,
    today: NaiveDate,
    max: u64,
) -> StoreResult<Replay> {
    let tx = c.transaction()?;
    let last = last_seq(&tx)?;
    let first: Option<u64> = tx.query_row(
        "SELECT MIN(seq) FROM events WHERE date = ?1",
        [today.to_string()],
        |r| r.get(0),
    )?;
    if !rules::can_replay(after, last, first, max) {
        return Ok(Replay::Reset { seq: last });
    }
    let mut stmt =
        tx.prepare_cached("SELECT kind, data FROM events WHERE seq > ?1 ORDER BY seq")?;
    let rows = stmt.query_map([after], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (kind, data) = row?;
        events.push(decode(&kind, &data)?);
    }
    Ok(Replay::Events(events))
}

pub(super) fn prune_events(c: &mut Connection, before: NaiveDate) -> StoreResult<usize> {
    Ok(c.execute(
        "DELETE FROM events WHERE date < ?1 AND seq < (SELECT MAX(seq) FROM events)",
        [before.to_string()],
    )?)
}
