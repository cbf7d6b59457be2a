//! [`Store`] cases of `store.rs` (run from its table): the event log's
//! `seq` (gap-free, a `reset` when the day changes, replay limits,
//! pruning), the board's rows, kiosk health, tokens.

use std::sync::Arc;

use antrean_central::auth::Role;
use antrean_central::store::{CounterAction, NewToken, Replay};
use antrean_central::Store;
use antrean_core::api::{HealthReport, PrinterHealth};
use antrean_core::events::BoardEvent;

use crate::store::{book, check_in, day, seqs, AT};
use crate::support::OFFICE;

pub(crate) async fn event_log(s: Arc<dyn Store>) {
    let s = s.as_ref();
    assert_eq!(s.last_seq(OFFICE).await.unwrap(), 0);
    assert_eq!(
        s.replay(OFFICE, 0, day(7), 100).await.unwrap(),
        Replay::Events(vec![])
    );
    let e1 = s
        .set_notice(OFFICE, Some("Istirahat".into()), day(7))
        .await
        .unwrap();
    let e2 = s.set_notice(OFFICE, None, day(7)).await.unwrap();
    assert_eq!(seqs(&e1), [(1, "notice")]);
    assert_eq!(seqs(&e2), [(2, "notice")]);
    // The next day's first event comes after a reset.
    let e3 = s
        .set_notice(OFFICE, Some("Buka".into()), day(8))
        .await
        .unwrap();
    assert_eq!(seqs(&e3), [(3, "reset"), (4, "notice")]);
    let e4 = s.set_notice(OFFICE, None, day(8)).await.unwrap();
    assert_eq!(seqs(&e4), [(5, "notice")]);
    // (after, max, what a reconnecting client gets)
    let today: Vec<BoardEvent> = [e3, e4].concat();
    let cases = [
        (5, 100, Replay::Events(vec![])),
        (4, 100, Replay::Events(today[2..].to_vec())),
        (2, 100, Replay::Events(today.clone())),
        (1, 100, Replay::Reset { seq: 5 }),
        (0, 100, Replay::Reset { seq: 5 }),
        (6, 100, Replay::Reset { seq: 5 }),
        (2, 2, Replay::Reset { seq: 5 }),
        (3, 2, Replay::Events(today[1..].to_vec())),
    ];
    for (after, max, want) in cases {
        assert_eq!(
            s.replay(OFFICE, after, day(8), max).await.unwrap(),
            want,
            "after {after}, max {max}"
        );
    }
    // Stored in the one encoding: what comes back is what was appended.
    match s.replay(OFFICE, 3, day(8), 100).await.unwrap() {
        Replay::Events(e) => assert_eq!(
            e[0],
            BoardEvent::Notice(antrean_core::events::NoticeEvent {
                seq: 4,
                text: Some("Buka".into())
            })
        ),
        other => panic!("{other:?}"),
    }
}

pub(crate) async fn pruning(s: Arc<dyn Store>) {
    let s = s.as_ref();
    for d in [1, 2, 3] {
        s.set_notice(OFFICE, None, day(d)).await.unwrap();
    }
    // seq 1 (day 1), 2-3 (day 2), 4-5 (day 3)
    assert_eq!(s.prune_events(OFFICE, day(2)).await.unwrap(), 1);
    assert_eq!(
        s.prune_events(OFFICE, day(9)).await.unwrap(),
        3,
        "all old: the newest stays"
    );
    assert_eq!(s.last_seq(OFFICE).await.unwrap(), 5);
    let e = s.set_notice(OFFICE, None, day(9)).await.unwrap();
    assert_eq!(seqs(&e), [(6, "reset"), (7, "notice")], "seq goes on");
}

