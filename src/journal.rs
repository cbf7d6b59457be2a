//! The journal: a SQLite file in `state_dir` that records every check-in
//! before its ticket prints, marks it printed after, counts reprints, keeps
//! the outbox of check-ins not yet acknowledged by the central service, and
//! counts scans by outcome for the end-of-day report.
//!
//! Durable by construction: WAL mode with `synchronous = FULL`, so a commit
//! that returned survives a power cut. Never stores names, NIK or birth
//! dates: only booking codes, numbers, sessions and times.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::{params, Connection, OptionalExtension};

use antrean_core::booking::{Booking, Slot};
use antrean_core::checkin::JournalState;

/// A journal problem, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    #[error("cannot open the journal {path}: {source}. Check that state_dir exists and is writable by the kiosk user.")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("journal write failed: {0}. The disk may be full or failing.")]
    Sql(#[from] rusqlite::Error),
}

/// One check-in as the journal holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinRecord {
    pub id: i64,
    pub booking: String,
    pub number: String,
    pub service: String,
    pub date: NaiveDate,
    pub slot: String,
    pub checked_in_at: DateTime<FixedOffset>,
    /// The central service was not reachable when the check-in was made.
    pub offline: bool,
    pub printed: bool,
    pub reprints: u32,
    /// Acknowledged by the central service.
    pub sent: bool,
    pub ahead: Option<u32>,
    pub estimated_call: Option<String>,
    /// The central service's reason code when it refused the check-in.
    pub refused: Option<String>,
}

/// The journal, one connection. Each owner (the kiosk loop, the outbox
/// sender) opens its own.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checkins (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    booking        TEXT NOT NULL UNIQUE,
    number         TEXT NOT NULL,
    service        TEXT NOT NULL,
    date           TEXT NOT NULL,
    slot           TEXT NOT NULL,
    checked_in_at  TEXT NOT NULL,
    offline        INTEGER NOT NULL DEFAULT 0,
    printed_at     TEXT,
    reprints       INTEGER NOT NULL DEFAULT 0,
    sent_at        TEXT,
    ahead          INTEGER,
    estimated_call TEXT,
    refused        TEXT
);
CREATE TABLE IF NOT EXISTS scans (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    date     TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    booking  TEXT
);
CREATE INDEX IF NOT EXISTS scans_by_date ON scans(date);
CREATE TABLE IF NOT EXISTS priority_requests (
    booking       TEXT PRIMARY KEY,
    requested_at  TEXT NOT NULL,
    sent_at       TEXT,
    state         TEXT,
    refused       TEXT
);
CREATE TABLE IF NOT EXISTS printer_faults (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    date     TEXT NOT NULL,
    booking  TEXT,
    detail   TEXT NOT NULL
);
";

