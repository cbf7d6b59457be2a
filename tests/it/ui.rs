//! The screens under Slint's testing backend (software renderer, no
//! display) with the real event-driven path: the whole kiosk process
//! (`App`) pushes what the screens show; Slint's event loop runs until
//! what a person would see is there. Driven as a person would: a
//! keyboard-wedge burst, the on-screen keypad, the walk-in help, the return
//! to idle, the board showing a call pushed from the central service.
//! Plus: an idle kiosk does not wake its screens, and a layout check at
//! every size. Slint's platform is set once per process and stays bound to
//! the thread that set it: everything with screens runs in one test.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use antrean_kiosk::app::{App, AppOptions};
use antrean_kiosk::config::Config;
use antrean_kiosk::daemon::ScanSource;
use antrean_kiosk::screen_feed::{Screens, Update};
use antrean_kiosk::ui::kiosk_adapter;
use antrean_kiosk::ui::model::{ResultView, Screen, ScreenSettings};
use antrean_kiosk::ui::run::ScreenWindows;
use antrean_kiosk::ui::{BoardAdapter, KioskAdapter, KioskWindow};
use antrean_testkit::prelude::*;
use antrean_testkit::screenshots::{self, run_until};
use i_slint_backend_testing::ElementHandle;
use slint::platform::WindowEvent;
use slint::{ComponentHandle, Model};

const LIMIT: Duration = Duration::from_secs(20);

pub(crate) fn type_text(window: &slint::Window, text: &str) {
    for c in text.chars() {
        let t: slint::SharedString = c.to_string().into();
        window.dispatch_event(WindowEvent::KeyPressed { text: t.clone() });
        window.dispatch_event(WindowEvent::KeyReleased { text: t });
    }
}

/// Presses the button a person would find by its label.
pub(crate) fn press(kiosk: &KioskWindow, label: &str) {
    let found: Vec<ElementHandle> = ElementHandle::find_by_accessible_label(kiosk, label).collect();
    assert!(!found.is_empty(), "no element labelled {label:?}");
    found[0].invoke_accessible_default_action();
}

/// Runs the screens until the kiosk shows `screen` (and `also` holds).
pub(crate) fn wait_screen(
    kiosk: &KioskWindow,
    what: &str,
    screen: Screen,
    also: impl Fn(&KioskWindow) -> bool + 'static,
) {
    let k = kiosk.clone_strong();
    run_until(what, LIMIT, move || {
        kiosk_adapter::screen(&k) == screen && also(&k)
    });
}

fn kiosk_config(state: &std::path::Path, addr: std::net::SocketAddr) -> Config {
    Config::parse(
        &format!(
            r#"[office]
id = "kota-bogor"
name = "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor"
[kiosk]
id = "ui-1"
state_dir = "{}"
priority_wait_seconds = 0
[printer]
port = "virtual"
status_every_seconds = 1
[central]
url = "http://{addr}"
token = "ui-token"
retry_max_seconds = 1
[ui]
role = "both"
[walkin]
booking_url = "https://antrean.kotabogor.go.id"
desk_location = "Meja informasi dekat pintu masuk"
"#,
            state.display()
        ),
        std::path::Path::new("ui.toml"),
    )
    .unwrap()
}

/// The screens as the kiosk side sees them, counting what it pushes.
struct Counting {
    inner: Arc<dyn Screens>,
    pushed: Arc<Mutex<Vec<String>>>,
}

impl Screens for Counting {
    fn show(&self, update: Update) {
        let kind = match &update {
            Update::Situation(s) => format!("situation {}", s.now.format("%H:%M")),
            Update::Board(b) => format!("board seq {} live {}", b.state.seq(), b.live),
            Update::Scan { report, .. } => format!("scan {}", report.outcome.code()),
            Update::WalkIn(_) => "walk-in".into(),
            Update::Slip(r) => format!("slip {}", r.is_ok()),
        };
        self.pushed.lock().unwrap().push(kind);
        self.inner.show(update);
    }
}

#[test]
fn the_screens() {
    screenshots::init_headless();
    a_person_uses_the_kiosk_and_the_board();
    an_idle_kiosk_does_not_wake_its_screens();
    the_board_shows_the_lunch_break();
    crate::priority::a_resident_chooses_priority();
}

