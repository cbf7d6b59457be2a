//! The board's event log: a `Last-Event-ID` older than the retained log
//! gets `reset`, old events are pruned without losing the last `seq`, and
//! the pruning loop does not spin on a failing database.

use std::path::Path;
use std::time::{Duration, Instant};

use antrean_central::auth::Role;
use antrean_central::keys::KeyStore;
use antrean_central::{maintenance, serve, Central, CentralSettings};
use serde_json::json;

use crate::support::service::{clock, sqlite, KIOSK};
use crate::support::sse::ids_and_kinds;
use crate::support::wait::{wait_for, LIMIT};
use crate::support::OFFICE;

/// Puts board events of older days straight into a new database.
fn old_events(db: &Path, rows: &[(u64, &str)]) {
    drop(sqlite(db));
    let c = rusqlite::Connection::open(db).unwrap();
    for (seq, date) in rows {
        c.execute(
            "INSERT INTO events (office, seq, date, kind, data) VALUES (?1, ?2, ?3, 'notice', ?4)",
            rusqlite::params![
                OFFICE,
                seq,
                date,
                json!({"seq": seq, "text": null}).to_string()
            ],
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_older_than_the_retained_log_gets_reset_and_old_events_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.sqlite3");
    old_events(
        &db,
        &[
            (1, "2024-04-20"),
            (2, "2024-04-20"),
            (3, "2024-04-30"),
            (4, "2024-05-07"),
        ],
    );
    let mut settings = CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor");
    settings.event_retention_days = 7;
    settings.maintenance_every = Duration::from_secs(3600);
    let central = Central::new(settings, sqlite(&db), KeyStore::ephemeral("k"), clock());
    central
        .import_token(KIOSK, Role::Kiosk, OFFICE, Some("lobby-1"), None)
        .await
        .unwrap();
    // Today's first change: a `reset` (seq 5, the day changed), then it.
    central.notice(Some("Istirahat".into())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://{}/v1/offices/{OFFICE}/events",
        listener.local_addr().unwrap()
    );
    tokio::spawn(serve(listener, central.clone(), std::future::pending()));
    let http = reqwest::Client::new();
    // (Last-Event-ID, what comes first)
    for (last, want) in [
        ("4", vec![(5, "reset"), (6, "notice")]), // yesterday's last: today's log
        ("2", vec![(6, "reset")]),                // before today's log
        ("0", vec![(6, "reset")]),                // never the whole history
        ("99", vec![(6, "reset")]),               // never issued
    ] {
        let mut resp = http
            .get(&base)
            .bearer_auth(KIOSK)
            .header("Last-Event-ID", last)
            .send()
            .await
            .unwrap();
        let got = ids_and_kinds(&mut resp, want.len()).await;
        let want: Vec<(u64, String)> = want.into_iter().map(|(s, k)| (s, k.to_string())).collect();
        assert_eq!(got, want, "Last-Event-ID {last}");
    }
    // The maintenance loop prunes what is older than 7 days (before
    // 2024-05-01), at start.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let loop_task = tokio::spawn(maintenance::run(central.clone(), stop));
    let seqs = |db: &Path| -> Vec<u64> {
        let c = rusqlite::Connection::open(db).unwrap();
        let mut st = c.prepare("SELECT seq FROM events ORDER BY seq").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    wait_for("old events pruned", LIMIT, || {
        (seqs(&db) == [4, 5, 6]).then_some(())
    });
    // seq goes on from where it was.
    central.notice(None).await.unwrap();
    assert_eq!(central.seq().await.unwrap(), 7);
    stop_tx.send(true).unwrap();
    loop_task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_never_loses_the_last_seq_and_its_loop_does_not_spin_on_a_failing_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.sqlite3");
    old_events(&db, &[(1, "2024-01-01"), (2, "2024-01-02")]);
    let mut settings = CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor");
    settings.maintenance_every = Duration::from_millis(100);
    let central = Central::new(settings, sqlite(&db), KeyStore::ephemeral("k"), clock());
    assert_eq!(
        central.prune_all_events().await.unwrap(),
        1,
        "all old, the newest stays"
    );
    assert_eq!(central.seq().await.unwrap(), 2);
    // The database fails from now on.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DROP TABLE events")
        .unwrap();
    assert!(central.prune_all_events().await.is_err());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let before = central.maintenance_runs();
    let t = Instant::now();
    let task = tokio::spawn(maintenance::run(central.clone(), stop));
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    let rounds = central.maintenance_runs() - before;
    let most = (t.elapsed().as_millis() / 100) as u64 + 2;
    assert!(
        (3..=most).contains(&rounds),
        "{rounds} maintenance rounds in {:?} (every 100 ms: at most {most})",
        t.elapsed()
    );
}