impl Journal {
    /// The journal file inside a state directory.
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("journal.sqlite3")
    }

    /// Opens (creating if needed) the journal in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        let path = Journal::path_in(state_dir);
        let open_err = |source| JournalError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        restrict_permissions(&path);
        Ok(Journal { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the journal knows of a booking (rule 10).
    pub fn state(&self, booking: &str) -> Result<Option<JournalState>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT printed_at IS NOT NULL, reprints FROM checkins WHERE booking = ?1",
                [booking],
                |r| {
                    Ok(JournalState {
                        checked_in: true,
                        printed: r.get(0)?,
                        reprints_done: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records a first check-in. Returns false (and changes nothing) when
    /// the booking is already checked in: a check-in is never counted twice.
    pub fn record_checkin(
        &self,
        booking: &Booking,
        checked_in_at: DateTime<FixedOffset>,
        offline: bool,
    ) -> Result<bool, JournalError> {
        let n = self.conn.execute(
            "INSERT INTO checkins (booking, number, service, date, slot, checked_in_at, offline)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(booking) DO NOTHING",
            params![
                booking.booking,
                booking.number,
                booking.service,
                booking.date.to_string(),
                booking.slot.wire(),
                checked_in_at.to_rfc3339(),
                offline,
            ],
        )?;
        Ok(n == 1)
    }

    /// The first ticket reached the printer.
    pub fn mark_printed(
        &self,
        booking: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE checkins SET printed_at = ?2 WHERE booking = ?1 AND printed_at IS NULL",
            params![booking, at.to_rfc3339()],
        )?;
        Ok(())
    }

    /// A reprint reached the printer.
    pub fn count_reprint(&self, booking: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE checkins SET reprints = reprints + 1 WHERE booking = ?1",
            [booking],
        )?;
        Ok(())
    }

    /// The check-in could not be sent at once: it goes out later as offline.
    pub fn mark_offline(&self, booking: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE checkins SET offline = 1 WHERE booking = ?1 AND sent_at IS NULL",
            [booking],
        )?;
        Ok(())
    }

    /// The central service acknowledged the check-in.
    pub fn mark_sent(
        &self,
        booking: &str,
        at: DateTime<FixedOffset>,
        ahead: Option<u32>,
        estimated_call: Option<&str>,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE checkins SET sent_at = COALESCE(sent_at, ?2), ahead = ?3, estimated_call = ?4
             WHERE booking = ?1",
            params![booking, at.to_rfc3339(), ahead, estimated_call],
        )?;
        Ok(())
    }

    /// The central service refused the check-in for good (e.g. `cancelled`
    /// after the resident was let in offline): it leaves the outbox and is
    /// listed in the end-of-day report for staff.
    pub fn mark_refused(&self, booking: &str, code: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE checkins SET refused = ?2 WHERE booking = ?1",
            params![booking, code],
        )?;
        Ok(())
    }

    /// Check-ins not yet acknowledged, oldest first (the outbox).
    pub fn outbox(&self) -> Result<Vec<CheckinRecord>, JournalError> {
        self.select("WHERE sent_at IS NULL AND refused IS NULL ORDER BY id", [])
    }

    /// Number of check-ins waiting in the outbox (refused ones are not
    /// waiting: they are done, and listed in the day report).
    pub fn outbox_len(&self) -> Result<u64, JournalError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM checkins WHERE sent_at IS NULL AND refused IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// One check-in by booking code.
    pub fn checkin(&self, booking: &str) -> Result<Option<CheckinRecord>, JournalError> {
        Ok(self
            .select("WHERE booking = ?1", [booking])?
            .into_iter()
            .next())
    }

    /// All check-ins for a service date, in check-in order.
    pub fn checkins_on(&self, date: NaiveDate) -> Result<Vec<CheckinRecord>, JournalError> {
        self.select("WHERE date = ?1 ORDER BY id", [date.to_string()])
    }

    fn select<P: rusqlite::Params>(
        &self,
        clause: &str,
        p: P,
    ) -> Result<Vec<CheckinRecord>, JournalError> {
        let sql = format!(
            "SELECT id, booking, number, service, date, slot, checked_in_at, offline,
                    printed_at IS NOT NULL, reprints, sent_at IS NOT NULL, ahead, estimated_call,
                    refused
             FROM checkins {clause}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(p, |r| {
            let date: String = r.get(4)?;
            let at: String = r.get(6)?;
            Ok(CheckinRecord {
                id: r.get(0)?,
                booking: r.get(1)?,
                number: r.get(2)?,
                service: r.get(3)?,
                date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap_or_default(),
                slot: r.get(5)?,
                checked_in_at: DateTime::parse_from_rfc3339(&at)
                    .unwrap_or_else(|_| DateTime::UNIX_EPOCH.fixed_offset()),
                offline: r.get(7)?,
                printed: r.get(8)?,
                reprints: r.get(9)?,
                sent: r.get(10)?,
                ahead: r.get(11)?,
                estimated_call: r.get(12)?,
                refused: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts a scan's outcome (`accept`, `reprint`, a reason code, ...).
    pub fn record_scan(
        &self,
        at: DateTime<FixedOffset>,
        outcome: &str,
        booking: Option<&str>,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO scans (at, date, outcome, booking) VALUES (?1, ?2, ?3, ?4)",
            params![
                at.to_rfc3339(),
                at.date_naive().to_string(),
                outcome,
                booking
            ],
        )?;
        Ok(())
    }

    /// Scan outcomes of a day, with counts, most frequent first.
    pub fn scan_counts(&self, date: NaiveDate) -> Result<Vec<(String, u64)>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT outcome, COUNT(*) FROM scans WHERE date = ?1 GROUP BY outcome
             ORDER BY COUNT(*) DESC, outcome",
        )?;
        let rows = stmt.query_map([date.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a printer fault (with the booking whose ticket did not print).
    pub fn record_printer_fault(
        &self,
        at: DateTime<FixedOffset>,
        booking: Option<&str>,
        detail: &str,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO printer_faults (at, date, booking, detail) VALUES (?1, ?2, ?3, ?4)",
            params![
                at.to_rfc3339(),
                at.date_naive().to_string(),
                booking,
                detail
            ],
        )?;
        Ok(())
    }

    /// Printer faults of a day: (time, booking, detail).
    pub fn printer_faults(
        &self,
        date: NaiveDate,
    ) -> Result<Vec<(String, Option<String>, String)>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, booking, detail FROM printer_faults WHERE date = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([date.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes everything about service dates before `cutoff` (privacy:
    /// records are kept for `[kiosk] retention_days` only). Returns the
    /// number of check-ins removed. Unsent check-ins are kept regardless:
    /// nothing is dropped before the central service has it.
    pub fn purge_before(&self, cutoff: NaiveDate) -> Result<usize, JournalError> {
        let c = cutoff.to_string();
        let n = self.conn.execute(
            "DELETE FROM checkins WHERE date < ?1 AND (sent_at IS NOT NULL OR refused IS NOT NULL)",
            [&c],
        )?;
        self.conn.execute(
            "DELETE FROM priority_requests WHERE booking NOT IN (SELECT booking FROM checkins)",
            [],
        )?;
        self.conn
            .execute("DELETE FROM scans WHERE date < ?1", [&c])?;
        self.conn
            .execute("DELETE FROM printer_faults WHERE date < ?1", [&c])?;
        Ok(n)
    }

    /// The resident asked for priority at the kiosk: the request waits in
    /// the priority outbox until its check-in was delivered. Once per
    /// booking (a repeat changes nothing).
    pub fn record_priority(
        &self,
        booking: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO priority_requests (booking, requested_at) VALUES (?1, ?2)",
            params![booking, at.to_rfc3339()],
        )?;
        Ok(())
    }

    /// The resident asked for priority for this booking (a reprint or an
    /// owed ticket says `PRIORITAS` again).
    pub fn priority_requested(&self, booking: &str) -> Result<bool, JournalError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM priority_requests WHERE booking = ?1",
            [booking],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }

    /// Priority requests to send, oldest first: (booking, requested_at).
    /// Only those whose check-in the central service already has.
    pub fn priority_outbox(&self) -> Result<Vec<(String, String)>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT p.booking, p.requested_at FROM priority_requests p
             JOIN checkins c ON c.booking = p.booking
             WHERE p.sent_at IS NULL AND p.refused IS NULL
               AND c.sent_at IS NOT NULL AND c.refused IS NULL
             ORDER BY p.requested_at",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The central service took the priority request; `state` is where it
    /// stands (`requested`, `confirmed`, `declined`).
    pub fn mark_priority_sent(
        &self,
        booking: &str,
        at: DateTime<FixedOffset>,
        state: &str,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE priority_requests SET sent_at = COALESCE(sent_at, ?2), state = ?3 WHERE booking = ?1",
            params![booking, at.to_rfc3339(), state],
        )?;
        Ok(())
    }

    /// The central service refused the priority request for good.
    pub fn mark_priority_refused(&self, booking: &str, code: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE priority_requests SET refused = ?2 WHERE booking = ?1",
            params![booking, code],
        )?;
        Ok(())
    }

    /// Rebuilds a [`Booking`] from a journal record (for a resumed print).
    pub fn booking_of(record: &CheckinRecord) -> Option<Booking> {
        Some(Booking {
            booking: record.booking.clone(),
            number: record.number.clone(),
            date: record.date,
            slot: Slot::parse(&record.slot)?,
            service: record.service.clone(),
            masked_name: None,
        })
    }
}

/// Journal files hold only booking codes and times, but they are still
/// nobody else's business: owner read/write only.
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for p in [
        path.to_path_buf(),
        PathBuf::from(format!("{}-wal", path.display())),
        PathBuf::from(format!("{}-shm", path.display())),
    ] {
        if p.exists() {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking(code: &str) -> Booking {
        Booking {
            booking: code.into(),
            number: "B-015".into(),
            date: NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
            slot: Slot::parse("09:00-10:00").unwrap(),
            service: "KTP-EL".into(),
            masked_name: Some("S***i R.".into()),
        }
    }

    #[test]
    fn purge_keeps_unsent_checkins() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let at = DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap();
        let b = booking("BGR-240508-00999");
        j.record_checkin(&b, at, true).unwrap();
        j.record_scan(at, "accept", Some(&b.booking)).unwrap();
        let later = NaiveDate::from_ymd_opt(2024, 7, 1).unwrap();
        assert_eq!(j.purge_before(later).unwrap(), 0);
        assert_eq!(j.outbox().unwrap().len(), 1);
        assert!(j.scan_counts(b.date).unwrap().is_empty());
    }

    #[test]
    fn refused_checkins_are_not_pending() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let at = DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap();
        for code in ["BGR-240508-00001", "BGR-240508-00002", "BGR-240508-00003"] {
            j.record_checkin(&booking(code), at, true).unwrap();
        }
        assert_eq!(j.outbox_len().unwrap(), 3);
        j.mark_refused("BGR-240508-00001", "cancelled").unwrap();
        j.mark_sent("BGR-240508-00002", at, Some(1), None).unwrap();
        assert_eq!(j.outbox_len().unwrap(), 1);
        let outbox: Vec<String> = j.outbox().unwrap().into_iter().map(|r| r.booking).collect();
        assert_eq!(outbox, vec!["BGR-240508-00003"]);
        let refused = j.checkin("BGR-240508-00001").unwrap().unwrap();
        assert_eq!(refused.refused.as_deref(), Some("cancelled"));
    }

    #[test]
    fn priority_requests_wait_for_their_checkin() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let at = DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap();
        j.record_checkin(&booking("BGR-240508-00123"), at, false)
            .unwrap();
        j.record_priority("BGR-240508-00123", at).unwrap();
        j.record_priority("BGR-240508-00123", at).unwrap();
        assert!(
            j.priority_outbox().unwrap().is_empty(),
            "check-in not sent yet"
        );
        j.mark_sent("BGR-240508-00123", at, None, None).unwrap();
        assert_eq!(
            j.priority_outbox().unwrap(),
            vec![("BGR-240508-00123".to_string(), at.to_rfc3339())]
        );
        j.mark_priority_sent("BGR-240508-00123", at, "requested")
            .unwrap();
        assert!(j.priority_outbox().unwrap().is_empty());
        assert!(j.priority_requested("BGR-240508-00123").unwrap());
        assert!(!j.priority_requested("BGR-240508-00124").unwrap());
    }

    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let mode = std::fs::metadata(j.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn checkin_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let at = DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap();
        let b = booking("BGR-240508-00123");
        assert_eq!(j.state(&b.booking).unwrap(), None);
        assert!(j.record_checkin(&b, at, false).unwrap());
        assert!(!j.record_checkin(&b, at, false).unwrap(), "never twice");
        let s = j.state(&b.booking).unwrap().unwrap();
        assert!(s.checked_in && !s.printed && s.reprints_done == 0);
        j.mark_printed(&b.booking, at).unwrap();
        j.count_reprint(&b.booking).unwrap();
        let s = j.state(&b.booking).unwrap().unwrap();
        assert!(s.printed && s.reprints_done == 1);
        assert_eq!(j.outbox().unwrap().len(), 1);
        j.mark_sent(&b.booking, at, Some(3), Some("09:45")).unwrap();
        assert_eq!(j.outbox().unwrap().len(), 0);
        let r = j.checkin(&b.booking).unwrap().unwrap();
        assert_eq!(
            (r.ahead, r.estimated_call.as_deref()),
            (Some(3), Some("09:45"))
        );
        assert_eq!(r.checked_in_at, at);
        drop(j);
        // Reopened, nothing is lost, and no name was stored anywhere.
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.checkins_on(b.date).unwrap().len(), 1);
        // Purge keeps the day itself, removes it once older than the cutoff.
        assert_eq!(j.purge_before(b.date).unwrap(), 0);
        assert_eq!(j.purge_before(b.date.succ_opt().unwrap()).unwrap(), 1);
        assert!(j.checkins_on(b.date).unwrap().is_empty());
        let raw = std::fs::read(Journal::path_in(dir.path())).unwrap();
        let wal = std::fs::read(format!("{}-wal", Journal::path_in(dir.path()).display()))
            .unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(8).any(|w| w == b"S***i R."));
        }
    }
}