/// `[office] breaks` (default 12:00-13:00): the board says
/// `Istirahat 12.00-13.00 / Lunch break` while the break lasts, through the
/// real presenter and event loop, and nothing after it.
fn the_board_shows_the_lunch_break() {
    let dir = tempfile::tempdir().unwrap();
    let config = kiosk_config(&dir.path().join("state"), "127.0.0.1:9".parse().unwrap());
    assert_eq!(
        config.office.breaks.len(),
        1,
        "the seeds' lunch break by default"
    );
    let windows =
        ScreenWindows::open_with(&ScreenSettings::from_config(&config), &[], Rc::new(|| 0))
            .unwrap();
    windows.show().unwrap();
    let presenter = windows.presenter();
    let board = windows.board().unwrap().clone_strong();
    let at = |hhmm: &str| antrean_kiosk::screen_feed::Situation {
        now: chrono::DateTime::parse_from_rfc3339(&format!("2024-05-08T{hhmm}:00+07:00")).unwrap(),
        manifest: None,
        offline: false,
        printer: antrean_core::printer_status::PrinterState::Ok,
        printer_status_unknown: false,
        clock_skew_seconds: None,
    };
    let shown = |b: &antrean_kiosk::ui::BoardWindow| {
        // The banner exists only during a break; its text is the adapter's.
        let banner = ElementHandle::find_by_accessible_label(b, "break").count();
        let text = b.global::<BoardAdapter>().get_break_text().to_string();
        assert_eq!(banner, usize::from(!text.is_empty()), "{text:?}");
        text
    };
    for (hhmm, want) in [
        ("11:59", ""),
        ("12:00", "Istirahat 12.00-13.00 / Lunch break"),
        ("12:40", "Istirahat 12.00-13.00 / Lunch break"),
        ("13:00", ""),
    ] {
        presenter.show(Update::Situation(at(hhmm)));
        let b = board.clone_strong();
        run_until(&format!("the board at {hhmm}"), LIMIT, move || {
            b.global::<BoardAdapter>().get_clock_text() == hhmm.replace(':', ".")
                && shown(&b) == want
        });
    }
    drop(windows);
}

