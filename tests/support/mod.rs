//! Shared test support: a temporary office (config, state dir, keys from the
//! spec vectors), pseudo-terminal scanner and printer, the real daemon
//! binary with its JSON log read line by line, and waiting on conditions
//! with a deadline (never fixed sleeps).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use antrean_core::printer_status::{replies_for, PrinterState};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serialport::{SerialPort, TTYPort};

/// The office's signing key in these tests: made afresh for each test
/// process, like an office's real key, so nothing here trusts a published
/// key (the spec vectors' keys are refused outside the demo office).
pub struct TestKey {
    pub kid: String,
    /// base64url, no padding.
    pub public_key: String,
    /// base64url, no padding (tests only).
    pub private_seed: String,
}

/// This test process's signing key (see [`TestKey`]).
pub fn test_key() -> &'static TestKey {
    static KEY: std::sync::OnceLock<TestKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        TestKey {
            kid: "k-test".into(),
            public_key: URL_SAFE_NO_PAD
                .encode(SigningKey::from_bytes(&seed).verifying_key().to_bytes()),
            private_seed: URL_SAFE_NO_PAD.encode(seed),
        }
    })
}

/// The spec vectors' published test key k2024a: only the demo office may
/// trust it.
pub const PUBLISHED_KID: &str = "k2024a";
pub const PUBLISHED_PUBLIC_KEY: &str = "fnMA8bqxc-ap9RYG7LrXNR37RPbLIoqgSpC1nMj3R6Q";
pub const PUBLISHED_SEED: &str = "dp2AOi_aCDZ4Rnps54Ry00O70IyX2AZ9iL5xDXb0ly8";
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

/// Polls `f` until it returns `Some`, or gives `None` after `limit`.
pub fn wait_for_opt<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub const LIMIT: Duration = Duration::from_secs(20);

/// Signs an `AQ1.` token with this test process's office key.
pub fn token(booking: &str, number: &str, date: &str, slot: &str, service: &str) -> String {
    let key = test_key();
    token_with(
        &key.kid,
        &key.private_seed,
        OFFICE,
        booking,
        number,
        date,
        slot,
        service,
    )
}

#[allow(clippy::too_many_arguments)]
pub fn token_with(
    kid: &str,
    seed: &str,
    office: &str,
    booking: &str,
    number: &str,
    date: &str,
    slot: &str,
    service: &str,
) -> String {
    let payload = serde_json::json!({
        "kid": kid, "office": office, "booking": booking, "date": date,
        "slot": slot, "service": service, "number": number,
    });
    let signed = format!(
        "AQ1.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap())
    );
    let seed: [u8; 32] = URL_SAFE_NO_PAD.decode(seed).unwrap().try_into().unwrap();
    let sig = SigningKey::from_bytes(&seed).sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// `token` with `from` replaced by `to` in its payload after signing (a
/// forgery: the signature no longer matches).
pub fn altered(token: &str, from: &str, to: &str) -> String {
    let mut parts = token.split('.');
    let (_, payload, sig) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert!(json.contains(from), "{json} has no {from}");
    format!(
        "AQ1.{}.{sig}",
        URL_SAFE_NO_PAD.encode(json.replace(from, to))
    )
}

/// A pseudo-terminal pair: the daemon opens `path` (a stable symlink, like
/// a udev `by-id` path), the test holds the master end.
pub struct Pty {
    pub master: TTYPort,
    pub slave: TTYPort,
}

impl Pty {
    pub fn new() -> Pty {
        let (mut master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
        master.set_timeout(Duration::from_millis(50)).unwrap();
        Pty { master, slave }
    }

    pub fn slave_path(&self) -> String {
        self.slave.name().expect("pty slave has a name")
    }

    /// Points the symlink `link` at this pty's slave.
    pub fn link_at(&self, link: &Path) {
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(self.slave_path(), link).unwrap();
    }
}

/// How the emulated printer behaves (tests change it while it runs).
#[derive(Debug, Clone)]
pub struct EmulatorScript {
    pub state: PrinterState,
    /// Do not answer status queries at all.
    pub silent: bool,
    /// Answer status queries with bytes that are not status bytes.
    pub garbage: bool,
    /// Run out of paper after this many more cut tickets.
    pub paper_out_after: Option<usize>,
}

/// A thermal printer on the far end of a pseudo-terminal: records what it
/// receives (ticket bytes, without the status queries) and answers
/// `DLE EOT n` from a script.
pub struct PrinterTap {
    pub bytes: Arc<Mutex<Vec<u8>>>,
    pub script: Arc<Mutex<EmulatorScript>>,
    pub queries: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Pty>>,
}

impl PrinterTap {
    pub fn start(mut pty: Pty) -> PrinterTap {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(EmulatorScript {
            state: PrinterState::Ok,
            silent: false,
            garbage: false,
            paper_out_after: None,
        }));
        let queries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b, sc, q, s) = (bytes.clone(), script.clone(), queries.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Bytes of a possibly split `DLE EOT n`.
            let mut pending: Vec<u8> = Vec::new();
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let n = match pty.master.read(&mut buf) {
                    Ok(n) if n > 0 => n,
                    _ => continue,
                };
                pending.extend_from_slice(&buf[..n]);
                let mut i = 0;
                let mut out = Vec::new();
                // Ticket bytes before a query are printed before it is answered.
                let commit = |out: &mut Vec<u8>| {
                    if out.is_empty() {
                        return;
                    }
                    let cuts = out.windows(4).filter(|w| w == b"\x1dVB\x00").count();
                    b.lock().unwrap().extend_from_slice(out);
                    out.clear();
                    let mut script = sc.lock().unwrap();
                    if let Some(left) = script.paper_out_after.as_mut() {
                        *left = left.saturating_sub(cuts);
                        if *left == 0 {
                            script.state = PrinterState::PaperOut;
                            script.paper_out_after = None;
                        }
                    }
                };
                while i < pending.len() {
                    if pending[i] == 0x10 {
                        if i + 2 >= pending.len() {
                            break;
                        }
                        if pending[i + 1] == 0x04 {
                            commit(&mut out);
                            let which = pending[i + 2];
                            i += 3;
                            q.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let script = sc.lock().unwrap().clone();
                            if script.silent {
                                continue;
                            }
                            let reply = if script.garbage {
                                0xff
                            } else {
                                replies_for(script.state)[usize::from(which.clamp(1, 4)) - 1]
                            };
                            let _ = pty.master.write_all(&[reply]);
                            continue;
                        }
                    }
                    out.push(pending[i]);
                    i += 1;
                }
                pending.drain(..i);
                commit(&mut out);
            }
            pty
        });
        PrinterTap {
            bytes,
            script,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    /// Changes the script.
    pub fn set(&self, f: impl FnOnce(&mut EmulatorScript)) {
        f(&mut self.script.lock().unwrap());
    }

    pub fn snapshot(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }

    /// The tickets received so far: the stream split at each `ESC @`.
    pub fn tickets(&self) -> Vec<Vec<u8>> {
        split_tickets(&self.snapshot())
    }

    /// Waits until `n` complete tickets (ending with a cut) arrived.
    pub fn wait_tickets(&self, n: usize) -> Vec<Vec<u8>> {
        wait_for(&format!("{n} ticket(s) on the printer"), LIMIT, || {
            let t = self.tickets();
            (t.len() >= n && t.iter().take(n).all(|t| ends_with_cut(t))).then_some(t)
        })
    }

    /// Stops the emulator and gives the pty back.
    pub fn stop(mut self) -> Pty {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Splits a printer byte stream into tickets at each `ESC @`.
pub fn split_tickets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut starts: Vec<usize> = bytes
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == &[0x1b, 0x40])
        .map(|(i, _)| i)
        .collect();
    starts.push(bytes.len());
    starts
        .windows(2)
        .map(|w| bytes[w[0]..w[1]].to_vec())
        .collect()
}

