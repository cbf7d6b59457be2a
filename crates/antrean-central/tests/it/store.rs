//! The [`Store`] trait's behaviour, as a table of cases run on every back
//! end of `support::stores` (SQLite, PostgreSQL): serials and codes within the
//! quota, never reused; the first check-in wins; calling order; counter
//! actions; quotas under concurrent bookings. The event log, the board's
//! rows, kiosk health and tokens are in `store_log.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use antrean_central::store::{
    CancelOutcome, CheckinOutcome, CounterAction, Finish, NewBooking, NewCheckin,
};
use antrean_central::{Store, StoredBooking};
use antrean_core::events::BoardEvent;
use antrean_core::manifest::BookingStatus;
use chrono::NaiveDate;

use crate::support::stores::every_store;
use crate::support::OFFICE;

type Check = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// (what the store must do, the check).
const CASES: &[(&str, Check)] = &[
    ("serials and codes within the quota, never reused", |s| {
        Box::pin(serials_within_quota(s))
    }),
    ("the first check-in wins", |s| {
        Box::pin(first_checkin_wins(s))
    }),
    ("calling order, finishing the current one", |s| {
        Box::pin(calling_order(s))
    }),
    ("recall, done and skip", |s| Box::pin(counter_actions(s))),
    (
        "confirmed priority first in its session, never before a call",
        |s| Box::pin(crate::priority::call_order(s)),
    ),
    ("a gap-free seq, a reset on a new day, replay limits", |s| {
        Box::pin(crate::store_log::event_log(s))
    }),
    ("pruning keeps the newest event", |s| {
        Box::pin(crate::store_log::pruning(s))
    }),
    ("the board's rows", |s| {
        Box::pin(crate::store_log::board_rows(s))
    }),
    ("kiosk health", |s| {
        Box::pin(crate::store_log::kiosk_health(s))
    }),
    ("tokens: hashes, duplicates, revocation", |s| {
        Box::pin(crate::store_log::tokens(s))
    }),
    ("no oversell under concurrent bookings", |s| {
        Box::pin(concurrent_bookings(s))
    }),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_behaves_as_the_trait_says() {
    for (what, check) in CASES {
        let dir = tempfile::tempdir().unwrap();
        for (backend, store) in every_store(dir.path()).await {
            eprintln!("store case on {backend}: {what}");
            check(store).await;
        }
    }
}

pub(crate) fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 5, d).unwrap()
}

pub(crate) const AT: &str = "2024-05-08T09:20:00+07:00";

pub(crate) fn new_booking(slot: &str, letter: &str, quota: u32) -> NewBooking {
    NewBooking {
        date: day(8),
        slot: slot.into(),
        letter: letter.into(),
        quota,
        service: "KK".into(),
        masked_name: Some("S***i R.".into()),
        code_prefix: "BGR".into(),
    }
}

pub(crate) async fn book(s: &dyn Store, slot: &str, letter: &str) -> StoredBooking {
    s.book(OFFICE, new_booking(slot, letter, 40))
        .await
        .unwrap()
        .expect("room in the session")
}

pub(crate) async fn check_in(s: &dyn Store, b: &StoredBooking) -> Vec<BoardEvent> {
    let ci = NewCheckin {
        code: b.code.clone(),
        at: AT.into(),
        kiosk: "lobby-1".into(),
        offline: false,
        today: day(8),
    };
    match s.check_in(OFFICE, ci).await.unwrap() {
        CheckinOutcome::First { events, .. } => events,
        other => panic!("{other:?}"),
    }
}

pub(crate) fn seqs(events: &[BoardEvent]) -> Vec<(u64, &'static str)> {
    events.iter().map(|e| (e.seq(), e.kind())).collect()
}

