//! Priority at the kiosk, end to end: the real screens under Slint's
//! testing backend, the kiosk in process with a pseudo-terminal printer
//! emulator, and the reference central service on 127.0.0.1. A resident
//! presses "Prioritas": the check-in was journaled and delivered before the
//! choice, the ticket says `PRIORITAS`, and the central service gets
//! exactly one priority request (retried after `409 not_checked_in`).
//! A resident who does not choose gets an ordinary ticket after the wait.
//!
//! The central service is the real one; a thin layer in front of its router
//! answers the first priority request `409 not_checked_in` (as an instance
//! lagging behind another would) and hands every later one to the real
//! endpoint, recording what it saw.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use antrean_core::api::{PriorityRequest, PriorityState};
use antrean_kiosk::app::{App, AppOptions};
use antrean_kiosk::config::Config;
use antrean_kiosk::daemon::ScanSource;
use antrean_kiosk::escpos_decode::{decode, Element};
use antrean_kiosk::ui::model::{Screen, ScreenSettings};
use antrean_kiosk::ui::run::ScreenWindows;
use antrean_kiosk::ui::KioskAdapter;
use antrean_testkit::prelude::*;
use antrean_testkit::screenshots::run_until;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use slint::ComponentHandle;

use crate::ui::{press, type_text, wait_screen};

const LIMIT: Duration = Duration::from_secs(30);

/// What the layer saw of priority requests: (booking, body, the real
/// endpoint answered 200).
type Seen = Arc<Mutex<Vec<(String, PriorityRequest, bool)>>>;

async fn lagging_once(
    State(seen): State<Seen>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let Some(booking) = path
        .strip_prefix(&format!("/v1/offices/{OFFICE}/checkins/"))
        .and_then(|rest| rest.strip_suffix("/priority"))
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap();
    let body: PriorityRequest = serde_json::from_slice(&bytes).unwrap();
    let first = seen.lock().unwrap().is_empty();
    if first {
        seen.lock().unwrap().push((booking, body, false));
        return (
            StatusCode::CONFLICT,
            Json(serde_json::json!({"error": "not_checked_in", "message": "check-in not arrived yet"})),
        )
            .into_response();
    }
    let answer = next
        .run(axum::extract::Request::from_parts(parts, bytes.into()))
        .await;
    let ok = answer.status() == StatusCode::OK;
    seen.lock().unwrap().push((booking, body, ok));
    answer
}

fn ticket_lines(bytes: &[u8]) -> Vec<String> {
    decode(bytes)
        .expect("the ticket decodes")
        .into_iter()
        .filter_map(|e| match e {
            Element::Line(l) => Some(l.text.trim().to_string()),
            _ => None,
        })
        .collect()
}

