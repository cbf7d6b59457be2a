//! Several instances of the real `antrean-central` on one PostgreSQL (the
//! throwaway cluster of this run), as behind a load balancer: a call made
//! through instance A reaches an event stream on instance B; 200
//! concurrent bookings split over both for a session of quota 40 give
//! exactly 40 bookings with 40 distinct numbers; instance A killed
//! (SIGKILL) in the middle of a rush loses and duplicates nothing; an
//! instance whose database goes away reports not ready, keeps its retry
//! loop calm, and is ready again by itself when the database is back.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use antrean_core::events::BoardEvent;
use antrean_core::sse::SseParser;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::binary::{central_cmd, serve_binary, Serving};
use crate::support::city::{city_config, CITY};
use crate::support::postgres::{cluster, database_of, Cluster};
use crate::support::sse::read_events;
use crate::support::wait::{wait_for, wait_for_async, LIMIT};
use crate::support::{NOW, TODAY};

const OFFICE: &str = CITY[1].0;

/// A city on a fresh database of the cluster: its configuration, its
/// signing key made once (shared by the instances), and tokens.
struct Setup {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    url: String,
    staff: String,
    kiosk: String,
    booking: String,
    admin: String,
}

fn token(config: &Path, args: &[&str]) -> String {
    let cfg = config.to_str().unwrap();
    let mut a = vec!["token", "add", "--config", cfg];
    a.extend(args);
    let (ok, out, err) = central_cmd(&a, None);
    assert!(ok, "token add {args:?}: {err}");
    out.trim().to_string()
}

fn setup(pg: &Cluster, quota: u32, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = pg.fresh_database();
    let config = city_config(dir.path(), &url, quota, extra);
    let keys = dir.path().join("keys");
    let (ok, _, err) = central_cmd(&["keygen", "--key-dir", keys.to_str().unwrap()], None);
    assert!(ok, "{err}");
    let staff = token(&config, &["--role", "staff", "--office", OFFICE]);
    let kiosk = token(
        &config,
        &["--role", "kiosk", "--office", OFFICE, "--kiosk", "lobby-1"],
    );
    let booking = token(&config, &["--role", "booking", "--office", OFFICE]);
    let admin = token(&config, &["--role", "admin", "--office", "*"]);
    Setup {
        _dir: dir,
        config,
        url,
        staff,
        kiosk,
        booking,
        admin,
    }
}

fn api(s: &Serving, path: &str) -> String {
    format!("http://{}/v1/offices/{OFFICE}{path}", s.addr)
}

async fn book(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let resp = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({"date": TODAY, "slot": "09:00-10:00", "service": "KK"}))
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