fn ends_with_cut(ticket: &[u8]) -> bool {
    antrean_kiosk::escpos_decode::decode(ticket)
        .map(|els| {
            els.iter()
                .any(|e| matches!(e, antrean_kiosk::escpos_decode::Element::Cut { .. }))
        })
        .unwrap_or(false)
}

/// The manifest of the vectors' day, 2024-05-08: five sessions, the
/// vectors' bookings and one more (no keys: they come from configuration).
pub fn vector_manifest() -> serde_json::Value {
    serde_json::json!({
        "office": OFFICE, "date": "2024-05-08", "timezone": "Asia/Jakarta",
        "office_name": "Disdukcapil Kota Bogor",
        "sessions": [{"slot": "08:00-09:00", "letter": "A", "quota": 50},
                     {"slot": "09:00-10:00", "letter": "B", "quota": 50},
                     {"slot": "10:00-11:00", "letter": "C", "quota": 50},
                     {"slot": "11:00-12:00", "letter": "D", "quota": 50},
                     {"slot": "13:00-14:00", "letter": "E", "quota": 50}],
        "services": [{"code": "KTP-EL", "name": "KTP Elektronik"},
                     {"code": "KK", "name": "Kartu Keluarga"}],
        "counters": [{"id": "1", "label": "Loket 1"}],
        "keys": [],
        "bookings": [
            {"booking": "BGR-240508-00123", "number": "B-015", "slot": "09:00-10:00", "service": "KTP-EL", "status": "booked"},
            {"booking": "BGR-240508-00007", "number": "A-007", "slot": "08:00-09:00", "service": "KK", "status": "booked"},
            {"booking": "BGR-240508-00124", "number": "B-016", "slot": "09:00-10:00", "service": "KK", "status": "booked"},
            {"booking": "BGR-240508-00200", "number": "E-011", "slot": "13:00-14:00", "service": "AKTA-LAHIR", "status": "cancelled"}
        ]
    })
}

/// A temporary office: state dir, config file, links for the ports.
pub struct Office {
    pub dir: tempfile::TempDir,
    pub state_dir: PathBuf,
    pub config: PathBuf,
    pub printer_link: PathBuf,
    pub scanner_link: PathBuf,
}

