//! Wiring of the kiosk screen: creates the window, turns its callbacks into
//! [`UiAction`]s, and copies view models into its properties. The only
//! code that touches the generated kiosk types.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::Sender;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::model::{ResultView, UiAction, WedgeBuffer};
use super::{FreeSessionRow, KioskAdapter, KioskWindow};

/// A source of milliseconds (the platform's clock; mocked in tests).
pub type MillisClock = Rc<dyn Fn() -> u64>;

/// Creates the kiosk window; actions go to `actions`.
pub fn create(
    actions: Sender<UiAction>,
    now_ms: MillisClock,
) -> Result<KioskWindow, slint::PlatformError> {
    let window = KioskWindow::new()?;
    let adapter = window.global::<KioskAdapter>();
    let wedge = Rc::new(RefCell::new(WedgeBuffer::default()));
    {
        let (tx, weak, wedge) = (actions.clone(), window.as_weak(), wedge.clone());
        adapter.on_wedge_key(move |text| {
            let burst = wedge.borrow_mut().key(&text, now_ms());
            if let (Some(burst), Some(w)) = (burst, weak.upgrade()) {
                submit(&w, &tx, burst);
            }
        });
    }
    {
        let (tx, weak) = (actions.clone(), window.as_weak());
        adapter.on_submit_code(move |code| {
            if let Some(w) = weak.upgrade() {
                if !code.trim().is_empty() {
                    submit(&w, &tx, code.to_string());
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
        let (tx, weak) = (actions.clone(), window.as_weak());
        adapter.on_back_to_idle(move || {
            if let Some(w) = weak.upgrade() {
                show_idle(&w);
            }
            let _ = tx.send(UiAction::BackToIdle);
        });
    }
    {
        let (tx, weak) = (actions.clone(), window.as_weak());
        adapter.on_walk_in(move || {
            if let Some(w) = weak.upgrade() {
                let a = w.global::<KioskAdapter>();
                a.set_slip_status(SharedString::new());
                a.set_screen("walkin".into());
            }
            let _ = tx.send(UiAction::WalkInHelp);
        });
    }
    {
        let tx = actions;
        adapter.on_print_info(move || {
            let _ = tx.send(UiAction::PrintInfo);
        });
    }
    Ok(window)
}

fn submit(w: &KioskWindow, tx: &Sender<UiAction>, text: String) {
    w.global::<KioskAdapter>().set_screen("processing".into());
    let _ = tx.send(UiAction::Scan(text));
}

/// Back to the idle screen, in Indonesian.
pub fn show_idle(w: &KioskWindow) {
    let a = w.global::<KioskAdapter>();
    a.set_screen("idle".into());
    a.set_english(false);
    a.set_typed(SharedString::new());
}

/// Shows a scan's result (nothing changes for a double read).
pub fn show_result(w: &KioskWindow, v: &ResultView) {
    let a = w.global::<KioskAdapter>();
    let Some(screen) = v.screen else {
        if a.get_screen() == "processing" {
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
    a.set_screen(screen.into());
}

/// Header texts: office, date, clock, open session, offline badge.
pub fn set_status(
    w: &KioskWindow,
    office: &str,
    date: &str,
    clock: &str,
    session: &(String, String),
    offline: bool,
) {
    let a = w.global::<KioskAdapter>();
    a.set_office_name(office.into());
    a.set_date_text(date.into());
    a.set_clock_text(clock.into());
    a.set_session_text(session.0.as_str().into());
    a.set_session_text_en(session.1.as_str().into());
    a.set_offline(offline);
}

/// The walk-in help screen's contents.
pub struct WalkInView {
    pub rows: Vec<(String, String, String)>,
    pub booking_url: String,
    pub desk: String,
    pub note_id: String,
    pub note_en: String,
    pub qr: Option<slint::Image>,
}

pub fn set_walkin(w: &KioskWindow, v: WalkInView) {
    let a = w.global::<KioskAdapter>();
    let rows: Vec<FreeSessionRow> = v
        .rows
        .into_iter()
        .map(|(day, slot, free)| FreeSessionRow {
            day: day.into(),
            slot: slot.into(),
            free: free.into(),
        })
        .collect();
    a.set_free_sessions(ModelRc::new(VecModel::from(rows)));
    a.set_booking_url(v.booking_url.into());
    a.set_desk_text(v.desk.into());
    a.set_walkin_note_id(v.note_id.into());
    a.set_walkin_note_en(v.note_en.into());
    if let Some(qr) = v.qr {
        a.set_booking_qr(qr);
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
