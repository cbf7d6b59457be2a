//! Priority arrivals on every back end: the store's call order (a
//! confirmed priority check-in of the current session is called before
//! earlier ordinary ones, never before a number already called; a
//! requested one is not), the claim's states, and over HTTP the kiosk's
//! request, the staff's decision, the dedicated-counter policy, the
//! staff view and the board.

use std::sync::Arc;

use antrean_central::call_order::{PriorityChange, PriorityRefusal};
use antrean_central::settings::PriorityPolicy;
use antrean_central::store::PriorityOutcome;
use antrean_central::Store;
use antrean_core::api::PriorityState;
use antrean_core::events::BoardEvent;
use serde_json::{json, Value};

use crate::store::{book, check_in, day};
use crate::support::service::*;
use crate::support::stores::backends;
use crate::support::{NOW, OFFICE};

async fn claim(s: &dyn Store, code: &str, change: PriorityChange) -> PriorityOutcome {
    s.set_priority(OFFICE, code, change).await.unwrap()
}

fn state(o: &PriorityOutcome) -> Option<PriorityState> {
    match o {
        PriorityOutcome::Set(b) => b.priority,
        _ => None,
    }
}

/// The store case (run by `store.rs` on every back end).
pub(crate) async fn call_order(s: Arc<dyn Store>) {
    let s = s.as_ref();
    let a1 = book(s, "08:00-09:00", "A").await;
    let b: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..7 {
            v.push(book(s, "09:00-10:00", "B").await);
        }
        v
    };
    // Before its check-in a claim is refused: the kiosk retries.
    assert_eq!(
        claim(s, &b[3].code, PriorityChange::Request).await,
        PriorityOutcome::Refused(PriorityRefusal::NotCheckedIn)
    );
    assert_eq!(
        claim(s, "BGR-20240508-99999", PriorityChange::Request).await,
        PriorityOutcome::Unknown
    );
    s.cancel(OFFICE, &b[6].code).await.unwrap();
    assert_eq!(
        claim(s, &b[6].code, PriorityChange::Confirm).await,
        PriorityOutcome::Refused(PriorityRefusal::Cancelled)
    );
    for x in [&a1, &b[0], &b[1], &b[2], &b[3]] {
        check_in(s, x).await;
    }
    // B-003 only asked; B-004 asked and was confirmed.
    let asked = claim(s, &b[2].code, PriorityChange::Request).await;
    assert_eq!(state(&asked), Some(PriorityState::Requested));
    claim(s, &b[3].code, PriorityChange::Request).await;
    let ok = claim(s, &b[3].code, PriorityChange::Confirm).await;
    assert_eq!(state(&ok), Some(PriorityState::Confirmed));
    // A repeated request does not reset the decision.
    let again = claim(s, &b[3].code, PriorityChange::Request).await;
    assert_eq!(state(&again), Some(PriorityState::Confirmed));
    let stored = s.booking(OFFICE, &b[3].code).await.unwrap().unwrap();
    assert_eq!(stored.priority, Some(PriorityState::Confirmed));
    assert_eq!(stored.number, "B-004", "the number stays");

    let t = |m: u32| format!("2024-05-08T09:{m:02}:00+07:00");
    let mut n = 0;
    let mut call = |counter: &'static str, first: bool| {
        n += 1;
        let at = t(30 + n);
        async move {
            let c = s
                .call_next(OFFICE, counter, day(8), &at, first)
                .await
                .unwrap()
                .expect("someone waits");
            let priority = match c.events.as_slice() {
                [BoardEvent::Call(e)] => e.priority,
                other => panic!("{other:?}"),
            };
            (c.booking.number, priority)
        }
    };
    // The current session is A's (someone waits there): B-004 waits too.
    assert_eq!(call("1", true).await, ("A-001".into(), false));
    // Now B's: the confirmed B-004 before B-001..B-003; the event says why.
    assert_eq!(call("2", true).await, ("B-004".into(), true));
    // Requested only: B-003 keeps its place.
    assert_eq!(call("3", true).await, ("B-001".into(), false));
    // Confirmed after B-001 was called: before B-002, never before B-001
    // (already called, not called again).
    check_in(s, &b[4]).await;
    claim(s, &b[4].code, PriorityChange::Confirm).await;
    assert_eq!(call("1", true).await, ("B-005".into(), true));
    // A counter the policy does not let call priority first: in order,
    // even with a confirmed one waiting.
    check_in(s, &b[5]).await;
    claim(s, &b[5].code, PriorityChange::Confirm).await;
    assert_eq!(call("2", false).await, ("B-002".into(), false));
    assert_eq!(call("3", true).await, ("B-006".into(), true));
    // Declined: no jump; staff may change their mind later.
    claim(s, &b[2].code, PriorityChange::Decline).await;
    assert_eq!(call("1", true).await, ("B-003".into(), false));
    let b1 = s.booking(OFFICE, &b[0].code).await.unwrap().unwrap();
    assert_eq!(b1.status, antrean_core::manifest::BookingStatus::Served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_over_http_on_every_back_end() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        let s = start_on(backend, |c| {
            c.offices[0].priority = PriorityPolicy::DedicatedCounter(vec!["4".into()]);
        })
        .await;
        let (b1, _) = s.checked_in("09:00-10:00").await;
        let (b2, n2) = s.checked_in("09:00-10:00").await;
        let (b3, _) = s.checked_in("09:00-10:00").await;
        let (booked, _) = s.book("09:00-10:00").await;
        let ask = |b: &str| {
            (
                format!("/checkins/{b}/priority"),
                json!({"kiosk": "lobby-1", "requested_at": NOW}),
            )
        };
        // The kiosk asks (twice: idempotent).
        for _ in 0..2 {
            let (path, body) = ask(&b2);
            let (status, v) = s.call("POST", &path, KIOSK, Some(body)).await;
            assert_eq!(status, 200, "{v}");
            assert_eq!(
                v,
                json!({"booking": b2, "number": n2, "priority": "requested"})
            );
        }
        // Not yet checked in, unknown, another kiosk's id in the body.
        let (path, body) = ask(&booked);
        let (status, v) = s.call("POST", &path, KIOSK, Some(body)).await;
        assert_eq!(
            (status.as_u16(), v["error"].as_str()),
            (409, Some("not_checked_in"))
        );
        let (path, body) = ask("BGR-20240508-99999");
        let (status, v) = s.call("POST", &path, KIOSK, Some(body)).await;
        assert_eq!(
            (status.as_u16(), v["error"].as_str()),
            (404, Some("unknown_booking"))
        );
        let (path, _) = ask(&b1);
        let (status, _) = s
            .call(
                "POST",
                &path,
                KIOSK,
                Some(json!({"kiosk": "lobby-2", "requested_at": NOW})),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = s
            .call(
                "POST",
                &path,
                KIOSK,
                Some(json!({"kiosk": "lobby-1", "requested_at": "yesterday"})),
            )
            .await;
        assert_eq!(status, 422);
        // The staff view shows the claim and the booking to decide on.
        let (_, staff) = s.call("GET", "/staff", STAFF, None).await;
        let row = staff["waiting"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["number"] == n2.as_str())
            .unwrap()
            .clone();
        assert_eq!(
            (row["booking"].as_str(), row["priority"].as_str()),
            (Some(b2.as_str()), Some("requested"))
        );
        let plain = staff["waiting"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["booking"] == b1.as_str())
            .unwrap();
        assert!(plain.get("priority").is_none(), "{plain}");
        // Staff confirm B-002 (and decline nothing else).
        let (status, v) = s
            .call(
                "POST",
                &format!("/checkins/{b2}/priority/confirm"),
                STAFF,
                None,
            )
            .await;
        assert_eq!(
            (status.as_u16(), v["priority"].as_str()),
            (200, Some("confirmed"))
        );
        let (status, v) = s
            .call(
                "POST",
                &format!("/checkins/{b3}/priority/decline"),
                STAFF,
                None,
            )
            .await;
        assert_eq!(
            (status.as_u16(), v["priority"].as_str()),
            (200, Some("declined"))
        );
        let (status, _) = s
            .call(
                "POST",
                &format!("/checkins/{b3}/priority/maybe"),
                STAFF,
                None,
            )
            .await;
        assert_eq!(status, 404);
        // Dedicated counter 4: counter 1 calls in order, counter 4 the
        // confirmed one; the board says why.
        let (_, v) = s.call("POST", "/counters/1/next", STAFF, None).await;
        assert_eq!(v["booking"], b1.as_str());
        let (_, v) = s.call("POST", "/counters/4/next", STAFF, None).await;
        assert_eq!(v["booking"], b2.as_str());
        let (_, board) = s.call("GET", "/board", STAFF, None).await;
        let serving = |id: &str| -> Value {
            board["counters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
                .unwrap()["serving"]
                .clone()
        };
        assert_eq!(serving("4")["priority"], true, "{board}");
        assert_ne!(serving("1")["priority"], true, "{board}");
    }
}
