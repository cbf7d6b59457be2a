//! `antrean-kiosk run` with screens: the kiosk window, the call board, or
//! both (two screens), Slint on the main thread and the rest of the
//! process beside it. The controller is pumped by a Slint timer.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use slint::ComponentHandle;

use super::controller::{Controller, Sources};
use super::{board_adapter, kiosk_adapter};
use crate::app::{App, AppError, AppOptions};
use crate::config::{Config, UiRole};
use crate::daemon::ScanSource;
use antrean_host::clock::Clock;

/// Why the screens could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScreenError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("cannot open a window: {0}. On a kiosk PC without X or Wayland, run with SLINT_BACKEND=linuxkms; to run without a screen use --headless.")]
    Platform(#[from] slint::PlatformError),
}

/// Runs until the windows close or a stop signal arrives.
pub fn run_screens(config: &Config, clock: Clock) -> Result<(), ScreenError> {
    let (reports_tx, reports_rx) = channel();
    let mut app = App::start(
        config,
        AppOptions {
            clock,
            source: ScanSource::SerialOnly,
            reports: Some(reports_tx),
        },
    )?;
    let (actions_tx, actions_rx) = channel();
    let role = config.ui.role;
    let started = Instant::now();
    let kiosk = matches!(role, UiRole::Kiosk | UiRole::Both)
        .then(|| {
            kiosk_adapter::create(
                actions_tx,
                Rc::new(move || started.elapsed().as_millis() as u64),
            )
        })
        .transpose()?;
    let board = matches!(role, UiRole::Board | UiRole::Both)
        .then(board_adapter::create)
        .transpose()?;
    // Spoken calls come with the board.
    let _announcer = match (board.is_some() && config.audio.enabled, app.take_calls()) {
        (true, Some(calls)) => match crate::audio::Voice::load(&config.audio.voice_dir()) {
            Ok(voice) => Some(crate::audio::spawn_player(
                calls,
                voice,
                config.audio.clone(),
                clock,
                config.timezone(),
                crate::audio::sink_for(&config.audio),
            )),
            Err(e) => {
                tracing::warn!(error = %e, "no spoken calls");
                None
            }
        },
        _ => None,
    };
    if config.ui.demo_panel {
        if let Some(k) = &kiosk {
            kiosk_adapter::set_demo_codes(k, &demo_codes(config, clock));
        }
    }
    let sources = Sources {
        kiosk_events: app.sender(),
        reports: reports_rx,
        actions: actions_rx,
        manifest: app.manifest(),
        board: app.board(),
        link: config.central.as_ref().map(|_| app.link_status()),
        printer: app.printer_health(),
        client: app.client(),
        runtime: Some(app.runtime().handle().clone()),
        clock,
    };
    let controller = Rc::new(RefCell::new(Controller::new(config, sources, kiosk, board)));
    {
        let c = controller.borrow();
        for window in [c.kiosk().map(|k| k.window()), c.board().map(|b| b.window())]
            .into_iter()
            .flatten()
        {
            window.set_fullscreen(config.ui.fullscreen);
            window.show()?;
        }
    }
    let timer = slint::Timer::default();
    {
        let c = controller.clone();
        timer.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(50),
            move || {
                c.borrow_mut().pump();
            },
        );
    }
    app.on_stop_signal(|| {
        let _ = slint::quit_event_loop();
    });
    slint::run_event_loop_until_quit()?;
    drop(timer);
    drop(controller);
    app.stop();
    Ok(())
}

/// Demo mode: sample booking codes of today from the embedded service's
/// list (`state_dir/demo/bookings.txt`): those of the sessions open now,
/// then one too early and one too late, so every kind of answer shows.
fn demo_codes(config: &Config, clock: Clock) -> Vec<String> {
    let path = config.kiosk.state_dir.join("demo").join("bookings.txt");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let samples: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (number, slot, code) = (parts.next()?, parts.next()?, parts.next()?);
            (number.contains('-') && antrean_core::booking::is_booking_code(code))
                .then(|| (slot.to_string(), code.to_string()))
        })
        .collect();
    let now = antrean_core::checkin::at_office(clock.now(), config.timezone());
    let rules = config.rules();
    let open = |slot: &str| {
        antrean_core::booking::Slot::parse(slot)
            .is_some_and(|s| antrean_core::checkin::is_open(now.date_naive(), s, now, &rules))
    };
    let mut codes: Vec<String> = samples
        .iter()
        .filter(|(s, _)| open(s))
        .map(|(_, c)| c.clone())
        .take(4)
        .collect();
    codes.extend(
        samples
            .iter()
            .filter(|(s, _)| !open(s))
            .map(|(_, c)| c.clone())
            .step_by(3)
            .take(2),
    );
    codes
}
