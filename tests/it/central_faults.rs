//! A misbehaving central service on 127.0.0.1 (500s, 10 s answers,
//! malformed JSON, dropped connections, a wrong token): the kiosk keeps
//! checking people in from its cache, says it is offline, prints without
//! waiting, and delivers every check-in exactly once when the service heals.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use antrean_testkit::prelude::*;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;

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

/// One scripted answer to `POST /checkins` (201 means: accept it).
#[derive(Clone)]
struct Answer {
    status: u16,
    body: &'static str,
    retry_after: Option<&'static str>,
}

const fn answer(status: u16, body: &'static str) -> Answer {
    Answer {
        status,
        body,
        retry_after: None,
    }
}

const ACCEPT: Answer = answer(201, "");

/// A central service that answers each booking's check-ins from a script
/// (the last answer repeats) and counts what it created.
#[derive(Clone, Default)]
struct Scripted {
    scripts: Arc<Mutex<BTreeMap<String, Vec<Answer>>>>,
    /// booking -> check-ins created (201), must end at 1.
    created: Arc<Mutex<BTreeMap<String, usize>>>,
    /// booking -> POSTs received.
    posts: Arc<Mutex<BTreeMap<String, usize>>>,
}

async fn scripted_checkin(State(s): State<Scripted>, body: axum::body::Bytes) -> Response {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let booking = v["booking"].as_str().unwrap().to_string();
    *s.posts.lock().unwrap().entry(booking.clone()).or_default() += 1;
    let next = {
        let mut scripts = s.scripts.lock().unwrap();
        match scripts.get_mut(&booking) {
            Some(list) if list.len() > 1 => list.remove(0),
            Some(list) => list[0].clone(),
            None => ACCEPT,
        }
    };
    if next.status != 201 {
        let mut resp = (
            StatusCode::from_u16(next.status).unwrap(),
            [("content-type", "application/json")],
            next.body,
        )
            .into_response();
        if let Some(after) = next.retry_after {
            resp.headers_mut()
                .insert("retry-after", after.parse().unwrap());
        }
        return resp;
    }
    let mut created = s.created.lock().unwrap();
    let first = !created.contains_key(&booking);
    *created.entry(booking.clone()).or_default() += usize::from(first);
    let status = if first {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        axum::Json(
            serde_json::json!({"booking": booking, "number": v["number"],
            "status": "checked_in", "checked_in_at": v["checked_in_at"], "ahead": 7,
            "estimated_call": "10:05", "duplicate": !first}),
        ),
    )
        .into_response()
}

async fn scripted_manifest(State(s): State<Scripted>) -> Response {
    let mut m = manifest();
    let mut bookings = vec![
        serde_json::json!({"booking": "BGR-240508-00900", "number": "B-090",
        "slot": "09:00-10:00", "service": "KK", "status": "booked", "name": "S***i R."}),
    ];
    for b in s.created.lock().unwrap().keys() {
        bookings.push(serde_json::json!({"booking": b, "number": "B-000",
            "slot": "09:00-10:00", "service": "KK", "status": "checked_in", "name": "B***i"}));
    }
    m["bookings"] = serde_json::Value::Array(bookings);
    axum::Json(m).into_response()
}

/// The kiosk's `/metrics` text.
fn metrics_of(kiosk: &DaemonProcess) -> String {
    let line = kiosk.wait_log("status endpoint listening");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    reqwest::blocking::get(format!("http://{}/metrics", v["addr"].as_str().unwrap()))
        .unwrap()
        .text()
        .unwrap()
}