fn a_person_uses_the_kiosk_and_the_board() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The central service, for real, on 127.0.0.1.
    let (central, addr, clock) = inprocess_central(&rt, dir.path(), "ui-token");
    let book = |slot: &str| {
        rt.block_on(central.book(&antrean_core::api::BookingRequest {
            date: "2024-05-08".into(),
            slot: slot.into(),
            service: "KTP-EL".into(),
            name: None,
        }))
        .unwrap()
    };
    let first = book("09:00-10:00");
    let second = book("09:00-10:00");
    // The kiosk, in process, with its virtual printer and both screens.
    let state = dir.path().join("state");
    let config = kiosk_config(&state, addr);
    let app = App::start(
        &config,
        AppOptions {
            source: ScanSource::None,
            ..AppOptions::configured(clock)
        },
    )
    .unwrap();
    let fake_ms = Rc::new(Cell::new(0u64));
    let ms = fake_ms.clone();
    let windows = ScreenWindows::open_with(
        &ScreenSettings::from_config(&config),
        &[],
        Rc::new(move || ms.get()),
    )
    .unwrap();
    let kiosk = windows.kiosk().unwrap().clone_strong();
    let board = windows.board().unwrap().clone_strong();
    kiosk
        .window()
        .set_size(slint::PhysicalSize::new(1080, 1920));
    board
        .window()
        .set_size(slint::PhysicalSize::new(1920, 1080));
    let feed = app.attach_screens(windows.presenter()).unwrap();
    windows.connect(feed);
    windows.show().unwrap();
    let k = kiosk.clone_strong();
    run_until("the manifest and the open session", LIMIT, move || {
        k.global::<KioskAdapter>()
            .get_session_text()
            .contains("09.00-10.00")
    });
    let w = kiosk.window();
    let a = kiosk.global::<KioskAdapter>();
    assert_eq!(a.get_clock_text(), "09.20");
    assert_eq!(a.get_date_text(), "Rabu, 08 Mei 2024");

    // 1. A keyboard-wedge scanner types the token and Enter: success.
    for (i, ch) in first.token.chars().chain(std::iter::once('\n')).enumerate() {
        fake_ms.set(1000 + i as u64);
        type_text(w, &ch.to_string());
    }
    assert_eq!(
        kiosk_adapter::screen(&kiosk),
        Screen::Processing,
        "the Enter key hands the scan on at once"
    );
    wait_screen(&kiosk, "the success screen", Screen::Success, |_| true);
    assert_eq!(a.get_number(), first.number.as_str());
    assert_eq!(a.get_service(), "KTP Elektronik");
    assert_eq!(a.get_session(), "09.00-10.00 WIB");
    assert!(!a.get_reprint());
    let tickets = state.join("tickets");
    let printed = wait_for("the ticket on the virtual printer", LIMIT, || {
        std::fs::read_dir(&tickets)
            .ok()?
            .flatten()
            .find(|e| e.path().extension().is_some_and(|x| x == "txt"))
            .map(|e| e.path())
    });
    let text = std::fs::read_to_string(printed).unwrap();
    assert!(text.contains(&first.booking), "{text}");
    // The language toggle, then back to idle by itself, in Indonesian.
    press(&kiosk, "language");
    assert!(a.get_english());
    a.set_result_timeout(300);
    wait_screen(&kiosk, "the return to idle", Screen::Idle, |_| true);
    assert!(!a.get_english(), "idle resets to Indonesian");

    // 2. Half a burst, a pause, then another burst: only the second counts.
    fake_ms.set(10_000);
    type_text(w, "BGR-24");
    fake_ms.set(20_000);
    for ch in second.token.chars().chain(std::iter::once('\n')) {
        fake_ms.set(fake_ms.get() + 1);
        type_text(w, &ch.to_string());
    }
    let number = second.number.clone();
    wait_screen(
        &kiosk,
        "the second resident's success",
        Screen::Success,
        move |k| k.global::<KioskAdapter>().get_number() == number.as_str(),
    );
    assert_eq!(a.get_ahead(), "1", "one person ahead: the first resident");
    wait_screen(&kiosk, "the return to idle", Screen::Idle, |_| true);

    // 3. The keypad: an unknown code, its message, and the walk-in offer.
    press(&kiosk, "type-code");
    assert_eq!(kiosk_adapter::screen(&kiosk), Screen::Typing);
    for k in "BGR-9".chars() {
        press(&kiosk, &format!("key {k}"));
    }
    press(&kiosk, "backspace");
    for k in "99999".chars() {
        press(&kiosk, &format!("key {k}"));
    }
    assert_eq!(a.get_typed(), "BGR-99999");
    press(&kiosk, "ok");
    wait_screen(&kiosk, "the rejection", Screen::Rejected, |_| true);
    assert_eq!(
        a.get_message_id(),
        "Kode booking tidak ditemukan. Periksa kode atau hubungi petugas."
    );
    assert!(a.get_offer_walkin());

    // 4. Walk-in help from the rejection: free sessions and a slip.
    press(&kiosk, "walk-in");
    assert_eq!(kiosk_adapter::screen(&kiosk), Screen::WalkIn);
    wait_screen(&kiosk, "free sessions", Screen::WalkIn, |k| {
        k.global::<KioskAdapter>().get_free_sessions().row_count() > 0
    });
    let rows = a.get_free_sessions();
    let first_row = rows.row_data(0).unwrap();
    assert!(
        first_row.slot.starts_with("10.00-11.00"),
        "past sessions are left out: {}",
        first_row.slot
    );
    press(&kiosk, "print-info");
    wait_screen(&kiosk, "the slip printed", Screen::WalkIn, |k| {
        k.global::<KioskAdapter>()
            .get_slip_status()
            .contains("dicetak")
    });
    // The slip holds the booking address as a native QR code and the sessions.
    let slip = wait_for("the slip on the virtual printer", LIMIT, || {
        std::fs::read_dir(&tickets)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-info.bin"))
    });
    let elements = antrean_kiosk::escpos_decode::decode(&std::fs::read(slip).unwrap()).unwrap();
    use antrean_kiosk::escpos_decode::Element;
    assert!(elements.iter().any(
        |e| matches!(e, Element::Qr { data, .. } if data == "https://antrean.kotabogor.go.id")
    ));
    let lines: Vec<String> = elements
        .iter()
        .filter_map(|e| match e {
            Element::Line(l) => Some(l.text.clone()),
            _ => None,
        })
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("10.00-11.00 WIB")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("NOMOR ANTREAN")),
        "a slip is never a queue ticket"
    );
    press(&kiosk, "back");
    assert_eq!(kiosk_adapter::screen(&kiosk), Screen::Idle);
    // The walk-in help from the idle screen too.
    press(&kiosk, "walk-in");
    assert_eq!(kiosk_adapter::screen(&kiosk), Screen::WalkIn);
    press(&kiosk, "back");

    // 5. The board shows a call pushed from the central service.
    rt.block_on(central.next("3"))
        .unwrap()
        .expect("someone waits");
    let (b, number) = (board.clone_strong(), first.number.clone());
    run_until("the board to show the call", LIMIT, move || {
        b.global::<BoardAdapter>().get_last_number() == number.as_str()
    });
    let ba = board.global::<BoardAdapter>();
    assert_eq!(ba.get_last_counter(), "LOKET 3");
    assert!(ba.get_flash_serial() > 0);
    assert_eq!(ba.get_stale_text(), "", "a live board shows no banner");
    // The kiosk's printer runs low on paper: staff see it on the board.
    std::fs::write(state.join("virtual-printer.state"), "paper_low").unwrap();
    let b = board.clone_strong();
    run_until("the paper-low warning on the board", LIMIT, move || {
        b.global::<BoardAdapter>()
            .get_warning_text()
            .contains("Kertas printer")
    });
    drop(windows);
    app.stop();

    // 6. Every screen at every size renders, and no text leaves the window
    // or covers another (render_all checks each one).
    // The check itself notices a layout that does not fit.
    let tiny = kiosk_adapter::create(Rc::new(|_| {}), Rc::new(|| 0)).unwrap();
    let wordy = ResultView {
        screen: Some(Screen::Rejected),
        message_id: "Pesan yang terlalu panjang untuk layar ini. ".repeat(40),
        message_en: "A message far too long for this screen. ".repeat(40),
        ..screenshots::sample_success()
    };
    kiosk_adapter::show_result(&tiny, &wordy);
    screenshots::snapshot(tiny.window(), (1366, 768), &dir.path().join("wordy.png")).unwrap();
    assert!(
        !screenshots::layout_problems(&tiny, (1366, 768), tiny.window().scale_factor()).is_empty(),
        "a message of 40 sentences cannot fit the rejection screen"
    );
    let out = dir.path().join("shots");
    let files = screenshots::render_all(&out).unwrap();
    assert_eq!(files.len(), 3 * 10 + 3 * 3);
    for f in &files {
        let img = image::open(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let size: Vec<u32> = name
            .trim_end_matches(".png")
            .rsplit('-')
            .next()
            .unwrap()
            .split('x')
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!((img.width(), img.height()), (size[0], size[1]), "{name}");
    }
}

