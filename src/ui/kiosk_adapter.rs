//! Wiring of the kiosk screen: creates the window, turns its callbacks into
//! [`UiAction`]s, and copies view models into its properties. The only
//! code that touches the generated kiosk types.

use std::cell::RefCell;
use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::model::{KioskHeader, ResultView, Screen, UiAction, WalkInView, WedgeBuffer};
use super::{FreeSessionRow, KioskAdapter, KioskScreen, KioskWindow};

/// A source of milliseconds (the platform's clock; mocked in tests).
pub type MillisClock = Rc<dyn Fn() -> u64>;

/// What the window's callbacks hand on: what a person did.
pub type ActionHandler = Rc<dyn Fn(UiAction)>;

/// Creates the kiosk window; what people do goes to `act`, at once (a
/// keyboard-wedge scan on its Enter key).
pub fn create(
    act: ActionHandler,
    now_ms: MillisClock,
) -> Result<KioskWindow, slint::PlatformError> {
    let window = KioskWindow::new()?;
    let adapter = window.global::<KioskAdapter>();
    let wedge = Rc::new(RefCell::new(WedgeBuffer::default()));
    {
        let (act, weak, wedge) = (act.clone(), window.as_weak(), wedge.clone());
        adapter.on_wedge_key(move |text| {
            let burst = wedge.borrow_mut().key(&text, now_ms());
            if let (Some(burst), Some(w)) = (burst, weak.upgrade()) {
                submit(&w, &act, burst);
            }
        });
    }
    {
        let (act, weak) = (act.clone(), window.as_weak());
        adapter.on_submit_code(move |code| {
            if let Some(w) = weak.upgrade() {
                if !code.trim().is_empty() {
                    submit(&w, &act, code.to_string());
                }
            }
        });
    }
    {
        let weak = window.as_weak();
        adapter.on_keypad(move |key| {
            let Some(w) = weak.upgrade() else { return };
            let a = w.global::<KioskAdapter>();
            let mut typed = a.get_typed().to_string();
            if key == "BACKSPACE" {
                typed.pop();
            } else if typed.chars().count() < 32 {
                typed.push_str(&key);
            }
            a.set_typed(typed.into());
        });
    }
    {
        let weak = window.as_weak();
        adapter.on_toggle_language(move || {
            if let Some(w) = weak.upgrade() {
                let a = w.global::<KioskAdapter>();
                a.set_english(!a.get_english());
            }
        });
    }
    {
        let (act, weak) = (act.clone(), window.as_weak());
        adapter.on_back_to_idle(move || {
            if let Some(w) = weak.upgrade() {
                show_idle(&w);
            }
            act(UiAction::BackToIdle);
        });
    }
    {
        let (act, weak) = (act.clone(), window.as_weak());
        adapter.on_walk_in(move || {
            if let Some(w) = weak.upgrade() {
                let a = w.global::<KioskAdapter>();
                a.set_slip_status(SharedString::new());
                a.set_screen(KioskScreen::Walkin);
            }
            act(UiAction::WalkInHelp);
        });
    }
    {
        let act = act.clone();
        adapter.on_print_info(move || act(UiAction::PrintInfo));
    }
    {
        let weak = window.as_weak();
        adapter.on_choose_priority(move || {
            if let Some(w) = weak.upgrade() {
                let a = w.global::<KioskAdapter>();
                // Once: the button goes at once, the ticket follows.
                a.set_offer_priority(false);
                act(UiAction::Priority(a.get_number().to_string()));
            }
        });
    }
    Ok(window)
}

fn submit(w: &KioskWindow, act: &ActionHandler, text: String) {
    w.global::<KioskAdapter>()
        .set_screen(KioskScreen::Processing);
    act(UiAction::Scan(text));
}

fn slint_screen(s: Screen) -> KioskScreen {
    match s {
        Screen::Idle => KioskScreen::Idle,
        Screen::Typing => KioskScreen::Typing,
        Screen::Processing => KioskScreen::Processing,
        Screen::Success => KioskScreen::Success,
        Screen::Rejected => KioskScreen::Rejected,
        Screen::Fault => KioskScreen::Fault,
        Screen::WalkIn => KioskScreen::Walkin,
    }
}

