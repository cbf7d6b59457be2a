//! The central service made safe to deploy (issue 14), against the real
//! server on 127.0.0.1: every endpoint with every role; idle and half-open
//! connections; the connection limit; write rate limits; the event-stream
//! cap; body and request limits; async workers never blocked by SQLite;
//! booking and check-in rules; `reset` for a log older than the retained
//! one; pruning; loops that do not spin; private files; and the `token`
//! commands and old-config migration through the real binary.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use antrean_central::auth::Role;
use antrean_central::keys::KeyStore;
use antrean_central::store::Store;
use antrean_central::{maintenance, serve, Central, CentralSettings};
use antrean_core::api::{BookingRequest, CheckinRequest};
use antrean_core::sse::{SseItem, SseParser};
use antrean_host::clock::Clock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{wait_for, LIMIT, NOW, OFFICE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TODAY: &str = "2024-05-08";

/// The tokens of the role matrix, one per kind of caller.
const KIOSK: &str = "matrix-kiosk-lobby-1-token";
const KIOSK_2: &str = "matrix-kiosk-lobby-2-token";
const BOARD: &str = "matrix-board-token-000001";
const BOOKING: &str = "matrix-booking-token-00001";
const STAFF: &str = "matrix-staff-token-0000001";
const ADMIN: &str = "matrix-admin-token-0000001";
const ROOT: &str = "matrix-admin-all-offices-1";
const OTHER_STAFF: &str = "matrix-bekasi-staff-token";
const OTHER_KIOSK: &str = "matrix-bekasi-kiosk-token";
const REVOKED: &str = "matrix-revoked-staff-token";

/// A central service in this process, with its settings changed by `tune`.
struct Server {
    central: Central,
    addr: std::net::SocketAddr,
    base: String,
    http: reqwest::Client,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn start(tune: impl FnOnce(&mut CentralSettings)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.sqlite3");
    let mut settings = CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor");
    for s in &mut settings.sessions {
        s.quota = 500;
    }
    settings.ping_every = Duration::from_millis(200);
    tune(&mut settings);
    let clock = Clock::starting_at(chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc());
    let central = Central::new(
        settings,
        Store::open(&db).unwrap(),
        KeyStore::ephemeral("k-test"),
        clock,
    );
    for (secret, role, office, kiosk) in [
        (KIOSK, Role::Kiosk, OFFICE, Some("lobby-1")),
        (KIOSK_2, Role::Kiosk, OFFICE, Some("lobby-2")),
        (BOARD, Role::Board, OFFICE, None),
        (BOOKING, Role::Booking, OFFICE, None),
        (STAFF, Role::Staff, OFFICE, None),
        (ADMIN, Role::Admin, OFFICE, None),
        (ROOT, Role::Admin, "*", None),
        (OTHER_STAFF, Role::Staff, "kota-bekasi", None),
        (OTHER_KIOSK, Role::Kiosk, "kota-bekasi", Some("lobby-1")),
        (REVOKED, Role::Staff, OFFICE, None),
    ] {
        central
            .import_token(secret, role, office, kiosk, None)
            .unwrap();
    }
    let revoked = central
        .tokens()
        .unwrap()
        .into_iter()
        .last()
        .expect("the revoked token's row")
        .id;
    central.revoke_token(revoked).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, central.clone(), std::future::pending()));
    Server {
        central,
        addr,
        base: format!("http://{addr}/v1/offices/{OFFICE}"),
        http: reqwest::Client::new(),
        db,
        _dir: dir,
    }
}

impl Server {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        // The staff page's files are at the root; the API under the office.
        let url = if path == "/" || path.starts_with("/staff.") {
            format!("http://{}{path}", self.addr)
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.http.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let resp = self.send(method, path, Some(token), body).await;
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Books a place through the service's own API (no HTTP).
    fn book(&self, slot: &str) -> (String, String) {
        let b = self
            .central
            .book(&BookingRequest {
                date: TODAY.into(),
                slot: slot.into(),
                service: "KK".into(),
                name: None,
            })
            .unwrap();
        (b.booking, b.number)
    }

    /// A booking checked in and called at `counter`.
    fn serving_at(&self, counter: &str) {
        let (booking, number) = self.book("09:00-10:00");
        self.central
            .checkin(&CheckinRequest {
                booking,
                number,
                kiosk: "lobby-1".into(),
                checked_in_at: NOW.into(),
                offline: false,
            })
            .unwrap();
        self.central.next(counter).unwrap().expect("a call");
    }
}

/// One cell's expected class: 2xx, 401 or 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Ok,
    Unauthorized,
    Forbidden,
}

