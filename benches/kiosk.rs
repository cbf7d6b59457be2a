//! Benchmarks that print figures (no assertions on time): scan to first
//! ticket byte through the real daemon and pseudo-terminals, bytes and wire
//! time per ticket, board event latency (split into the central service's
//! call and the way to the kiosk), the same to the board window through the
//! real event-driven screens, the time a keyboard-wedge scan adds before the
//! kiosk loop has it, the screens' wake-ups while nothing changes,
//! footprint and start-up.
//! Run with `cargo bench --bench kiosk`; `BENCH_SCANS`, `BENCH_CALLS`,
//! `BENCH_IDLE_SECONDS` and `BENCH_IDLE_UI_SECONDS` change the counts,
//! `BENCH_ONLY=ui,wedge,idle` runs some parts only.

use std::io::Write;
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use antrean_kiosk::app::{App, AppOptions};
use antrean_kiosk::central::board_sync::{run_board, BoardFeed, BoardSyncOptions};
use antrean_kiosk::central::client::CentralClient;
use antrean_kiosk::config::Config;
use antrean_kiosk::daemon::ScanSource;
use antrean_kiosk::kiosk::{report_channel, Event, ScanReport};
use antrean_kiosk::screen_feed::{Screens, Update};
use antrean_kiosk::ui::model::ScreenSettings;
use antrean_kiosk::ui::run::ScreenWindows;
use antrean_kiosk::ui::{BoardAdapter, BoardWindow};
use antrean_testkit::prelude::*;
use antrean_testkit::screenshots;
use slint::ComponentHandle;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Prints p50/p99/max; returns (p50, p99).
fn report(name: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        ms(p50),
        ms(p99),
        ms(*samples.last().unwrap())
    );
    (p50, p99)
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

