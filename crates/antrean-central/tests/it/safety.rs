//! Booking and check-in rules at the service's edge, on every back end
//! (horizon, four-digit years, lengths, believable check-in times, a 422
//! that tells no number),
//! private database and key files, and loops that do not spin on a failing
//! database (the real binary).

use std::path::Path;
use std::time::{Duration, Instant};

use antrean_central::keys::KeyStore;
use antrean_central::{SqliteStore, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::binary::{central_config, serve_binary};
use crate::support::service::*;
use crate::support::stores::{backends, Backend};
use crate::support::wait::{wait_for, LIMIT};
use crate::support::{NOW, OFFICE, TODAY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_rules_horizon_year_codes_and_lengths() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        booking_rules_on(backend).await;
    }
}

async fn booking_rules_on(backend: Backend) {
    let s = start_on(backend, |_| {}).await;
    let book = |date: &str, name: Option<String>| {
        let mut b = json!({"date": date, "slot": "10:00-11:00", "service": "KK"});
        if let Some(n) = name {
            b["name"] = Value::String(n);
        }
        Some(b)
    };
    // (date, name, status, error)
    for (date, name, status, error) in [
        (TODAY, None, 201, None),
        ("2024-06-07", None, 201, None), // today + 30 days
        ("2024-06-08", None, 422, Some("too_far_ahead")),
        ("2124-05-08", None, 422, Some("too_far_ahead")), // 100 years ahead
        ("2024-05-07", None, 422, Some("expired")),
        (TODAY, Some("a".repeat(100)), 201, None),
        (TODAY, Some("a".repeat(101)), 422, Some("invalid_request")),
        (
            TODAY,
            Some("Siti\u{7}Rahma".to_string()),
            422,
            Some("invalid_request"),
        ),
    ] {
        let (st, v) = s
            .call("POST", "/bookings", BOOKING, book(date, name.clone()))
            .await;
        assert_eq!(st.as_u16(), status, "{date} {name:?}: {v}");
        if let Some(e) = error {
            assert_eq!(v["error"], e, "{date}");
        } else {
            let code = v["booking"].as_str().unwrap();
            assert!(
                code.starts_with(&format!("BGR-{}-", date.replace('-', ""))),
                "a four-digit year in {code}"
            );
        }
    }
    // A notice and ids are bounded.
    for (text, status) in [("x".repeat(200), 204), ("x".repeat(201), 422)] {
        let (st, _) = s
            .call("POST", "/notice", STAFF, Some(json!({"text": text})))
            .await;
        assert_eq!(st.as_u16(), status, "notice of {} chars", text.len());
    }
    let (b, n) = s.book("09:00-10:00").await;
    let long_kiosk = "k".repeat(20_000);
    let (st, v) = s
        .call(
            "POST",
            "/checkins",
            ADMIN,
            Some(json!({"booking": b, "number": n, "kiosk": long_kiosk, "checked_in_at": NOW})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, _) = s
        .call(
            "PUT",
            &format!("/kiosks/{}/health", "k".repeat(65)),
            ADMIN,
            Some(json!({"at": NOW, "version": "1", "printer": {"state": "ok", "detail": null}, "pending_checkins": 0})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing of it was stored.
    let day = s
        .central
        .bookings_on(chrono::NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").unwrap())
        .await
        .unwrap();
    assert!(day.iter().all(|b| b.kiosk.is_none()), "{day:?}");
    assert!(s
        .central
        .default_office()
        .kiosk_health()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_of_dates_a_century_apart_do_not_collide() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        codes_on(backend).await;
    }
}

async fn codes_on(backend: Backend) {
    let s = start_on(backend, |st| st.rules.horizon_days = 40_000).await;
    let mut codes = Vec::new();
    for date in [TODAY, "2124-05-08"] {
        let (st, v) = s
            .call(
                "POST",
                "/bookings",
                BOOKING,
                Some(json!({"date": date, "slot": "10:00-11:00", "service": "KK"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{date}: {v}");
        codes.push(v["booking"].as_str().unwrap().to_string());
    }
    assert_eq!(codes, ["BGR-20240508-00001", "BGR-21240508-00001"]);
    for c in &codes {
        assert!(antrean_core::booking::is_booking_code(c), "{c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkin_times_are_bounded_and_a_422_tells_no_number() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        checkin_times_on(backend).await;
    }
}

async fn checkin_times_on(backend: Backend) {
    let s = start_on(backend, |_| {}).await;
    let at = |hhmm: &str| format!("{TODAY}T{hhmm}:00+07:00");
    // (slot, checked_in_at, offline, status, error). The service's clock
    // is at 09:20: nothing can have happened later than that (plus 5 min
    // skew); earlier times must fall inside the session's window.
    for (slot, when, offline, status, error) in [
        ("09:00-10:00", at("09:20"), false, 201, None),
        (
            "09:00-10:00",
            at("09:50"),
            false,
            422,
            Some("invalid_format"),
        ), // 30 min ahead
        (
            "09:00-10:00",
            at("09:50"),
            true,
            422,
            Some("invalid_format"),
        ), // offline, future
        ("09:00-10:00", at("09:24"), false, 201, None), // ahead, within skew
        ("09:00-10:00", at("08:50"), false, 201, None), // a resend of a slow answer
        ("09:00-10:00", at("08:35"), true, 201, None),  // offline, earlier
        ("13:00-14:00", at("09:20"), false, 422, Some("too_early")),
        ("08:00-09:00", at("07:00"), true, 422, Some("too_early")),
        ("08:00-09:00", at("09:19"), false, 201, None),
        (
            "08:00-09:00",
            "2024-05-07T08:30:00+07:00".to_string(),
            true,
            422,
            Some("not_today"),
        ),
    ] {
        let (b, n) = s.book(slot).await;
        let (st, v) = s
            .call(
                "POST",
                "/checkins",
                KIOSK,
                Some(json!({"booking": b, "number": n, "kiosk": "lobby-1",
                            "checked_in_at": when, "offline": offline})),
            )
            .await;
        assert_eq!(
            st.as_u16(),
            status,
            "{slot} at {when} offline={offline}: {v}"
        );
        assert_eq!(v["error"].as_str(), error, "{slot} at {when}");
    }
    // A wrong number: refused without telling the right one.
    let (b, n) = s.book("09:00-10:00").await;
    let (st, v) = s
        .call(
            "POST",
            "/checkins",
            KIOSK,
            Some(
                json!({"booking": b, "number": "Z-999", "kiosk": "lobby-1", "checked_in_at": NOW}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!v.to_string().contains(&n), "{v} tells {n}");
}

#[tokio::test]
async fn database_and_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.sqlite3");
    let store = SqliteStore::open(&db, OFFICE).unwrap();
    // A write makes the WAL and SHM files.
    store
        .set_notice(
            OFFICE,
            Some("Istirahat".into()),
            chrono::NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
        )
        .await
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for f in [
        "central.sqlite3",
        "central.sqlite3-wal",
        "central.sqlite3-shm",
    ] {
        let p = dir.path().join(f);
        assert!(p.exists(), "{f}");
        assert_eq!(mode(&p), 0o600, "{f}");
    }
    drop(store);
    // Readable by others: refused, with the fix in the message.
    for f in ["central.sqlite3", "central.sqlite3-wal"] {
        let p = dir.path().join(f);
        if !p.exists() {
            // SQLite removed the empty WAL at close: an empty one is valid.
            std::fs::write(&p, b"").unwrap();
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SqliteStore::open(&db, OFFICE)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(&format!("chmod 600 {}", p.display())), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    SqliteStore::open(&db, OFFICE).unwrap();
    // Key files.
    let keys = dir.path().join("keys");
    KeyStore::generate(&keys, "k2026a").unwrap();
    assert!(KeyStore::load(&keys).is_ok());
    let key = keys.join("k2026a.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = KeyStore::load(&keys).err().expect("refused").to_string();
    assert!(e.contains("chmod 600") && e.contains("k2026a.key"), "{e}");
}

/// CPU time (user + system) of process `pid`, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 (1-based), after "pid (comm)".
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

#[test]
fn the_services_loops_do_not_spin_when_the_database_fails() {
    let dir = tempfile::tempdir().unwrap();
    let config = central_config(dir.path(), "maintenance_seconds = 1");
    let server = serve_binary(&config, &["--demo", "--simulate-counters", "1"]);
    wait_for("the first maintenance round", LIMIT, || {
        dir.path()
            .join("db/central.sqlite3-wal")
            .exists()
            .then_some(())
    });
    // Take the tables away under the running service: every loop's
    // database work fails from now on.
    rusqlite::Connection::open(dir.path().join("db/central.sqlite3"))
        .unwrap()
        .execute_batch("DROP TABLE events; DROP TABLE bookings;")
        .unwrap();
    let pid = server.child.id();
    let (cpu0, t0) = (cpu_time(pid), Instant::now());
    // An observation window, not a wait for something.
    std::thread::sleep(Duration::from_secs(5));
    let (cpu, wall) = (cpu_time(pid) - cpu0, t0.elapsed());
    eprintln!("antrean-central with a failing database: {cpu:?} CPU in {wall:?}");
    assert!(
        cpu < wall / 10,
        "antrean-central used {cpu:?} of CPU in {wall:?} with a failing database"
    );
    let failures = server
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("pruning board events failed"))
        .count();
    assert!(
        (1..=8).contains(&failures),
        "{failures} failed pruning rounds in {wall:?} (one a second)"
    );
}
