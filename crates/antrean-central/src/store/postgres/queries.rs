//! The SQL of [`super::PostgresStore`]: one async function per domain
//! operation, each one transaction on a pooled connection. Allocation
//! happens under row locks taken first: a booking locks its office-day's
//! `booking_days` row (incrementing the day's running number, `RETURNING`
//! it), so the session's serial (`max + 1`) and the quota count are exact;
//! a board change locks its office's `office_state` row, so the office's
//! events get the next `seq` in commit order, and it `NOTIFY`s each event
//! inside the transaction (delivered on commit). Reads that must agree
//! with each other (the board, a replay) run in one `REPEATABLE READ`
//! snapshot. No rule of the service is decided here.

use chrono::NaiveDate;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Row};

use crate::auth::{Principal, Role, TokenInfo};
use crate::call_order::{self, PriorityChange};
use crate::rules;
use crate::store::{
    BoardRows, Called, CancelOutcome, CheckinOutcome, CounterAction, Finish, KioskHealth,
    NewBooking, NewCheckin, NewToken, PriorityOutcome, Replay, StoreError, StoreResult,
    StoredBooking,
};
use antrean_core::api::HealthReport;
use antrean_core::events::{BoardEvent, EncodedEvent, NoticeEvent, ResetEvent};
use antrean_core::manifest::BookingStatus;

/// The channel every instance listens on.
pub(super) const CHANNEL: &str = "antrean_events";

/// PostgreSQL refuses a `NOTIFY` payload of 8000 bytes or more; above this
/// only the office and `seq` go out (listeners read the rest from the log).
const MAX_INLINE_PAYLOAD: usize = 7000;

const BOOKING_COLS: &str = "code, date, slot, letter, serial, number, service, status, name,
    checked_in_at, kiosk, offline, called_at, counter, ahead, estimated_call, done_at, priority";

fn status_of(s: &str) -> BookingStatus {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .unwrap_or(BookingStatus::Unknown)
}

fn damaged_row(e: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged(e.to_string())
}

fn booking_row(r: &PgRow) -> StoreResult<StoredBooking> {
    let status: String = r.try_get("status")?;
    let serial: i32 = r.try_get("serial")?;
    let ahead: Option<i32> = r.try_get("ahead")?;
    Ok(StoredBooking {
        code: r.try_get("code")?,
        date: r.try_get("date")?,
        slot: r.try_get("slot")?,
        letter: r.try_get("letter")?,
        serial: u32::try_from(serial).map_err(damaged_row)?,
        number: r.try_get("number")?,
        service: r.try_get("service")?,
        status: status_of(&status),
        masked_name: r.try_get("name")?,
        checked_in_at: r.try_get("checked_in_at")?,
        kiosk: r.try_get("kiosk")?,
        offline: r.try_get("offline")?,
        called_at: r.try_get("called_at")?,
        counter: r.try_get("counter")?,
        ahead: ahead.map(u32::try_from).transpose().map_err(damaged_row)?,
        estimated_call: r.try_get("estimated_call")?,
        done_at: r.try_get("done_at")?,
        priority: call_order::priority_of(r.try_get::<Option<String>, _>("priority")?.as_deref()),
    })
}

fn seq_of(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(damaged_row)
}

fn seq_param(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(damaged_row)
}

async fn booking_in(
    c: &mut PgConnection,
    office: &str,
    code: &str,
    lock: bool,
) -> StoreResult<Option<StoredBooking>> {
    let sql = format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE office = $1 AND code = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = sqlx::query(&sql)
        .bind(office)
        .bind(code)
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(booking_row).transpose()
}

pub(super) async fn booking(
    pool: &PgPool,
    office: &str,
    code: &str,
) -> StoreResult<Option<StoredBooking>> {
    let mut c = pool.acquire().await?;
    booking_in(&mut c, office, code, false).await
}

pub(super) async fn bookings_on(
    pool: &PgPool,
    office: &str,
    date: NaiveDate,
) -> StoreResult<Vec<StoredBooking>> {
    let rows = sqlx::query(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE office = $1 AND date = $2 ORDER BY slot, serial"
    ))
    .bind(office)
    .bind(date)
    .fetch_all(pool)
    .await?;
    rows.iter().map(booking_row).collect()
}

