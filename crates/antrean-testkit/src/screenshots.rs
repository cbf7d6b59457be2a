//! Screenshots of both screens in their main states at every listed size,
//! rendered headless with Slint's software renderer (for the README and
//! to check that text fits): `cargo run -p antrean-testkit --bin screenshots`.
//! Slint's testing backend lives here, never in the kiosk's own build.

use std::path::{Path, PathBuf};

use slint::ComponentHandle;

use antrean_kiosk::ui::kiosk_adapter;
use antrean_kiosk::ui::model::{
    BoardHeader, BoardView, KioskHeader, ResultView, Screen, WalkInView,
};
use antrean_kiosk::ui::{board_adapter, KioskWindow};

/// Kiosk screen sizes: portrait first.
pub const KIOSK_SIZES: [(u32, u32); 3] = [(1080, 1920), (1920, 1080), (1366, 768)];
/// Board sizes: the TV first.
pub const BOARD_SIZES: [(u32, u32); 3] = [(1920, 1080), (1280, 720), (1080, 1920)];

/// Installs the headless platform on this thread (once; Slint's platform
/// belongs to the thread that sets it). It has a real event loop:
/// `slint::run_event_loop` runs what other threads hand in with
/// `invoke_from_event_loop` and the timers on the system clock, and sleeps
/// in between. The software renderer makes `take_snapshot` work.
pub fn init_headless() {
    use i_slint_backend_testing::{TestingBackend, TestingBackendOptions};
    let _ = slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: false,
        threading: true,
        renderer_name: Some("software".into()),
    })));
}

/// Runs the event loop of this thread's headless platform until `cond`
/// holds (checked every few milliseconds by a timer of the test's own, not
/// of the product), or panics with `what` after `limit`.
pub fn run_until(what: &str, limit: std::time::Duration, cond: impl Fn() -> bool + 'static) {
    if cond() {
        return;
    }
    let deadline = std::time::Instant::now() + limit;
    let timed_out = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = timed_out.clone();
    let timer = slint::Timer::default();
    timer.start(
        slint::TimerMode::Repeated,
        std::time::Duration::from_millis(2),
        move || {
            if cond() {
                let _ = slint::quit_event_loop();
            } else if std::time::Instant::now() > deadline {
                flag.set(true);
                let _ = slint::quit_event_loop();
            }
        },
    );
    if let Err(e) = slint::run_event_loop() {
        panic!("the screens' event loop failed while waiting for {what}: {e}");
    }
    drop(timer);
    assert!(
        !timed_out.get(),
        "timed out after {limit:?} waiting for {what}"
    );
}

/// A screenshot failed.
#[derive(Debug, thiserror::Error)]
#[error("screenshot {name}: {reason}")]
pub struct ScreenshotError {
    pub name: String,
    pub reason: String,
}

/// Renders `window` at `size` into a PNG.
pub fn snapshot(
    window: &slint::Window,
    size: (u32, u32),
    path: &Path,
) -> Result<(), ScreenshotError> {
    let fail = |reason: String| ScreenshotError {
        name: path.display().to_string(),
        reason,
    };
    window.set_size(slint::PhysicalSize::new(size.0, size.1));
    window.show().map_err(|e| fail(e.to_string()))?;
    let buf = window.take_snapshot().map_err(|e| fail(e.to_string()))?;
    let img = image::RgbaImage::from_raw(buf.width(), buf.height(), buf.as_bytes().to_vec())
        .ok_or_else(|| fail("bad pixel buffer".into()))?;
    img.save(path).map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// [`snapshot`] of `root`'s window, then its layout checked at that size.
fn snapshot_checked(
    root: &(impl i_slint_backend_testing::ElementRoot + slint::ComponentHandle),
    size: (u32, u32),
    path: &Path,
) -> Result<(), ScreenshotError> {
    snapshot(root.window(), size, path)?;
    check(root, path, size, root.window().scale_factor())
}

fn check(
    root: &impl i_slint_backend_testing::ElementRoot,
    path: &Path,
    size: (u32, u32),
    scale: f32,
) -> Result<(), ScreenshotError> {
    let problems = layout_problems(root, size, scale);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ScreenshotError {
            name: path.display().to_string(),
            reason: problems.join("; "),
        })
    }
}

