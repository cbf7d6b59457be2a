//! The kiosk daemon (the real binary) started while the central service
//! cannot be reached, and its scanner and printer unplugged: it must sit
//! quietly. Several kiosks run at once for 60 s, each against another kind
//! of unreachable service: connection refused, a listener that accepts and
//! never answers, a listener that never accepts (its backlog full, so
//! connections hang), one that answers 503 to everything but the manifest
//! and the board (so the event stream is retried), one that answers 401 to
//! everything, and one whose every event stream opens with a gap and ends
//! (so the board is fetched again and again). Each must use under 1% of a CPU (utime + stime from
//! /proc) and make no more than a handful of attempts per retrying task
//! per minute, counted by the kiosk's own `antrean_attempts_total` on its
//! loopback `/metrics`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use antrean_testkit::prelude::*;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;

const WINDOW: Duration = Duration::from_secs(60);

/// CPU seconds (user + system) the process used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which ends at the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// `antrean_attempts_total` by (task, result).
fn attempts(metrics_addr: &str) -> BTreeMap<(String, String), u64> {
    let text = reqwest::blocking::get(format!("http://{metrics_addr}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("antrean_attempts_total{task=\""))
        .filter_map(|l| {
            let (task, rest) = l.split_once("\",result=\"")?;
            let (result, n) = rest.split_once("\"} ")?;
            Some((
                (task.to_string(), result.to_string()),
                n.trim().parse().ok()?,
            ))
        })
        .collect()
}

fn by_task(a: &BTreeMap<(String, String), u64>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for ((task, _), n) in a {
        *out.entry(task.clone()).or_default() += n;
    }
    out
}

/// A TCP listener with a backlog of 0 that never accepts; its queue is
/// filled, so further connections hang in SYN until they time out.
fn never_accepting() -> (std::os::fd::OwnedFd, SocketAddr, Vec<TcpStream>) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    use std::os::fd::AsRawFd;
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
    addr.sin_port = 0;
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    assert_eq!(
        unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const _ as *const libc::sockaddr,
                len,
            )
        },
        0
    );
    assert_eq!(unsafe { libc::listen(fd.as_raw_fd(), 0) }, 0);
    let mut bound: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut blen = len;
    unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            &mut bound as *mut _ as *mut libc::sockaddr,
            &mut blen,
        )
    };
    let sock: SocketAddr = format!("127.0.0.1:{}", u16::from_be(bound.sin_port))
        .parse()
        .unwrap();
    // Fill the accept queue; the last tries already hang and time out.
    let fillers = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&sock, Duration::from_millis(300)).ok())
        .collect();
    (fd, sock, fillers)
}

/// Accepts every connection and never says a word.
fn silent() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::Relaxed);
            held.push(conn);
        }
    });
    (addr, accepted)
}

/// An axum service on 127.0.0.1 answering with `app`.
fn serve(rt: &tokio::runtime::Runtime, app: Router) -> SocketAddr {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    addr
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "0")],
        "{\"error\":\"unavailable\",\"message\":\"maintenance\"}",
    )
        .into_response()
}

/// Manifest and board fine; events, check-ins and health 503 (`Retry-After: 0`).
fn half_broken() -> Router {
    Router::new()
        .route(
            "/v1/offices/:office/manifest",
            get(|| async {
                axum::Json(serde_json::json!({
                    "office": OFFICE, "date": "2024-05-08", "timezone": "Asia/Jakarta",
                    "sessions": [], "services": [], "counters": [], "keys": [], "bookings": []
                }))
            }),
        )
        .route(
            "/v1/offices/:office/board",
            get(|| async { axum::Json(serde_json::json!({"seq": 0})) }),
        )
        .route(
            "/v1/offices/:office/events",
            get(|| async { unavailable() }),
        )
        .route(
            "/v1/offices/:office/checkins",
            post(|| async { unavailable() }),
        )
        .route(
            "/v1/offices/:office/kiosks/:kiosk/health",
            put(|| async { unavailable() }),
        )
}

/// Everything answers, but every event stream opens with a gap in `seq`
/// and ends: the kiosk must fetch the board again, and not in a loop.
fn gappy() -> Router {
    Router::new()
        .route(
            "/v1/offices/:office/manifest",
            get(|| async {
                axum::Json(serde_json::json!({
                    "office": OFFICE, "date": "2024-05-08", "timezone": "Asia/Jakarta",
                    "sessions": [], "services": [], "counters": [], "keys": [], "bookings": []
                }))
            }),
        )
        .route(
            "/v1/offices/:office/board",
            get(|| async { axum::Json(serde_json::json!({"seq": 0})) }),
        )
        .route(
            "/v1/offices/:office/events",
            get(|| async {
                (
                    [("content-type", "text/event-stream")],
                    "retry: 0\nid: 5\nevent: notice\ndata: {\"seq\":5,\"text\":null}\n\n",
                )
            }),
        )
        .route(
            "/v1/offices/:office/checkins",
            post(|body: axum::Json<serde_json::Value>| async move {
                (
                    StatusCode::CREATED,
                    axum::Json(serde_json::json!({"booking": body["booking"],
                        "number": body["number"], "status": "checked_in",
                        "checked_in_at": body["checked_in_at"]})),
                )
            }),
        )
        .route(
            "/v1/offices/:office/kiosks/:kiosk/health",
            put(|| async { StatusCode::NO_CONTENT }),
        )
}

fn unauthorized() -> Router {
    Router::new().fallback(|| async {
        (
            StatusCode::UNAUTHORIZED,
            "{\"error\":\"unauthorized\",\"message\":\"bad token\"}",
        )
    })
}

