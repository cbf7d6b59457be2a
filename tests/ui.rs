//! The screens under Slint's testing backend (software renderer, no
//! display), driven as a person would: a keyboard-wedge burst, the on-screen
//! keypad, the walk-in help, the return to idle, and the board showing a
//! call pushed from the central service. Plus a layout check at every size.
//! One test function: Slint's platform is set once per process.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc::channel;
use std::time::Duration;

use antrean_kiosk::app::{App, AppOptions};
use antrean_kiosk::config::Config;
use antrean_kiosk::daemon::ScanSource;
use antrean_kiosk::ui::controller::{Controller, Sources};
use antrean_kiosk::ui::{board_adapter, kiosk_adapter, BoardAdapter, KioskAdapter, KioskWindow};
use antrean_testkit::screenshots;
use i_slint_backend_testing::ElementHandle;
use slint::platform::WindowEvent;
use slint::ComponentHandle;
use support::wait_for;

fn type_text(window: &slint::Window, text: &str) {
    for c in text.chars() {
        let t: slint::SharedString = c.to_string().into();
        window.dispatch_event(WindowEvent::KeyPressed { text: t.clone() });
        window.dispatch_event(WindowEvent::KeyReleased { text: t });
    }
}

/// Presses the button a person would find by its label.
fn press(kiosk: &KioskWindow, label: &str) {
    let found: Vec<ElementHandle> = ElementHandle::find_by_accessible_label(kiosk, label).collect();
    assert!(!found.is_empty(), "no element labelled {label:?}");
    found[0].invoke_accessible_default_action();
}

/// Pumps the controller and Slint's timers until `cond` holds.
fn pump_until(c: &mut Controller, what: &str, mut cond: impl FnMut(&Controller) -> bool) {
    wait_for(what, Duration::from_secs(20), || {
        c.pump();
        slint::platform::update_timers_and_animations();
        cond(c).then_some(())
    });
}

fn screen(c: &Controller) -> String {
    c.kiosk()
        .unwrap()
        .global::<KioskAdapter>()
        .get_screen()
        .to_string()
}