pub(super) async fn book(
    pool: &PgPool,
    office: &str,
    new: &NewBooking,
) -> StoreResult<Option<StoredBooking>> {
    let mut tx = pool.begin().await?;
    // The office-day's row: locked until commit, so every booking of this
    // office and day waits here for the one before it.
    let running: i32 = sqlx::query_scalar(
        "INSERT INTO booking_days (office, date, running) VALUES ($1, $2, 1)
         ON CONFLICT (office, date) DO UPDATE SET running = booking_days.running + 1
         RETURNING running",
    )
    .bind(office)
    .bind(new.date)
    .fetch_one(&mut *tx)
    .await?;
    let row = sqlx::query(
        "SELECT COUNT(*) FILTER (WHERE status <> 'cancelled') AS taken,
                COALESCE(MAX(serial), 0) AS last_serial
         FROM bookings WHERE office = $1 AND date = $2 AND slot = $3",
    )
    .bind(office)
    .bind(new.date)
    .bind(&new.slot)
    .fetch_one(&mut *tx)
    .await?;
    let taken: i64 = row.try_get("taken")?;
    let last_serial: i32 = row.try_get("last_serial")?;
    if taken >= i64::from(new.quota) {
        // Rolled back: the running number is not used up either.
        tx.rollback().await?;
        return Ok(None);
    }
    let serial = u32::try_from(last_serial).map_err(damaged_row)? + 1;
    let b = new.booked(usize::try_from(running).map_err(damaged_row)?, serial);
    sqlx::query(
        "INSERT INTO bookings (office, code, date, slot, letter, serial, number, service, status, name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(office)
    .bind(&b.code)
    .bind(b.date)
    .bind(&b.slot)
    .bind(&b.letter)
    .bind(last_serial + 1)
    .bind(&b.number)
    .bind(&b.service)
    .bind(b.status.as_str())
    .bind(&b.masked_name)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(b))
}

pub(super) async fn cancel(pool: &PgPool, office: &str, code: &str) -> StoreResult<CancelOutcome> {
    let mut tx = pool.begin().await?;
    let Some(b) = booking_in(&mut tx, office, code, true).await? else {
        return Ok(CancelOutcome::Unknown);
    };
    if !matches!(b.status, BookingStatus::Booked | BookingStatus::Cancelled) {
        return Ok(CancelOutcome::TooLate);
    }
    sqlx::query("UPDATE bookings SET status = 'cancelled' WHERE office = $1 AND code = $2")
        .bind(office)
        .bind(code)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(CancelOutcome::Cancelled)
}

/// The head of an office's log, its row locked until the transaction ends.
struct Head {
    last_seq: u64,
    last_date: Option<NaiveDate>,
}

/// Locks the office's `office_state` row (creating it): every change of
/// the office's board takes this lock first, so they run one at a time
/// per office and their events get `seq` in commit order.
async fn lock_office(c: &mut PgConnection, office: &str) -> StoreResult<Head> {
    let row = sqlx::query(
        "INSERT INTO office_state (office) VALUES ($1)
         ON CONFLICT (office) DO UPDATE SET office = EXCLUDED.office
         RETURNING last_seq, last_date",
    )
    .bind(office)
    .fetch_one(&mut *c)
    .await?;
    Ok(Head {
        last_seq: seq_of(row.try_get("last_seq")?)?,
        last_date: row.try_get("last_date")?,
    })
}

/// The notification of one committed event: the whole event when it fits.
fn payload(office: &str, e: &EncodedEvent) -> String {
    let full = serde_json::json!({"office": office, "seq": e.seq, "kind": e.kind, "data": e.data})
        .to_string();
    if full.len() <= MAX_INLINE_PAYLOAD {
        full
    } else {
        serde_json::json!({"office": office, "seq": e.seq}).to_string()
    }
}

