//! A city's service: three offices (the main office and two kecamatan
//! offices), each with its own prefix, one kiosk and one board display,
//! and a token of every role per office plus a city administrator's. In
//! this process on any back end ([`start_city`]), or as a configuration
//! for the real binary on PostgreSQL ([`city_config`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use antrean_central::auth::Role;
use antrean_central::keys::KeyStore;
use antrean_central::settings::{CentralSettings, OfficeSettings};
use antrean_central::{serve, Central};
use reqwest::StatusCode;
use serde_json::Value;

use super::service::{clock, sqlite};
use super::stores::{fresh_store, Backend};

/// (id, name, booking prefix) of the city's offices.
pub const CITY: [(&str, &str, &str); 3] = [
    ("kota-bekasi", "Disdukcapil Kota Bekasi", "BKS"),
    ("bekasi-timur", "Kecamatan Bekasi Timur", "BKT"),
    ("bekasi-utara", "Kecamatan Bekasi Utara", "BKU"),
];

/// The roles every office has a token of.
pub const ROLES: [Role; 4] = [Role::Kiosk, Role::Board, Role::Booking, Role::Staff];

/// An office of the city: its plan, kiosk `lobby-1` and board `tv-1`.
pub fn office(id: &str, name: &str, prefix: &str) -> OfficeSettings {
    let mut o = OfficeSettings::standard(id, name);
    o.booking_prefix = prefix.into();
    o.kiosks = vec!["lobby-1".into()];
    o.boards = vec!["tv-1".into()];
    for s in &mut o.sessions {
        s.quota = 100;
    }
    o
}

/// The city's service in this process on 127.0.0.1.
pub struct City {
    pub central: Central,
    pub addr: std::net::SocketAddr,
    pub http: reqwest::Client,
    /// (office, role) -> token.
    pub tokens: HashMap<(String, Role), String>,
    /// An admin token of every office.
    pub admin: String,
    _dir: tempfile::TempDir,
}

pub async fn start_city(backend: Backend) -> City {
    let dir = tempfile::tempdir().unwrap();
    let mut settings =
        CentralSettings::with_offices(CITY.iter().map(|(i, n, p)| office(i, n, p)).collect());
    settings.ping_every = Duration::from_millis(200);
    let store = match backend {
        Backend::Sqlite => sqlite(&dir.path().join("city.sqlite3")),
        Backend::Postgres => fresh_store(backend, dir.path()).await,
    };
    let central = Central::new(settings, store, KeyStore::ephemeral("k-city"), clock());
    let mut tokens = HashMap::new();
    for (id, _, _) in CITY {
        for role in ROLES {
            let kiosk = (role == Role::Kiosk).then_some("lobby-1");
            let (_, secret) = central.add_token(role, id, kiosk, None).await.unwrap();
            tokens.insert((id.to_string(), role), secret);
        }
    }
    let (_, admin) = central
        .add_token(Role::Admin, "*", None, Some("city"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, central.clone(), std::future::pending()));
    City {
        central,
        addr,
        http: reqwest::Client::new(),
        tokens,
        admin,
        _dir: dir,
    }
}

impl City {
    pub fn token(&self, office: &str, role: Role) -> &str {
        &self.tokens[&(office.to_string(), role)]
    }

    /// `method path` (under the service's root) with `token` and `body`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(
                method.parse().unwrap(),
                format!("http://{}{path}", self.addr),
            )
            .bearer_auth(token);
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
        let resp = self.send(method, path, token, body).await;
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// A configuration of the city for the real binary: `[[offices]]` with
/// their devices and sessions (quota `quota` for the 09:00 session),
/// `[database] url`, keys in `dir/keys`, `extra` in `[server]`.
pub fn city_config(dir: &Path, url: &str, quota: u32, extra: &str) -> PathBuf {
    let mut text = format!(
        "[server]\nkey_dir = \"{}\"\nwrite_burst = 1000\nwrites_per_minute = 60000\nping_seconds = 1\n{extra}\n\n[database]\nurl = \"{url}\"\nmax_connections = 8\n\n",
        dir.join("keys").display()
    );
    text.push_str(
        "[[sessions]]\nslot = \"08:00-09:00\"\nletter = \"A\"\nquota = 100\n\
         [[sessions]]\nslot = \"09:00-10:00\"\nletter = \"B\"\nquota = QUOTA\n"
            .replace("QUOTA", &quota.to_string())
            .as_str(),
    );
    for (id, name, prefix) in CITY {
        text.push_str(&format!(
            "\n[[offices]]\nid = \"{id}\"\nname = \"{name}\"\nbooking_prefix = \"{prefix}\"\nkiosks = [\"lobby-1\"]\nboards = [\"tv-1\"]\n"
        ));
    }
    let config = dir.join("central-city.toml");
    std::fs::write(&config, text).unwrap();
    config
}
