//! A city's load on the real `antrean-central serve`, over loopback only,
//! bounded in time and size; prints figures, asserts only correctness.
//!
//! - **Booking rush**: 30 offices x 5 sessions (quota `BENCH_QUOTA`, 100),
//!   `BENCH_BOOKINGS` (20 000) booking requests, `BENCH_CONCURRENCY` (64)
//!   at once, spread over 2 instances on one PostgreSQL (this run's
//!   throwaway cluster, the tests' `support/postgres.rs`), then the same
//!   on SQLite with one instance: exactly the quota accepted per session,
//!   no number or code twice; throughput and p50/p99 per request.
//! - **City boards**: 3 000 event streams (100 per office, alternating
//!   between 2 instances on PostgreSQL), `BENCH_CALLS_PER_SECOND` (10)
//!   calls a second across the city for `BENCH_SECONDS` (60): p50/p99
//!   from a call's answer to the last of its office's subscribers holding
//!   the event, the instances' memory per idle subscriber (RSS delta /
//!   streams), and every subscriber got every call of its office.
//!
//! `cargo bench --profile dev -p antrean-central --bench city`
//! (`BENCH_ONLY=rush|boards` runs one part). Needs PostgreSQL's binaries
//! (`scripts/install-deps --test`); without them only the SQLite rush runs.

#[allow(dead_code)]
#[path = "../tests/it/support/postgres.rs"]
mod postgres;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use antrean_core::events::BoardEvent;
use antrean_core::sse::{SseItem, SseParser};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_antrean-central");
const OFFICES: usize = 30;
const SLOTS: [&str; 5] = [
    "08:00-09:00",
    "09:00-10:00",
    "10:00-11:00",
    "11:00-12:00",
    "13:00-14:00",
];
const DAY: &str = "2024-05-08";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn office_id(i: usize) -> String {
    format!("kec-{i:02}")
}

/// A city of [`OFFICES`] offices on `database` (a URL) or SQLite in
/// `dir`, with generous per-token write limits and stream caps.
fn city_config(dir: &Path, database: Option<&str>, quota: u32) -> PathBuf {
    let mut t = format!(
        "[server]\nkey_dir = \"{}\"\ndb = \"{}\"\nwrite_burst = 1000000\nwrites_per_minute = 1000000\nmax_streams_per_office = 1000\nmax_connections = 8000\nping_seconds = 15\n\n",
        dir.join("keys").display(),
        dir.join("central.sqlite3").display()
    );
    if let Some(url) = database {
        t.push_str(&format!(
            "[database]\nurl = \"{url}\"\nmax_connections = 16\n\n"
        ));
    }
    for (i, slot) in SLOTS.iter().enumerate() {
        let letter = (b'A' + i as u8) as char;
        t.push_str(&format!(
            "[[sessions]]\nslot = \"{slot}\"\nletter = \"{letter}\"\nquota = {quota}\n"
        ));
    }
    for i in 0..OFFICES {
        t.push_str(&format!(
            "\n[[offices]]\nid = \"{}\"\nname = \"Kecamatan {i}\"\nbooking_prefix = \"K{i:02}\"\nkiosks = [\"lobby-1\"]\n",
            office_id(i)
        ));
    }
    let path = dir.join("city.toml");
    std::fs::write(&path, t).expect("the configuration");
    path
}