/// Appends `event` after `head` (a `reset` first when the log's last event
/// is of another day), moves the head, and notifies every instance.
async fn append(
    c: &mut PgConnection,
    office: &str,
    head: &Head,
    today: NaiveDate,
    event: BoardEvent,
) -> StoreResult<Vec<BoardEvent>> {
    let mut seq = head.last_seq;
    let mut out = Vec::with_capacity(2);
    if seq > 0 && head.last_date != Some(today) {
        seq += 1;
        out.push(BoardEvent::Reset(ResetEvent { seq }));
    }
    out.push(event.with_seq(seq + 1));
    for e in &out {
        let wire = e.encode();
        sqlx::query(
            "INSERT INTO events (office, seq, date, kind, data) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(office)
        .bind(seq_param(wire.seq)?)
        .bind(today)
        .bind(wire.kind)
        .bind(&wire.data)
        .execute(&mut *c)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload(office, &wire))
            .execute(&mut *c)
            .await?;
    }
    sqlx::query("UPDATE office_state SET last_seq = $2, last_date = $3 WHERE office = $1")
        .bind(office)
        .bind(seq_param(seq + 1)?)
        .bind(today)
        .execute(&mut *c)
        .await?;
    Ok(out)
}

pub(super) async fn check_in(
    pool: &PgPool,
    office: &str,
    ci: &NewCheckin,
) -> StoreResult<CheckinOutcome> {
    let mut tx = pool.begin().await?;
    let head = lock_office(&mut tx, office).await?;
    let Some(b) = booking_in(&mut tx, office, &ci.code, true).await? else {
        return Ok(CheckinOutcome::Unknown);
    };
    if b.status != BookingStatus::Booked {
        return Ok(CheckinOutcome::Already(b));
    }
    let ahead: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM bookings
         WHERE office = $1 AND date = $2 AND status = 'checked_in'
         AND (slot < $3 OR (slot = $3 AND serial < $4))",
    )
    .bind(office)
    .bind(b.date)
    .bind(&b.slot)
    .bind(i64::from(b.serial))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE bookings SET status = 'checked_in', checked_in_at = $3, kiosk = $4, offline = $5,
         ahead = $6 WHERE office = $1 AND code = $2",
    )
    .bind(office)
    .bind(&ci.code)
    .bind(&ci.at)
    .bind(&ci.kiosk)
    .bind(ci.offline)
    .bind(i32::try_from(ahead).map_err(damaged_row)?)
    .execute(&mut *tx)
    .await?;
    let events = append(&mut tx, office, &head, ci.today, b.checkin_event()).await?;
    let booking = booking_in(&mut tx, office, &ci.code, false)
        .await?
        .ok_or_else(|| damaged(&ci.code))?;
    tx.commit().await?;
    Ok(CheckinOutcome::First { booking, events })
}

fn damaged(code: &str) -> StoreError {
    StoreError::Damaged(format!("booking {code} vanished inside its transaction"))
}

pub(super) async fn set_estimate(
    pool: &PgPool,
    office: &str,
    code: &str,
    est: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE bookings SET estimated_call = $3 WHERE office = $1 AND code = $2")
        .bind(office)
        .bind(code)
        .bind(est)
        .execute(pool)
        .await?;
    Ok(())
}

/// The booking counter `counter` has called (status `called`), if any.
async fn serving(
    c: &mut PgConnection,
    office: &str,
    counter: &str,
) -> StoreResult<Option<StoredBooking>> {
    let code: Option<Option<String>> =
        sqlx::query_scalar("SELECT booking FROM counters WHERE office = $1 AND id = $2")
            .bind(office)
            .bind(counter)
            .fetch_optional(&mut *c)
            .await?;
    Ok(match code.flatten() {
        Some(code) => booking_in(c, office, &code, false)
            .await?
            .filter(|b| b.status == BookingStatus::Called),
        None => None,
    })
}

