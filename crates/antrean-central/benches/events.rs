//! Call -> event latency of the central service over loopback: the
//! service in this process, one SSE client (reqwest, as the kiosk), and
//! counters calling through the service's API; each sample is the time
//! from the call (its transaction and fsync included) to the client
//! holding the decoded `call` event.
//! Prints figures; asserts nothing about time. Run with
//! `cargo bench -p antrean-central --bench events` (`BENCH_CALLS=N`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use antrean_central::auth::Role;
use antrean_central::keys::KeyStore;
use antrean_central::{serve, Central, CentralSettings, SqliteStore};
use antrean_core::api::{BookingRequest, CheckinRequest};
use antrean_core::events::BoardEvent;
use antrean_core::sse::{SseItem, SseParser};
use antrean_host::clock::Clock;

const OFFICE: &str = "kota-bogor";
const NOW: &str = "2024-05-08T09:20:00+07:00";

fn main() {
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(run(calls));
}

async fn run(calls: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor");
    for s in &mut settings.offices[0].sessions {
        s.quota = calls as u32 + 1;
    }
    let clock = Clock::starting_at(
        chrono::DateTime::parse_from_rfc3339(NOW)
            .expect("a time")
            .to_utc(),
    );
    let store = SqliteStore::open(&dir.path().join("central.sqlite3"), OFFICE).expect("a store");
    let central = Central::new(settings, Arc::new(store), KeyStore::ephemeral("k"), clock);
    central
        .import_token("bench-token-0000001", Role::Admin, OFFICE, None, None)
        .await
        .expect("a token");
    for _ in 0..calls {
        let b = central
            .book(&BookingRequest {
                date: "2024-05-08".into(),
                slot: "09:00-10:00".into(),
                service: "KK".into(),
                name: None,
            })
            .await
            .expect("a booking");
        central
            .checkin(&CheckinRequest {
                booking: b.booking,
                number: b.number,
                kiosk: "bench".into(),
                checked_in_at: NOW.into(),
                offline: false,
            })
            .await
            .expect("a check-in");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(serve(listener, central.clone(), std::future::pending()));
    let http = reqwest::Client::new();
    let open = || async {
        http.get(format!("http://{addr}/v1/offices/{OFFICE}/events"))
            .bearer_auth("bench-token-0000001")
            .send()
            .await
            .expect("the event stream")
    };
    // The first event on a fresh stream: the one that waits for the ACK of
    // the response head when Nagle is on (the kiosk's first call after it
    // connects).
    let fresh = calls / 4;
    let mut firsts = Vec::with_capacity(fresh);
    for i in 0..fresh {
        let mut resp = open().await;
        firsts.push(call_and_wait(&central, i, &mut resp, &mut SseParser::new()).await);
    }
    report("first event on a fresh stream", fresh, firsts);
    let mut resp = open().await;
    let mut parser = SseParser::new();
    let mut samples = Vec::with_capacity(calls);
    for i in fresh..calls {
        samples.push(call_and_wait(&central, i, &mut resp, &mut parser).await);
    }
    report("events on one open stream", calls - fresh, samples);
}

/// Counter `i % 4 + 1` calls the next one; how long until `resp` holds its
/// `call` event.
async fn call_and_wait(
    central: &Central,
    i: usize,
    resp: &mut reqwest::Response,
    parser: &mut SseParser,
) -> Duration {
    let counter = ((i % 4) + 1).to_string();
    let t0 = Instant::now();
    let called = central
        .next(&counter)
        .await
        .expect("a call")
        .expect("someone waits");
    'wait: loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("the event within 10 s")
            .expect("the stream")
            .expect("open");
        for item in parser.push(&chunk) {
            if let SseItem::Message(m) = item {
                if let Ok(BoardEvent::Call(c)) = BoardEvent::parse(&m.event, &m.data) {
                    if c.number == called.number {
                        break 'wait;
                    }
                }
            }
        }
    }
    t0.elapsed()
}

fn report(what: &str, calls: usize, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "central call -> SSE client holds the event, loopback, {what} ({calls} calls): p50={:.2} ms p99={:.2} ms max={:.2} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
    );
}
