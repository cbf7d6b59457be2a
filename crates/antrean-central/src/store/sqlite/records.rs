//! The SQL of [`super::SqliteStore`] for the service's own records:
//! kiosks' health reports and API tokens (hashes only). Single
//! statements, each its own transaction.

use rusqlite::{params, Connection, OptionalExtension};

use crate::auth::{Principal, Role, TokenInfo};
use crate::store::{KioskHealth, NewToken, StoreError, StoreResult};
use antrean_core::api::HealthReport;

pub(super) fn put_health(
    c: &mut Connection,
    office: &str,
    kiosk: &str,
    report: &str,
    at: &str,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO health (office, kiosk, report, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(office, kiosk) DO UPDATE SET report = excluded.report, at = excluded.at",
        params![office, kiosk, report, at],
    )?;
    Ok(())
}

pub(super) fn health(c: &Connection, office: &str) -> StoreResult<Vec<KioskHealth>> {
    let mut stmt =
        c.prepare_cached("SELECT kiosk, report, at FROM health WHERE office = ?1 ORDER BY kiosk")?;
    let rows = stmt.query_map([office], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (kiosk, report, at) = row?;
        // A report this version cannot read is left out, not fatal.
        if let Ok(report) = serde_json::from_str::<HealthReport>(&report) {
            out.push(KioskHealth { kiosk, report, at });
        }
    }
    Ok(out)
}

pub(super) fn insert_token(c: &mut Connection, t: &NewToken) -> StoreResult<i64> {
    let r = c.execute(
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
    );
    match r {
        Ok(_) => Ok(c.last_insert_rowid()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::DuplicateToken)
        }
        Err(e) => Err(e.into()),
    }
}

fn role_of(s: &str) -> Role {
    // Rows are written through `Role::as_str`; an unknown one grants the
    // least.
    Role::parse(s).unwrap_or(Role::Board)
}

pub(super) fn token_by_hash(
    c: &Connection,
    hash: &[u8; 32],
) -> StoreResult<Option<(Principal, Vec<u8>)>> {
    Ok(c.prepare_cached(
        "SELECT id, role, office, kiosk, hash FROM tokens WHERE hash = ?1 AND revoked IS NULL",
    )?
    .query_row([&hash[..]], |r| {
        let role: String = r.get(1)?;
        Ok((
            Principal {
                id: r.get(0)?,
                role: role_of(&role),
                office: r.get(2)?,
                kiosk: r.get(3)?,
            },
            r.get(4)?,
        ))
    })
    .optional()?)
}

pub(super) fn tokens(c: &Connection) -> StoreResult<Vec<TokenInfo>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, prefix, role, office, kiosk, label, created, revoked FROM tokens ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        let role: String = r.get(2)?;
        Ok(TokenInfo {
            id: r.get(0)?,
            prefix: r.get(1)?,
            role: role_of(&role),
            office: r.get(3)?,
            kiosk: r.get(4)?,
            label: r.get(5)?,
            created: r.get(6)?,
            revoked: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn revoke_token(c: &mut Connection, id: i64, at: &str) -> StoreResult<bool> {
    Ok(c.execute(
        "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
        params![id, at],
    )? == 1)
}

pub(super) fn revoke_labelled(c: &mut Connection, label: &str, at: &str) -> StoreResult<usize> {
    Ok(c.execute(
        "UPDATE tokens SET revoked = ?2 WHERE label = ?1 AND revoked IS NULL",
        params![label, at],
    )?)
}
