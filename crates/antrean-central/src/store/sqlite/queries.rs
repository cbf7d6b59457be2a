//! The SQL of [`super::SqliteStore`] for bookings, counters and the event
//! log (health and tokens: `records.rs`; the schema: `migrations.rs`): one
//! plain function per domain operation, each for one office, on the
//! connection of the thread that runs it. Writes open an `IMMEDIATE`
//! transaction (the write lock first, so two writers never deadlock
//! upgrading); reads one deferred transaction (one snapshot of the WAL).
//! Nothing here knows about threads, HTTP or the service's rules beyond
//! what a row must hold.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::call_order::{self, PriorityChange};
use crate::rules;
use crate::store::{
    BoardRows, Called, CancelOutcome, CheckinOutcome, CounterAction, Finish, NewBooking,
    NewCheckin, PriorityOutcome, Replay, StoreError, StoreResult, StoredBooking,
};
use antrean_core::events::{BoardEvent, ResetEvent};
use antrean_core::manifest::BookingStatus;

const BOOKING_COLS: &str =
    "code, date, slot, letter, serial, number, service, status, name, checked_in_at,
    kiosk, offline, called_at, counter, ahead, estimated_call, done_at, priority";

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
        priority: call_order::priority_of(r.get::<_, Option<String>>(17)?.as_deref()),
    })
}

fn write_tx(c: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    c.transaction_with_behavior(TransactionBehavior::Immediate)
}

pub(super) fn booking(
    c: &Connection,
    office: &str,
    code: &str,
) -> StoreResult<Option<StoredBooking>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE office = ?1 AND code = ?2"
    ))?
    .query_row([office, code], booking_row)
    .optional()?)
}