pub fn a_resident_chooses_priority() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The real central service, behind the layer that lags once.
    let clock = antrean_host::clock::Clock::starting_at(
        chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc(),
    );
    let central = antrean_central::Central::new(
        antrean_central::CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor"),
        Arc::new(
            antrean_central::SqliteStore::open(&dir.path().join("central.db"), OFFICE).unwrap(),
        ),
        antrean_central::keys::KeyStore::ephemeral("k-test"),
        clock,
    );
    rt.block_on(central.import_token(
        "prio-token",
        antrean_central::auth::Role::Admin,
        OFFICE,
        None,
        Some("test"),
    ))
    .unwrap();
    let seen: Seen = Arc::default();
    let app = antrean_central::routes::router(central.clone()).layer(
        axum::middleware::from_fn_with_state(seen.clone(), lagging_once),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    let book = || {
        rt.block_on(central.book(&antrean_core::api::BookingRequest {
            date: "2024-05-08".into(),
            slot: "09:00-10:00".into(),
            service: "KTP-EL".into(),
            name: None,
        }))
        .unwrap()
    };
    let (first, second, third, fourth) = (book(), book(), book(), book());
    // The kiosk with a printer emulator on a pseudo-terminal.
    let state = dir.path().join("state");
    let printer_link = dir.path().join("printer");
    let pty = Pty::new();
    pty.link_at(&printer_link);
    let tap = PrinterTap::start(pty);
    let config = Config::parse(
        &format!(
            r#"[office]
id = "{OFFICE}"
name = "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor"
[kiosk]
id = "lobby-1"
state_dir = "{}"
priority_wait_seconds = 4
[printer]
port = "{}"
status_every_seconds = 1
[central]
url = "http://{addr}"
token = "prio-token"
retry_max_seconds = 1
[ui]
role = "kiosk"
"#,
            state.display(),
            printer_link.display()
        ),
        std::path::Path::new("priority.toml"),
    )
    .unwrap();
    let app = App::start(
        &config,
        AppOptions {
            source: ScanSource::None,
            ..AppOptions::configured(clock)
        },
    )
    .unwrap();
    let windows = ScreenWindows::open_with(
        &ScreenSettings::from_config(&config),
        &[],
        std::rc::Rc::new(|| 0),
    )
    .unwrap();
    let kiosk = windows.kiosk().unwrap().clone_strong();
    let feed = app.attach_screens(windows.presenter()).unwrap();
    windows.connect(feed);
    windows.show().unwrap();
    let k = kiosk.clone_strong();
    run_until("the manifest and the open session", LIMIT, move || {
        k.global::<KioskAdapter>()
            .get_session_text()
            .contains("09.00-10.00")
    });
    let a = kiosk.global::<KioskAdapter>();
    let journal = rusqlite::Connection::open(state.join("journal.sqlite3")).unwrap();
    let sent = |booking: &str| -> bool {
        journal
            .query_row(
                "SELECT sent_at IS NOT NULL FROM checkins WHERE booking = ?1",
                [booking],
                |r| r.get(0),
            )
            .unwrap_or(false)
    };

    // 1. The first resident presses "Prioritas".
    type_text(kiosk.window(), &format!("{}\n", first.token));
    wait_screen(&kiosk, "the priority choice", Screen::Success, |k| {
        k.global::<KioskAdapter>().get_offer_priority()
    });
    assert_eq!(a.get_number(), first.number.as_str());
    assert!(
        sent(&first.booking),
        "the check-in is journaled and delivered before the choice"
    );
    assert!(tap.tickets().is_empty(), "the ticket waits for the choice");
    press(&kiosk, "priority");
    wait_screen(&kiosk, "the priority ticket", Screen::Success, |k| {
        k.global::<KioskAdapter>().get_priority()
    });
    let tickets = tap.wait_tickets(1);
    let lines = ticket_lines(&tickets[0]);
    assert!(lines.iter().any(|l| l == "PRIORITAS"), "{lines:?}");
    assert!(lines.iter().any(|l| l == first.number.as_str()));
    // The request reaches the central service once, after a 409 retry.
    wait_for("the priority request accepted", LIMIT, || {
        let s = seen.lock().unwrap();
        s.iter().any(|(_, _, ok)| *ok).then_some(())
    });

    // 2. The second resident does not choose: ordinary after the wait.
    a.set_result_timeout(300);
    wait_screen(&kiosk, "the return to idle", Screen::Idle, |_| true);
    type_text(kiosk.window(), &format!("{}\n", second.token));
    wait_screen(&kiosk, "the second choice", Screen::Success, |k| {
        k.global::<KioskAdapter>().get_offer_priority()
    });
    let k = kiosk.clone_strong();
    run_until("the ordinary ticket after the wait", LIMIT, move || {
        !k.global::<KioskAdapter>().get_offer_priority()
    });
    let tickets = tap.wait_tickets(2);
    let lines = ticket_lines(&tickets[1]);
    assert!(
        lines.iter().any(|l| l == second.number.as_str()),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l == "PRIORITAS"), "{lines:?}");
    assert!(!a.get_priority());

    // 3. A scan while a ticket waits prints the waiting one first, as
    // ordinary: tickets come out in check-in order.
    type_text(kiosk.window(), &format!("{}\n", third.token));
    let n = third.number.clone();
    wait_screen(&kiosk, "the third choice", Screen::Success, move |k| {
        let a = k.global::<KioskAdapter>();
        a.get_offer_priority() && a.get_number() == n.as_str()
    });
    type_text(kiosk.window(), &format!("{}\n", fourth.token));
    let n = fourth.number.clone();
    wait_screen(&kiosk, "the fourth choice", Screen::Success, move |k| {
        let a = k.global::<KioskAdapter>();
        a.get_offer_priority() && a.get_number() == n.as_str()
    });
    let tickets = tap.wait_tickets(3);
    let lines = ticket_lines(&tickets[2]);
    assert!(
        lines.iter().any(|l| l == third.number.as_str()),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l == "PRIORITAS"), "{lines:?}");
    let tickets = tap.wait_tickets(4);
    assert!(ticket_lines(&tickets[3])
        .iter()
        .any(|l| l == fourth.number.as_str()));

    // Exactly one priority request was taken, for the first booking only,
    // from this kiosk; nothing more arrives.
    std::thread::sleep(Duration::from_millis(1500));
    let s = seen.lock().unwrap().clone();
    let accepted: Vec<_> = s.iter().filter(|(_, _, ok)| *ok).collect();
    assert_eq!(accepted.len(), 1, "{s:?}");
    assert!(s
        .iter()
        .all(|(b, r, _)| *b == first.booking && r.kiosk == "lobby-1"));
    assert_eq!(s.len(), 2, "one 409, then one accepted: {s:?}");
    // The real service holds the claim, for that booking only.
    for (b, claim) in [
        (&first, Some(PriorityState::Requested)),
        (&second, None),
        (&third, None),
        (&fourth, None),
    ] {
        let stored = rt.block_on(central.booking(&b.booking)).unwrap().unwrap();
        assert_eq!(stored.priority, claim, "{}", b.booking);
    }
    drop(windows);
    app.stop();
}
