//! The screens' windows on the main thread: the kiosk window, the call
//! board, or both (two screens). `main` starts the rest of the process,
//! connects it with [`ScreenWindows::presenter`] and hands back a
//! [`ScreenFeed`]; then Slint's event loop runs, and wakes only for what
//! people do and for what the kiosk side pushes. No timer polls.

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use slint::ComponentHandle;

use super::controller::{Controller, Presenter};
use super::kiosk_adapter::{self, MillisClock};
pub use super::model::ScreenSettings;
use super::{board_adapter, BoardWindow, KioskWindow};
use crate::screen_feed::{ScreenFeed, Screens};

/// Why the screens could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScreenError {
    #[error("cannot open a window: {0}. On a kiosk PC without X or Wayland, run with SLINT_BACKEND=linuxkms; to run without a screen use --headless.")]
    Platform(#[from] slint::PlatformError),
}

/// The windows `[ui] role` asks for, and their controller once connected.
pub struct ScreenWindows {
    settings: ScreenSettings,
    kiosk: Option<KioskWindow>,
    board: Option<BoardWindow>,
    controller: Rc<OnceCell<Controller>>,
}

impl ScreenWindows {
    /// Creates the windows (not shown yet), with the platform's clock for
    /// the keyboard wedge.
    pub fn open(
        settings: &ScreenSettings,
        demo_codes: &[String],
    ) -> Result<ScreenWindows, ScreenError> {
        let started = Instant::now();
        ScreenWindows::open_with(
            settings,
            demo_codes,
            Rc::new(move || started.elapsed().as_millis() as u64),
        )
    }

    /// [`ScreenWindows::open`] with the wedge's clock given (tests).
    pub fn open_with(
        settings: &ScreenSettings,
        demo_codes: &[String],
        now_ms: MillisClock,
    ) -> Result<ScreenWindows, ScreenError> {
        let controller: Rc<OnceCell<Controller>> = Rc::new(OnceCell::new());
        let kiosk = if settings.role.shows_kiosk() {
            let slot = controller.clone();
            let k = kiosk_adapter::create(
                Rc::new(move |action| {
                    if let Some(c) = slot.get() {
                        c.act(action);
                    }
                }),
                now_ms,
            )?;
            kiosk_adapter::show_idle(&k);
            kiosk_adapter::set_booking_qr(&k, &settings.booking_url);
            kiosk_adapter::set_demo_codes(&k, demo_codes);
            Some(k)
        } else {
            None
        };
        let board = if settings.role.shows_board() {
            Some(board_adapter::create()?)
        } else {
            None
        };
        Ok(ScreenWindows {
            settings: settings.clone(),
            kiosk,
            board,
            controller,
        })
    }

    /// Where the kiosk side pushes what the screens show.
    pub fn presenter(&self) -> Arc<dyn Screens> {
        Arc::new(Presenter::new(
            self.settings.clone(),
            self.kiosk.as_ref(),
            self.board.as_ref(),
        ))
    }

    /// From now on, what people do goes to `feed`.
    pub fn connect(&self, feed: ScreenFeed) {
        let _ = self.controller.set(Controller::new(feed));
    }

    /// Shows the windows (full screen when configured).
    pub fn show(&self) -> Result<(), ScreenError> {
        for window in [
            self.kiosk.as_ref().map(|k| k.window()),
            self.board.as_ref().map(|b| b.window()),
        ]
        .into_iter()
        .flatten()
        {
            // Shown first: a window made full screen before it is shown
            // keeps its preferred size under some compositors (cage).
            window.show()?;
            window.set_fullscreen(self.settings.fullscreen);
        }
        Ok(())
    }

    pub fn kiosk(&self) -> Option<&KioskWindow> {
        self.kiosk.as_ref()
    }

    pub fn board(&self) -> Option<&BoardWindow> {
        self.board.as_ref()
    }

    /// Connects, shows the windows and runs until [`quit`].
    pub fn run(self, feed: ScreenFeed) -> Result<(), ScreenError> {
        self.connect(feed);
        self.show()?;
        slint::run_event_loop_until_quit()?;
        Ok(())
    }
}

/// Ends the screens' event loop (from any thread: a stop signal).
pub fn quit() {
    let _ = slint::quit_event_loop();
}
