//! Hostile input cannot make the kiosk daemon (the real binary) grow:
//! a central service on 127.0.0.1 that sends a 100 MB manifest (with and
//! without `Content-Length`), a 100 MB board, a 100 MB error body, an
//! endless SSE line and an event of endless `data:` lines; and 64 MB on
//! standard input without a newline. The daemon's peak resident memory
//! (VmHWM from /proc) stays under [`MEMORY_BOUND`], it keeps checking
//! people in (scan -> ticket on the pty printer emulator), and its event
//! stream reconnects until it gets a sane event.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use antrean_testkit::prelude::*;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use futures_util::StreamExt;

/// The daemon's peak resident memory whatever its peers send (its own
/// caps: 8 MiB manifest, 256 KiB board, 64 KiB SSE line and event).
const MEMORY_BOUND_MIB: u64 = 64;
const HUNDRED_MB: usize = 100 << 20;

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

/// `head`, then `unit` repeated up to `total` bytes, then nothing (the
/// stream may as well be endless: the kiosk must stop reading first).
fn body_of(head: &'static str, unit: &'static str, total: usize) -> Body {
    let chunk = Bytes::from(unit.repeat((64 << 10) / unit.len()));
    let n = (total - head.len()) / chunk.len();
    let stream = futures_util::stream::once(async move { Bytes::from_static(head.as_bytes()) })
        .chain(futures_util::stream::iter(std::iter::repeat_n(chunk, n)))
        .map(Ok::<_, std::io::Error>);
    Body::from_stream(stream)
}

#[derive(Clone, Default)]
struct Hostile {
    manifests: Arc<AtomicUsize>,
    boards: Arc<AtomicUsize>,
    streams: Arc<AtomicUsize>,
    posts: Arc<AtomicUsize>,
    created: Arc<AtomicUsize>,
}

const MANIFEST_HEAD: &str = r#"{"office":"kota-bogor","date":"2024-05-08","timezone":"Asia/Jakarta","sessions":[],"services":[],"counters":[],"keys":[],"bookings":["#;
const MANIFEST_UNIT: &str = r#"{"booking":"BGR-240508-00001","number":"B-001","slot":"09:00-10:00","service":"KK","status":"booked","name":"S***i R."},"#;

async fn manifest(State(h): State<Hostile>) -> Response {
    let n = h.manifests.fetch_add(1, Ordering::Relaxed);
    let mut resp = (
        StatusCode::OK,
        body_of(MANIFEST_HEAD, MANIFEST_UNIT, HUNDRED_MB),
    )
        .into_response();
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    if n % 2 == 1 {
        // Announced: refused before a byte of it is read.
        let len = MANIFEST_HEAD.len()
            + (HUNDRED_MB - MANIFEST_HEAD.len())
                / ((64 << 10) / MANIFEST_UNIT.len() * MANIFEST_UNIT.len())
                * ((64 << 10) / MANIFEST_UNIT.len() * MANIFEST_UNIT.len());
        resp.headers_mut()
            .insert("content-length", len.to_string().parse().unwrap());
    }
    resp
}

async fn board(State(h): State<Hostile>) -> Response {
    if h.boards.fetch_add(1, Ordering::Relaxed) == 0 {
        return (
            StatusCode::OK,
            body_of(
                r#"{"seq":0,"recent":["#,
                r#"{"number":"A-001","counter":"1","called_at":"2024-05-08T09:00:00+07:00"},"#,
                HUNDRED_MB,
            ),
        )
            .into_response();
    }
    axum::Json(serde_json::json!({"seq": 0})).into_response()
}

async fn events(State(h): State<Hostile>) -> Response {
    let body = match h.streams.fetch_add(1, Ordering::Relaxed) {
        // One endless line.
        0 => body_of("id: 1\nevent: notice\ndata: ", "x", usize::MAX / 2),
        // One event of endless short `data:` lines.
        1 => body_of("id: 1\nevent: notice\n", "data: {\"seq\":1}\n", usize::MAX / 2),
        // Then a sane stream: one event, then silence.
        _ => Body::from_stream(
            futures_util::stream::once(async {
                Ok::<_, std::io::Error>(Bytes::from_static(
                    b": ping\n\nid: 1\nevent: notice\ndata: {\"seq\":1,\"text\":\"Kiosk tetap jalan\"}\n\n",
                ))
            })
            .chain(futures_util::stream::pending()),
        ),
    };
    ([("content-type", "text/event-stream")], body).into_response()
}

