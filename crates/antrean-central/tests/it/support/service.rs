//! The central service in this process on 127.0.0.1: with the role
//! matrix's tokens ([`start`] on SQLite, [`start_on`] on any back end) or
//! with tokens of the test's choice ([`inprocess_central_with`], SQLite).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use antrean_central::auth::Role;
use antrean_central::keys::KeyStore;
use antrean_central::{serve, Central, CentralSettings, SqliteStore, Store};
use antrean_core::api::{BookingRequest, CheckinRequest};
use antrean_host::clock::Clock;
use reqwest::StatusCode;
use serde_json::Value;

use super::stores::{fresh_store, Backend};
use super::{NOW, OFFICE, TODAY};

/// The SQLite store of [`OFFICE`] at `db`.
pub fn sqlite(db: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(db, OFFICE).unwrap())
}

/// The clock of the tests: [`NOW`], running.
pub fn clock() -> Clock {
    Clock::starting_at(chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc())
}

/// The tokens of the role matrix, one per kind of caller.
pub const KIOSK: &str = "matrix-kiosk-lobby-1-token";
pub const KIOSK_2: &str = "matrix-kiosk-lobby-2-token";
pub const BOARD: &str = "matrix-board-token-000001";
pub const BOOKING: &str = "matrix-booking-token-00001";
pub const STAFF: &str = "matrix-staff-token-0000001";
pub const ADMIN: &str = "matrix-admin-token-0000001";
pub const ROOT: &str = "matrix-admin-all-offices-1";
pub const OTHER_STAFF: &str = "matrix-bekasi-staff-token";
pub const OTHER_KIOSK: &str = "matrix-bekasi-kiosk-token";
pub const REVOKED: &str = "matrix-revoked-staff-token";

/// A central service in this process, with its settings changed by `tune`.
pub struct Server {
    pub central: Central,
    pub addr: std::net::SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    /// The SQLite file (SQLite only).
    pub db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// [`start_on`] SQLite.
pub async fn start(tune: impl FnOnce(&mut CentralSettings)) -> Server {
    start_on(Backend::Sqlite, tune).await
}

/// The service of [`OFFICE`] (standard plan, quotas of 500) on `backend`,
/// with the role matrix's tokens, its settings changed by `tune`.
pub async fn start_on(backend: Backend, tune: impl FnOnce(&mut CentralSettings)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.sqlite3");
    let mut settings = CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor");
    for s in &mut settings.offices[0].sessions {
        s.quota = 500;
    }
    settings.ping_every = Duration::from_millis(200);
    tune(&mut settings);
    let clock = clock();
    let store = match backend {
        Backend::Sqlite => sqlite(&db),
        Backend::Postgres => fresh_store(backend, dir.path()).await,
    };
    let central = Central::new(settings, store, KeyStore::ephemeral("k-test"), clock);
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
            .await
            .unwrap();
    }
    let revoked = central
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .last()
        .expect("the revoked token's row")
        .id;
    central.revoke_token(revoked).await.unwrap();
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
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        // The staff page's files are at the root (and a path starting with
        // `!` is taken from the root as it is); the API under the office.
        let url = if let Some(rooted) = path.strip_prefix('!') {
            format!("http://{}{rooted}", self.addr)
        } else if path == "/" || path.starts_with("/staff.") {
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

    pub async fn call(
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
    pub async fn book(&self, slot: &str) -> (String, String) {
        let b = self
            .central
            .book(&BookingRequest {
                date: TODAY.into(),
                slot: slot.into(),
                service: "KK".into(),
                name: None,
            })
            .await
            .unwrap();
        (b.booking, b.number)
    }

    /// A booking checked in and called at `counter`.
    /// Books a place in `slot` and checks it in at kiosk `lobby-1`:
    /// (booking code, number).
    pub async fn checked_in(&self, slot: &str) -> (String, String) {
        let (booking, number) = self.book(slot).await;
        self.central
            .checkin(&CheckinRequest {
                booking: booking.clone(),
                number: number.clone(),
                kiosk: "lobby-1".into(),
                checked_in_at: NOW.into(),
                offline: false,
            })
            .await
            .unwrap();
        (booking, number)
    }

    pub async fn serving_at(&self, counter: &str) {
        let (booking, number) = self.book("09:00-10:00").await;
        self.central
            .checkin(&CheckinRequest {
                booking,
                number,
                kiosk: "lobby-1".into(),
                checked_in_at: NOW.into(),
                offline: false,
            })
            .await
            .unwrap();
        self.central.next(counter).await.unwrap().expect("a call");
    }
}

/// The service in this process on 127.0.0.1 (standard sessions, services
/// and counters), its clock at [`NOW`], with these tokens: (secret, role,
/// kiosk).
pub fn inprocess_central_with(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    tokens: &[(&str, Role, Option<&str>)],
) -> (Central, std::net::SocketAddr) {
    let central = Central::new(
        CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor"),
        sqlite(&dir.join("central.db")),
        KeyStore::ephemeral("k-test"),
        clock(),
    );
    for (secret, role, kiosk) in tokens {
        rt.block_on(central.import_token(secret, *role, OFFICE, *kiosk, Some("test")))
            .unwrap();
    }
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(serve(listener, central.clone(), std::future::pending()));
    (central, addr)
}

/// Books a place in `slot` on the vectors' day and checks it in from kiosk
/// `kiosk`; returns the queue number.
pub async fn book_and_check_in(central: &Central, slot: &str, kiosk: &str) -> String {
    let b = central
        .book(&BookingRequest {
            date: TODAY.into(),
            slot: slot.into(),
            service: "KK".into(),
            name: None,
        })
        .await
        .unwrap_or_else(|e| panic!("booking {slot}: {e:?} (session quota?)"));
    central
        .checkin(&CheckinRequest {
            booking: b.booking,
            number: b.number.clone(),
            kiosk: kiosk.into(),
            checked_in_at: NOW.into(),
            offline: false,
        })
        .await
        .unwrap();
    b.number
}