pub(super) fn bookings_on(
    c: &Connection,
    office: &str,
    date: NaiveDate,
) -> StoreResult<Vec<StoredBooking>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE office = ?1 AND date = ?2 ORDER BY slot, serial"
    ))?;
    let rows = stmt.query_map(params![office, date.to_string()], booking_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn book(
    c: &mut Connection,
    office: &str,
    new: &NewBooking,
) -> StoreResult<Option<StoredBooking>> {
    let tx = write_tx(c)?;
    let day = new.date.to_string();
    let (taken, last_serial): (u32, u32) = tx.query_row(
        "SELECT COALESCE(SUM(status <> 'cancelled'), 0), COALESCE(MAX(serial), 0)
         FROM bookings WHERE office = ?1 AND date = ?2 AND slot = ?3",
        params![office, day, new.slot],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if taken >= new.quota {
        return Ok(None);
    }
    let running: usize = tx.query_row(
        "SELECT COUNT(*) + 1 FROM bookings WHERE office = ?1 AND date = ?2",
        params![office, day],
        |r| r.get(0),
    )?;
    let serial = last_serial + 1;
    let b = new.booked(running, serial);
    tx.execute(
        "INSERT INTO bookings (office, code, date, slot, letter, serial, number, service, status, name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            office,
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

pub(super) fn cancel(c: &mut Connection, office: &str, code: &str) -> StoreResult<CancelOutcome> {
    let tx = write_tx(c)?;
    let Some(b) = booking(&tx, office, code)? else {
        return Ok(CancelOutcome::Unknown);
    };
    if !matches!(b.status, BookingStatus::Booked | BookingStatus::Cancelled) {
        return Ok(CancelOutcome::TooLate);
    }
    tx.execute(
        "UPDATE bookings SET status = 'cancelled' WHERE office = ?1 AND code = ?2",
        [office, code],
    )?;
    tx.commit()?;
    Ok(CancelOutcome::Cancelled)
}

pub(super) fn check_in(
    c: &mut Connection,
    office: &str,
    ci: &NewCheckin,
) -> StoreResult<CheckinOutcome> {
    let tx = write_tx(c)?;
    let Some(b) = booking(&tx, office, &ci.code)? else {
        return Ok(CheckinOutcome::Unknown);
    };
    if b.status != BookingStatus::Booked {
        return Ok(CheckinOutcome::Already(b));
    }
    let ahead: u32 = tx.query_row(
        "SELECT COUNT(*) FROM bookings WHERE office = ?1 AND date = ?2 AND status = 'checked_in'
         AND (slot < ?3 OR (slot = ?3 AND serial < ?4))",
        params![office, b.date.to_string(), b.slot, b.serial],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE bookings SET status = 'checked_in', checked_in_at = ?3, kiosk = ?4, offline = ?5,
         ahead = ?6 WHERE office = ?1 AND code = ?2",
        params![office, ci.code, ci.at, ci.kiosk, ci.offline, ahead],
    )?;
    let events = append(&tx, office, ci.today, b.checkin_event())?;
    let booking = booking(&tx, office, &ci.code)?.ok_or_else(|| damaged(&ci.code))?;
    tx.commit()?;
    Ok(CheckinOutcome::First { booking, events })
}

fn damaged(code: &str) -> StoreError {
    StoreError::Damaged(format!("booking {code} vanished inside its transaction"))
}

pub(super) fn set_estimate(
    c: &mut Connection,
    office: &str,
    code: &str,
    est: &str,
) -> StoreResult<()> {
    c.execute(
        "UPDATE bookings SET estimated_call = ?3 WHERE office = ?1 AND code = ?2",
        params![office, code, est],
    )?;
    Ok(())
}

/// The booking counter `counter` has called (status `called`), if any.
fn serving(tx: &Connection, office: &str, counter: &str) -> StoreResult<Option<StoredBooking>> {
    let code: Option<Option<String>> = tx
        .query_row(
            "SELECT booking FROM counters WHERE office = ?1 AND id = ?2",
            [office, counter],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match code.flatten() {
        Some(code) => booking(tx, office, &code)?.filter(|b| b.status == BookingStatus::Called),
        None => None,
    })
}

fn finish(
    tx: &Connection,
    office: &str,
    code: &str,
    counter: &str,
    how: Finish,
    at: &str,
) -> StoreResult<()> {
    let status = match how {
        Finish::Done => BookingStatus::Served,
        Finish::Skip => BookingStatus::NoShow,
    };
    tx.execute(
        "UPDATE bookings SET status = ?3, done_at = ?4 WHERE office = ?1 AND code = ?2",
        params![office, code, status.as_str(), at],
    )?;
    tx.execute(
        "UPDATE counters SET booking = NULL WHERE office = ?1 AND id = ?2",
        [office, counter],
    )?;
    Ok(())
}

pub(super) fn call_next(
    c: &mut Connection,
    office: &str,
    counter: &str,
    today: NaiveDate,
    now: &str,
    priority_first: bool,
) -> StoreResult<Option<Called>> {
    let tx = write_tx(c)?;
    if let Some(current) = serving(&tx, office, counter)? {
        // Calling the next one finishes the current one.
        finish(&tx, office, &current.code, counter, Finish::Done, now)?;
    }
    // The current session's waiting bookings (at most its quota).
    let waiting = tx
        .prepare_cached(&format!(
            "SELECT {BOOKING_COLS} FROM bookings
             WHERE office = ?1 AND date = ?2 AND status = 'checked_in'
             AND slot = (SELECT MIN(slot) FROM bookings
                         WHERE office = ?1 AND date = ?2 AND status = 'checked_in')
             ORDER BY serial"
        ))?
        .query_map(params![office, today.to_string()], booking_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let Some(b) = call_order::next_to_call(&waiting, priority_first).cloned() else {
        tx.commit()?;
        return Ok(None);
    };
    tx.execute(
        "UPDATE bookings SET status = 'called', called_at = ?4, counter = ?3
         WHERE office = ?1 AND code = ?2",
        params![office, b.code, counter, now],
    )?;
    tx.execute(
        "INSERT INTO counters (office, id, booking) VALUES (?1, ?2, ?3)
         ON CONFLICT(office, id) DO UPDATE SET booking = excluded.booking",
        params![office, counter, b.code],
    )?;
    let events = append(&tx, office, today, b.call_event(counter, now, false))?;
    let booking = booking(&tx, office, &b.code)?.ok_or_else(|| damaged(&b.code))?;
    tx.commit()?;
    Ok(Some(Called { booking, events }))
}

pub(super) fn set_priority(
    c: &mut Connection,
    office: &str,
    code: &str,
    change: PriorityChange,
) -> StoreResult<PriorityOutcome> {
    let tx = write_tx(c)?;
    let Some(b) = booking(&tx, office, code)? else {
        return Ok(PriorityOutcome::Unknown);
    };
    let next = match call_order::priority_after(b.status, b.priority, change) {
        Ok(p) => p,
        Err(why) => return Ok(PriorityOutcome::Refused(why)),
    };
    if b.priority != Some(next) {
        tx.execute(
            "UPDATE bookings SET priority = ?3 WHERE office = ?1 AND code = ?2",
            params![office, code, call_order::priority_str(next)],
        )?;
    }
    tx.commit()?;
    Ok(PriorityOutcome::Set(Box::new(StoredBooking {
        priority: Some(next),
        ..b
    })))
}

pub(super) fn counter_action(
    c: &mut Connection,
    office: &str,
    counter: &str,
    action: CounterAction,
    today: NaiveDate,
    now: &str,
) -> StoreResult<Option<Called>> {
    let tx = write_tx(c)?;
    let Some(b) = serving(&tx, office, counter)? else {
        return Ok(None);
    };
    let event = match action {
        CounterAction::Recall => {
            // The board shows when the number was last called.
            tx.execute(
                "UPDATE bookings SET called_at = ?3 WHERE office = ?1 AND code = ?2",
                params![office, b.code, now],
            )?;
            b.call_event(counter, now, true)
        }
        CounterAction::Finish(how) => {
            finish(&tx, office, &b.code, counter, how, now)?;
            b.finish_event(counter, how)
        }
    };
    let events = append(&tx, office, today, event)?;
    let booking = booking(&tx, office, &b.code)?.ok_or_else(|| damaged(&b.code))?;
    tx.commit()?;
    Ok(Some(Called { booking, events }))
}

pub(super) fn set_notice(
    c: &mut Connection,
    office: &str,
    text: Option<String>,
    today: NaiveDate,
) -> StoreResult<Vec<BoardEvent>> {
    let tx = write_tx(c)?;
    tx.execute(
        "INSERT INTO office_state (office, notice) VALUES (?1, ?2)
         ON CONFLICT(office) DO UPDATE SET notice = excluded.notice",
        params![office, text],
    )?;
    let event = BoardEvent::Notice(antrean_core::events::NoticeEvent { seq: 0, text });
    let events = append(&tx, office, today, event)?;
    tx.commit()?;
    Ok(events)
}

fn last_seq(c: &Connection, office: &str) -> StoreResult<u64> {
    Ok(c.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM events WHERE office = ?1",
        [office],
        |r| r.get(0),
    )?)
}

/// Appends `event` with the office's next `seq` (a `reset` first when the
/// log's last event is of another day); returns what was appended. The
/// write transaction holds SQLite's one write lock: nothing else appends
/// meanwhile.
fn append(
    tx: &Transaction<'_>,
    office: &str,
    today: NaiveDate,
    event: BoardEvent,
) -> StoreResult<Vec<BoardEvent>> {
    let mut seq = last_seq(tx, office)?;
    let mut out = Vec::with_capacity(2);
    if seq > 0 {
        let last_day: Option<String> = tx
            .query_row(
                "SELECT date FROM events WHERE office = ?1 AND seq = ?2",
                params![office, seq],
                |r| r.get(0),
            )
            .optional()?;
        if last_day.as_deref() != Some(today.to_string().as_str()) {
            seq += 1;
            out.push(BoardEvent::Reset(ResetEvent { seq }));
        }
    }
    out.push(event.with_seq(seq + 1));
    for e in &out {
        let wire = e.encode();
        tx.prepare_cached(
            "INSERT INTO events (office, seq, date, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            office,
            wire.seq,
            today.to_string(),
            wire.kind,
            wire.data
        ])?;
    }
    Ok(out)
}

fn decode(kind: &str, data: &str) -> StoreResult<BoardEvent> {
    BoardEvent::parse(kind, data).map_err(|e| StoreError::Damaged(e.to_string()))
}

pub(super) fn board(
    c: &mut Connection,
    office: &str,
    today: NaiveDate,
    recent: usize,
) -> StoreResult<BoardRows> {
    let tx = c.transaction()?;
    let day = today.to_string();
    let seq = last_seq(&tx, office)?;
    let mut serving = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT id, booking FROM counters WHERE office = ?1 AND booking IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([office], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (counter, code) = row?;
            if let Some(b) = booking(&tx, office, &code)?
                .filter(|b| b.date == today && b.status == BookingStatus::Called)
            {
                serving.push((counter, b));
            }
        }
    }
    let mut calls = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT kind, data FROM events WHERE office = ?1 AND date = ?2 AND kind = 'call'
             ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![office, day, recent as i64], |r| {
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
            "SELECT slot, COUNT(*) FROM bookings
             WHERE office = ?1 AND date = ?2 AND status = 'checked_in'
             GROUP BY slot ORDER BY slot",
        )?;
        let rows = stmt.query_map(params![office, day], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<Vec<(String, u32)>>>()?
    };
    let notice: Option<Option<String>> = tx
        .query_row(
            "SELECT notice FROM office_state WHERE office = ?1",
            [office],
            |r| r.get(0),
        )
        .optional()?;
    Ok(BoardRows {
        seq,
        serving,
        recent: calls,
        waiting,
        notice: notice.flatten(),
    })
}

pub(super) fn current_seq(c: &Connection, office: &str) -> StoreResult<u64> {
    last_seq(c, office)
}

pub(super) fn replay(
    c: &mut Connection,
    office: &str,
    after: u64,
    today: NaiveDate,
    max: u64,
) -> StoreResult<Replay> {
    let tx = c.transaction()?;
    let last = last_seq(&tx, office)?;
    let first: Option<u64> = tx.query_row(
        "SELECT MIN(seq) FROM events WHERE office = ?1 AND date = ?2",
        params![office, today.to_string()],
        |r| r.get(0),
    )?;
    if !rules::can_replay(after, last, first, max) {
        return Ok(Replay::Reset { seq: last });
    }
    let mut stmt = tx.prepare_cached(
        "SELECT kind, data FROM events WHERE office = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![office, after, max], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (kind, data) = row?;
        events.push(decode(&kind, &data)?);
    }
    Ok(Replay::Events(events))
}

pub(super) fn prune_events(
    c: &mut Connection,
    office: &str,
    before: NaiveDate,
) -> StoreResult<usize> {
    Ok(c.execute(
        "DELETE FROM events WHERE office = ?1 AND date < ?2
         AND seq < (SELECT MAX(seq) FROM events WHERE office = ?1)",
        params![office, before.to_string()],
    )?)
}
