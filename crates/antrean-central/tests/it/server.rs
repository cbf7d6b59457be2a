//! The reference central service on 127.0.0.1, driven over real HTTP with
//! reqwest, on every back end: every endpoint's success and error codes,
//! idempotent check-ins, ETag, the event stream (live, replay, reset),
//! persistence across a restart, quota, calling order, and tokens the
//! kiosk core accepts.

use std::time::Duration;

use antrean_central::auth::Role;
use antrean_central::keys::KeyStore;
use antrean_central::{serve, Central, CentralSettings};
use antrean_core::api::{BookingResponse, CheckinResponse};
use antrean_core::checkin::{at_office, verify, Rules};
use antrean_core::events::BoardEvent;
use antrean_core::keys::{KeyRing, TrustedKey};
use antrean_core::sse::{SseItem, SseParser};
use antrean_host::clock::Clock;
use chrono::DateTime;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::postgres::cluster;
use crate::support::service::sqlite;
use crate::support::sse::read_events;
use crate::support::stores::{backends, test_postgres_options, Backend};

/// An admin token for every office: these tests drive every endpoint.
const TOKEN: &str = "central-server-test-token";
const NOW: &str = "2024-05-08T08:40:00+07:00";
const TODAY: &str = "2024-05-08";

struct Server {
    base: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Where a test's data lives: kept across a restart of the service.
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    fn fresh(backend: Backend, dir: &std::path::Path) -> Db {
        match backend {
            Backend::Sqlite => Db::Sqlite(dir.join("c.db")),
            Backend::Postgres => Db::Postgres(cluster().unwrap().fresh_database()),
        }
    }

    async fn open(&self) -> std::sync::Arc<dyn antrean_central::Store> {
        match self {
            Db::Sqlite(path) => sqlite(path),
            Db::Postgres(url) => std::sync::Arc::new(
                antrean_central::store::PostgresStore::connect(url, test_postgres_options())
                    .await
                    .unwrap(),
            ),
        }
    }
}