struct Kiosk {
    name: &'static str,
    _office: Office,
    daemon: DaemonProcess,
    metrics: String,
    /// Tasks that must have tried at least once.
    expect: &'static [&'static str],
}

/// A kiosk against `url`, scanner and printer unplugged, one check-in
/// waiting in its outbox, default retry settings.
fn kiosk(name: &'static str, url: &str, expect: &'static [&'static str]) -> Kiosk {
    let office = Office::new(&format!(
        "[central]\nurl = \"{url}\"\ntoken = \"tok\"\n\n[status]\nlisten = \"127.0.0.1:0\"\n"
    ));
    antrean_host::state_dir::prepare(&office.state_dir).unwrap();
    let journal = antrean_kiosk::journal::Journal::open(&office.state_dir).unwrap();
    let booking = antrean_core::booking::Booking {
        booking: "BGR-240508-00123".into(),
        number: "B-015".into(),
        date: chrono::NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
        slot: antrean_core::booking::Slot::parse("09:00-10:00").unwrap(),
        service: "KTP-EL".into(),
        masked_name: None,
    };
    let at = chrono::DateTime::parse_from_rfc3339(NOW).unwrap();
    assert!(journal.record_checkin(&booking, at, true).unwrap());
    drop(journal);
    let daemon = DaemonProcess::start(&office, &[]);
    let line = daemon.wait_log("status endpoint listening");
    let metrics = serde_json::from_str::<serde_json::Value>(&line).unwrap()["addr"]
        .as_str()
        .unwrap()
        .to_string();
    Kiosk {
        name,
        _office: office,
        daemon,
        metrics,
        expect,
    }
}

const CENTRAL: &[&str] = &["outbox", "manifest", "health", "board"];
const DEVICES: &[&str] = &["scanner_open", "printer_check"];

#[test]
fn an_unreachable_central_service_and_missing_devices_cost_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (silent_addr, silent_accepted) = silent();
    let (_queue, hanging_addr, _fillers) = never_accepting();
    let half = serve(&rt, half_broken());
    let denied = serve(&rt, unauthorized());
    let gaps = serve(&rt, gappy());
    let all: &[&str] = &[
        "outbox",
        "manifest",
        "health",
        "board",
        "events",
        "scanner_open",
        "printer_check",
    ];
    let kiosks = vec![
        kiosk("connection refused", &format!("http://{refused}"), CENTRAL),
        kiosk(
            "accepts, never answers",
            &format!("http://{silent_addr}"),
            CENTRAL,
        ),
        kiosk("never accepts", &format!("http://{hanging_addr}"), CENTRAL),
        kiosk("503 but manifest and board", &format!("http://{half}"), all),
        kiosk("401 to everything", &format!("http://{denied}"), CENTRAL),
        kiosk("a gap in every stream", &format!("http://{gaps}"), all),
    ];
    let start = Instant::now();
    let first: Vec<(f64, BTreeMap<String, u64>)> = kiosks
        .iter()
        .map(|k| {
            (
                cpu_seconds(k.daemon.child.id()),
                by_task(&attempts(&k.metrics)),
            )
        })
        .collect();
    // The measurement is over a fixed window: watch that nobody dies meanwhile.
    let mut half_way = None;
    while start.elapsed() < WINDOW {
        std::thread::sleep(Duration::from_millis(500));
        for k in &kiosks {
            assert!(
                std::fs::metadata(format!("/proc/{}", k.daemon.child.id())).is_ok(),
                "{} exited",
                k.name
            );
        }
        if half_way.is_none() && start.elapsed() >= WINDOW / 2 {
            half_way = Some(
                kiosks
                    .iter()
                    .map(|k| by_task(&attempts(&k.metrics)))
                    .collect::<Vec<_>>(),
            );
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let half_way = half_way.unwrap();
    let mut report = String::new();
    let mut failures = Vec::new();
    for (i, k) in kiosks.iter().enumerate() {
        let cpu = cpu_seconds(k.daemon.child.id()) - first[i].0;
        let share = cpu / elapsed;
        let end = attempts(&k.metrics);
        let totals = by_task(&end);
        report.push_str(&format!(
            "{:<28} cpu {:.2}% ({cpu:.2} s) attempts {end:?}\n",
            k.name,
            share * 100.0
        ));
        if share >= 0.01 {
            failures.push(format!("{}: {:.2}% CPU", k.name, share * 100.0));
        }
        for task in k.expect.iter().chain(DEVICES) {
            if totals.get(*task).copied().unwrap_or(0) == 0 {
                failures.push(format!("{}: {task} never tried", k.name));
            }
        }
        for (task, n) in &totals {
            let before = first[i].1.get(task).copied().unwrap_or(0);
            let mid = half_way[i].get(task).copied().unwrap_or(0);
            // Over the whole minute, the backoff's first quick steps included.
            if n - before > 14 {
                failures.push(format!(
                    "{}: {task} tried {} times in 60 s",
                    k.name,
                    n - before
                ));
            }
            // Once backed off: a handful a minute.
            if n - mid > 4 {
                failures.push(format!(
                    "{}: {task} tried {} times in the last 30 s",
                    k.name,
                    n - mid
                ));
            }
        }
    }
    // Independent of the kiosk's own counting: what the silent listener saw
    // (the health, manifest, outbox and board tasks, each stuck 10-30 s per try).
    let seen = silent_accepted.load(Ordering::Relaxed);
    report.push_str(&format!("silent listener accepted {seen} connections\n"));
    if seen > 4 * 14 {
        failures.push(format!("the silent listener accepted {seen} connections"));
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "{failures:#?}\n{report}");
}