fn cli(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("ANTREAN_DATABASE_URL")
        .output()
        .expect("antrean-central runs");
    assert!(
        out.status.success(),
        "antrean-central {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Signing key and an admin token of every office.
fn prepare(dir: &Path, config: &Path) -> String {
    cli(&["keygen", "--key-dir", dir.join("keys").to_str().unwrap()]);
    cli(&[
        "token",
        "add",
        "--config",
        config.to_str().unwrap(),
        "--role",
        "admin",
        "--office",
        "*",
    ])
}

/// `antrean-central serve` on a free loopback port.
struct Instance {
    child: Child,
    addr: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child: the graceful stop.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn serve(config: &Path, now: &str) -> Instance {
    let mut child = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .env("ANTREAN_NOW", now)
        .env("RUST_LOG", "warn")
        .env_remove("ANTREAN_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("antrean-central serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("a listening line").expect("stdout");
        if let Some(a) = line.strip_prefix("antrean-central listening on http://") {
            break a.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Instance { child, addr }
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur
}

fn main() {
    let fds = raise_fd_limit();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    println!("city bench: fd limit {fds}, profile of the binary: {BIN}");
    let pg = postgres::cluster();
    if only.is_empty() || only == "rush" {
        if let Some(pg) = pg {
            rt.block_on(rush(Some(pg.fresh_database()), 2));
        }
        rt.block_on(rush(None, 1));
    }
    if only.is_empty() || only == "boards" {
        match pg {
            Some(pg) => rt.block_on(boards(pg.fresh_database())),
            None => println!("city boards: skipped (no PostgreSQL)"),
        }
    }
}

async fn rush(database: Option<String>, instances: usize) {
    let requests: usize = env_or("BENCH_BOOKINGS", 20_000);
    let quota: u32 = env_or("BENCH_QUOTA", 100);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 64);
    let dir = tempfile::tempdir().expect("a directory");
    let config = city_config(dir.path(), database.as_deref(), quota);
    let admin = Arc::new(prepare(dir.path(), &config));
    // Before the first session: every session of the day can be booked.
    let servers: Vec<Instance> = (0..instances)
        .map(|_| serve(&config, "2024-05-08T06:00:00+07:00"))
        .collect();
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let answers: Vec<(usize, usize, u16, Value, Duration)> = stream::iter(0..requests)
        .map(|i| {
            let (http, admin) = (http.clone(), admin.clone());
            let addr = addrs[i % addrs.len()].clone();
            async move {
                let (office, session) = (i % OFFICES, (i / OFFICES) % SLOTS.len());
                let t0 = Instant::now();
                let resp = http
                    .post(format!(
                        "http://{addr}/v1/offices/{}/bookings",
                        office_id(office)
                    ))
                    .bearer_auth(admin.as_str())
                    .json(&json!({"date": DAY, "slot": SLOTS[session], "service": "KK"}))
                    .send()
                    .await
                    .expect("an answer");
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                (office, session, status, body, t0.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    let mut per_session: HashMap<(usize, usize), usize> = HashMap::new();
    let mut numbers = HashSet::new();
    let mut codes = HashSet::new();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    let mut latencies: Vec<Duration> = Vec::with_capacity(answers.len());
    for (office, session, status, body, took) in &answers {
        *statuses.entry(*status).or_default() += 1;
        latencies.push(*took);
        if *status == 201 {
            *per_session.entry((*office, *session)).or_default() += 1;
            let number = body["number"].as_str().expect("a number").to_string();
            let code = body["booking"].as_str().expect("a code").to_string();
            assert!(
                numbers.insert((*office, number.clone())),
                "number {number} twice at office {office}"
            );
            assert!(codes.insert((*office, code.clone())), "code {code} twice");
        }
    }
    let asked_per_session = requests / (OFFICES * SLOTS.len());
    let want = (quota as usize).min(asked_per_session);
    let wrong: Vec<_> = per_session.iter().filter(|(_, n)| **n != want).collect();
    assert!(
        wrong.is_empty() && per_session.len() == OFFICES * SLOTS.len(),
        "sessions not at exactly {want}: {wrong:?}"
    );
    latencies.sort();
    let backend = match database {
        Some(_) => "PostgreSQL",
        None => "SQLite",
    };
    println!(
        "booking rush, {backend}, {instances} instance(s), {OFFICES} offices x {} sessions of quota {quota}: {requests} requests ({concurrency} at once) in {:.1} s = {:.0} requests/s; answers {:?}; exactly {want} accepted in each of {} sessions, no number or code twice; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        SLOTS.len(),
        wall.as_secs_f64(),
        requests as f64 / wall.as_secs_f64(),
        {
            let mut s: Vec<_> = statuses.into_iter().collect();
            s.sort();
            s
        },
        per_session.len(),
        pct(&latencies, 0.5),
        pct(&latencies, 0.99),
        pct(&latencies, 1.0),
    );
    drop(servers);
}

/// One subscriber's calls: (number, when its event arrived).
type Heard = Vec<(String, Instant)>;

async fn boards(database: String) {
    let per_office: usize = env_or("BENCH_SUBSCRIBERS_PER_OFFICE", 100);
    let rate: u64 = env_or("BENCH_CALLS_PER_SECOND", 10);
    let seconds: u64 = env_or("BENCH_SECONDS", 60);
    let calls = (rate * seconds) as usize;
    let dir = tempfile::tempdir().expect("a directory");
    let config = city_config(dir.path(), Some(&database), 1000);
    let admin = Arc::new(prepare(dir.path(), &config));
    // In the 09:00 session: bookings in it can be checked in.
    let now = "2024-05-08T09:20:00+07:00";
    let servers = [serve(&config, now), serve(&config, now)];
    let http = reqwest::Client::new();
    // Enough people checked in at every office for every call.
    let waiting = calls / OFFICES + 1;
    let jobs: Vec<usize> = (0..OFFICES * waiting).collect();
    stream::iter(jobs)
        .for_each_concurrent(32, |i| {
            let (http, admin) = (http.clone(), admin.clone());
            let addr = servers[i % 2].addr.clone();
            async move {
                let base = format!("http://{addr}/v1/offices/{}", office_id(i % OFFICES));
                let b: Value = http
                    .post(format!("{base}/bookings"))
                    .bearer_auth(admin.as_str())
                    .json(&json!({"date": DAY, "slot": "09:00-10:00", "service": "KK"}))
                    .send()
                    .await
                    .expect("booked")
                    .json()
                    .await
                    .expect("a booking");
                let st = http
                    .post(format!("{base}/checkins"))
                    .bearer_auth(admin.as_str())
                    .json(
                        &json!({"booking": b["booking"], "number": b["number"], "kiosk": "lobby-1",
                                  "checked_in_at": now, "offline": false}),
                    )
                    .send()
                    .await
                    .expect("checked in")
                    .status();
                assert_eq!(st.as_u16(), 201, "check-in");
            }
        })
        .await;

    let rss_before: u64 = servers.iter().map(|s| rss_kib(s.child.id())).sum();
    let heard = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let subscribers = OFFICES * per_office;
    let opened = Instant::now();
    let tasks: Vec<(usize, tokio::task::JoinHandle<Heard>)> = stream::iter(0..subscribers)
        .map(|i| {
            let office = i % OFFICES;
            let addr = servers[(i / OFFICES) % 2].addr.clone();
            let (admin, heard, mut stop) = (admin.clone(), heard.clone(), stop_rx.clone());
            async move {
                // A connection of its own, as each board display has.
                let client = reqwest::Client::new();
                let mut resp = client
                    .get(format!(
                        "http://{addr}/v1/offices/{}/events",
                        office_id(office)
                    ))
                    .bearer_auth(admin.as_str())
                    .send()
                    .await
                    .expect("a stream");
                assert_eq!(resp.status().as_u16(), 200, "stream of office {office}");
                let task = tokio::spawn(async move {
                    let mut parser = SseParser::new();
                    let mut got: Heard = Vec::new();
                    loop {
                        tokio::select! {
                            chunk = resp.chunk() => {
                                let Ok(Some(chunk)) = chunk else { break };
                                let at = Instant::now();
                                for item in parser.push(&chunk) {
                                    if let SseItem::Message(m) = item {
                                        if let Ok(BoardEvent::Call(c)) = BoardEvent::parse(&m.event, &m.data) {
                                            got.push((c.number.clone(), at));
                                            heard.fetch_add(1, Ordering::Relaxed);
                                        }
                                    }
                                }
                            }
                            _ = stop.wait_for(|s| *s) => break,
                        }
                    }
                    drop(client);
                    got
                });
                (office, task)
            }
        })
        .buffer_unordered(200)
        .collect()
        .await;
    let open_took = opened.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle: u64 = servers.iter().map(|s| rss_kib(s.child.id())).sum();
    let per_sub = (rss_idle.saturating_sub(rss_before)) as f64 * 1024.0 / subscribers as f64;

    // The calls: one every 1/rate s, round the offices, alternating instances.
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending = Vec::with_capacity(calls);
    let started = Instant::now();
    for k in 0..calls {
        tick.tick().await;
        let (http, admin) = (http.clone(), admin.clone());
        let addr = servers[k % 2].addr.clone();
        let office = k % OFFICES;
        pending.push(tokio::spawn(async move {
            let resp = http
                .post(format!(
                    "http://{addr}/v1/offices/{}/counters/1/next",
                    office_id(office)
                ))
                .bearer_auth(admin.as_str())
                .send()
                .await
                .expect("a call");
            let answered = Instant::now();
            assert_eq!(resp.status().as_u16(), 200, "call {k}");
            let v: Value = resp.json().await.expect("the call's answer");
            (
                office,
                v["number"].as_str().expect("a number").to_string(),
                answered,
            )
        }));
    }
    let mut answered = Vec::with_capacity(calls);
    for p in pending {
        answered.push(p.await.expect("a call task"));
    }
    let calling = started.elapsed();
    let expected = calls * per_office;
    let deadline = Instant::now() + Duration::from_secs(30);
    while heard.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    let mut by_office: HashMap<usize, Vec<Heard>> = HashMap::new();
    for (office, task) in tasks {
        by_office
            .entry(office)
            .or_default()
            .push(task.await.expect("a subscriber"));
    }
    let mut latencies = Vec::with_capacity(calls);
    let mut missing = 0usize;
    for (office, number, at) in &answered {
        let mut last = Duration::ZERO;
        for sub in &by_office[office] {
            match sub.iter().find(|(n, _)| n == number) {
                Some((_, when)) => last = last.max(when.saturating_duration_since(*at)),
                None => missing += 1,
            }
        }
        latencies.push(last);
    }
    latencies.sort();
    println!(
        "city boards, PostgreSQL, 2 instances: {subscribers} event streams ({per_office} per office x {OFFICES}, opened in {:.1} s); {calls} calls in {:.1} s ({rate}/s); call answered -> last subscriber of its office holds the event: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; events missing: {missing} of {expected}; memory per idle subscriber {:.1} KiB (RSS of both instances {} -> {} KiB)",
        open_took.as_secs_f64(),
        calling.as_secs_f64(),
        pct(&latencies, 0.5),
        pct(&latencies, 0.99),
        pct(&latencies, 1.0),
        per_sub / 1024.0,
        rss_before,
        rss_idle,
    );
    assert_eq!(
        missing, 0,
        "every subscriber hears every call of its office"
    );
}
