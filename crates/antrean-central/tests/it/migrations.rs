//! Versioned schemas: a single office's SQLite database from before
//! offices moves forward keeping its bookings, events, notice, kiosk
//! health and tokens (they become the configuration's first office's);
//! `antrean-central migrate` says what it applied, on SQLite and on
//! PostgreSQL, and nothing the second time.

use antrean_central::store::StoreError;
use antrean_central::{SqliteStore, Store};
use chrono::NaiveDate;

use crate::support::binary::central_cmd;
use crate::support::city::city_config;
use crate::support::postgres::cluster;
use crate::support::OFFICE;

/// A database as antrean-central 0.3 (one office, no office columns)
/// left it: schema version 0, its tables and rows.
fn old_database(path: &std::path::Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(include_str!("../../migrations/sqlite/0001_initial.sql"))
        .unwrap();
    c.execute_batch(
        "INSERT INTO bookings (code, date, slot, letter, serial, number, service, status, name,
             checked_in_at, kiosk, offline, ahead)
         VALUES ('BGR-20240508-00001', '2024-05-08', '09:00-10:00', 'B', 1, 'B-001', 'KK',
             'checked_in', 'S***i R.', '2024-05-08T09:05:00+07:00', 'lobby-1', 0, 0),
                ('BGR-20240508-00002', '2024-05-08', '09:00-10:00', 'B', 2, 'B-002', 'KK',
             'booked', NULL, NULL, NULL, 0, NULL);
         INSERT INTO events (seq, date, kind, data) VALUES
             (1, '2024-05-08', 'checkin', '{\"seq\":1,\"number\":\"B-001\",\"slot\":\"09:00-10:00\"}'),
             (2, '2024-05-08', 'notice', '{\"seq\":2,\"text\":\"Istirahat\"}');
         INSERT INTO meta (key, value) VALUES ('notice', 'Istirahat');
         INSERT INTO health (kiosk, report, at) VALUES ('lobby-1',
             '{\"at\":\"x\",\"version\":\"0.3.0\",\"printer\":{\"state\":\"paper_low\",\"detail\":null},\"pending_checkins\":1}',
             '2024-05-08T09:06:00+07:00');
         INSERT INTO tokens (hash, prefix, role, office, created)
             VALUES (x'00', 'act1_abcd…', 'staff', 'kota-bogor', '2024-05-01');",
    )
    .unwrap();
    drop(c);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test]
async fn a_single_office_database_moves_forward_keeping_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.sqlite3");
    old_database(&db);
    let store = SqliteStore::open(&db, OFFICE).unwrap();
    assert_eq!(
        store.applied_migrations(),
        ["0001_initial", "0002_offices", "0003_priority"]
    );
    let day = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap();
    let bookings = store.bookings_on(OFFICE, day).await.unwrap();
    let numbers: Vec<(&str, &str)> = bookings
        .iter()
        .map(|b| (b.number.as_str(), b.status.as_str()))
        .collect();
    assert_eq!(numbers, [("B-001", "checked_in"), ("B-002", "booked")]);
    assert_eq!(bookings[0].masked_name.as_deref(), Some("S***i R."));
    assert_eq!(
        bookings[0].priority, None,
        "no claim before priority arrivals"
    );
    assert_eq!(store.last_seq(OFFICE).await.unwrap(), 2);
    let board = store.board(OFFICE, day, 10).await.unwrap();
    assert_eq!(board.notice.as_deref(), Some("Istirahat"));
    assert_eq!(board.waiting, [("09:00-10:00".to_string(), 1)]);
    let health = store.health(OFFICE).await.unwrap();
    assert_eq!(health[0].report.printer.state.as_str(), "paper_low");
    assert_eq!(store.tokens().await.unwrap().len(), 1);
    // Another office of the same file starts empty, its own `seq` from 1.
    assert!(store
        .bookings_on("kota-bekasi", day)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.last_seq("kota-bekasi").await.unwrap(), 0);
    let e = store
        .set_notice("kota-bekasi", Some("Buka".into()), day)
        .await
        .unwrap();
    assert_eq!(e[0].seq(), 1);
    // The old office's serials go on.
    let mut new = crate::store::new_booking("09:00-10:00", "B", 40);
    new.masked_name = None;
    let b = store.book(OFFICE, new).await.unwrap().unwrap();
    assert_eq!(
        (b.number.as_str(), b.code.as_str()),
        ("B-003", "BGR-20240508-00003")
    );
    drop(store);
    // Opened again: nothing more to apply; version 2.
    let store = SqliteStore::open(&db, OFFICE).unwrap();
    assert!(store.applied_migrations().is_empty());
    let version: u32 = rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SqliteStore::schema_version());
}

#[test]
fn a_database_newer_than_this_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.sqlite3");
    drop(SqliteStore::open(&db, OFFICE).unwrap());
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    match SqliteStore::open(&db, OFFICE) {
        Err(StoreError::Migrate(m)) => assert!(m.contains("newer"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a database of schema 99"),
    }
}

#[test]
fn migrate_says_what_it_applied_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    // SQLite: an old single-office database, through the configuration.
    let db = dir.path().join("db/central.sqlite3");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    old_database(&db);
    let config = crate::support::binary::central_config(dir.path(), "");
    let cfg = config.to_str().unwrap();
    let (ok, out, err) = central_cmd(&["migrate", "--config", cfg], None);
    assert!(ok, "{err}");
    assert!(
        out.contains("applied 0001_initial")
            && out.contains("applied 0002_offices")
            && out.contains("applied 0003_priority"),
        "{out}"
    );
    assert!(out.contains(&db.display().to_string()), "{out}");
    let (ok, out, _) = central_cmd(&["migrate", "--config", cfg], None);
    assert!(ok && out.contains("up to date"), "{out}");
    // PostgreSQL: a fresh database; the URL's password never printed.
    let Some(pg) = cluster() else { return };
    let url = pg.fresh_database();
    let with_password = url.replacen("antrean@", "antrean:sekret-sandi@", 1);
    let config = city_config(dir.path(), &with_password, 40, "");
    let cfg = config.to_str().unwrap();
    let (ok, out, err) = central_cmd(&["migrate", "--config", cfg], None);
    assert!(ok, "{err}");
    assert!(
        out.contains("PostgreSQL")
            && out.contains("applied 0001_city")
            && out.contains("applied 0002_priority"),
        "{out}"
    );
    assert!(
        !out.contains("sekret") && !err.contains("sekret"),
        "{out}{err}"
    );
    let (ok, out, _) = central_cmd(&["migrate", "--config", cfg], None);
    assert!(ok && out.contains("up to date"), "{out}");
    // A database that cannot be reached: said so, with what to check, and
    // without the password.
    let broken = city_config(
        dir.path(),
        "postgres://nobody:sekret@127.0.0.1:1/none",
        40,
        "",
    );
    let (ok, _, err) = central_cmd(&["migrate", "--config", broken.to_str().unwrap()], None);
    assert!(!ok);
    assert!(
        err.contains("cannot connect") && err.contains("pg_hba.conf"),
        "{err}"
    );
    assert!(!err.contains("sekret"), "{err}");
    // The environment's URL wins over the file's.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_antrean-central"))
        .args(["migrate", "--config", broken.to_str().unwrap()])
        .env("ANTREAN_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}