async fn finish(
    c: &mut PgConnection,
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
    sqlx::query("UPDATE bookings SET status = $3, done_at = $4 WHERE office = $1 AND code = $2")
        .bind(office)
        .bind(code)
        .bind(status.as_str())
        .bind(at)
        .execute(&mut *c)
        .await?;
    sqlx::query("UPDATE counters SET booking = NULL WHERE office = $1 AND id = $2")
        .bind(office)
        .bind(counter)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(super) async fn call_next(
    pool: &PgPool,
    office: &str,
    counter: &str,
    today: NaiveDate,
    now: &str,
    priority_first: bool,
) -> StoreResult<Option<Called>> {
    let mut tx = pool.begin().await?;
    let head = lock_office(&mut tx, office).await?;
    if let Some(current) = serving(&mut tx, office, counter).await? {
        // Calling the next one finishes the current one.
        finish(&mut tx, office, &current.code, counter, Finish::Done, now).await?;
    }
    // The current session's waiting bookings (at most its quota).
    let rows = sqlx::query(&format!(
        "SELECT {BOOKING_COLS} FROM bookings
         WHERE office = $1 AND date = $2 AND status = 'checked_in'
         AND slot = (SELECT MIN(slot) FROM bookings
                     WHERE office = $1 AND date = $2 AND status = 'checked_in')
         ORDER BY serial"
    ))
    .bind(office)
    .bind(today)
    .fetch_all(&mut *tx)
    .await?;
    let waiting = rows
        .iter()
        .map(booking_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let Some(b) = call_order::next_to_call(&waiting, priority_first).cloned() else {
        tx.commit().await?;
        return Ok(None);
    };
    sqlx::query(
        "UPDATE bookings SET status = 'called', called_at = $4, counter = $3
         WHERE office = $1 AND code = $2",
    )
    .bind(office)
    .bind(&b.code)
    .bind(counter)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO counters (office, id, booking) VALUES ($1, $2, $3)
         ON CONFLICT (office, id) DO UPDATE SET booking = EXCLUDED.booking",
    )
    .bind(office)
    .bind(counter)
    .bind(&b.code)
    .execute(&mut *tx)
    .await?;
    let events = append(
        &mut tx,
        office,
        &head,
        today,
        b.call_event(counter, now, false),
    )
    .await?;
    let booking = booking_in(&mut tx, office, &b.code, false)
        .await?
        .ok_or_else(|| damaged(&b.code))?;
    tx.commit().await?;
    Ok(Some(Called { booking, events }))
}

pub(super) async fn set_priority(
    pool: &PgPool,
    office: &str,
    code: &str,
    change: PriorityChange,
) -> StoreResult<PriorityOutcome> {
    let mut tx = pool.begin().await?;
    let Some(b) = booking_in(&mut tx, office, code, true).await? else {
        return Ok(PriorityOutcome::Unknown);
    };
    let next = match call_order::priority_after(b.status, b.priority, change) {
        Ok(p) => p,
        Err(why) => return Ok(PriorityOutcome::Refused(why)),
    };
    if b.priority != Some(next) {
        sqlx::query("UPDATE bookings SET priority = $3 WHERE office = $1 AND code = $2")
            .bind(office)
            .bind(code)
            .bind(call_order::priority_str(next))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(PriorityOutcome::Set(Box::new(StoredBooking {
        priority: Some(next),
        ..b
    })))
}

pub(super) async fn counter_action(
    pool: &PgPool,
    office: &str,
    counter: &str,
    action: CounterAction,
    today: NaiveDate,
    now: &str,
) -> StoreResult<Option<Called>> {
    let mut tx = pool.begin().await?;
    let head = lock_office(&mut tx, office).await?;
    let Some(b) = serving(&mut tx, office, counter).await? else {
        return Ok(None);
    };
    let event = match action {
        CounterAction::Recall => {
            // The board shows when the number was last called.
            sqlx::query("UPDATE bookings SET called_at = $3 WHERE office = $1 AND code = $2")
                .bind(office)
                .bind(&b.code)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            b.call_event(counter, now, true)
        }
        CounterAction::Finish(how) => {
            finish(&mut tx, office, &b.code, counter, how, now).await?;
            b.finish_event(counter, how)
        }
    };
    let events = append(&mut tx, office, &head, today, event).await?;
    let booking = booking_in(&mut tx, office, &b.code, false)
        .await?
        .ok_or_else(|| damaged(&b.code))?;
    tx.commit().await?;
    Ok(Some(Called { booking, events }))
}

pub(super) async fn set_notice(
    pool: &PgPool,
    office: &str,
    text: Option<String>,
    today: NaiveDate,
) -> StoreResult<Vec<BoardEvent>> {
    let mut tx = pool.begin().await?;
    let head = lock_office(&mut tx, office).await?;
    sqlx::query("UPDATE office_state SET notice = $2 WHERE office = $1")
        .bind(office)
        .bind(&text)
        .execute(&mut *tx)
        .await?;
    let event = BoardEvent::Notice(NoticeEvent { seq: 0, text });
    let events = append(&mut tx, office, &head, today, event).await?;
    tx.commit().await?;
    Ok(events)
}

fn decode(kind: &str, data: &str) -> StoreResult<BoardEvent> {
    BoardEvent::parse(kind, data).map_err(|e| StoreError::Damaged(e.to_string()))
}

/// A read-only transaction on one snapshot.
async fn snapshot(pool: &PgPool) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

async fn head_seq(c: &mut PgConnection, office: &str) -> StoreResult<u64> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT last_seq FROM office_state WHERE office = $1")
            .bind(office)
            .fetch_optional(&mut *c)
            .await?;
    seq_of(seq.unwrap_or(0))
}

pub(super) async fn board(
    pool: &PgPool,
    office: &str,
    today: NaiveDate,
    recent: usize,
) -> StoreResult<BoardRows> {
    let mut tx = snapshot(pool).await?;
    let seq = head_seq(&mut tx, office).await?;
    let rows = sqlx::query(&format!(
        "SELECT c.id AS counter_id, {} FROM counters c
         JOIN bookings b ON b.office = c.office AND b.code = c.booking
         WHERE c.office = $1 AND b.date = $2 AND b.status = 'called'
         ORDER BY c.id",
        BOOKING_COLS
            .split(',')
            .map(|col| format!("b.{}", col.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(office)
    .bind(today)
    .fetch_all(&mut *tx)
    .await?;
    let mut serving = Vec::with_capacity(rows.len());
    for r in &rows {
        serving.push((r.try_get("counter_id")?, booking_row(r)?));
    }
    let calls = sqlx::query(
        "SELECT kind, data FROM events WHERE office = $1 AND date = $2 AND kind = 'call'
         ORDER BY seq DESC LIMIT $3",
    )
    .bind(office)
    .bind(today)
    .bind(i64::try_from(recent).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    let mut recent_calls = Vec::with_capacity(calls.len());
    for r in &calls {
        let (kind, data): (String, String) = (r.try_get("kind")?, r.try_get("data")?);
        if let BoardEvent::Call(call) = decode(&kind, &data)? {
            recent_calls.push(call);
        }
    }
    let waiting_rows = sqlx::query(
        "SELECT slot, COUNT(*) AS n FROM bookings
         WHERE office = $1 AND date = $2 AND status = 'checked_in'
         GROUP BY slot ORDER BY slot",
    )
    .bind(office)
    .bind(today)
    .fetch_all(&mut *tx)
    .await?;
    let mut waiting = Vec::with_capacity(waiting_rows.len());
    for r in &waiting_rows {
        let n: i64 = r.try_get("n")?;
        waiting.push((r.try_get("slot")?, u32::try_from(n).map_err(damaged_row)?));
    }
    let notice: Option<Option<String>> =
        sqlx::query_scalar("SELECT notice FROM office_state WHERE office = $1")
            .bind(office)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(BoardRows {
        seq,
        serving,
        recent: recent_calls,
        waiting,
        notice: notice.flatten(),
    })
}

pub(super) async fn last_seq(pool: &PgPool, office: &str) -> StoreResult<u64> {
    let mut c = pool.acquire().await?;
    head_seq(&mut c, office).await
}

/// Events of `office` after `after`, in order, at most `max`: the
/// listener's catch-up and the replay's rows.
pub(super) async fn events_after(
    c: &mut PgConnection,
    office: &str,
    after: u64,
    max: u64,
) -> StoreResult<Vec<BoardEvent>> {
    let rows = sqlx::query(
        "SELECT kind, data FROM events WHERE office = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(office)
    .bind(seq_param(after)?)
    .bind(seq_param(max)?)
    .fetch_all(&mut *c)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for r in &rows {
        let (kind, data): (String, String) = (r.try_get("kind")?, r.try_get("data")?);
        events.push(decode(&kind, &data)?);
    }
    Ok(events)
}

pub(super) async fn replay(
    pool: &PgPool,
    office: &str,
    after: u64,
    today: NaiveDate,
    max: u64,
) -> StoreResult<Replay> {
    let mut tx = snapshot(pool).await?;
    let last = head_seq(&mut tx, office).await?;
    let first: Option<i64> =
        sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE office = $1 AND date = $2")
            .bind(office)
            .bind(today)
            .fetch_one(&mut *tx)
            .await?;
    let first = first.map(seq_of).transpose()?;
    if !rules::can_replay(after, last, first, max) {
        tx.commit().await?;
        return Ok(Replay::Reset { seq: last });
    }
    let events = events_after(&mut tx, office, after, max).await?;
    tx.commit().await?;
    Ok(Replay::Events(events))
}

pub(super) async fn prune_events(
    pool: &PgPool,
    office: &str,
    before: NaiveDate,
) -> StoreResult<usize> {
    let done = sqlx::query(
        "DELETE FROM events WHERE office = $1 AND date < $2
         AND seq < (SELECT MAX(seq) FROM events WHERE office = $1)",
    )
    .bind(office)
    .bind(before)
    .execute(pool)
    .await?;
    usize::try_from(done.rows_affected()).map_err(damaged_row)
}

/// Every office's last `seq`.
pub(super) async fn heads(pool: &PgPool) -> StoreResult<Vec<(String, u64)>> {
    let rows = sqlx::query("SELECT office, last_seq FROM office_state")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("office")?, seq_of(r.try_get("last_seq")?)?)))
        .collect()
}

pub(super) async fn put_health(
    pool: &PgPool,
    office: &str,
    kiosk: &str,
    report: &str,
    at: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO health (office, kiosk, report, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (office, kiosk) DO UPDATE SET report = EXCLUDED.report, at = EXCLUDED.at",
    )
    .bind(office)
    .bind(kiosk)
    .bind(report)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn health(pool: &PgPool, office: &str) -> StoreResult<Vec<KioskHealth>> {
    let rows = sqlx::query("SELECT kiosk, report, at FROM health WHERE office = $1 ORDER BY kiosk")
        .bind(office)
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let report: String = r.try_get("report")?;
        // A report this version cannot read is left out, not fatal.
        if let Ok(report) = serde_json::from_str::<HealthReport>(&report) {
            out.push(KioskHealth {
                kiosk: r.try_get("kiosk")?,
                report,
                at: r.try_get("at")?,
            });
        }
    }
    Ok(out)
}

pub(super) async fn insert_token(pool: &PgPool, t: &NewToken) -> StoreResult<i64> {
    let r = sqlx::query_scalar(
        "INSERT INTO tokens (hash, prefix, role, office, kiosk, label, created)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&t.hash[..])
    .bind(&t.prefix)
    .bind(t.role.as_str())
    .bind(&t.office)
    .bind(&t.kiosk)
    .bind(&t.label)
    .bind(&t.created)
    .fetch_one(pool)
    .await;
    match r {
        Ok(id) => Ok(id),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::DuplicateToken),
        Err(e) => Err(e.into()),
    }
}

fn role_of(s: &str) -> Role {
    // Rows are written through `Role::as_str`; an unknown one grants the
    // least.
    Role::parse(s).unwrap_or(Role::Board)
}

pub(super) async fn token_by_hash(
    pool: &PgPool,
    hash: &[u8; 32],
) -> StoreResult<Option<(Principal, Vec<u8>)>> {
    let row = sqlx::query(
        "SELECT id, role, office, kiosk, hash FROM tokens WHERE hash = $1 AND revoked IS NULL",
    )
    .bind(&hash[..])
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let role: String = r.try_get("role")?;
    Ok(Some((
        Principal {
            id: r.try_get("id")?,
            role: role_of(&role),
            office: r.try_get("office")?,
            kiosk: r.try_get("kiosk")?,
        },
        r.try_get("hash")?,
    )))
}

pub(super) async fn tokens(pool: &PgPool) -> StoreResult<Vec<TokenInfo>> {
    let rows = sqlx::query(
        "SELECT id, prefix, role, office, kiosk, label, created, revoked FROM tokens ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            Ok(TokenInfo {
                id: r.try_get("id")?,
                prefix: r.try_get("prefix")?,
                role: role_of(&role),
                office: r.try_get("office")?,
                kiosk: r.try_get("kiosk")?,
                label: r.try_get("label")?,
                created: r.try_get("created")?,
                revoked: r.try_get("revoked")?,
            })
        })
        .collect()
}

pub(super) async fn revoke_token(pool: &PgPool, id: i64, at: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE tokens SET revoked = $2 WHERE id = $1 AND revoked IS NULL")
        .bind(id)
        .bind(at)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn revoke_labelled(pool: &PgPool, label: &str, at: &str) -> StoreResult<usize> {
    let done = sqlx::query("UPDATE tokens SET revoked = $2 WHERE label = $1 AND revoked IS NULL")
        .bind(label)
        .bind(at)
        .execute(pool)
        .await?;
    usize::try_from(done.rows_affected()).map_err(damaged_row)
}