async fn checkin(State(h): State<Hostile>, body: Bytes) -> Response {
    if h.posts.fetch_add(1, Ordering::Relaxed) == 0 {
        return (
            StatusCode::BAD_REQUEST,
            body_of("{\"error\":\"", "e", HUNDRED_MB),
        )
            .into_response();
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    h.created.fetch_add(1, Ordering::Relaxed);
    (
        StatusCode::CREATED,
        axum::Json(
            serde_json::json!({"booking": v["booking"], "number": v["number"],
            "status": "checked_in", "checked_in_at": v["checked_in_at"], "ahead": 2}),
        ),
    )
        .into_response()
}

fn metric(addr: &str, line_start: &str) -> u64 {
    let text = reqwest::blocking::get(format!("http://{addr}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_hostile_central_service_cannot_exhaust_the_kiosk() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hostile = Hostile::default();
    let app = Router::new()
        .route("/v1/offices/:office/manifest", get(manifest))
        .route("/v1/offices/:office/board", get(board))
        .route("/v1/offices/:office/events", get(events))
        .route("/v1/offices/:office/checkins", post(checkin))
        .route(
            "/v1/offices/:office/kiosks/:kiosk/health",
            put(|| async { StatusCode::NO_CONTENT }),
        )
        .with_state(hostile.clone());
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
    let kiosk = DaemonProcess::start(&office, &[]);
    kiosk.wait_log("scanner port open");
    let line = kiosk.wait_log("status endpoint listening");
    let status = serde_json::from_str::<serde_json::Value>(&line).unwrap()["addr"]
        .as_str()
        .unwrap()
        .to_string();
    let pid = kiosk.child.id();

    let mut scans = 0;
    let mut check_in = |booking: &str, number: &str| {
        scanner.scan(&token(booking, number, "2024-05-08", "09:00-10:00", "KK"));
        scans += 1;
        let line = kiosk.wait_scan(scans);
        assert_eq!(line["outcome"], "accept", "{line}");
        printer.wait_tickets(scans);
    };
    check_in("BGR-240508-00301", "B-301");
    // Past both hostile streams, the sane event reaches the kiosk's board.
    wait_for("the board's notice from the sane stream", LIMIT, || {
        let b: serde_json::Value = reqwest::blocking::get(format!("http://{status}/board"))
            .ok()?
            .json()
            .ok()?;
        (b["board"]["notice"] == "Kiosk tetap jalan").then_some(())
    });
    assert!(hostile.streams.load(Ordering::Relaxed) >= 3);
    assert!(
        metric(
            &status,
            "antrean_attempts_total{task=\"board\",result=\"too_large\"}"
        ) >= 1,
        "the 100 MB board was refused"
    );
    // Both kinds of 100 MB manifest refused, more than once each.
    wait_for("four 100 MB manifests refused", LIMIT, || {
        (metric(
            &status,
            "antrean_attempts_total{task=\"manifest\",result=\"too_large\"}",
        ) >= 4)
            .then_some(())
    });
    check_in("BGR-240508-00302", "B-302");
    // Both check-ins delivered (the first after a 100 MB error body).
    wait_for("both check-ins delivered", LIMIT, || {
        (hostile.created.load(Ordering::Relaxed) == 2).then_some(())
    });
    check_in("BGR-240508-00303", "B-303");
    let oversized = kiosk
        .lines()
        .iter()
        .filter(|l| l.contains("oversized line or event; reconnecting"))
        .count();
    assert_eq!(oversized, 2, "each hostile stream dropped once");
    assert!(
        !office.state_dir.join("manifests/2024-05-08.json").exists(),
        "nothing of the hostile manifest was cached"
    );
    let peak = peak_rss_mib(pid);
    eprintln!("kiosk peak RSS {peak} MiB (bound {MEMORY_BOUND_MIB} MiB)");
    assert!(peak < MEMORY_BOUND_MIB, "peak RSS {peak} MiB");
}

#[test]
fn an_endless_stdin_line_is_one_rejected_scan() {
    let office = Office::new("");
    // Headless without a scanner: scans come from standard input.
    office.write_config(&format!(
        "[printer]\nport = \"{}\"\nbaud = 19200\ncolumns = 48\nwrite_timeout_ms = 2000\n",
        office.printer_link.display()
    ));
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let printer = PrinterTap::start(pty);
    let mut kiosk = DaemonProcess::start(&office, &[]);
    kiosk.wait_log("reading scans from standard input");
    let pid = kiosk.child.id();
    let valid = token(
        "BGR-240508-00123",
        "B-015",
        "2024-05-08",
        "09:00-10:00",
        "KTP-EL",
    );
    {
        let stdin = kiosk.child.stdin.as_mut().unwrap();
        let block = vec![b'A'; 1 << 20];
        for _ in 0..64 {
            stdin.write_all(&block).unwrap();
        }
        stdin.write_all(format!("\n{valid}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    assert_eq!(kiosk.wait_scan(1)["outcome"], "invalid_format");
    assert_eq!(kiosk.wait_scan(2)["outcome"], "accept");
    printer.wait_tickets(1);
    let peak = peak_rss_mib(pid);
    eprintln!("kiosk peak RSS {peak} MiB after 64 MiB on one stdin line");
    assert!(peak < MEMORY_BOUND_MIB, "peak RSS {peak} MiB");
    // End of input stops the daemon cleanly.
    drop(kiosk.child.stdin.take());
    assert!(kiosk.child.wait().unwrap().success());
}