async fn serials_within_quota(s: Arc<dyn Store>) {
    let s = s.as_ref();
    let quota = |q| new_booking("09:00-10:00", "B", q);
    let a = s.book(OFFICE, quota(2)).await.unwrap().unwrap();
    let b = s.book(OFFICE, quota(2)).await.unwrap().unwrap();
    assert_eq!((a.number.as_str(), b.number.as_str()), ("B-001", "B-002"));
    assert_eq!(
        (a.code.as_str(), b.code.as_str()),
        ("BGR-20240508-00001", "BGR-20240508-00002")
    );
    assert_eq!(a.status, BookingStatus::Booked);
    assert_eq!(a.masked_name.as_deref(), Some("S***i R."));
    assert_eq!(s.book(OFFICE, quota(2)).await.unwrap(), None, "full");
    // Another session has its own serials; the day's codes run on.
    let c = book(s, "10:00-11:00", "C").await;
    assert_eq!(
        (c.number.as_str(), c.code.as_str()),
        ("C-001", "BGR-20240508-00003")
    );
    // A cancelled booking frees its place, not its number.
    assert_eq!(
        s.cancel(OFFICE, &a.code).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        s.cancel(OFFICE, &a.code).await.unwrap(),
        CancelOutcome::Cancelled
    );
    let d = s.book(OFFICE, quota(2)).await.unwrap().unwrap();
    assert_eq!(d.number, "B-003");
    assert_eq!(
        s.cancel(OFFICE, "BGR-20240508-99999").await.unwrap(),
        CancelOutcome::Unknown
    );
    check_in(s, &d).await;
    assert_eq!(
        s.cancel(OFFICE, &d.code).await.unwrap(),
        CancelOutcome::TooLate
    );
    let listed: Vec<String> = s
        .bookings_on(OFFICE, day(8))
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.number)
        .collect();
    assert_eq!(
        listed,
        ["B-001", "B-002", "B-003", "C-001"],
        "by session, serial"
    );
    assert!(s.bookings_on(OFFICE, day(9)).await.unwrap().is_empty());
    assert_eq!(s.booking(OFFICE, &c.code).await.unwrap(), Some(c));
}

async fn first_checkin_wins(s: Arc<dyn Store>) {
    let s = s.as_ref();
    let early = book(s, "08:00-09:00", "A").await;
    let b1 = book(s, "09:00-10:00", "B").await;
    let b2 = book(s, "09:00-10:00", "B").await;
    check_in(s, &early).await;
    let ci = |b: &StoredBooking, kiosk: &str| NewCheckin {
        code: b.code.clone(),
        at: AT.into(),
        kiosk: kiosk.into(),
        offline: true,
        today: day(8),
    };
    let CheckinOutcome::First { booking, events } =
        s.check_in(OFFICE, ci(&b2, "lobby-2")).await.unwrap()
    else {
        panic!("first")
    };
    assert_eq!(booking.status, BookingStatus::CheckedIn);
    assert_eq!(booking.ahead, Some(1), "A-001 is ahead, B-001 is not here");
    assert_eq!(
        (booking.kiosk.as_deref(), booking.offline),
        (Some("lobby-2"), true)
    );
    assert_eq!(booking.checked_in_at.as_deref(), Some(AT));
    assert_eq!(seqs(&events), [(2, "checkin")]);
    match &events[0] {
        BoardEvent::Checkin(e) => assert_eq!(
            (e.number.as_str(), e.slot.as_str()),
            ("B-002", "09:00-10:00")
        ),
        other => panic!("{other:?}"),
    }
    // Again, from another kiosk: nothing changes.
    match s.check_in(OFFICE, ci(&b2, "lobby-1")).await.unwrap() {
        CheckinOutcome::Already(b) => assert_eq!(b.kiosk.as_deref(), Some("lobby-2")),
        other => panic!("{other:?}"),
    }
    let mut gone = ci(&b1, "lobby-1");
    gone.code = "BGR-20240508-99999".into();
    assert_eq!(
        s.check_in(OFFICE, gone).await.unwrap(),
        CheckinOutcome::Unknown
    );
    s.set_estimate(OFFICE, &b2.code, "09:31").await.unwrap();
    let row = s.booking(OFFICE, &b2.code).await.unwrap().unwrap();
    assert_eq!(row.estimated_call.as_deref(), Some("09:31"));
    assert_eq!(s.last_seq(OFFICE).await.unwrap(), 2);
}