/// Context switches (voluntary + involuntary) of the calling thread: each
/// time the thread slept and was woken counts once.
fn context_switches_of_this_thread() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.contains("ctxt_switches:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
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
        ms(start.elapsed())
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
    // Idle CPU over a while (the measurement window is a sleep on purpose).
    let idle = Duration::from_secs(env_or("BENCH_IDLE_SECONDS", 20));
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

/// The central service in this process with `n` checked-in residents.
struct CentralFixture {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    central: antrean_central::Central,
    addr: std::net::SocketAddr,
    clock: antrean_host::clock::Clock,
}

fn central_fixture(n: usize) -> CentralFixture {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (central, addr, clock) = inprocess_central(&rt, dir.path(), "t");
    for _ in 0..n {
        rt.block_on(book_and_check_in(&central, "09:00-10:00", "bench"));
    }
    CentralFixture {
        rt,
        dir,
        central,
        addr,
        clock,
    }
}

/// Central call -> the kiosk's board state (board sync over loopback SSE),
/// split into the call itself (the central service's SQLite commit) and
/// the rest (event fan-out, SSE, the kiosk's parser and board state).
fn board_latency(n: usize) {
    let fx = central_fixture(n);
    let client = CentralClient::new(&format!("http://{}", fx.addr), "kota-bogor", "t").unwrap();
    let (feed_tx, feed) = tokio::sync::watch::channel(BoardFeed::default());
    let status = Arc::new(tokio::sync::watch::Sender::new(Default::default()));
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    fx.rt.spawn(run_board(
        client,
        fx.clock,
        BoardSyncOptions::default(),
        feed_tx,
        status,
        Arc::new(antrean_kiosk::metrics::Metrics::new()),
        stop,
    ));
    wait_for("the board stream", Duration::from_secs(10), || {
        feed.borrow().connected.then_some(())
    });
    let (mut whole, mut call, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let counter = ((i % 4) + 1).to_string();
        let t0 = Instant::now();
        fx.rt.block_on(fx.central.next(&counter)).unwrap();
        let called = Instant::now();
        let target = fx.rt.block_on(fx.central.seq()).unwrap();
        poll_until("the board to apply the call", || {
            feed.borrow().state.seq() >= target
        });
        let t1 = Instant::now();
        whole.push(t1 - t0);
        call.push(called - t0);
        rest.push(t1 - called);
    }
    report(
        &format!("central call -> kiosk board state updated over loopback SSE ({n} calls)"),
        whole,
    );
    report("  of which the call itself (central's SQLite commit)", call);
    report("  of which the way to the kiosk's board state", rest);
}

/// A kiosk configuration for the in-process central service.
fn kiosk_config(fx: &CentralFixture, role: &str) -> Config {
    Config::parse(
        &format!(
            "[office]\nid = \"kota-bogor\"\nname = \"Disdukcapil\"\n[kiosk]\nid = \"bench\"\nstate_dir = \"{}\"\n[printer]\nport = \"virtual\"\n[central]\nurl = \"http://{}\"\ntoken = \"t\"\n[ui]\nrole = \"{role}\"\n",
            fx.dir.path().join("state").display(),
            fx.addr
        ),
        std::path::Path::new("bench.toml"),
    )
    .unwrap()
}

/// The real screens, and after each board update the board's number as
/// the window shows it, read on the UI thread right after the update was
/// applied there (the event loop runs closures in order).
struct Timed {
    inner: Arc<dyn Screens>,
    board: slint::Weak<BoardWindow>,
    shown: Sender<(String, Instant)>,
}

impl Screens for Timed {
    fn show(&self, update: Update) {
        let board = matches!(update, Update::Board(_));
        self.inner.show(update);
        if board {
            let tx = self.shown.clone();
            let _ = self.board.upgrade_in_event_loop(move |b| {
                let number = b.global::<BoardAdapter>().get_last_number().to_string();
                let _ = tx.send((number, Instant::now()));
            });
        }
    }
}

/// Central call -> the board window's property, through the real App, the
/// screen feed and Slint's event loop (headless, on this thread). The event
/// loop sleeps between calls; nothing polls.
fn ui_latency(fx: &CentralFixture, n: usize) {
    let config = kiosk_config(fx, "board");
    let app = App::start(
        &config,
        AppOptions {
            source: ScanSource::None,
            ..AppOptions::configured(fx.clock)
        },
    )
    .unwrap();
    let windows = ScreenWindows::open(&ScreenSettings::from_config(&config), &[]).unwrap();
    let board = windows.board().unwrap().clone_strong();
    board
        .window()
        .set_size(slint::PhysicalSize::new(1920, 1080));
    let (shown_tx, shown) = channel();
    let feed = app
        .attach_screens(Arc::new(Timed {
            inner: windows.presenter(),
            board: board.as_weak(),
            shown: shown_tx,
        }))
        .unwrap();
    windows.connect(feed);
    windows.show().unwrap();
    let central = fx.central.clone();
    let rt = fx.rt.handle().clone();
    let driver = std::thread::spawn(move || {
        let wait_for_number = |shown: &Receiver<(String, Instant)>, number: &str| loop {
            let (n, at) = shown
                .recv_timeout(Duration::from_secs(10))
                .expect("the board window shows the call");
            if n == number {
                return at;
            }
        };
        // Settle: the board is live and shown.
        while shown.recv_timeout(Duration::from_millis(500)).is_ok() {}
        let mut samples = Vec::new();
        for i in 0..n {
            let counter = ((i % 4) + 1).to_string();
            let t0 = Instant::now();
            let called = rt.block_on(central.next(&counter)).unwrap().unwrap();
            let number = called.number;
            samples.push(wait_for_number(&shown, &number) - t0);
        }
        let _ = slint::invoke_from_event_loop(|| {
            let _ = slint::quit_event_loop();
        });
        samples
    });
    slint::run_event_loop().unwrap();
    let samples = driver.join().unwrap();
    report(
        &format!("central call -> board window property set, event-driven screens ({n} calls)"),
        samples,
    );
    drop(windows);
    app.stop();
}

/// A keyboard-wedge scan on the kiosk window, from its Enter key to the
/// kiosk loop's report, against the same scans handed to the kiosk loop
/// directly: the difference is what the screen path adds.
fn wedge_latency(fx: &CentralFixture, n: usize) {
    use antrean_kiosk::ui::KioskWindow;
    let config = kiosk_config(fx, "kiosk");
    let (reports_tx, reports) = channel::<ScanReport>();
    let app = App::start(
        &config,
        AppOptions {
            source: ScanSource::None,
            observers: vec![report_channel(reports_tx)],
            ..AppOptions::configured(fx.clock)
        },
    )
    .unwrap();
    let sender = app.sender().unwrap();
    let clock_ms = Rc::new(std::cell::Cell::new(0u64));
    let c = clock_ms.clone();
    let windows = ScreenWindows::open_with(
        &ScreenSettings::from_config(&config),
        &[],
        Rc::new(move || c.get()),
    )
    .unwrap();
    let feed = app.attach_screens(windows.presenter()).unwrap();
    windows.connect(feed);
    windows.show().unwrap();
    let kiosk: KioskWindow = windows.kiosk().unwrap().clone_strong();
    let key = |text: &str| {
        let t: slint::SharedString = text.into();
        kiosk
            .window()
            .dispatch_event(slint::platform::WindowEvent::KeyPressed { text: t.clone() });
        kiosk
            .window()
            .dispatch_event(slint::platform::WindowEvent::KeyReleased { text: t });
    };
    // Unknown booking codes: the kiosk loop answers without printing
    // (verify, one journal row), the same work on both paths.
    let code = |i: usize, path: usize| format!("BGR-240508-{:05}", 50_000 + path * 10_000 + i);
    let (mut wedge, mut direct) = (Vec::new(), Vec::new());
    for i in 0..n {
        for ch in code(i, 0).chars() {
            clock_ms.set(clock_ms.get() + 2);
            key(&ch.to_string());
        }
        let t0 = Instant::now();
        key("\n");
        let r = reports.recv_timeout(Duration::from_secs(10)).unwrap();
        wedge.push(t0.elapsed());
        assert_eq!(r.outcome.code(), "unknown_booking");
        let frame = antrean_core::framing::Frame::Scan(code(i, 1));
        let t0 = Instant::now();
        sender.try_send(Event::Scan(frame)).unwrap();
        let r = reports.recv_timeout(Duration::from_secs(10)).unwrap();
        direct.push(t0.elapsed());
        assert_eq!(r.outcome.code(), "unknown_booking");
    }
    let (w50, w99) = report(
        &format!("keyboard-wedge scan: Enter key -> kiosk loop's report ({n} scans)"),
        wedge,
    );
    let (d50, d99) = report(
        &format!("  the same scans handed to the kiosk loop directly ({n} scans)"),
        direct,
    );
    let diff = |w: Duration, d: Duration| ms(w) - ms(d);
    println!(
        "  added by the screen path: p50 {:+.2} ms, p99 {:+.2} ms (negative: within the noise)",
        diff(w50, d50),
        diff(w99, d99)
    );
    drop(windows);
    app.stop();
}

/// The screens (kiosk and board, board live with its pings) left alone for
/// a while: how often the UI thread wakes. Counted as the context switches
/// of the thread running Slint's event loop (each sleep-and-wake is one),
/// minus the measurement's own wake-up at the end; calibrated against a
/// 50 ms polling timer like the one the screens used to have.
fn idle_wakeups(fx: &CentralFixture, seconds: u64) {
    let config = kiosk_config(fx, "both");
    let app = App::start(
        &config,
        AppOptions {
            source: ScanSource::None,
            ..AppOptions::configured(fx.clock)
        },
    )
    .unwrap();
    let windows = ScreenWindows::open(&ScreenSettings::from_config(&config), &[]).unwrap();
    let pushed = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    struct Counting(Arc<dyn Screens>, Arc<std::sync::Mutex<Vec<String>>>);
    impl Screens for Counting {
        fn show(&self, u: Update) {
            let kind = match &u {
                Update::Situation(s) => format!("clock {}", s.now.format("%H.%M")),
                Update::Board(b) => format!("board (seq {}, live {})", b.state.seq(), b.live),
                Update::Scan { .. } => "scan".into(),
                Update::WalkIn(_) => "walk-in".into(),
                Update::Slip(_) => "slip".into(),
            };
            self.1.lock().unwrap().push(kind);
            self.0.show(u);
        }
    }
    let feed = app
        .attach_screens(Arc::new(Counting(windows.presenter(), pushed.clone())))
        .unwrap();
    windows.connect(feed);
    windows.show().unwrap();
    // Let the screens settle (manifest, board snapshot, stream), then count.
    let measure = |window: Duration, poll: Option<Duration>| -> (u64, Vec<String>) {
        let timer = slint::Timer::default();
        if let Some(every) = poll {
            timer.start(slint::TimerMode::Repeated, every, || {});
        }
        let (tx, rx) = channel();
        let before = pushed.lock().unwrap().len();
        let start = slint::Timer::default();
        start.start(slint::TimerMode::SingleShot, Duration::ZERO, move || {
            let _ = tx.send(context_switches_of_this_thread());
        });
        let stopper = std::thread::spawn(move || {
            let at_start = rx.recv().unwrap();
            std::thread::sleep(window);
            let (tx, rx) = channel();
            let _ = slint::invoke_from_event_loop(move || {
                let _ = tx.send(context_switches_of_this_thread());
                let _ = slint::quit_event_loop();
            });
            rx.recv().unwrap() - at_start
        });
        slint::run_event_loop().unwrap();
        let switches = stopper.join().unwrap();
        let updates = pushed.lock().unwrap()[before..].to_vec();
        // The stop request's own wake-up is not the screens'.
        (switches.saturating_sub(1), updates)
    };
    measure(Duration::from_secs(3), None);
    let calibration = Duration::from_secs(10);
    let (polled, _) = measure(calibration, Some(Duration::from_millis(50)));
    println!(
        "  calibration: a 50 ms polling timer wakes the UI thread {polled} times in {} s (expected about {})",
        calibration.as_secs(),
        calibration.as_millis() / 50
    );
    let window = Duration::from_secs(seconds);
    let (woken, updates) = measure(window, None);
    println!(
        "idle screens (kiosk + board, live board with pings): UI thread woken {woken} times in {seconds} s; updates pushed: {updates:?}"
    );
    drop(windows);
    app.stop();
}

fn main() {
    // `cargo bench` passes flags such as --bench; ignore them.
    let scans = env_or("BENCH_SCANS", 200) as usize;
    let calls = env_or("BENCH_CALLS", 40) as usize;
    println!(
        "antrean-kiosk benchmarks on {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    // `BENCH_ONLY=ui,idle` runs only those parts (scan, board, ui, wedge, idle).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if run("scan") {
        scan_to_ticket(scans);
    }
    if run("board") {
        board_latency(calls);
    }
    screenshots::init_headless();
    let fx = central_fixture(calls);
    if run("ui") {
        ui_latency(&fx, calls);
    }
    if run("wedge") {
        wedge_latency(&fx, scans);
    }
    if run("idle") {
        idle_wakeups(&fx, env_or("BENCH_IDLE_UI_SECONDS", 60));
    }
}