/// Sample data for the screenshots.
pub fn sample_success() -> ResultView {
    ResultView {
        screen: Some(Screen::Success),
        number: "B-015".into(),
        service: "KTP Elektronik".into(),
        session: "09.00-10.00 WIB".into(),
        ahead: "12".into(),
        reprint: false,
        message_id: String::new(),
        message_en: String::new(),
        offer_walkin: false,
        // The ticket waits for the "Prioritas" choice.
        offer_priority: true,
        priority: false,
    }
}

pub fn sample_board() -> BoardView {
    BoardView {
        last_number: "B-015".into(),
        last_counter: "LOKET 3".into(),
        last_recall: false,
        last_priority: false,
        flash_serial: 1,
        counters: vec![
            ("Loket 1".into(), "A-031".into(), false),
            ("Loket 2".into(), "B-012".into(), true),
            ("Loket 3".into(), "B-015".into(), false),
            ("Loket 4".into(), String::new(), false),
        ],
        recent: vec![
            ("B-015".into(), "Loket 3".into()),
            ("B-014".into(), "Loket 1".into()),
            ("B-013".into(), "Loket 2".into()),
            ("A-031".into(), "Loket 1".into()),
            ("B-012".into(), "Loket 2".into()),
        ],
        waiting: vec![
            ("08.00-09.00".into(), "2".into()),
            ("09.00-10.00".into(), "14".into()),
            ("10.00-11.00".into(), "3".into()),
            ("11.00-12.00".into(), "0".into()),
            ("13.00-14.00".into(), "0".into()),
        ],
        notice: "Layanan KIA tutup sementara. Pengambilan KTP-el di Loket 4.".into(),
        stale_text: String::new(),
    }
}

fn kiosk_status(w: &KioskWindow, offline: bool) {
    kiosk_adapter::set_status(
        w,
        &KioskHeader {
            office: "Disdukcapil Kota Bogor".into(),
            date: "Rabu, 08 Mei 2024".into(),
            clock: "09.20".into(),
            session: (
                "Check-in dibuka untuk sesi 08.00-09.00, 09.00-10.00".into(),
                "Check-in is open for session 08.00-09.00, 09.00-10.00".into(),
            ),
            offline,
        },
    );
}

fn board_status(clock: &str, warning: &str) -> BoardHeader {
    BoardHeader {
        office: "Disdukcapil Kota Bogor".into(),
        date: "Rabu, 08 Mei 2024".into(),
        clock: clock.into(),
        warning: warning.into(),
        break_text: String::new(),
    }
}

/// Layout problems of what a window shows now: a text element outside the
/// window, or two visible text elements on top of each other. (The board's
/// notice ticker scrolls on purpose and is left out.)
pub fn layout_problems(
    root: &impl i_slint_backend_testing::ElementRoot,
    size: (u32, u32),
    scale: f32,
) -> Vec<String> {
    use i_slint_backend_testing::{AccessibleRole, ElementQuery};
    let (w, h) = (size.0 as f32 / scale, size.1 as f32 / scale);
    let mut texts: Vec<(String, f32, f32, f32, f32)> = ElementQuery::from_root(root)
        .match_descendants()
        .match_accessible_role(AccessibleRole::Text)
        .find_all()
        .into_iter()
        .filter(|e| e.accessible_label().is_none_or(|l| l != "notice"))
        .map(|e| {
            let p = e.absolute_position();
            let s = e.size();
            let label = e.accessible_label().unwrap_or_default().to_string();
            (label, p.x, p.y, s.width, s.height)
        })
        .filter(|t| t.3 > 0.5 && t.4 > 0.5)
        .collect();
    // The query meets an element once per ancestor: keep each once.
    texts.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    texts.dedup();
    let mut problems = Vec::new();
    for (label, x, y, tw, th) in &texts {
        if *x < -0.5 || *y < -0.5 || x + tw > w + 0.5 || y + th > h + 0.5 {
            problems.push(format!(
                "{label:?} at ({x},{y}) size {tw}x{th} leaves the {w}x{h} window"
            ));
        }
    }
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            let overlap_x = (a.1 + a.3).min(b.1 + b.3) - a.1.max(b.1);
            let overlap_y = (a.2 + a.4).min(b.2 + b.4) - a.2.max(b.2);
            if overlap_x > 1.0 && overlap_y > 1.0 {
                problems.push(format!("{:?} and {:?} overlap", a.0, b.0));
            }
        }
    }
    problems
}