async fn start(db: &Db, keys: &std::path::Path, port: u16) -> Server {
    let mut settings = CentralSettings::standard("kota-bogor", "Disdukcapil Kota Bogor");
    settings.offices[0].sessions[0].quota = 3;
    settings.ping_every = Duration::from_millis(200);
    let clock = Clock::starting_at(DateTime::parse_from_rfc3339(NOW).unwrap().to_utc());
    if !keys.join("active").exists() {
        KeyStore::generate(keys, "k2024a").unwrap();
    }
    let central = Central::new(
        settings,
        db.open().await,
        KeyStore::load(keys).unwrap(),
        clock,
    );
    if central.tokens().await.unwrap().is_empty() {
        central
            .import_token(TOKEN, Role::Admin, "*", None, None)
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let base = format!(
        "http://{}/v1/offices/kota-bogor",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(serve(listener, central, async {
        let _ = rx.await;
    }));
    Server {
        base,
        http: reqwest::Client::new(),
        stop: Some(tx),
        task,
    }
}

impl Server {
    fn port(&self) -> u16 {
        self.base
            .split(':')
            .nth(2)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops even with open event streams")
            .unwrap()
            .unwrap();
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn book(&self, slot: &str, service: &str) -> BookingResponse {
        let (s, v) = self
            .post(
                "/bookings",
                json!({"date": TODAY, "slot": slot, "service": service, "name": "Siti Rahma"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        serde_json::from_value(v).unwrap()
    }

    async fn checkin(&self, b: &BookingResponse, at: &str, offline: bool) -> (StatusCode, Value) {
        self.post(
            "/checkins",
            json!({"booking": b.booking, "number": b.number, "kiosk": "lobby-1", "checked_in_at": at, "offline": offline}),
        )
        .await
    }
}

#[tokio::test]
async fn endpoints_errors_and_checkin_idempotency() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        endpoints_on(backend).await;
    }
}

async fn endpoints_on(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::fresh(backend, dir.path());
    let s = start(&db, &dir.path().join("keys"), 0).await;
    // Auth, office, bad JSON, unknown endpoint.
    let resp = s
        .http
        .get(format!("{}/board", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unauthorized");
    let wrong = s
        .http
        .get(format!("{}/board", s.base))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let other = s
        .http
        .get(s.base.replace("kota-bogor", "kota-bekasi") + "/board")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        other.json::<Value>().await.unwrap()["error"],
        "unknown_office"
    );
    let bad = s
        .http
        .post(format!("{}/checkins", s.base))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // Bookings: numbers per session, quota, bad requests.
    let a1 = s.book("08:00-09:00", "KTP-EL").await;
    let a2 = s.book("08:00-09:00", "KK").await;
    let a3 = s.book("08:00-09:00", "KK").await;
    assert_eq!(
        (a1.number.as_str(), a2.number.as_str(), a3.number.as_str()),
        ("A-001", "A-002", "A-003")
    );
    let (st, v) = s
        .post(
            "/bookings",
            json!({"date": TODAY, "slot": "08:00-09:00", "service": "KK"}),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("slot_full"))
    );
    for body in [
        json!({"date": "2024-13-40", "slot": "08:00-09:00", "service": "KK"}),
        json!({"date": TODAY, "slot": "07:00-08:00", "service": "KK"}),
        json!({"date": TODAY, "slot": "08:00-09:00", "service": "SIM"}),
        json!({"date": "2024-05-07", "slot": "08:00-09:00", "service": "KK"}),
    ] {
        let (st, _) = s.post("/bookings", body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let b1 = s.book("09:00-10:00", "KTP-EL").await;
    assert_eq!(b1.number, "B-001");
    // The token verifies with the kiosk's own core.
    let (_, manifest) = s.get(&format!("/manifest?date={TODAY}")).await;
    let keys = KeyRing::new(manifest["keys"].as_array().unwrap().iter().map(|k| {
        TrustedKey::from_base64(
            k["kid"].as_str().unwrap(),
            k["public_key"].as_str().unwrap(),
        )
        .unwrap()
    }));
    let rules = Rules {
        office: "kota-bogor".into(),
        timezone: chrono_tz::Asia::Jakarta,
        early_minutes: 30,
        late_minutes: 15,
        reprint_limit: 1,
    };
    let now = at_office(
        DateTime::parse_from_rfc3339(NOW).unwrap().to_utc(),
        rules.timezone,
    );
    let v =
        verify(&a1.token, now, &rules, &keys, None).expect("the kiosk accepts the central's token");
    assert_eq!(v.booking.number, "A-001");
    assert_eq!(v.booking.masked_name.as_deref(), Some("S***i R."));
    assert!(
        !manifest.to_string().contains("Siti Rahma"),
        "full names are never stored"
    );
    // Check-ins: first wins, duplicates answer the original.
    let (st, first) = s.checkin(&a2, "2024-05-08T08:38:00+07:00", false).await;
    assert_eq!(st, StatusCode::CREATED, "{first}");
    let first: CheckinResponse = serde_json::from_value(first).unwrap();
    assert_eq!(first.ahead, Some(0));
    assert!(first.estimated_call.is_some());
    let (st, _) = s.checkin(&a1, "2024-05-08T08:39:00+07:00", false).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, dup) = s.checkin(&a2, "2024-05-08T08:50:00+07:00", true).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(dup["duplicate"], true);
    assert_eq!(
        dup["checked_in_at"], "2024-05-08T08:38:00+07:00",
        "the first time wins"
    );
    let (st, b1c) = s.checkin(&b1, "2024-05-08T08:40:00+07:00", false).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(b1c["ahead"], 2, "A-001 and A-002 come first");
    // Errors of check-in.
    let (st, v) = s
        .post("/checkins", json!({"booking": "BGR-20240508-99999", "number": "A-009", "kiosk": "k", "checked_in_at": NOW}))
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_booking"))
    );
    let (st, _) = s
        .post(&format!("/bookings/{}/cancel", a3.booking), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = s.checkin(&a3, NOW, false).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("cancelled"))
    );
    let (st, v) = s.checkin(&a3.clone_with_number(), NOW, false).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        !v.to_string().contains(&a3.number),
        "a 422 never tells the booking's number: {v}"
    );
    let c1 = s.book("10:00-11:00", "KK").await;
    let (st, v) = s.checkin(&c1, "2024-05-07T10:00:00+07:00", true).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_today"))
    );
    // ETag / 304, and a new ETag once something changed.
    let first = s
        .http
        .get(format!("{}/manifest?date={TODAY}", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let tag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = s
        .http
        .get(format!("{}/manifest?date={TODAY}", s.base))
        .bearer_auth(TOKEN)
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    s.book("11:00-12:00", "KK").await;
    let changed = s
        .http
        .get(format!("{}/manifest?date={TODAY}", s.base))
        .bearer_auth(TOKEN)
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    // Health.
    let h = s
        .http
        .put(format!("{}/kiosks/lobby-1/health", s.base))
        .bearer_auth(TOKEN)
        .json(&json!({"at": NOW, "version": "0.3.0", "printer": {"state": "paper_low", "detail": null},
                      "pending_checkins": 2, "last_event_seq": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), StatusCode::NO_CONTENT);
    let (_, staff) = s.get("/staff").await;
    assert_eq!(staff["kiosks"][0]["printer"], "paper_low");
    // The staff page.
    let page = s
        .http
        .get(s.base.split("/v1").next().unwrap().to_string() + "/")
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    for button in [
        "id=\"next\"",
        "id=\"recall\"",
        "id=\"done\"",
        "id=\"skip\"",
        "id=\"office\"",
    ] {
        assert!(html.contains(button), "staff page lacks {button}");
    }
    s.stop().await;
}

trait WithNumber {
    fn clone_with_number(&self) -> BookingResponse;
}

impl WithNumber for BookingResponse {
    /// The same booking with a number it does not have.
    fn clone_with_number(&self) -> BookingResponse {
        BookingResponse {
            booking: self.booking.clone(),
            number: "Z-999".into(),
            token: self.token.clone(),
        }
    }
}

#[tokio::test]
async fn calling_order_events_replay_reset_and_restart() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        calling_order_on(backend).await;
    }
}

async fn calling_order_on(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, keys) = (Db::fresh(backend, dir.path()), dir.path().join("keys"));
    let s = start(&db, &keys, 0).await;
    let b1 = s.book("09:00-10:00", "KK").await;
    let a1 = s.book("08:00-09:00", "KK").await;
    let a2 = s.book("08:00-09:00", "KTP-EL").await;
    // A live stream from the start.
    let mut live = s
        .http
        .get(format!("{}/events", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    let mut parser = SseParser::new();
    // Nobody checked in: nothing to call.
    let (st, _) = s.post("/counters/1/next", json!({})).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    for (b, at) in [(&b1, "08:36"), (&a2, "08:37"), (&a1, "08:38")] {
        let (st, _) = s
            .checkin(b, &format!("2024-05-08T{at}:00+07:00"), false)
            .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    // Order: session, then serial (A-001, A-002, then B-001).
    let mut called = vec![];
    for counter in ["1", "2", "1"] {
        let (st, v) = s
            .post(&format!("/counters/{counter}/next"), json!({}))
            .await;
        assert_eq!(st, StatusCode::OK);
        called.push(v["number"].as_str().unwrap().to_string());
    }
    assert_eq!(called, vec!["A-001", "A-002", "B-001"]);
    let (st, _) = s.post("/counters/2/recall", json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s.post("/counters/2/skip", json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = s.post("/counters/2/done", json!({})).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("nothing_called"))
    );
    let (st, _) = s.post("/counters/9/next", json!({})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .post("/notice", json!({"text": "Layanan KIA tutup sementara"}))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // The live stream saw all of it, in order, seq by seq.
    let events = read_events(&mut live, &mut parser, 9).await;
    let kinds: Vec<&str> = events.iter().map(|(_, e)| e.kind()).collect();
    assert_eq!(
        kinds,
        vec!["checkin", "checkin", "checkin", "call", "call", "call", "call", "skip", "notice"]
    );
    for (i, (id, e)) in events.iter().enumerate() {
        assert_eq!(e.seq(), i as u64 + 1);
        assert_eq!(id.as_deref(), Some(e.seq().to_string().as_str()));
    }
    match &events[6].1 {
        BoardEvent::Call(c) => assert!(c.recall && c.number == "A-002" && c.counter == "2"),
        other => panic!("{other:?}"),
    }
    // The board.
    let (_, board) = s.get("/board").await;
    assert_eq!(board["seq"], 9);
    assert_eq!(board["counters"][0]["serving"]["number"], "B-001");
    assert_eq!(board["counters"][1]["serving"], Value::Null);
    assert_eq!(board["recent"][0]["number"], "A-002");
    assert_eq!(board["notice"], "Layanan KIA tutup sementara");
    // Replay after id 6, and a reset for an id the server never issued.
    let mut resumed = s
        .http
        .get(format!("{}/events", s.base))
        .bearer_auth(TOKEN)
        .header("Last-Event-ID", "6")
        .send()
        .await
        .unwrap();
    let replay = read_events(&mut resumed, &mut SseParser::new(), 3).await;
    assert_eq!(
        replay.iter().map(|(_, e)| e.seq()).collect::<Vec<_>>(),
        vec![7, 8, 9]
    );
    let mut future = s
        .http
        .get(format!("{}/events", s.base))
        .bearer_auth(TOKEN)
        .header("Last-Event-ID", "500")
        .send()
        .await
        .unwrap();
    let reset = read_events(&mut future, &mut SseParser::new(), 1).await;
    assert!(matches!(reset[0].1, BoardEvent::Reset(_)));
    // Pings keep an idle stream alive.
    let mut pings = 0;
    let mut p = SseParser::new();
    while pings == 0 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resumed.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        pings += p
            .push(&chunk)
            .iter()
            .filter(|i| matches!(i, SseItem::Comment(c) if c == "ping"))
            .count();
    }
    // Restart on the same database: seq, bookings and events persist.
    let port = s.port();
    s.stop().await;
    let s = start(&db, &keys, port).await;
    let (_, board) = s.get("/board").await;
    assert_eq!(board["seq"], 9);
    assert_eq!(board["counters"][0]["serving"]["number"], "B-001");
    let (st, dup) = s.checkin(&a1, "2024-05-08T09:00:00+07:00", false).await;
    assert_eq!(
        (st, dup["checked_in_at"].as_str()),
        (StatusCode::OK, Some("2024-05-08T08:38:00+07:00"))
    );
    let mut after = s
        .http
        .get(format!("{}/events", s.base))
        .bearer_auth(TOKEN)
        .header("Last-Event-ID", "8")
        .send()
        .await
        .unwrap();
    let (st, _) = s.post("/counters/1/done", json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let tail = read_events(&mut after, &mut SseParser::new(), 2).await;
    assert_eq!(
        tail.iter()
            .map(|(_, e)| (e.seq(), e.kind()))
            .collect::<Vec<_>>(),
        vec![(9, "notice"), (10, "done")]
    );
    s.stop().await;
}
