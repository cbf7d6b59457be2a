//! The kiosk's board sync against the real central service in this
//! process: the periodic fresh snapshot keeps the board live (the waiting
//! room never sees a "connection lost" banner for it), and a call made
//! meanwhile still arrives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use antrean_kiosk::central::board_sync::{run_board, BoardFeed, BoardSyncOptions};
use antrean_kiosk::central::client::CentralClient;
use antrean_kiosk::metrics::{AttemptLabel, Metrics};
use antrean_testkit::prelude::*;

#[test]
fn fresh_snapshots_keep_the_board_live() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (central, addr, clock) = inprocess_central(&rt, dir.path(), "t");
    for _ in 0..3 {
        rt.block_on(book_and_check_in(&central, "09:00-10:00", "lobby-2"));
    }
    let (feed_tx, mut feed) = tokio::sync::watch::channel(BoardFeed::default());
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let metrics = Arc::new(Metrics::new());
    rt.spawn(run_board(
        CentralClient::new(&format!("http://{addr}"), OFFICE, "t").unwrap(),
        clock,
        BoardSyncOptions {
            resnapshot_every: Duration::from_millis(300),
            ..BoardSyncOptions::default()
        },
        feed_tx,
        Arc::new(tokio::sync::watch::Sender::new(Default::default())),
        metrics.clone(),
        stop,
    ));
    wait_for("the event stream", LIMIT, || {
        feed.borrow().connected.then_some(())
    });
    // Every change of the feed from now on, as the screens would see it.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    feed.borrow_and_update();
    rt.spawn(async move {
        while feed.changed().await.is_ok() {
            let f = feed.borrow_and_update();
            s.lock().unwrap().push((f.connected, f.state.seq()));
        }
    });
    let snapshots = || {
        metrics
            .attempts
            .get_or_create(&AttemptLabel {
                task: "board".into(),
                result: "ok".into(),
            })
            .get()
    };
    let first = snapshots();
    wait_for("three fresh snapshots", LIMIT, || {
        (snapshots() >= first + 3).then_some(())
    });
    rt.block_on(central.next("1"))
        .unwrap()
        .expect("someone waits");
    let seq = rt.block_on(central.seq()).unwrap();
    wait_for("the call on the board", LIMIT, || {
        seen.lock()
            .unwrap()
            .iter()
            .any(|(_, s)| *s >= seq)
            .then_some(())
    });
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|(connected, _)| *connected),
        "the board was shown as disconnected during a planned refresh: {seen:?}"
    );
}