async fn calling_order(s: Arc<dyn Store>) {
    let s = s.as_ref();
    let b1 = book(s, "09:00-10:00", "B").await;
    let a1 = book(s, "08:00-09:00", "A").await;
    let b2 = book(s, "09:00-10:00", "B").await;
    for b in [&b2, &b1, &a1] {
        check_in(s, b).await;
    }
    let t = |m: u32| format!("2024-05-08T09:{m:02}:00+07:00");
    let mut called = Vec::new();
    for (i, counter) in ["1", "2", "1"].into_iter().enumerate() {
        let c = s
            .call_next(OFFICE, counter, day(8), &t(30 + i as u32), true)
            .await
            .unwrap()
            .expect("someone waits");
        assert_eq!(c.booking.status, BookingStatus::Called);
        assert_eq!(c.booking.counter.as_deref(), Some(counter));
        match c.events.as_slice() {
            [BoardEvent::Call(e)] => {
                assert_eq!(
                    (e.number.as_str(), e.counter.as_str(), e.recall),
                    (c.booking.number.as_str(), counter, false)
                );
                assert_eq!(e.called_at, t(30 + i as u32));
                assert_eq!(e.seq, 4 + i as u64);
            }
            other => panic!("{other:?}"),
        }
        called.push(c.booking.number);
    }
    assert_eq!(called, ["A-001", "B-001", "B-002"], "session, then serial");
    // Counter 1 called again: A-001 was finished as served when B-002 came.
    let a = s.booking(OFFICE, &a1.code).await.unwrap().unwrap();
    assert_eq!((a.status, a.done_at), (BookingStatus::Served, Some(t(32))));
    // Nobody waits: counter 2's current one is finished all the same.
    assert_eq!(
        s.call_next(OFFICE, "2", day(8), &t(40), true)
            .await
            .unwrap(),
        None
    );
    let b = s.booking(OFFICE, &b1.code).await.unwrap().unwrap();
    assert_eq!(b.status, BookingStatus::Served);
    assert_eq!(s.last_seq(OFFICE).await.unwrap(), 6, "no event for nobody");
}

async fn counter_actions(s: Arc<dyn Store>) {
    let s = s.as_ref();
    let a = book(s, "08:00-09:00", "A").await;
    let b = book(s, "08:00-09:00", "A").await;
    check_in(s, &a).await;
    check_in(s, &b).await;
    let now = "2024-05-08T09:30:00+07:00";
    assert_eq!(
        s.counter_action(OFFICE, "3", CounterAction::Recall, day(8), now)
            .await
            .unwrap(),
        None,
        "counter 3 serves nobody"
    );
    s.call_next(OFFICE, "3", day(8), now, true)
        .await
        .unwrap()
        .unwrap();
    // (action, event, status after)
    let later = "2024-05-08T09:35:00+07:00";
    let r = s
        .counter_action(OFFICE, "3", CounterAction::Recall, day(8), later)
        .await
        .unwrap()
        .unwrap();
    match r.events.as_slice() {
        [BoardEvent::Call(e)] => assert!(e.recall && e.number == "A-001" && e.called_at == later),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.booking.called_at.as_deref(), Some(later));
    let d = s
        .counter_action(
            OFFICE,
            "3",
            CounterAction::Finish(Finish::Skip),
            day(8),
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seqs(&d.events), [(5, "skip")]);
    assert_eq!(d.booking.status, BookingStatus::NoShow);
    assert_eq!(
        s.counter_action(
            OFFICE,
            "3",
            CounterAction::Finish(Finish::Done),
            day(8),
            later
        )
        .await
        .unwrap(),
        None,
        "finished: the counter is free"
    );
    s.call_next(OFFICE, "3", day(8), later, true)
        .await
        .unwrap()
        .unwrap();
    let d = s
        .counter_action(
            OFFICE,
            "3",
            CounterAction::Finish(Finish::Done),
            day(8),
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seqs(&d.events), [(7, "done")]);
    assert_eq!(d.booking.status, BookingStatus::Served);
}

async fn concurrent_bookings(s: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.book(OFFICE, new_booking("09:00-10:00", "B", 40))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        if let Some(b) = t.await.unwrap() {
            numbers.push(b.serial);
        }
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=40).collect::<Vec<u32>>(),
        "exactly the quota, no number twice"
    );
}
