//! Connection hygiene against the service on 127.0.0.1: idle and
//! half-open connections, the connection limit, write rate limits, the
//! event-stream cap, body and request limits, and async workers that a
//! locked database never blocks.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::service::*;
use crate::support::wait::{wait_for_async, LIMIT};

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
    wait_for_async("a write after the lock is gone", || async {
        (s.call("POST", "/notice", ADMIN, Some(json!({"text": null})))
            .await
            .0
            == StatusCode::NO_CONTENT)
            .then_some(())
    })
    .await;
}