impl Office {
    /// An office whose printer and scanner are the symlinks in its dir.
    pub fn new(extra: &str) -> Office {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        let printer_link = dir.path().join("printer");
        let scanner_link = dir.path().join("scanner");
        let config = dir.path().join("kiosk.toml");
        let office = Office {
            state_dir,
            config,
            printer_link,
            scanner_link,
            dir,
        };
        office.write_config(&format!(
            "[printer]\nport = \"{}\"\nbaud = 19200\ncolumns = 48\nwrite_timeout_ms = 2000\n\n[scanner]\nport = \"{}\"\nbaud = 9600\nidle_ms = 100\n{extra}",
            office.printer_link.display(),
            office.scanner_link.display()
        ));
        office
    }

    /// Writes the config with `[office]`, `[kiosk]`, `[[keys]]` and `rest`.
    pub fn write_config(&self, rest: &str) {
        let text = format!(
            r#"[office]
id = "{OFFICE}"
name = "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor"
timezone = "Asia/Jakarta"

[kiosk]
id = "lobby-1"
state_dir = "{}"
early_minutes = 30
late_minutes = 15
reprint_limit = 1

[[keys]]
kid = "{}"
public_key = "{}"

{rest}
"#,
            self.state_dir.display(),
            test_key().kid,
            test_key().public_key
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Caches the vectors' manifest of 2024-05-08 in the state dir.
    pub fn cache_vector_manifest(&self) {
        let dir = self.state_dir.join("manifests");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("2024-05-08.json"), vector_manifest().to_string()).unwrap();
    }

    pub fn journal(&self) -> PathBuf {
        self.state_dir.join("journal.sqlite3")
    }

    /// Reads the journal's check-ins: (booking, number, printed, reprints).
    pub fn checkins(&self) -> Vec<(String, String, bool, u32)> {
        let Ok(conn) = rusqlite::Connection::open_with_flags(
            self.journal(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return vec![];
        };
        let Ok(mut stmt) = conn.prepare(
            "SELECT booking, number, printed_at IS NOT NULL, reprints FROM checkins ORDER BY id",
        ) else {
            return vec![];
        };
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

/// The real daemon binary, headless, with its JSON log collected.
pub struct DaemonProcess {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl DaemonProcess {
    pub fn start(office: &Office, envs: &[(&str, &str)]) -> DaemonProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"));
        cmd.args(["run", "--headless", "--log-format", "json", "--config"])
            .arg(&office.config)
            .env("ANTREAN_NOW", NOW)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting antrean-kiosk");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push(line);
            }
        });
        let d = DaemonProcess { child, log };
        d.wait_log("ready to scan");
        d
    }

    pub fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn wait_log(&self, needle: &str) -> String {
        wait_for(&format!("log line containing {needle:?}"), LIMIT, || {
            self.lines().into_iter().find(|l| l.contains(needle))
        })
    }

    /// The JSON scan lines logged so far.
    pub fn scans(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("outcome").is_some())
            .collect()
    }

    /// Waits for the `n`-th scan line (1-based) and returns it.
    pub fn wait_scan(&self, n: usize) -> serde_json::Value {
        wait_for(&format!("scan log line #{n}"), LIMIT, || {
            self.scans().get(n - 1).cloned()
        })
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().unwrap()
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scanner the test types into (the master end of a pty).
pub struct Scanner {
    pub pty: Pty,
}

impl Scanner {
    pub fn scan(&mut self, text: &str) {
        self.send(format!("{text}\r\n").as_bytes());
    }

    /// Types `bytes`, waiting (up to [`LIMIT`]) while the line is full: the
    /// daemon hands scans to its kiosk loop over a bounded channel, so a
    /// burst faster than the loop stops its reading until the loop caught
    /// up, as a real serial line would.
    pub fn send(&mut self, bytes: &[u8]) {
        let start = Instant::now();
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.pty.master.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::Interrupted
                    ) && start.elapsed() < LIMIT => {}
                Err(e) => panic!("the scanner line stayed full for {LIMIT:?}: {e}"),
            }
        }
        self.pty.master.flush().unwrap();
    }
}

/// The `antrean-central` executable, next to this test executable
/// (`target/<profile>/antrean-central`). It belongs to another package of
/// the workspace, so `CARGO_BIN_EXE_antrean-central` does not exist here;
/// plain `cargo test` at the top builds it (every default member) before
/// any test runs.
pub fn central_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test executable");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/antrean-central
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile_dir| profile_dir.join("antrean-central"));
    match bin {
        Some(bin) if bin.is_file() => bin,
        bin => panic!(
            "the antrean-central binary is not built ({}): run the whole `cargo test` at the top of the workspace, or `cargo build -p antrean-central` (add --release for release tests) before this test",
            bin.map(|b| b.display().to_string()).unwrap_or_else(|| exe.display().to_string())
        ),
    }
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
    use antrean_central::{keys::KeyStore, serve, Central, CentralSettings, SqliteStore};
    let clock = antrean_host::clock::Clock::starting_at(
        chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc(),
    );
    let central = Central::new(
        CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor"),
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