#[test]
fn kiosk_and_board_as_a_person_uses_them() {
    screenshots::init_headless();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The central service, for real, on 127.0.0.1.
    let (central, addr, clock) = support::inprocess_central(&rt, dir.path(), "ui-token");
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
    let tomorrow_full = book("13:00-14:00");
    let _ = tomorrow_full;
    // The kiosk, in process, with its virtual printer.
    let state = dir.path().join("state");
    let config = Config::parse(
        &format!(
            r#"[office]
id = "kota-bogor"
name = "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor"
[kiosk]
id = "ui-1"
state_dir = "{}"
[printer]
port = "virtual"
status_every_seconds = 1
[central]
url = "http://{addr}"
token = "ui-token"
retry_max_seconds = 1
[walkin]
booking_url = "https://antrean.kotabogor.go.id"
desk_location = "Meja informasi dekat pintu masuk"
"#,
            state.display()
        ),
        std::path::Path::new("ui.toml"),
    )
    .unwrap();
    let (reports_tx, reports_rx) = channel();
    let app = App::start(
        &config,
        AppOptions {
            clock,
            source: ScanSource::None,
            reports: Some(reports_tx),
        },
    )
    .unwrap();
    let (actions_tx, actions_rx) = channel();
    let fake_ms = Rc::new(Cell::new(0u64));
    let ms = fake_ms.clone();
    let kiosk = kiosk_adapter::create(actions_tx, Rc::new(move || ms.get())).unwrap();
    let board = board_adapter::create().unwrap();
    kiosk
        .window()
        .set_size(slint::PhysicalSize::new(1080, 1920));
    board
        .window()
        .set_size(slint::PhysicalSize::new(1920, 1080));
    kiosk.show().unwrap();
    board.show().unwrap();
    let mut c = Controller::new(
        &config,
        Sources {
            kiosk_events: app.sender(),
            reports: reports_rx,
            actions: actions_rx,
            manifest: app.manifest(),
            board: app.board(),
            link: Some(app.link_status()),
            printer: app.printer_health(),
            client: app.client(),
            runtime: Some(app.runtime().handle().clone()),
            clock,
        },
        Some(kiosk.clone_strong()),
        Some(board.clone_strong()),
    );
    pump_until(&mut c, "the manifest and the open session", |c| {
        c.kiosk()
            .unwrap()
            .global::<KioskAdapter>()
            .get_session_text()
            .contains("09.00-10.00")
    });
    let w = kiosk.window();

    // 1. A keyboard-wedge scanner types the token and Enter: success.
    for (i, ch) in first.token.chars().chain(std::iter::once('\n')).enumerate() {
        fake_ms.set(1000 + i as u64);
        type_text(w, &ch.to_string());
    }
    pump_until(&mut c, "the success screen", |c| screen(c) == "success");
    let a = kiosk.global::<KioskAdapter>();
    assert_eq!(a.get_number(), first.number.as_str());
    assert_eq!(a.get_service(), "KTP Elektronik");
    assert_eq!(a.get_session(), "09.00-10.00 WIB");
    assert!(!a.get_reprint());
    let tickets = state.join("tickets");
    let printed = wait_for(
        "the ticket on the virtual printer",
        Duration::from_secs(10),
        || {
            std::fs::read_dir(&tickets)
                .ok()?
                .flatten()
                .find(|e| e.path().extension().is_some_and(|x| x == "txt"))
                .map(|e| e.path())
        },
    );
    let text = std::fs::read_to_string(printed).unwrap();
    assert!(text.contains(&first.booking), "{text}");
    // The language toggle, then back to idle by itself, in Indonesian.
    press(&kiosk, "language");
    assert!(a.get_english());
    a.set_result_timeout(300);
    pump_until(&mut c, "the return to idle", |c| screen(c) == "idle");
    assert!(!a.get_english(), "idle resets to Indonesian");

    // 2. Half a burst, a pause, then another burst: only the second counts.
    fake_ms.set(10_000);
    type_text(w, "BGR-24");
    fake_ms.set(20_000);
    for ch in second.token.chars().chain(std::iter::once('\n')) {
        fake_ms.set(fake_ms.get() + 1);
        type_text(w, &ch.to_string());
    }
    pump_until(&mut c, "the second resident's success", |c| {
        screen(c) == "success"
            && c.kiosk().unwrap().global::<KioskAdapter>().get_number() == second.number.as_str()
    });
    assert_eq!(a.get_ahead(), "1", "one person ahead: the first resident");
    pump_until(&mut c, "the return to idle", |c| screen(c) == "idle");

    // 3. The keypad: an unknown code, its message, and the walk-in offer.
    press(&kiosk, "type-code");
    assert_eq!(screen(&c), "typing");
    for k in "BGR-9".chars() {
        press(&kiosk, &format!("key {k}"));
    }
    press(&kiosk, "backspace");
    for k in "99999".chars() {
        press(&kiosk, &format!("key {k}"));
    }
    assert_eq!(a.get_typed(), "BGR-99999");
    press(&kiosk, "ok");
    pump_until(&mut c, "the rejection", |c| screen(c) == "rejected");
    assert_eq!(
        a.get_message_id(),
        "Kode booking tidak ditemukan. Periksa kode atau hubungi petugas."
    );
    assert!(a.get_offer_walkin());

    // 4. Walk-in help from the rejection: free sessions and a slip.
    press(&kiosk, "walk-in");
    assert_eq!(screen(&c), "walkin");
    pump_until(&mut c, "free sessions", |c| {
        c.kiosk()
            .unwrap()
            .global::<KioskAdapter>()
            .get_free_sessions()
            .row_count()
            > 0
    });
    use slint::Model;
    let rows = a.get_free_sessions();
    let first_row = rows.row_data(0).unwrap();
    assert!(
        first_row.slot.starts_with("10.00-11.00"),
        "past sessions are left out: {}",
        first_row.slot
    );
    press(&kiosk, "print-info");
    pump_until(&mut c, "the slip printed", |c| {
        c.kiosk()
            .unwrap()
            .global::<KioskAdapter>()
            .get_slip_status()
            .contains("dicetak")
    });
    // The slip holds the booking address as a native QR code and the sessions.
    let slip = wait_for(
        "the slip on the virtual printer",
        Duration::from_secs(10),
        || {
            std::fs::read_dir(&tickets)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with("-info.bin"))
        },
    );
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
    assert_eq!(screen(&c), "idle");
    // The walk-in help from the idle screen too.
    press(&kiosk, "walk-in");
    assert_eq!(screen(&c), "walkin");
    press(&kiosk, "back");

    // 5. The board shows a call pushed from the central service.
    rt.block_on(central.next("3"))
        .unwrap()
        .expect("someone waits");
    pump_until(&mut c, "the board to show the call", |c| {
        c.board()
            .unwrap()
            .global::<BoardAdapter>()
            .get_last_number()
            == first.number.as_str()
    });
    let b = board.global::<BoardAdapter>();
    assert_eq!(b.get_last_counter(), "LOKET 3");
    assert!(b.get_flash_serial() > 0);
    assert_eq!(b.get_stale_text(), "", "a live board shows no banner");
    // The kiosk's printer runs low on paper: staff see it on the board.
    std::fs::write(state.join("virtual-printer.state"), "paper_low").unwrap();
    pump_until(&mut c, "the paper-low warning on the board", |c| {
        c.board()
            .unwrap()
            .global::<BoardAdapter>()
            .get_warning_text()
            .contains("Kertas printer")
    });
    drop(c);
    app.stop();

    // 6. Every screen at every size renders, and no text leaves the window
    // or covers another (render_all checks each one).
    // The check itself notices a layout that does not fit.
    let (tx, _rx) = channel();
    let tiny = kiosk_adapter::create(tx, Rc::new(|| 0)).unwrap();
    let wordy = antrean_kiosk::ui::model::ResultView {
        screen: Some("rejected"),
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
    assert_eq!(files.len(), 3 * 10 + 3 * 2);
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
