//! Benchmarks that print figures (no assertions on time): scan to first
//! ticket byte through the real daemon and pseudo-terminals, bytes and wire
//! time per ticket, board event latency, footprint and start-up.
//! Run with `cargo bench --bench kiosk`; `BENCH_SCANS=N` changes the count.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use antrean_kiosk::central::board_sync::{run_board, BoardFeed, BoardSyncOptions};
use antrean_kiosk::central::client::CentralClient;
use support::*;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3
    );
}

/// RSS in KiB and CPU ticks (utime + stime) of a process.
fn footprint(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    (rss, ticks)
}

/// Polls `f` every 0.1 ms, for up to 10 s.
fn poll_until(what: &str, mut f: impl FnMut() -> bool) {
    poll_every(
        Duration::from_micros(100),
        what,
        Duration::from_secs(10),
        || f().then_some(()),
    );
}

fn scan_to_ticket(n: usize) {
    let start = Instant::now();
    let office = Office::new("");
    let pty = Pty::new();
    pty.link_at(&office.printer_link);
    let printer = PrinterTap::start(pty);
    let mut scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let daemon = DaemonProcess::start(&office, &[]);
    println!(
        "start-up (process start to ready to scan, incl. spawn): {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    daemon.wait_log("scanner port open");
    let pid = daemon.child.id();
    let (rss, _) = footprint(pid);
    println!(
        "headless daemon resident memory after start: {:.1} MB",
        rss as f64 / 1024.0
    );
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let booking = format!("BGR-240508-{:05}", 10_000 + i);
        let tok = token(
            &booking,
            &format!("B-{:03}", i % 1000),
            "2024-05-08",
            "09:00-10:00",
            "KK",
        );
        let before = printer.snapshot().len();
        let t0 = Instant::now();
        scanner.send(format!("{tok}\r\n").as_bytes());
        poll_until("the first ticket byte", || {
            printer.snapshot().len() > before
        });
        samples.push(t0.elapsed());
        daemon.wait_scan(i + 1);
    }
    report(
        &format!("scan -> first ticket byte ({n} scans, real daemon, pty scanner and printer)"),
        samples,
    );
    let tickets = printer.wait_tickets(n);
    let sizes: Vec<usize> = tickets.iter().map(Vec::len).collect();
    let max = *sizes.iter().max().unwrap();
    let avg = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    println!("bytes per ticket: avg {avg:.0}, max {max}");
    for baud in [9600u32, 19200, 115_200] {
        // 8N1: 10 bits on the wire per byte.
        println!(
            "  wire time at {baud} baud: {:.0} ms (max ticket)",
            max as f64 * 10.0 / f64::from(baud) * 1e3
        );
    }
    // Idle CPU over a while.
    let idle = Duration::from_secs(
        std::env::var("BENCH_IDLE_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    );
    let (_, t0) = footprint(pid);
    std::thread::sleep(idle);
    let (rss, t1) = footprint(pid);
    let hz = 100.0;
    println!(
        "idle CPU over {} s: {:.2} %, resident memory {:.1} MB",
        idle.as_secs(),
        (t1 - t0) as f64 / hz / idle.as_secs_f64() * 100.0,
        rss as f64 / 1024.0
    );
    let _ = scanner.pty.master.flush();
}

/// A central service with `n` checked-in residents waiting, and the kiosk's
/// board sync connected to it over loopback SSE.
struct BoardFixture {
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
    central: antrean_central::Central,
    feed: tokio::sync::watch::Receiver<BoardFeed>,
    clock: antrean_host::clock::Clock,
    state_dir: std::path::PathBuf,
}

fn board_fixture(n: usize) -> BoardFixture {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (central, addr, clock) = inprocess_central(&rt, dir.path(), "t");
    for _ in 0..n {
        rt.block_on(book_and_check_in(&central, "09:00-10:00", "bench"));
    }
    let client = CentralClient::new(&format!("http://{addr}"), "kota-bogor", "t").unwrap();
    let (feed_tx, feed) = tokio::sync::watch::channel(BoardFeed::default());
    let status = std::sync::Arc::new(tokio::sync::watch::Sender::new(Default::default()));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    rt.spawn(run_board(
        client,
        clock,
        BoardSyncOptions::default(),
        feed_tx,
        status,
        std::sync::Arc::new(antrean_kiosk::metrics::Metrics::new()),
        stop,
    ));
    wait_for("the board stream", Duration::from_secs(10), || {
        feed.borrow().connected.then_some(())
    });
    let state_dir = dir.path().join("state");
    BoardFixture {
        _rt: rt,
        _dir: dir,
        _stop: stop_tx,
        central,
        feed,
        clock,
        state_dir,
    }
}

fn board_latency(n: usize) {
    let BoardFixture {
        central, feed, _rt, ..
    } = &board_fixture(n);
    let mut samples = Vec::new();
    for i in 0..n {
        let counter = ((i % 4) + 1).to_string();
        let t0 = Instant::now();
        _rt.block_on(central.next(&counter)).unwrap();
        let target = _rt.block_on(central.seq()).unwrap();
        poll_until("the board to apply the call", || {
            feed.borrow().state.seq() >= target
        });
        samples.push(t0.elapsed());
    }
    report(
        &format!("central call -> kiosk board state updated over loopback SSE ({n} calls)"),
        samples,
    );
}

/// Central call -> the board window's property, through the board sync and
/// the screens' controller (headless Slint). The controller is pumped every
/// 0.1 ms here; the real screens pump every 50 ms, which adds up to
/// 50 ms to these figures.
fn ui_latency(n: usize) {
    use antrean_kiosk::ui::controller::{Controller, Sources};
    use antrean_kiosk::ui::{board_adapter, BoardAdapter};
    use antrean_testkit::screenshots;
    use slint::ComponentHandle;
    screenshots::init_headless();
    let fx = board_fixture(n);
    let config = antrean_kiosk::config::Config::parse(
        &format!(
            "[office]\nid = \"kota-bogor\"\nname = \"Disdukcapil\"\n[kiosk]\nid = \"b\"\nstate_dir = \"{}\"\n[printer]\nport = \"virtual\"\n",
            fx.state_dir.display()
        ),
        std::path::Path::new("bench.toml"),
    )
    .unwrap();
    let (kiosk_events, _k) = std::sync::mpsc::sync_channel(64);
    let (_r, reports) = std::sync::mpsc::channel();
    let (_a, actions) = std::sync::mpsc::channel();
    let board = board_adapter::create().unwrap();
    board
        .window()
        .set_size(slint::PhysicalSize::new(1920, 1080));
    board.show().unwrap();
    let mut c = Controller::new(
        &config,
        Sources {
            kiosk_events,
            reports,
            actions,
            manifest: tokio::sync::watch::channel(None).1,
            board: fx.feed.clone(),
            link: None,
            printer: tokio::sync::watch::channel(antrean_core::api::PrinterHealth {
                state: "ok".into(),
                detail: None,
            })
            .1,
            client: None,
            runtime: None,
            clock: fx.clock,
        },
        None,
        Some(board.clone_strong()),
    );
    let mut samples = Vec::new();
    for i in 0..n {
        let counter = ((i % 4) + 1).to_string();
        let t0 = Instant::now();
        let called = fx._rt.block_on(fx.central.next(&counter)).unwrap().unwrap();
        let number = called.number;
        poll_until("the board window to show the call", || {
            c.pump();
            board.global::<BoardAdapter>().get_last_number() == number.as_str()
        });
        samples.push(t0.elapsed());
    }
    report(
        &format!(
            "central call -> board window property set, controller pumped every 0.1 ms ({n} calls)"
        ),
        samples,
    );
}

fn main() {
    // `cargo bench` passes flags such as --bench; ignore them.
    let scans = std::env::var("BENCH_SCANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let calls = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    println!(
        "antrean-kiosk benchmarks on {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    scan_to_ticket(scans);
    board_latency(calls);
    ui_latency(calls);
}
