//! Support for the central service's tests (copied from the kiosk's
//! `tests/support`, the part these tests use): waiting on a condition with a
//! deadline (never fixed sleeps), the vectors' day, and the service in this
//! process on 127.0.0.1.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

/// The vectors' day, 20 minutes into the 09:00 session.
pub const NOW: &str = "2024-05-08T09:20:00+07:00";
pub const OFFICE: &str = "kota-bogor";

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    poll_every(Duration::from_millis(10), what, limit, f)
}

/// [`wait_for`] with the pause between polls given: the benchmarks poll
/// every 0.1 ms, since a 10 ms step would round every figure up to 10 ms.
pub fn poll_every<T>(
    step: Duration,
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(step);
    }
}

pub const LIMIT: Duration = Duration::from_secs(20);

/// The reference central service in this process on 127.0.0.1 (standard
/// sessions, services and counters), its clock at [`NOW`]; `token` is an
/// `admin` token of the office (the tests' kiosks have several ids; use
/// [`inprocess_central_with`] for tokens of narrower roles).
pub fn inprocess_central(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    token: &str,
) -> (
    antrean_central::Central,
    std::net::SocketAddr,
    antrean_host::clock::Clock,
) {
    use antrean_central::auth::Role;
    inprocess_central_with(rt, dir, &[(token, Role::Admin, None)])
}

/// [`inprocess_central`] with these tokens: (secret, role, kiosk).
pub fn inprocess_central_with(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    tokens: &[(&str, antrean_central::auth::Role, Option<&str>)],
) -> (
    antrean_central::Central,
    std::net::SocketAddr,
    antrean_host::clock::Clock,
) {
    use antrean_central::{keys::KeyStore, serve, store::Store, Central, CentralSettings};
    let clock = antrean_host::clock::Clock::starting_at(
        chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc(),
    );
    let central = Central::new(
        CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor"),
        Store::open(&dir.join("central.db")).unwrap(),
        KeyStore::ephemeral("k-test"),
        clock,
    );
    for (secret, role, kiosk) in tokens {
        central
            .import_token(secret, *role, OFFICE, *kiosk, Some("test"))
            .unwrap();
    }
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(serve(listener, central.clone(), std::future::pending()));
    (central, addr, clock)
}

/// Books a place in `slot` on the vectors' day at the in-process central
/// service and checks it in from kiosk `kiosk`; returns the queue number.
pub fn book_and_check_in(central: &antrean_central::Central, slot: &str, kiosk: &str) -> String {
    use antrean_core::api::{BookingRequest, CheckinRequest};
    let b = central
        .book(&BookingRequest {
            date: "2024-05-08".into(),
            slot: slot.into(),
            service: "KK".into(),
            name: None,
        })
        .unwrap_or_else(|e| panic!("booking {slot}: {e:?} (session quota?)"));
    central
        .checkin(&CheckinRequest {
            booking: b.booking,
            number: b.number.clone(),
            kiosk: kiosk.into(),
            checked_in_at: NOW.into(),
            offline: false,
        })
        .unwrap();
    b.number
}
