//! A misbehaving central service on 127.0.0.1 (500s, 10 s answers,
//! malformed JSON, dropped connections, a wrong token): the kiosk keeps
//! checking people in from its cache, says it is offline, prints without
//! waiting, and delivers every check-in exactly once when the service heals.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use support::*;

const OK: u8 = 0;
const FAIL_500: u8 = 1;
const SLOW: u8 = 2;
const MALFORMED: u8 = 3;
const DROP: u8 = 4;
const UNAUTHORIZED: u8 = 5;

#[derive(Clone)]
struct Bad {
    mode: Arc<AtomicU8>,
    /// booking -> checked_in_at, as accepted in OK mode (first wins).
    accepted: Arc<Mutex<BTreeMap<String, String>>>,
    posts: Arc<Mutex<usize>>,
}

fn manifest() -> serde_json::Value {
    serde_json::json!({
        "office": OFFICE, "date": "2024-05-08", "timezone": "Asia/Jakarta",
        "sessions": [{"slot": "09:00-10:00", "letter": "B", "quota": 50}],
        "services": [{"code": "KK", "name": "Kartu Keluarga"}],
        "counters": [{"id": "1", "label": "Loket 1"}],
        "keys": [{"kid": test_key().kid, "public_key": test_key().public_key}],
        "bookings": []
    })
}

async fn faulty(mode: u8) -> Option<Response> {
    match mode {
        FAIL_500 => Some((StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()),
        SLOW => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Some((StatusCode::INTERNAL_SERVER_ERROR, "late").into_response())
        }
        MALFORMED => Some((StatusCode::OK, "{\"booking\": [1,2").into_response()),
        DROP => {
            // Headers, then the connection breaks in the middle of the body.
            let broken = futures_util::stream::iter(vec![
                Ok(axum::body::Bytes::from_static(b"{\"booking\":")),
                Err(std::io::Error::other("connection dropped")),
            ]);
            Some((StatusCode::CREATED, axum::body::Body::from_stream(broken)).into_response())
        }
        UNAUTHORIZED => {
            Some((StatusCode::UNAUTHORIZED, "{\"error\":\"unauthorized\"}").into_response())
        }
        _ => None,
    }
}

async fn get_manifest(State(b): State<Bad>) -> Response {
    if b.mode.load(Ordering::Relaxed) == UNAUTHORIZED {
        return faulty(UNAUTHORIZED).await.unwrap();
    }
    axum::Json(manifest()).into_response()
}

async fn post_checkin(State(b): State<Bad>, body: axum::body::Bytes) -> Response {
    *b.posts.lock().unwrap() += 1;
    if let Some(r) = faulty(b.mode.load(Ordering::Relaxed)).await {
        return r;
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let booking = v["booking"].as_str().unwrap().to_string();
    let mut acc = b.accepted.lock().unwrap();
    let first = !acc.contains_key(&booking);
    let at = acc
        .entry(booking.clone())
        .or_insert_with(|| v["checked_in_at"].as_str().unwrap().to_string())
        .clone();
    let status = if first {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        axum::Json(
            serde_json::json!({"booking": booking, "number": v["number"], "status": "checked_in",
        "checked_in_at": at, "ahead": 0, "duplicate": !first}),
        ),
    )
        .into_response()
}

async fn board() -> Response {
    axum::Json(
        serde_json::json!({"seq": 0, "counters": [], "recent": [], "waiting": [], "notice": null}),
    )
    .into_response()
}

async fn events() -> Response {
    // A stream that never says anything.
    let stream = futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

#[test]
fn a_misbehaving_central_service_loses_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bad = Bad {
        mode: Arc::new(AtomicU8::new(OK)),
        accepted: Arc::new(Mutex::new(BTreeMap::new())),
        posts: Arc::new(Mutex::new(0)),
    };
    let app = Router::new()
        .route("/v1/offices/:office/manifest", get(get_manifest))
        .route("/v1/offices/:office/checkins", post(post_checkin))
        .route("/v1/offices/:office/board", get(board))
        .route("/v1/offices/:office/events", get(events))
        .route(
            "/v1/offices/:office/kiosks/:kiosk/health",
            put(|| async { StatusCode::NO_CONTENT }),
        )
        .with_state(bad.clone());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });

    let office = Office::new(&format!(
        "[central]\nurl = \"http://{addr}\"\ntoken = \"tok\"\nanswer_deadline_ms = 800\nretry_max_seconds = 1\n"
    ));
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let printer = PrinterTap::start(pty);
    let mut scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let kiosk = DaemonProcess::start(&office, &[]);
    kiosk.wait_log("scanner port open");
    kiosk.wait_log("manifest updated");

    let mut scans = 0;
    let mut expected = Vec::new();
    for (mode, name) in [
        (FAIL_500, "500"),
        (SLOW, "slow"),
        (MALFORMED, "malformed"),
        (DROP, "dropped"),
        (UNAUTHORIZED, "wrong token"),
    ] {
        bad.mode.store(mode, Ordering::Relaxed);
        for i in 0..2 {
            let booking = format!("BGR-240508-{:03}{}{i}", mode, 5);
            let tok = token(
                &booking,
                &format!("B-0{mode}{i}"),
                "2024-05-08",
                "09:00-10:00",
                "KK",
            );
            let t0 = Instant::now();
            scanner.scan(&tok);
            scans += 1;
            let line = kiosk.wait_scan(scans);
            assert_eq!(line["outcome"], "accept", "{name}: {line}");
            printer.wait_tickets(scans);
            // Printing never waits long for the network.
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{name}: the ticket took {:?}",
                t0.elapsed()
            );
            expected.push(booking);
        }
    }
    kiosk.wait_log("refused the kiosk token (401)");
    // The service heals: everything arrives, once each, with the kiosk's times.
    bad.mode.store(OK, Ordering::Relaxed);
    let journal = rusqlite::Connection::open_with_flags(
        office.journal(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    wait_for("the outbox to drain", Duration::from_secs(60), || {
        let n: i64 = journal
            .query_row(
                "SELECT COUNT(*) FROM checkins WHERE sent_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (n == 0).then_some(())
    });
    let accepted = bad.accepted.lock().unwrap().clone();
    assert_eq!(accepted.keys().cloned().collect::<Vec<_>>(), {
        let mut e = expected.clone();
        e.sort();
        e
    });
    for (booking, at) in &accepted {
        let local: String = journal
            .query_row(
                "SELECT checked_in_at FROM checkins WHERE booking = ?1",
                [booking],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(&local, at, "{booking}: the original time");
    }
    assert!(
        kiosk
            .lines()
            .iter()
            .any(|l| l.contains("outbox not delivered")),
        "the kiosk logged its offline state"
    );
    assert_eq!(printer.tickets().len(), expected.len(), "one ticket each");
}