/// The screen the window shows now.
pub fn screen(w: &KioskWindow) -> Screen {
    match w.global::<KioskAdapter>().get_screen() {
        KioskScreen::Idle => Screen::Idle,
        KioskScreen::Typing => Screen::Typing,
        KioskScreen::Processing => Screen::Processing,
        KioskScreen::Success => Screen::Success,
        KioskScreen::Rejected => Screen::Rejected,
        KioskScreen::Fault => Screen::Fault,
        KioskScreen::Walkin => Screen::WalkIn,
    }
}

/// Switches to a screen (screenshots; the screens switch themselves otherwise).
pub fn set_screen(w: &KioskWindow, s: Screen) {
    w.global::<KioskAdapter>().set_screen(slint_screen(s));
}

/// Back to the idle screen, in Indonesian.
pub fn show_idle(w: &KioskWindow) {
    let a = w.global::<KioskAdapter>();
    a.set_screen(KioskScreen::Idle);
    a.set_english(false);
    a.set_typed(SharedString::new());
}

/// Shows a scan's result (nothing changes for a double read).
pub fn show_result(w: &KioskWindow, v: &ResultView) {
    let a = w.global::<KioskAdapter>();
    let Some(screen) = v.screen else {
        if a.get_screen() == KioskScreen::Processing {
            show_idle(w);
        }
        return;
    };
    a.set_number(v.number.as_str().into());
    a.set_service(v.service.as_str().into());
    a.set_session(v.session.as_str().into());
    a.set_ahead(v.ahead.as_str().into());
    a.set_reprint(v.reprint);
    a.set_message_id(v.message_id.as_str().into());
    a.set_message_en(v.message_en.as_str().into());
    a.set_offer_walkin(v.offer_walkin);
    a.set_offer_priority(v.offer_priority);
    a.set_priority(v.priority);
    a.set_screen(slint_screen(screen));
}

/// Header texts: office, date, clock, open session, offline badge.
pub fn set_status(w: &KioskWindow, h: &KioskHeader) {
    let a = w.global::<KioskAdapter>();
    a.set_office_name(h.office.as_str().into());
    a.set_date_text(h.date.as_str().into());
    a.set_clock_text(h.clock.as_str().into());
    a.set_session_text(h.session.0.as_str().into());
    a.set_session_text_en(h.session.1.as_str().into());
    a.set_offline(h.offline);
}

/// The walk-in help screen's contents.
pub fn set_walkin(w: &KioskWindow, v: &WalkInView) {
    let a = w.global::<KioskAdapter>();
    let rows: Vec<FreeSessionRow> = v
        .rows
        .iter()
        .map(|(day, slot, free)| FreeSessionRow {
            day: day.as_str().into(),
            slot: slot.as_str().into(),
            free: free.as_str().into(),
        })
        .collect();
    a.set_free_sessions(ModelRc::new(VecModel::from(rows)));
    a.set_booking_url(v.booking_url.as_str().into());
    a.set_desk_text(v.desk.as_str().into());
    a.set_walkin_note_id(v.note_id.as_str().into());
    a.set_walkin_note_en(v.note_en.as_str().into());
}

/// The booking address as a QR code on the walk-in screen (set once).
pub fn set_booking_qr(w: &KioskWindow, url: &str) {
    if let Some(qr) = qr_image(url) {
        w.global::<KioskAdapter>().set_booking_qr(qr);
    }
}

/// Sample booking codes shown as buttons in demo mode.
pub fn set_demo_codes(w: &KioskWindow, codes: &[String]) {
    let codes: Vec<SharedString> = codes.iter().map(|c| c.as_str().into()).collect();
    w.global::<KioskAdapter>()
        .set_demo_codes(ModelRc::new(VecModel::from(codes)));
}

/// A line under the walk-in buttons ("Info dicetak." / a printer problem).
pub fn set_slip_status(w: &KioskWindow, text: &str) {
    w.global::<KioskAdapter>().set_slip_status(text.into());
}

/// A QR code as a Slint image (black on white, 8 px modules).
pub fn qr_image(data: &str) -> Option<slint::Image> {
    let code =
        qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M).ok()?;
    let img = code
        .render::<image::Luma<u8>>()
        .module_dimensions(8, 8)
        .build();
    let (wd, ht) = img.dimensions();
    let mut buf = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(wd, ht);
    for (dst, src) in buf.make_mut_slice().iter_mut().zip(img.pixels()) {
        let v = src.0[0];
        *dst = slint::Rgb8Pixel { r: v, g: v, b: v };
    }
    Some(slint::Image::from_rgb8(buf))
}