pub(crate) async fn board_rows(s: Arc<dyn Store>) {
    let s = s.as_ref();
    let a1 = book(s, "08:00-09:00", "A").await;
    let b1 = book(s, "09:00-10:00", "B").await;
    let b2 = book(s, "09:00-10:00", "B").await;
    book(s, "09:00-10:00", "B").await;
    for b in [&a1, &b1, &b2] {
        check_in(s, b).await;
    }
    let now = "2024-05-08T09:30:00+07:00";
    s.call_next(OFFICE, "2", day(8), now, true).await.unwrap();
    s.counter_action(OFFICE, "2", CounterAction::Recall, day(8), now)
        .await
        .unwrap();
    s.call_next(OFFICE, "4", day(8), now, true).await.unwrap();
    s.set_notice(OFFICE, Some("Istirahat".into()), day(8))
        .await
        .unwrap();
    let rows = s.board(OFFICE, day(8), 2).await.unwrap();
    assert_eq!(rows.seq, s.last_seq(OFFICE).await.unwrap());
    let serving: Vec<(&str, &str)> = rows
        .serving
        .iter()
        .map(|(c, b)| (c.as_str(), b.number.as_str()))
        .collect();
    assert_eq!(serving, [("2", "A-001"), ("4", "B-001")]);
    let recent: Vec<(&str, &str, bool)> = rows
        .recent
        .iter()
        .map(|c| (c.number.as_str(), c.counter.as_str(), c.recall))
        .collect();
    assert_eq!(
        recent,
        [("B-001", "4", false), ("A-001", "2", true)],
        "newest first, at most 2"
    );
    assert_eq!(rows.waiting, [("09:00-10:00".to_string(), 1)]);
    assert_eq!(rows.notice.as_deref(), Some("Istirahat"));
    // Another day's board holds nothing of this one.
    let other = s.board(OFFICE, day(9), 10).await.unwrap();
    assert!(other.serving.is_empty() && other.recent.is_empty() && other.waiting.is_empty());
}

pub(crate) async fn kiosk_health(s: Arc<dyn Store>) {
    let s = s.as_ref();
    use antrean_core::printer_status::PrinterState;
    let report = |state: PrinterState, pending| HealthReport {
        at: AT.into(),
        version: "0.3.0".into(),
        printer: PrinterHealth {
            state,
            detail: None,
        },
        pending_checkins: pending,
        last_event_seq: Some(3),
    };
    s.put_health(OFFICE, "lobby-2", &report(PrinterState::Ok, 0), AT)
        .await
        .unwrap();
    s.put_health(OFFICE, "lobby-1", &report(PrinterState::Ok, 0), AT)
        .await
        .unwrap();
    s.put_health(
        OFFICE,
        "lobby-1",
        &report(PrinterState::PaperLow, 2),
        "later",
    )
    .await
    .unwrap();
    let h: Vec<(String, String, u64, String)> = s
        .health(OFFICE)
        .await
        .unwrap()
        .into_iter()
        .map(|k| {
            (
                k.kiosk,
                k.report.printer.state.as_str().to_string(),
                k.report.pending_checkins,
                k.at,
            )
        })
        .collect();
    assert_eq!(
        h,
        [
            ("lobby-1".into(), "paper_low".into(), 2, "later".into()),
            ("lobby-2".into(), "ok".into(), 0, AT.into())
        ]
    );
}

pub(crate) async fn tokens(s: Arc<dyn Store>) {
    let s = s.as_ref();
    let token = |secret: &str, role, label: Option<&str>| NewToken {
        hash: antrean_central::auth::hash(secret),
        prefix: antrean_central::auth::display_prefix(secret),
        role,
        office: OFFICE.into(),
        kiosk: (role == Role::Kiosk).then(|| "lobby-1".to_string()),
        label: label.map(str::to_string),
        created: AT.into(),
    };
    let k = s
        .insert_token(token("kiosk-secret-0001", Role::Kiosk, None))
        .await
        .unwrap();
    let staff = s
        .insert_token(token("staff-secret-0001", Role::Staff, Some("demo")))
        .await
        .unwrap();
    s.insert_token(token("staff-secret-0002", Role::Staff, Some("demo")))
        .await
        .unwrap();
    assert!(matches!(
        s.insert_token(token("kiosk-secret-0001", Role::Board, None))
            .await,
        Err(antrean_central::store::StoreError::DuplicateToken)
    ));
    let (who, hash) = s
        .token_by_hash(antrean_central::auth::hash("kiosk-secret-0001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (who.id, who.role, who.kiosk.as_deref(), who.office.as_str()),
        (k, Role::Kiosk, Some("lobby-1"), OFFICE)
    );
    assert_eq!(hash, antrean_central::auth::hash("kiosk-secret-0001"));
    assert_eq!(
        s.token_by_hash(antrean_central::auth::hash("nope-nope-nope-01"))
            .await
            .unwrap(),
        None
    );
    assert!(s
        .revoke_token(k, "2024-05-08T10:00:00+07:00")
        .await
        .unwrap());
    assert!(
        !s.revoke_token(k, "again").await.unwrap(),
        "revoked already"
    );
    assert_eq!(
        s.token_by_hash(antrean_central::auth::hash("kiosk-secret-0001"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.revoke_labelled("demo", "2024-05-08T10:00:00+07:00")
            .await
            .unwrap(),
        2
    );
    let list = s.tokens().await.unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|t| t.revoked.is_some()), "{list:?}");
    assert_eq!(list[1].id, staff);
    assert!(list[1].prefix.starts_with("staff-se") && !list[1].prefix.contains("0001"));
}