#[test]
fn only_definitive_answers_refuse_and_refusals_switch_nothing_off() {
    const PROXY_404: &str = "<html><body>404 Not Found</body></html>";
    // (case, the service's answers in turn, refused with this code or delivered)
    let table: Vec<(&str, Vec<Answer>, Option<&str>)> = vec![
        (
            "429 then 201",
            vec![
                Answer {
                    retry_after: Some("1"),
                    ..answer(429, r#"{"error":"rate_limited","message":"slow down"}"#)
                },
                ACCEPT,
            ],
            None,
        ),
        ("408 then 201", vec![answer(408, ""), ACCEPT], None),
        ("413 then 201", vec![answer(413, "too big"), ACCEPT], None),
        (
            "500, 503 then 201",
            vec![
                answer(500, "boom"),
                Answer {
                    retry_after: Some("1"),
                    ..answer(503, "")
                },
                ACCEPT,
            ],
            None,
        ),
        (
            "a proxy's 404 then 201",
            vec![answer(404, PROXY_404), ACCEPT],
            None,
        ),
        (
            "422 without a reason code then 201",
            vec![
                answer(422, r#"{"error":"invalid_request","message":"?"}"#),
                ACCEPT,
            ],
            None,
        ),
        (
            "403 then 201",
            vec![
                answer(403, r#"{"error":"forbidden","message":"not your kiosk"}"#),
                ACCEPT,
            ],
            None,
        ),
        (
            "404 unknown_booking",
            vec![answer(
                404,
                r#"{"error":"unknown_booking","message":"no such booking"}"#,
            )],
            Some("unknown_booking"),
        ),
        (
            "409 cancelled",
            vec![answer(
                409,
                r#"{"error":"cancelled","message":"Booking sudah dibatalkan."}"#,
            )],
            Some("cancelled"),
        ),
        (
            "422 too_late",
            vec![answer(
                422,
                r#"{"error":"too_late","message":"session over"}"#,
            )],
            Some("too_late"),
        ),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = Scripted::default();
    let bookings: Vec<String> = (0..table.len())
        .map(|i| format!("BGR-240508-{:05}", 700 + i))
        .collect();
    for ((_, script, _), booking) in table.iter().zip(&bookings) {
        server
            .scripts
            .lock()
            .unwrap()
            .insert(booking.clone(), script.clone());
    }
    // Checked in last; the service fails it until the day report runs.
    let stuck = "BGR-240508-00799".to_string();
    server
        .scripts
        .lock()
        .unwrap()
        .insert(stuck.clone(), vec![answer(500, "down for this one")]);
    let app = Router::new()
        .route("/v1/offices/:office/manifest", get(scripted_manifest))
        .route("/v1/offices/:office/checkins", post(scripted_checkin))
        .route("/v1/offices/:office/board", get(board))
        .route("/v1/offices/:office/events", get(events))
        .route(
            "/v1/offices/:office/kiosks/:kiosk/health",
            put(|| async { StatusCode::NO_CONTENT }),
        )
        .with_state(server.clone());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });

    let office = Office::new(&format!(
        "[central]\nurl = \"http://{addr}\"\ntoken = \"tok\"\nanswer_deadline_ms = 2000\nretry_max_seconds = 1\n\n[status]\nlisten = \"127.0.0.1:0\"\n"
    ));
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let printer = PrinterTap::start(pty);
    let mut scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let mut kiosk = DaemonProcess::start(&office, &[]);
    kiosk.wait_log("scanner port open");
    kiosk.wait_log("manifest updated");
    // The cached manifest keeps no masked name.
    let cached =
        std::fs::read_to_string(office.state_dir.join("manifests/2024-05-08.json")).unwrap();
    assert!(cached.contains("BGR-240508-00900"), "{cached}");
    assert!(!cached.contains("S***i"), "a name was cached: {cached}");

    let mut scans = 0;
    let mut scan = |booking: &str, number: &str| {
        scanner.scan(&token(booking, number, "2024-05-08", "09:00-10:00", "KK"));
        scans += 1;
        let line = kiosk.wait_scan(scans);
        assert_eq!(line["outcome"], "accept", "{booking}: {line}");
        printer.wait_tickets(scans);
        line
    };
    for (i, booking) in bookings.iter().enumerate() {
        scan(booking, &format!("B-{:03}", 700 + i));
    }
    let journal = rusqlite::Connection::open_with_flags(
        office.journal(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let row = |booking: &str| -> (bool, Option<String>) {
        journal
            .query_row(
                "SELECT sent_at IS NOT NULL, refused FROM checkins WHERE booking = ?1",
                [booking],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    wait_for(
        "every check-in delivered or refused",
        Duration::from_secs(90),
        || {
            bookings
                .iter()
                .all(|b| {
                    let (sent, refused) = row(b);
                    sent || refused.is_some()
                })
                .then_some(())
        },
    );
    let created = server.created.lock().unwrap().clone();
    for ((case, _, refused), booking) in table.iter().zip(&bookings) {
        let (sent, code) = row(booking);
        match refused {
            Some(expect) => {
                assert_eq!(code.as_deref(), Some(*expect), "{case}");
                assert!(!sent, "{case}");
                assert!(!created.contains_key(booking), "{case}");
            }
            None => {
                assert!(sent && code.is_none(), "{case}: delivered, not refused");
                assert_eq!(
                    created.get(booking),
                    Some(&1),
                    "{case}: created exactly once"
                );
                assert!(
                    server.posts.lock().unwrap()[booking] >= 2,
                    "{case}: sent again after the first answer"
                );
            }
        }
    }
    // Each refusal was taken once; nothing else was ever refused.
    let metrics = metrics_of(&kiosk);
    let refused_by_outbox = metrics
        .lines()
        .find(|l| l.starts_with("antrean_attempts_total{task=\"outbox\",result=\"refused\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .map(|n| n.parse::<u64>().unwrap());
    assert_eq!(refused_by_outbox, Some(3), "{metrics}");
    kiosk.wait_log("staff must fix the configuration");

    // Three refusals in the journal; the next person still hears how many are ahead.
    let line = scan("BGR-240508-00790", "B-790");
    assert_eq!(line["ahead"], 7, "people ahead after a refusal: {line}");
    let tickets = printer.tickets();
    let lines: Vec<String> = antrean_kiosk::escpos_decode::decode(tickets.last().unwrap())
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            antrean_kiosk::escpos_decode::Element::Line(l) => Some(l.text.trim().to_string()),
            _ => None,
        })
        .collect();
    assert!(
        lines.contains(&"Menunggu: 7 orang".to_string()),
        "{lines:?}"
    );

    // One check-in the service keeps failing, then the kiosk stops.
    scan(&stuck, "B-799");
    wait_for("the stuck check-in tried by the outbox", LIMIT, || {
        (server
            .posts
            .lock()
            .unwrap()
            .get(&stuck)
            .copied()
            .unwrap_or(0)
            >= 2)
            .then_some(())
    });
    kiosk.kill9();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .args(["report", "--date", "2024-05-08", "--config"])
        .arg(&office.config)
        .env("ANTREAN_NOW", NOW)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Ditolak pusat / refused by the central service:"),
        "{text}"
    );
    for ((case, _, refused), booking) in table.iter().zip(&bookings) {
        if let Some(code) = refused {
            assert!(
                text.contains(&format!("  {booking} {code}")),
                "{case}: {text}"
            );
        }
    }
    // Sent again with the outbox's rules: a 500 is not a refusal.
    assert!(
        text.contains("1 check-in(s) unknown to the central service"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{stuck}: belum terkirim / not sent")),
        "{text}"
    );
    assert!(text.contains("re-sent: 0 of 1"), "{text}");
    assert_eq!(row(&stuck), (false, None), "still waiting, not refused");
}
