//! The central service for the kiosk's tests: the real `antrean-central`
//! binary on 127.0.0.1, or the reference service in this process, with
//! helpers to book and check in.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::office::{NOW, OFFICE};
use crate::wait::{wait_for, LIMIT};

/// The `antrean-central` executable, next to this test executable
/// (`target/<profile>/antrean-central`). It belongs to another package of
/// the workspace, so `CARGO_BIN_EXE_antrean-central` does not exist here;
/// plain `cargo test` at the top builds it (every default member) before
/// any test runs.
pub fn central_bin() -> PathBuf {
    crate::daemon::workspace_bin(
        "antrean-central",
        "run the whole `cargo test` at the top of the workspace, or `cargo build -p antrean-central` (add --release for release tests) before this test",
    )
}

/// The real `antrean-central` binary on 127.0.0.1.
pub struct CentralProcess {
    pub child: Child,
    pub base: String,
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// The kiosk's token at [`CentralProcess`]: role `kiosk`, kiosk `lobby-1`.
pub const CENTRAL_TOKEN: &str = "loop-kiosk-token-lobby-1";
/// The tests' own token at [`CentralProcess`] (`call`): role `admin`.
pub const CENTRAL_ADMIN_TOKEN: &str = "loop-admin-token-for-tests";

/// Runs `antrean-central token import` with `secret` on stdin.
pub fn import_token(config: &Path, secret: &str, args: &[&str]) {
    let mut child = Command::new(central_bin())
        .args(["token", "import", "--config"])
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting antrean-central token import");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "token import {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl CentralProcess {
    /// Starts it with its database and keys in `dir`, on `listen`
    /// (`127.0.0.1:0` for any port), its clock at `now`. The first start
    /// imports [`CENTRAL_TOKEN`] (kiosk `lobby-1`) and
    /// [`CENTRAL_ADMIN_TOKEN`]; the tests' writes are not rate limited.
    pub fn start(dir: &Path, listen: &str, now: &str) -> CentralProcess {
        let config = dir.join("central.toml");
        let fresh = !dir.join("central.sqlite3").exists();
        std::fs::write(
            &config,
            format!(
                "[office]\nid = \"{OFFICE}\"\nname = \"Disdukcapil Kota Bogor\"\n[server]\ndb = \"{}\"\nkey_dir = \"{}\"\nping_seconds = 1\nwrites_per_minute = 100000\nwrite_burst = 10000\n{}",
                dir.join("central.sqlite3").display(),
                dir.join("keys").display(),
                (8..14)
                    .zip('A'..)
                    .map(|(h, l)| format!("[[sessions]]\nslot = \"{h:02}:00-{:02}:00\"\nletter = \"{l}\"\nquota = 60\n", h + 1))
                    .collect::<String>()
            ),
        )
        .unwrap();
        if fresh {
            import_token(
                &config,
                CENTRAL_TOKEN,
                &["--role", "kiosk", "--office", OFFICE, "--kiosk", "lobby-1"],
            );
            import_token(
                &config,
                CENTRAL_ADMIN_TOKEN,
                &["--role", "admin", "--office", OFFICE],
            );
        }
        let mut child = Command::new(central_bin())
            .args(["serve", "--config"])
            .arg(&config)
            .args(["--listen", listen])
            .env("ANTREAN_NOW", now)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting antrean-central");
        let log = Arc::new(Mutex::new(Vec::new()));
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
        CentralProcess {
            child,
            base: format!("http://{addr}/v1/offices/{OFFICE}"),
            addr,
            log,
        }
    }

    /// A blocking HTTP call with the admin token; (status, JSON body or Null).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let client = reqwest::blocking::Client::new();
        let mut req = client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(CENTRAL_ADMIN_TOKEN)
            .timeout(Duration::from_secs(10));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Books a session of the test day; (booking, number, token).
    pub fn book(&self, slot: &str, service: &str) -> (String, String, String) {
        let (status, v) = self.call(
            "POST",
            "/bookings",
            Some(serde_json::json!({"date": "2024-05-08", "slot": slot, "service": service})),
        );
        assert_eq!(status, 201, "{v}");
        (
            v["booking"].as_str().unwrap().to_string(),
            v["number"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        )
    }

    pub fn stop(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for CentralProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    inprocess_central_set_up(
        rt,
        dir,
        tokens,
        antrean_central::CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor"),
    )
}

/// [`inprocess_central_with`] with these settings (pings more often, say).
pub fn inprocess_central_set_up(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    tokens: &[(&str, antrean_central::auth::Role, Option<&str>)],
    settings: antrean_central::CentralSettings,
) -> (
    antrean_central::Central,
    std::net::SocketAddr,
    antrean_host::clock::Clock,
) {
    use antrean_central::{keys::KeyStore, serve, Central, SqliteStore};
    let clock = antrean_host::clock::Clock::starting_at(
        chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc(),
    );
    let central = Central::new(
        settings,
        std::sync::Arc::new(SqliteStore::open(&dir.join("central.db"), OFFICE).unwrap()),
        KeyStore::ephemeral("k-test"),
        clock,
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
    (central, addr, clock)
}

/// Books a place in `slot` on the vectors' day at the in-process central
/// service and checks it in from kiosk `kiosk`; returns the queue number.
pub async fn book_and_check_in(
    central: &antrean_central::Central,
    slot: &str,
    kiosk: &str,
) -> String {
    use antrean_core::api::{BookingRequest, CheckinRequest};
    let b = central
        .book(&BookingRequest {
            date: "2024-05-08".into(),
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