/// The kiosk side pushes to the screens only what changes what they show:
/// the event stream's pings and the link's bookkeeping move nothing on
/// screen and wake nothing; a call does.
fn an_idle_kiosk_does_not_wake_its_screens() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = antrean_central::CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor");
    settings.ping_every = Duration::from_millis(300);
    let (central, addr, clock) = inprocess_central_set_up(
        &rt,
        dir.path(),
        &[("ui-token", antrean_central::auth::Role::Admin, None)],
        settings,
    );
    rt.block_on(book_and_check_in(&central, "09:00-10:00", "lobby-2"));
    let config = kiosk_config(&dir.path().join("state"), addr);
    let app = App::start(
        &config,
        AppOptions {
            source: ScanSource::None,
            ..AppOptions::configured(clock)
        },
    )
    .unwrap();
    let windows =
        ScreenWindows::open_with(&ScreenSettings::from_config(&config), &[], Rc::new(|| 0))
            .unwrap();
    let pushed = Arc::new(Mutex::new(Vec::new()));
    let feed = app
        .attach_screens(Arc::new(Counting {
            inner: windows.presenter(),
            pushed: pushed.clone(),
        }))
        .unwrap();
    windows.connect(feed);
    windows.show().unwrap();
    let link = app.link_status().unwrap();
    // Settled: the manifest is in, the board is live with the day's state.
    let p = pushed.clone();
    let k = windows.kiosk().unwrap().clone_strong();
    run_until("the screens to settle", LIMIT, move || {
        k.global::<KioskAdapter>()
            .get_session_text()
            .contains("09.00-10.00")
            && p.lock()
                .unwrap()
                .iter()
                .any(|u| u.starts_with("board") && u.ends_with("live true"))
    });
    let minute = |clock: &antrean_host::clock::Clock| clock.now().format("%H:%M").to_string();
    let (before, at_start) = (pushed.lock().unwrap().len(), minute(&clock));
    // Five pings reach the kiosk (each moves the link's last contact).
    let contact = |l: &tokio::sync::watch::Receiver<antrean_kiosk::central::sync::LinkStatus>| {
        l.borrow().last_board_contact
    };
    let mut seen = Vec::new();
    wait_for("five pings on the event stream", LIMIT, || {
        let c = contact(&link)?;
        if seen.last() != Some(&c) {
            seen.push(c);
        }
        (seen.len() > 5).then_some(())
    });
    let quiet: Vec<String> = pushed.lock().unwrap()[before..].to_vec();
    let allowed = usize::from(minute(&clock) != at_start);
    assert!(
        quiet.len() <= allowed && quiet.iter().all(|u| u.starts_with("situation")),
        "pushed while nothing changed on screen: {quiet:?}"
    );
    // A call is news.
    rt.block_on(central.next("2"))
        .unwrap()
        .expect("someone waits");
    let p = pushed.clone();
    run_until("the call pushed to the board", LIMIT, move || {
        p.lock().unwrap()[before..]
            .iter()
            .any(|u| u.starts_with("board"))
    });
    drop(windows);
    app.stop();
}