/// The office's live bookings of the day, as the database has them (the
/// manifest, through `via`): (code, number).
async fn booked(http: &reqwest::Client, via: &Serving, admin: &str) -> Vec<(String, String)> {
    let m: Value = http
        .get(api(via, &format!("/manifest?date={TODAY}")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    m["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["status"] != "cancelled")
        .map(|b| {
            (
                b["booking"].as_str().unwrap().to_string(),
                b["number"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_one_instance_reaches_a_stream_on_the_other() {
    let Some(pg) = cluster() else { return };
    let s = setup(pg, 40, "");
    let (a, b) = (serve_binary(&s.config, &[]), serve_binary(&s.config, &[]));
    let http = reqwest::Client::new();
    // Booked and checked in through A.
    let (st, v) = book(&http, &api(&a, "/bookings"), &s.booking)
        .await
        .unwrap();
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let resp = http
        .post(api(&a, "/checkins"))
        .bearer_auth(&s.kiosk)
        .json(
            &json!({"booking": v["booking"], "number": v["number"], "kiosk": "lobby-1",
                      "checked_in_at": NOW}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    // A kiosk's stream on B, from the start of the day's log.
    let mut stream = http
        .get(api(&b, "/events"))
        .bearer_auth(&s.kiosk)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut parser = SseParser::new();
    let replayed = read_events(&mut stream, &mut parser, 1).await;
    assert_eq!(replayed[0].1.kind(), "checkin", "replayed from the log");
    // The counter calls through A; B's client hears it.
    let called: Value = http
        .post(api(&a, "/counters/2/next"))
        .bearer_auth(&s.staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let live = read_events(&mut stream, &mut parser, 1).await;
    match &live[0].1 {
        BoardEvent::Call(c) => {
            assert_eq!(
                (c.seq, c.number.as_str(), c.counter.as_str()),
                (2, "B-001", "2")
            );
            assert_eq!(called["number"], "B-001");
        }
        other => panic!("B's stream got {other:?}"),
    }
    // And the other way round, with a notice through B to a stream on A.
    let mut on_a = http
        .get(api(&a, "/events"))
        .bearer_auth(&s.staff)
        .send()
        .await
        .unwrap();
    let st = http
        .post(api(&b, "/notice"))
        .bearer_auth(&s.staff)
        .json(&json!({"text": "Istirahat"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, StatusCode::NO_CONTENT);
    let n = read_events(&mut on_a, &mut SseParser::new(), 1).await;
    assert_eq!((n[0].1.seq(), n[0].1.kind()), (3, "notice"));
    let n = read_events(&mut stream, &mut parser, 1).await;
    assert_eq!((n[0].1.seq(), n[0].1.kind()), (3, "notice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_bookings_over_two_instances_fill_a_quota_of_forty_exactly() {
    let Some(pg) = cluster() else { return };
    let s = setup(pg, 40, "");
    let (a, b) = (serve_binary(&s.config, &[]), serve_binary(&s.config, &[]));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let http = http.clone();
            let url = api(if i % 2 == 0 { &a } else { &b }, "/bookings");
            let token = s.booking.clone();
            tokio::spawn(async move { book(&http, &url, &token).await.unwrap() })
        })
        .collect();
    let (mut created, mut full, mut numbers) = (0, 0, HashSet::new());
    for t in tasks {
        let (st, v) = t.await.unwrap();
        match st {
            StatusCode::CREATED => {
                created += 1;
                assert!(numbers.insert(v["number"].as_str().unwrap().to_string()));
            }
            StatusCode::CONFLICT => {
                assert_eq!(v["error"], "slot_full");
                full += 1;
            }
            other => panic!("a booking got {other}: {v}"),
        }
    }
    assert_eq!((created, full), (40, 160));
    let want: HashSet<String> = (1..=40).map(|n| format!("B-{n:03}")).collect();
    assert_eq!(numbers, want, "B-001 to B-040, each once");
    let stored = booked(&http, &b, &s.admin).await;
    assert_eq!(stored.len(), 40, "the database holds the quota, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_in_a_rush_loses_and_duplicates_no_booking() {
    let Some(pg) = cluster() else { return };
    let quota = 150;
    let s = setup(pg, quota, "");
    let mut a = serve_binary(&s.config, &[]);
    let b = serve_binary(&s.config, &[]);
    let (url_a, url_b) = (api(&a, "/bookings"), api(&b, "/bookings"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    // 300 residents, 20 at a time, each trying A first (odd ones) or B; a
    // resident whose instance fails (no answer) tries the other one.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(StatusCode, Value, bool)>(400);
    let queue = std::sync::Arc::new(std::sync::Mutex::new((0..300).collect::<Vec<u32>>()));
    let mut workers = Vec::new();
    for _ in 0..20 {
        let (http, tx, queue, answered) =
            (http.clone(), tx.clone(), queue.clone(), answered.clone());
        let (url_a, url_b, token) = (url_a.clone(), url_b.clone(), s.booking.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(i) = queue.lock().unwrap().pop() else {
                    return;
                };
                let order = if i % 2 == 1 {
                    [&url_a, &url_b]
                } else {
                    [&url_b, &url_a]
                };
                let mut retried = false;
                let mut outcome = None;
                for url in order {
                    match book(&http, url, &token).await {
                        Ok((st, v)) if !st.is_server_error() => {
                            outcome = Some((st, v));
                            break;
                        }
                        // No answer, or the instance could not finish it:
                        // the next instance.
                        _ => retried = true,
                    }
                }
                let (st, v) = outcome.expect("the surviving instance answers");
                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = tx.send((st, v, retried)).await;
            }
        }));
    }
    drop(tx);
    // In the middle of the rush, instance A dies.
    let mid = answered.clone();
    tokio::task::spawn_blocking(move || {
        wait_for("the rush to be under way", LIMIT, || {
            (mid.load(std::sync::atomic::Ordering::Relaxed) >= 60).then_some(())
        })
    })
    .await
    .unwrap();
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let killed_at = answered.load(std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    let (mut full, mut retried) = (0, 0);
    while let Some((st, v, r)) = rx.recv().await {
        retried += usize::from(r);
        match st {
            StatusCode::CREATED => seen.push((
                v["booking"].as_str().unwrap().to_string(),
                v["number"].as_str().unwrap().to_string(),
            )),
            StatusCode::CONFLICT => {
                assert_eq!(v["error"], "slot_full");
                full += 1;
            }
            other => panic!("a booking got {other}: {v}"),
        }
    }
    eprintln!(
        "rush: A killed after {killed_at} answers; {} booked, {full} full, {retried} retried on the other instance",
        seen.len()
    );
    assert!(killed_at < 300, "A was killed during the rush");
    assert_eq!(seen.len() + full, 300, "every resident got an answer");
    let stored = booked(&http, &b, &s.admin).await;
    // Every 201 a resident saw is in the database, once, as answered.
    for (code, number) in &seen {
        let n = stored.iter().filter(|(c, _)| c == code).count();
        assert_eq!(n, 1, "{code} is stored {n} times");
        assert!(
            stored.contains(&(code.clone(), number.clone())),
            "{code} {number}"
        );
    }
    // Numbers unique and gap-free; the quota held.
    let mut numbers: Vec<&str> = stored.iter().map(|(_, n)| n.as_str()).collect();
    numbers.sort_unstable();
    let want: Vec<String> = (1..=stored.len()).map(|n| format!("B-{n:03}")).collect();
    assert_eq!(numbers, want.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(stored.len() <= quota as usize, "{} stored", stored.len());
    // A booking A committed without its answer reaching anyone is the only
    // kind not seen: the session is full, or only those are missing.
    assert!(
        stored.len() == quota as usize || stored.len() - seen.len() <= 20,
        "{} stored, {} seen",
        stored.len(),
        seen.len()
    );
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
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

async fn status(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_its_database_is_not_ready_stays_calm_and_recovers_by_itself() {
    let Some(pg) = cluster() else { return };
    let s = setup(pg, 40, "");
    let server = serve_binary(&s.config, &[]);
    let http = reqwest::Client::new();
    let (live, ready) = (
        format!("http://{}/livez", server.addr),
        format!("http://{}/readyz", server.addr),
    );
    wait_for_async("the instance to be ready", || async {
        (status(&http, &ready).await == Some(200)).then_some(())
    })
    .await;
    // The database goes away (for this instance: new connections refused,
    // open ones ended).
    let db = database_of(&s.url).to_string();
    pg.block(&db);
    wait_for_async("readiness to turn 503", || async {
        (status(&http, &ready).await == Some(503)).then_some(())
    })
    .await;
    assert_eq!(status(&http, &live).await, Some(200), "still alive");
    let body: Value = http.get(&ready).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["status"], "not_ready", "{body}");
    // While it is gone: no hot loop, and the listener's reconnects back off.
    let pid = server.child.id();
    let tries = |log: &[String]| log.iter().filter(|l| l.contains("reconnecting")).count();
    let (cpu0, tries0, t0) = (
        cpu_time(pid),
        tries(&server.log.lock().unwrap()),
        Instant::now(),
    );
    // An observation window, not a wait for something.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (cpu, wall) = (cpu_time(pid) - cpu0, t0.elapsed());
    let retried = tries(&server.log.lock().unwrap()) - tries0;
    eprintln!("without its database: {cpu:?} CPU in {wall:?}, {retried} listener reconnects");
    assert!(
        cpu < wall / 20,
        "{cpu:?} of CPU in {wall:?} without a database"
    );
    // Backoff from 250 ms, capped at 10 s: at most about 6 tries in 6 s
    // (the delays grow 0.25, 0.5, 1, 2, 4 s, with jitter down to half).
    assert!(retried <= 8, "{retried} reconnects in {wall:?}");
    let api_status = http
        .get(api(&server, "/board"))
        .bearer_auth(&s.staff)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        api_status,
        StatusCode::SERVICE_UNAVAILABLE,
        "requests get 503, retry later"
    );
    // The database comes back: ready again, by itself.
    pg.unblock(&db);
    wait_for_async("readiness to come back", || async {
        (status(&http, &ready).await == Some(200)).then_some(())
    })
    .await;
    let resp = http
        .get(api(&server, "/board"))
        .bearer_auth(&s.staff)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