/// Renders every state at every size into `out`; returns the files.
/// Fails when a layout problem is found (see [`layout_problems`]).
pub fn render_all(out: &Path) -> Result<Vec<PathBuf>, ScreenshotError> {
    init_headless();
    std::fs::create_dir_all(out).map_err(|e| ScreenshotError {
        name: out.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut files = Vec::new();
    let fail = |e: slint::PlatformError| ScreenshotError {
        name: "window".into(),
        reason: e.to_string(),
    };
    let kiosk =
        kiosk_adapter::create(std::rc::Rc::new(|_| {}), std::rc::Rc::new(|| 0)).map_err(fail)?;
    kiosk_adapter::set_booking_qr(&kiosk, "https://antrean.kotabogor.go.id");
    let rejected = ResultView {
        screen: Some(Screen::Rejected),
        message_id:
            "Booking Anda untuk tanggal Kamis, 09 Mei 2024. Silakan datang pada tanggal tersebut."
                .into(),
        message_en: "Your booking is for Thursday, 9 May 2024. Please come on that day.".into(),
        ..sample_success()
    };
    let unknown = ResultView {
        screen: Some(Screen::Rejected),
        message_id: "Kode booking tidak ditemukan. Periksa kode atau hubungi petugas.".into(),
        message_en: "Booking code not found. Check the code or ask a staff member.".into(),
        offer_walkin: true,
        ..sample_success()
    };
    let fault = ResultView {
        screen: Some(Screen::Fault),
        message_id: "Printer bermasalah, silakan ke meja informasi. Petugas akan membantu Anda."
            .into(),
        message_en:
            "The printer has a problem, please go to the information desk. Staff will help you."
                .into(),
        ..sample_success()
    };
    let reprint = ResultView {
        reprint: true,
        offer_priority: false,
        ahead: String::new(),
        ..sample_success()
    };
    type Setup<'a> = Box<dyn Fn(&KioskWindow) + 'a>;
    let states: Vec<(&str, Setup)> = vec![
        ("idle", Box::new(kiosk_adapter::show_idle)),
        (
            // The demo's row of sample codes (`[ui] demo_panel`).
            "idle-demo",
            Box::new(|w| {
                let codes: Vec<String> = [38, 39, 40, 1, 73]
                    .iter()
                    .map(|n| format!("BGR-261130-{n:05}"))
                    .collect();
                kiosk_adapter::set_demo_codes(w, &codes);
            }),
        ),
        (
            "typing",
            Box::new(|w| {
                kiosk_adapter::set_screen(w, Screen::Typing);
                w.global::<antrean_kiosk::ui::KioskAdapter>()
                    .set_typed("BGR-2405".into());
            }),
        ),
        (
            "success",
            Box::new(|w| kiosk_adapter::show_result(w, &sample_success())),
        ),
        (
            "reprint",
            Box::new(|w| kiosk_adapter::show_result(w, &reprint)),
        ),
        (
            "rejected-not-today",
            Box::new(|w| kiosk_adapter::show_result(w, &rejected)),
        ),
        (
            "rejected-unknown",
            Box::new(|w| kiosk_adapter::show_result(w, &unknown)),
        ),
        (
            "printer-fault",
            Box::new(|w| kiosk_adapter::show_result(w, &fault)),
        ),
        (
            "walkin",
            Box::new(|w| {
                kiosk_adapter::set_walkin(
                    w,
                    &WalkInView {
                        rows: vec![
                            (
                                "Rabu, 08 Mei 2024".into(),
                                "13.00-14.00 WIB".into(),
                                "12 tempat".into(),
                            ),
                            (
                                "Jumat, 10 Mei 2024".into(),
                                "08.00-09.00 WIB".into(),
                                "40 tempat".into(),
                            ),
                            (
                                "Jumat, 10 Mei 2024".into(),
                                "09.00-10.00 WIB".into(),
                                "38 tempat".into(),
                            ),
                        ],
                        booking_url: "https://antrean.kotabogor.go.id".into(),
                        desk: "Meja informasi: dekat pintu masuk, sebelah kiri.".into(),
                        note_id: String::new(),
                        note_en: String::new(),
                    },
                );
                kiosk_adapter::set_screen(w, Screen::WalkIn);
            }),
        ),
    ];
    for &(width, height) in &KIOSK_SIZES {
        for (name, setup) in &states {
            kiosk_status(&kiosk, false);
            kiosk_adapter::show_idle(&kiosk);
            kiosk_adapter::set_demo_codes(&kiosk, &[]);
            setup(&kiosk);
            let path = out.join(format!("kiosk-{name}-{width}x{height}.png"));
            snapshot_checked(&kiosk, (width, height), &path)?;
            files.push(path);
        }
        kiosk_status(&kiosk, true);
        kiosk_adapter::show_idle(&kiosk);
        let path = out.join(format!("kiosk-offline-{width}x{height}.png"));
        snapshot(kiosk.window(), (width, height), &path)?;
        files.push(path);
    }
    let _ = kiosk.hide();
    let board = board_adapter::create().map_err(fail)?;
    for &(width, height) in &BOARD_SIZES {
        board_adapter::set_status(&board, &board_status("09.21", ""));
        board_adapter::show(&board, &sample_board());
        let path = out.join(format!("board-live-{width}x{height}.png"));
        snapshot_checked(&board, (width, height), &path)?;
        files.push(path);
        let stale = BoardView {
            stale_text:
                "Koneksi terputus, terakhir diperbarui 09.21 · Connection lost, last updated 09.21"
                    .into(),
            ..sample_board()
        };
        board_adapter::set_status(
            &board,
            &board_status(
                "09.24",
                "Kertas printer kiosk hampir habis · Kiosk printer paper low",
            ),
        );
        board_adapter::show(&board, &stale);
        let path = out.join(format!("board-stale-{width}x{height}.png"));
        snapshot_checked(&board, (width, height), &path)?;
        files.push(path);
        // The lunch break of the seeds' day: the last morning numbers on
        // the counters, the afternoon session waiting.
        let lunch = BoardView {
            last_number: "D-050".into(),
            last_counter: "LOKET 2".into(),
            flash_serial: 2,
            waiting: vec![("13.00-14.00".into(), "6".into())],
            notice: "Pelayanan dibuka kembali pukul 13.00 · Service resumes at 13.00".into(),
            ..sample_board()
        };
        board_adapter::set_status(
            &board,
            &BoardHeader {
                break_text: "Istirahat 12.00-13.00 / Lunch break".into(),
                ..board_status("12.20", "")
            },
        );
        board_adapter::show(&board, &lunch);
        let path = out.join(format!("board-break-{width}x{height}.png"));
        snapshot_checked(&board, (width, height), &path)?;
        files.push(path);
    }
    let _ = board.hide();
    Ok(files)
}