fn class(status: StatusCode) -> Option<Want> {
    match status.as_u16() {
        200..=299 => Some(Want::Ok),
        401 => Some(Want::Unauthorized),
        403 => Some(Want::Forbidden),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_with_every_role() {
    let s = start(|_| {}).await;
    // Columns: who calls.
    let callers: [(&str, Option<&str>); 12] = [
        ("no token", None),
        ("wrong token", Some("not-a-token-of-this-service")),
        ("revoked", Some(REVOKED)),
        ("kiosk lobby-1", Some(KIOSK)),
        ("kiosk lobby-2", Some(KIOSK_2)),
        ("board", Some(BOARD)),
        ("booking", Some(BOOKING)),
        ("staff", Some(STAFF)),
        ("admin", Some(ADMIN)),
        ("admin *", Some(ROOT)),
        ("other office's staff", Some(OTHER_STAFF)),
        ("other office's kiosk", Some(OTHER_KIOSK)),
    ];
    // Rows: what is called. `k` = 2xx, `u` = 401, `f` = 403, in the
    // columns' order. The setup makes a 2xx possible for every caller
    // the role table allows.
    let rows: [(&str, &str); 15] = [
        ("GET manifest", "uuukkfffkkff"),
        ("GET board", "uuukkkfkkkff"),
        ("GET events", "uuukkkfkkkff"),
        ("POST checkins (kiosk lobby-1)", "uuukffffkkff"),
        ("PUT kiosks/lobby-1/health", "uuukffffkkff"),
        ("POST bookings", "uuufffkfkkff"),
        ("POST bookings/{b}/cancel", "uuufffkfkkff"),
        ("POST counters/1/next", "uuuffffkkkff"),
        ("POST counters/1/recall", "uuuffffkkkff"),
        ("POST counters/1/done", "uuuffffkkkff"),
        ("POST counters/1/skip", "uuuffffkkkff"),
        ("POST notice", "uuuffffkkkff"),
        ("GET staff", "uuuffffkkkff"),
        ("GET / (staff page)", "kkkkkkkkkkkk"),
        ("GET /staff.js", "kkkkkkkkkkkk"),
    ];
    let mut failures = Vec::new();
    for (what, want) in rows {
        assert_eq!(want.len(), callers.len(), "{what}");
        for ((who, token), w) in callers.iter().zip(want.chars()) {
            let want = match w {
                'k' => Want::Ok,
                'u' => Want::Unauthorized,
                _ => Want::Forbidden,
            };
            // Fresh state for this cell.
            let (method, path, body) = match what {
                "GET manifest" => ("GET", "/manifest".to_string(), None),
                "GET board" => ("GET", "/board".into(), None),
                "GET events" => ("GET", "/events".into(), None),
                "POST checkins (kiosk lobby-1)" => {
                    let (b, n) = s.book("09:00-10:00");
                    (
                        "POST",
                        "/checkins".into(),
                        Some(json!({"booking": b, "number": n, "kiosk": "lobby-1",
                                    "checked_in_at": NOW, "offline": false})),
                    )
                }
                "PUT kiosks/lobby-1/health" => (
                    "PUT",
                    "/kiosks/lobby-1/health".into(),
                    Some(json!({"at": NOW, "version": "0.3.0",
                                "printer": {"state": "ok", "detail": null},
                                "pending_checkins": 0, "last_event_seq": 0})),
                ),
                "POST bookings" => (
                    "POST",
                    "/bookings".into(),
                    Some(json!({"date": TODAY, "slot": "10:00-11:00", "service": "KK"})),
                ),
                "POST bookings/{b}/cancel" => {
                    let (b, _) = s.book("11:00-12:00");
                    ("POST", format!("/bookings/{b}/cancel"), None)
                }
                "POST counters/1/next" => ("POST", "/counters/1/next".into(), None),
                w if w.starts_with("POST counters/1/") => {
                    s.serving_at("1");
                    (
                        "POST",
                        w.trim_start_matches("POST ")
                            .replace("counters", "/counters"),
                        None,
                    )
                }
                "POST notice" => ("POST", "/notice".into(), Some(json!({"text": "Istirahat"}))),
                "GET staff" => ("GET", "/staff".into(), None),
                "GET / (staff page)" => ("GET", "/".into(), None),
                "GET /staff.js" => ("GET", "/staff.js".into(), None),
                other => unreachable!("{other}"),
            };
            let resp = s.send(method, &path, *token, body).await;
            let status = resp.status();
            let got = class(status);
            if got != Some(want) {
                let text = resp.text().await.unwrap_or_default();
                failures.push(format!("{what} as {who}: {status} {text}, wanted {want:?}"));
                continue;
            }
            if want != Want::Ok {
                let v: Value = resp.json().await.unwrap();
                let code = if want == Want::Unauthorized {
                    "unauthorized"
                } else {
                    "forbidden"
                };
                assert_eq!(v["error"], code, "{what} as {who}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Opens `n` TCP connections that never finish a request: half of them
/// send the start of a request head, half send nothing.
async fn idle_connections(addr: std::net::SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            c.write_all(b"GET /v1/offices/kota-bogor/board HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        out.push(c);
    }
    out
}

/// True once the server closed `c` (EOF or reset).
async fn closed_by_server(c: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before the close: read on to the EOF.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_do_not_stop_a_real_request() {
    let header_timeout = Duration::from_secs(2);
    let s = start(|st| st.limits.header_read_timeout = header_timeout).await;
    let started = Instant::now();
    let mut idle = idle_connections(s.addr, 1000).await;
    // A real request, on a new connection, while all of them are open.
    let t = Instant::now();
    let (status, _) = s.call("GET", "/board", KIOSK, None).await;
    let took = t.elapsed();
    eprintln!("a real request beside 1000 idle connections: {took:?}");
    assert_eq!(status, StatusCode::OK);
    assert!(
        took < Duration::from_secs(1),
        "a real request took {took:?} beside 1000 idle connections"
    );
    // The idle ones are closed by the header-read timeout.
    let mut still_open = 0;
    for c in &mut idle {
        if !closed_by_server(c, Duration::from_secs(20)).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "idle connections the server kept open");
    assert!(
        started.elapsed() >= header_timeout,
        "closed by the header-read timeout, not at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_new_connections_until_one_closes() {
    let s = start(|st| {
        st.limits.max_connections = 4;
        st.limits.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut idle = idle_connections(s.addr, 4).await;
    let http = s.http.clone();
    let url = format!("{}/board", s.base);
    let mut fifth = tokio::spawn(async move {
        http.get(url)
            .bearer_auth(KIOSK)
            .send()
            .await
            .map(|r| r.status())
    });
    // Beyond the limit: not served while the four are open ...
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), &mut fifth)
            .await
            .is_err(),
        "a fifth connection was served beside four open ones (limit 4)"
    );
    // ... and served as soon as one of them goes.
    drop(idle.pop());
    let status = tokio::time::timeout(LIMIT, fifth)
        .await
        .expect("served once a connection closed")
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_rate_limited_per_token_then_recover() {
    let s = start(|st| {
        st.limits.writes_per_minute = 60;
        st.limits.write_burst = 3;
    })
    .await;
    let notice = || Some(json!({"text": "Istirahat"}));
    for i in 0..3 {
        let (st, v) = s.call("POST", "/notice", STAFF, notice()).await;
        assert_eq!(st, StatusCode::NO_CONTENT, "write {i}: {v}");
    }
    let resp = s.send("POST", "/notice", Some(STAFF), notice()).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "rate_limited");
    // Reads are not limited; another token has its own budget.
    assert_eq!(s.call("GET", "/board", STAFF, None).await.0, StatusCode::OK);
    assert_eq!(
        s.call("POST", "/notice", ADMIN, notice()).await.0,
        StatusCode::NO_CONTENT
    );
    // After the wait it told, the token may write again.
    let start = Instant::now();
    loop {
        let (st, _) = s.call("POST", "/notice", STAFF, notice()).await;
        if st == StatusCode::NO_CONTENT {
            break;
        }
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
        assert!(start.elapsed() < LIMIT, "the rate limit never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_per_office_are_capped() {
    let s = start(|st| st.limits.max_streams_per_office = 2).await;
    let a = s.send("GET", "/events", Some(KIOSK), None).await;
    let b = s.send("GET", "/events", Some(BOARD), None).await;
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let third = s.send("GET", "/events", Some(STAFF), None).await;
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(third.headers().contains_key("retry-after"));
    assert_eq!(
        third.json::<Value>().await.unwrap()["error"],
        "too_many_streams"
    );
    // A stream that goes gives its place back.
    drop(a);
    let start = Instant::now();
    loop {
        let r = s.send("GET", "/events", Some(STAFF), None).await;
        if r.status() == StatusCode::OK {
            break;
        }
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            start.elapsed() < LIMIT,
            "the closed stream's slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_slow_requests_are_bounded_and_sqlite_never_blocks_the_workers() {
    let s = start(|st| st.limits.request_timeout = Duration::from_secs(1)).await;
    // A body over the limit (64 KiB by default).
    let big = json!({"text": "x".repeat(100 * 1024)});
    assert_eq!(
        s.send("POST", "/notice", Some(STAFF), Some(big))
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Another process holds the database's write lock: writes wait on
    // SQLite's busy timeout (5 s) on the blocking pool.
    let lock = rusqlite::Connection::open(&s.db).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut writes = Vec::new();
    for _ in 0..4 {
        let http = s.http.clone();
        let url = format!("{}/notice", s.base);
        writes.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(ADMIN)
                .json(&json!({"text": "Istirahat"}))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    // More stuck requests than async workers (2), yet the server answers
    // what needs no database at once.
    let t = Instant::now();
    let page = s.send("GET", "/staff.js", None, None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "a static file took {:?} while SQLite was busy",
        t.elapsed()
    );
    // The stuck writes end with the request timeout, not after minutes.
    for w in writes {
        let status = tokio::time::timeout(LIMIT, w)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    lock.execute_batch("ROLLBACK").unwrap();
    wait_for_async(|| async {
        (s.call("POST", "/notice", ADMIN, Some(json!({"text": null})))
            .await
            .0
            == StatusCode::NO_CONTENT)
            .then_some(())
    })
    .await;
}

/// Polls an async condition every 50 ms until it holds (or panics after LIMIT).
async fn wait_for_async<T, F: std::future::Future<Output = Option<T>>>(
    mut f: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < LIMIT, "condition never held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_rules_horizon_year_codes_and_lengths() {
    let s = start(|_| {}).await;
    let book = |date: &str, name: Option<String>| {
        let mut b = json!({"date": date, "slot": "10:00-11:00", "service": "KK"});
        if let Some(n) = name {
            b["name"] = Value::String(n);
        }
        Some(b)
    };
    // (date, name, status, error)
    for (date, name, status, error) in [
        (TODAY, None, 201, None),
        ("2024-06-07", None, 201, None), // today + 30 days
        ("2024-06-08", None, 422, Some("too_far_ahead")),
        ("2124-05-08", None, 422, Some("too_far_ahead")), // 100 years ahead
        ("2024-05-07", None, 422, Some("expired")),
        (TODAY, Some("a".repeat(100)), 201, None),
        (TODAY, Some("a".repeat(101)), 422, Some("invalid_request")),
        (
            TODAY,
            Some("Siti\u{7}Rahma".to_string()),
            422,
            Some("invalid_request"),
        ),
    ] {
        let (st, v) = s
            .call("POST", "/bookings", BOOKING, book(date, name.clone()))
            .await;
        assert_eq!(st.as_u16(), status, "{date} {name:?}: {v}");
        if let Some(e) = error {
            assert_eq!(v["error"], e, "{date}");
        } else {
            let code = v["booking"].as_str().unwrap();
            assert!(
                code.starts_with(&format!("BGR-{}-", date.replace('-', ""))),
                "a four-digit year in {code}"
            );
        }
    }
    // A notice and ids are bounded.
    for (text, status) in [("x".repeat(200), 204), ("x".repeat(201), 422)] {
        let (st, _) = s
            .call("POST", "/notice", STAFF, Some(json!({"text": text})))
            .await;
        assert_eq!(st.as_u16(), status, "notice of {} chars", text.len());
    }
    let (b, n) = s.book("09:00-10:00");
    let long_kiosk = "k".repeat(20_000);
    let (st, v) = s
        .call(
            "POST",
            "/checkins",
            ADMIN,
            Some(json!({"booking": b, "number": n, "kiosk": long_kiosk, "checked_in_at": NOW})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, _) = s
        .call(
            "PUT",
            &format!("/kiosks/{}/health", "k".repeat(65)),
            ADMIN,
            Some(json!({"at": NOW, "version": "1", "printer": {"state": "ok", "detail": null}, "pending_checkins": 0})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing of it was stored.
    let db = rusqlite::Connection::open(&s.db).unwrap();
    let longest: i64 = db
        .query_row(
            "SELECT COALESCE(MAX(LENGTH(kiosk)), 0) FROM bookings",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(longest, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_of_dates_a_century_apart_do_not_collide() {
    let s = start(|st| st.rules.horizon_days = 40_000).await;
    let mut codes = Vec::new();
    for date in [TODAY, "2124-05-08"] {
        let (st, v) = s
            .call(
                "POST",
                "/bookings",
                BOOKING,
                Some(json!({"date": date, "slot": "10:00-11:00", "service": "KK"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{date}: {v}");
        codes.push(v["booking"].as_str().unwrap().to_string());
    }
    assert_eq!(codes, ["BGR-20240508-00001", "BGR-21240508-00001"]);
    for c in &codes {
        assert!(antrean_core::booking::is_booking_code(c), "{c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkin_times_are_bounded_and_a_422_tells_no_number() {
    let s = start(|_| {}).await;
    let at = |hhmm: &str| format!("{TODAY}T{hhmm}:00+07:00");
    // (slot, checked_in_at, offline, status, error). The service's clock
    // is at 09:20: nothing can have happened later than that (plus 5 min
    // skew); earlier times must fall inside the session's window.
    for (slot, when, offline, status, error) in [
        ("09:00-10:00", at("09:20"), false, 201, None),
        (
            "09:00-10:00",
            at("09:50"),
            false,
            422,
            Some("invalid_format"),
        ), // 30 min ahead
        (
            "09:00-10:00",
            at("09:50"),
            true,
            422,
            Some("invalid_format"),
        ), // offline, future
        ("09:00-10:00", at("09:24"), false, 201, None), // ahead, within skew
        ("09:00-10:00", at("08:50"), false, 201, None), // a resend of a slow answer
        ("09:00-10:00", at("08:35"), true, 201, None),  // offline, earlier
        ("13:00-14:00", at("09:20"), false, 422, Some("too_early")),
        ("08:00-09:00", at("07:00"), true, 422, Some("too_early")),
        ("08:00-09:00", at("09:19"), false, 201, None),
        (
            "08:00-09:00",
            "2024-05-07T08:30:00+07:00".to_string(),
            true,
            422,
            Some("not_today"),
        ),
    ] {
        let (b, n) = s.book(slot);
        let (st, v) = s
            .call(
                "POST",
                "/checkins",
                KIOSK,
                Some(json!({"booking": b, "number": n, "kiosk": "lobby-1",
                            "checked_in_at": when, "offline": offline})),
            )
            .await;
        assert_eq!(
            st.as_u16(),
            status,
            "{slot} at {when} offline={offline}: {v}"
        );
        assert_eq!(v["error"].as_str(), error, "{slot} at {when}");
    }
    // A wrong number: refused without telling the right one.
    let (b, n) = s.book("09:00-10:00");
    let (st, v) = s
        .call(
            "POST",
            "/checkins",
            KIOSK,
            Some(
                json!({"booking": b, "number": "Z-999", "kiosk": "lobby-1", "checked_in_at": NOW}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!v.to_string().contains(&n), "{v} tells {n}");
}

/// Reads SSE messages from `resp` until `n` arrived: (id, event).
async fn events(resp: &mut reqwest::Response, n: usize) -> Vec<(u64, String)> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(LIMIT, resp.chunk())
            .await
            .expect("events arrive")
            .unwrap()
            .expect("stream open");
        for item in parser.push(&chunk) {
            if let SseItem::Message(m) = item {
                out.push((m.id.unwrap().parse().unwrap(), m.event.clone()));
            }
        }
    }
    out
}

/// Puts board events of older days straight into a new database.
fn old_events(db: &Path, rows: &[(u64, &str)]) {
    let s = Store::open(db).unwrap();
    drop(s);
    let c = rusqlite::Connection::open(db).unwrap();
    for (seq, date) in rows {
        c.execute(
            "INSERT INTO events (seq, date, kind, data) VALUES (?1, ?2, 'notice', ?3)",
            rusqlite::params![seq, date, json!({"seq": seq, "text": null}).to_string()],
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
    let clock = Clock::starting_at(chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc());
    let central = Central::new(
        settings,
        Store::open(&db).unwrap(),
        KeyStore::ephemeral("k"),
        clock,
    );
    central
        .import_token(KIOSK, Role::Kiosk, OFFICE, Some("lobby-1"), None)
        .unwrap();
    // Today's first change: a `reset` (seq 5, the day changed), then it.
    central.notice(Some("Istirahat".into())).unwrap();
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
        let got = events(&mut resp, want.len()).await;
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
    central.notice(None).unwrap();
    assert_eq!(central.seq().unwrap(), 7);
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
    let clock = Clock::starting_at(chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc());
    let central = Central::new(
        settings,
        Store::open(&db).unwrap(),
        KeyStore::ephemeral("k"),
        clock,
    );
    assert_eq!(
        central.prune_events().unwrap(),
        1,
        "all old, the newest stays"
    );
    assert_eq!(central.seq().unwrap(), 2);
    // The database fails from now on.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DROP TABLE events")
        .unwrap();
    assert!(central.prune_events().is_err());
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

#[test]
fn database_and_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.sqlite3");
    let store = Store::open(&db).unwrap();
    store
        .conn()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for f in [
        "central.sqlite3",
        "central.sqlite3-wal",
        "central.sqlite3-shm",
    ] {
        let p = dir.path().join(f);
        assert!(p.exists(), "{f}");
        assert_eq!(mode(&p), 0o600, "{f}");
    }
    drop(store);
    // Readable by others: refused, with the fix in the message.
    for f in ["central.sqlite3", "central.sqlite3-wal"] {
        let p = dir.path().join(f);
        if !p.exists() {
            // SQLite removed the empty WAL at close: an empty one is valid.
            std::fs::write(&p, b"").unwrap();
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Store::open(&db).err().expect("refused").to_string();
        assert!(e.contains(&format!("chmod 600 {}", p.display())), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Store::open(&db).unwrap();
    // Key files.
    let keys = dir.path().join("keys");
    KeyStore::generate(&keys, "k2026a").unwrap();
    assert!(KeyStore::load(&keys).is_ok());
    let key = keys.join("k2026a.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = KeyStore::load(&keys).err().expect("refused").to_string();
    assert!(e.contains("chmod 600") && e.contains("k2026a.key"), "{e}");
}

/// `antrean-central ARGS`: (exit success, stdout, stderr).
fn central_cmd(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_antrean-central"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A configuration for the real binary in `dir`, with `extra` in [server].
fn central_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let config = dir.join("central.toml");
    std::fs::write(
        &config,
        format!(
            "[office]\nid = \"{OFFICE}\"\nname = \"Disdukcapil Kota Bogor\"\n[server]\ndb = \"{}\"\nkey_dir = \"{}\"\n{extra}\n",
            dir.join("db/central.sqlite3").display(),
            dir.join("keys").display()
        ),
    )
    .unwrap();
    config
}

/// `antrean-central serve` on a free port; its log lines and address.
struct Serving {
    child: std::process::Child,
    addr: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_binary(config: &Path, extra_args: &[&str]) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_antrean-central"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra_args)
        .env("ANTREAN_NOW", NOW)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push(line);
            }
        });
    }
    let addr = wait_for("antrean-central to listen", LIMIT, || {
        log.lock().unwrap().iter().find_map(|l| {
            l.strip_prefix("antrean-central listening on http://")
                .map(str::to_string)
        })
    });
    Serving { child, addr, log }
}

fn get_status(addr: &str, path: &str, token: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(format!("http://{addr}/v1/offices/{OFFICE}{path}"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn token_add_list_revoke_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let config = central_config(dir.path(), "");
    let cfg = config.to_str().unwrap();
    // Bad requests are refused with what to do.
    for (args, says) in [
        (
            vec!["--role", "root", "--office", OFFICE],
            "use kiosk, board",
        ),
        (vec!["--role", "kiosk", "--office", OFFICE], "needs --kiosk"),
        (
            vec!["--role", "staff", "--office", "kota-bekasi"],
            "holds office",
        ),
        (vec!["--role", "staff", "--office", "*"], "only an admin"),
    ] {
        let mut a = vec!["token", "add", "--config", cfg];
        a.extend(args);
        let (ok, _, err) = central_cmd(&a, None);
        assert!(!ok && err.contains(says), "{a:?}: {err}");
    }
    let (ok, out, err) = central_cmd(
        &[
            "token", "add", "--config", cfg, "--role", "staff", "--office", OFFICE, "--label",
            "loket 1",
        ],
        None,
    );
    assert!(ok, "{err}");
    // The token, once, alone on stdout; the note on stderr.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let staff = lines[0].to_string();
    assert!(staff.starts_with("act1_") && staff.len() == 48, "{staff}");
    assert!(err.contains("shown once"), "{err}");
    let (ok, kiosk, _) = central_cmd(
        &[
            "token", "add", "--config", cfg, "--role", "kiosk", "--office", OFFICE, "--kiosk",
            "lobby-1",
        ],
        None,
    );
    assert!(ok);
    let kiosk = kiosk.trim().to_string();
    // The database has no secret in it.
    let db = std::fs::read(dir.path().join("db/central.sqlite3")).unwrap();
    let wal = std::fs::read(dir.path().join("db/central.sqlite3-wal")).unwrap_or_default();
    for secret in [&staff, &kiosk] {
        let needle = secret.as_bytes();
        assert!(
            !db.windows(needle.len()).any(|w| w == needle)
                && !wal.windows(needle.len()).any(|w| w == needle),
            "a token stored in clear"
        );
    }
    // list: ids, roles, prefixes, never the tokens.
    let (ok, list, _) = central_cmd(&["token", "list", "--config", cfg], None);
    assert!(ok);
    assert!(!list.contains(&staff) && !list.contains(&kiosk), "{list}");
    let row = |role: &str| -> Vec<String> {
        list.lines()
            .find(|l| l.split_whitespace().nth(2) == Some(role))
            .unwrap_or_else(|| panic!("no {role} row in {list}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let staff_row = row("staff");
    assert_eq!(staff_row[1], format!("{}…", &staff[..9]));
    assert_eq!(
        (staff_row[3].as_str(), staff_row[4].as_str()),
        (OFFICE, "-")
    );
    assert_eq!(row("kiosk")[4], "lobby-1");
    // The service takes them, each within its role.
    let server = serve_binary(&config, &[]);
    assert_eq!(get_status(&server.addr, "/staff", &staff), 200);
    assert_eq!(get_status(&server.addr, "/staff", &kiosk), 403);
    assert_eq!(get_status(&server.addr, "/manifest", &kiosk), 200);
    // Revoked while the service runs: 401 at once.
    let (ok, out, err) = central_cmd(&["token", "revoke", "--config", cfg, &staff_row[0]], None);
    assert!(ok, "{err}");
    assert!(out.contains("revoked"));
    assert_eq!(get_status(&server.addr, "/staff", &staff), 401);
    assert_eq!(get_status(&server.addr, "/manifest", &kiosk), 200);
    let (ok, list, _) = central_cmd(&["token", "list", "--config", cfg], None);
    assert!(ok);
    assert_ne!(
        row_of(&list, "staff")[6],
        "-",
        "the revocation's time is listed"
    );
    let (ok, _, err) = central_cmd(&["token", "revoke", "--config", cfg, "999"], None);
    assert!(!ok && err.contains("token list"), "{err}");
    assert!(
        !server
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(&staff) || l.contains(&kiosk)),
        "a token in the service's log"
    );
}

fn row_of(list: &str, role: &str) -> Vec<String> {
    list.lines()
        .find(|l| l.split_whitespace().nth(2) == Some(role))
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn old_plaintext_tokens_are_migrated_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let old = "old-plaintext-token-everything";
    let config = central_config(dir.path(), &format!("tokens = [\"{old}\"]"));
    let cfg = config.to_str().unwrap();
    // serve refuses, and says which commands to run.
    let (ok, _, err) = central_cmd(&["serve", "--config", cfg, "--listen", "127.0.0.1:0"], None);
    assert!(!ok, "serve started with plaintext tokens");
    for says in [
        "1 plaintext token(s)",
        &format!("antrean-central token import --config {cfg} --from-config 1 --role kiosk --office {OFFICE} --kiosk"),
        "token add",
        "delete `tokens` and `token_file`",
    ] {
        assert!(err.contains(says), "{says:?} missing from: {err}");
    }
    assert!(!err.contains(old), "the message shows the old token");
    // Import it as the kiosk's token, as the message says.
    let (ok, out, err) = central_cmd(
        &[
            "token",
            "import",
            "--config",
            cfg,
            "--from-config",
            "1",
            "--role",
            "kiosk",
            "--office",
            OFFICE,
            "--kiosk",
            "lobby-1",
        ],
        None,
    );
    assert!(ok && out.contains("imported"), "{out}{err}");
    let (ok, _, err) = central_cmd(
        &[
            "token",
            "import",
            "--config",
            cfg,
            "--from-config",
            "1",
            "--role",
            "staff",
            "--office",
            OFFICE,
        ],
        None,
    );
    assert!(!ok && err.contains("already"), "imported twice: {err}");
    let (ok, _, err) = central_cmd(
        &[
            "token", "import", "--config", cfg, "--role", "staff", "--office", OFFICE,
        ],
        Some("short\n"),
    );
    assert!(!ok && err.contains("16-256"), "{err}");
    // Without the old key the service starts; the old token keeps working
    // for what a kiosk does, and only that.
    central_config(dir.path(), "");
    let server = serve_binary(&config, &[]);
    assert_eq!(get_status(&server.addr, "/manifest", old), 200);
    assert_eq!(get_status(&server.addr, "/staff", old), 403);
}

/// CPU time (user + system) of process `pid`, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 (1-based), after "pid (comm)".
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

#[test]
fn the_services_loops_do_not_spin_when_the_database_fails() {
    let dir = tempfile::tempdir().unwrap();
    let config = central_config(dir.path(), "maintenance_seconds = 1");
    let server = serve_binary(&config, &["--demo", "--simulate-counters", "1"]);
    wait_for("the first maintenance round", LIMIT, || {
        dir.path()
            .join("db/central.sqlite3-wal")
            .exists()
            .then_some(())
    });
    // Take the tables away under the running service: every loop's
    // database work fails from now on.
    rusqlite::Connection::open(dir.path().join("db/central.sqlite3"))
        .unwrap()
        .execute_batch("DROP TABLE events; DROP TABLE bookings;")
        .unwrap();
    let pid = server.child.id();
    let (cpu0, t0) = (cpu_time(pid), Instant::now());
    // An observation window, not a wait for something.
    std::thread::sleep(Duration::from_secs(5));
    let (cpu, wall) = (cpu_time(pid) - cpu0, t0.elapsed());
    eprintln!("antrean-central with a failing database: {cpu:?} CPU in {wall:?}");
    assert!(
        cpu < wall / 10,
        "antrean-central used {cpu:?} of CPU in {wall:?} with a failing database"
    );
    let failures = server
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("pruning board events failed"))
        .count();
    assert!(
        (1..=8).contains(&failures),
        "{failures} failed pruning rounds in {wall:?} (one a second)"
    );
}
