//! The screens' controller, in two halves. [`Controller`] (on the UI
//! thread) turns what people do into commands for the kiosk side: scans go
//! to the kiosk loop at once, the walk-in help and the slip are requests.
//! [`Presenter`] turns what the kiosk side pushes ([`Update`]s, from any
//! thread) into view models, and hands them to the windows on the UI
//! thread with `upgrade_in_event_loop`. Neither waits, polls, or touches
//! the network, the disk or the printer.

use std::sync::Arc;

use slint::ComponentHandle;

use super::model::{
    board_header, board_picture_view, kiosk_header, result_view, slip_status, walkin_view,
    ScreenSettings, UiAction,
};
use super::{board_adapter, kiosk_adapter, BoardWindow, KioskWindow};
use crate::screen_feed::{Request, ScreenFeed, Screens, Update};

/// What people do, as commands to the kiosk side.
pub struct Controller {
    feed: ScreenFeed,
}

impl Controller {
    pub fn new(feed: ScreenFeed) -> Controller {
        Controller { feed }
    }

    /// Hands one action on; never blocks.
    pub fn act(&self, action: UiAction) {
        match action {
            UiAction::Scan(text) => {
                self.feed.scan(&text);
            }
            UiAction::WalkInHelp => {
                self.feed.request(Request::WalkInHelp);
            }
            UiAction::PrintInfo => {
                self.feed.request(Request::PrintInfo);
            }
            UiAction::Priority(number) => {
                self.feed.priority(&number);
            }
            UiAction::BackToIdle => {}
        }
    }
}

/// Shows what the kiosk side pushes. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Presenter {
    settings: Arc<ScreenSettings>,
    kiosk: Option<slint::Weak<KioskWindow>>,
    board: Option<slint::Weak<BoardWindow>>,
}

impl Presenter {
    pub fn new(
        settings: ScreenSettings,
        kiosk: Option<&KioskWindow>,
        board: Option<&BoardWindow>,
    ) -> Presenter {
        Presenter {
            settings: Arc::new(settings),
            kiosk: kiosk.map(|k| k.as_weak()),
            board: board.map(|b| b.as_weak()),
        }
    }

    fn on_kiosk(&self, f: impl FnOnce(KioskWindow) + Send + 'static) {
        if let Some(k) = &self.kiosk {
            // Fails only when the event loop is gone (shutting down).
            let _ = k.upgrade_in_event_loop(f);
        }
    }

    fn on_board(&self, f: impl FnOnce(BoardWindow) + Send + 'static) {
        if let Some(b) = &self.board {
            let _ = b.upgrade_in_event_loop(f);
        }
    }
}

impl Screens for Presenter {
    fn show(&self, update: Update) {
        let settings = &self.settings;
        match update {
            Update::Situation(s) => {
                if self.kiosk.is_some() {
                    let header = kiosk_header(&s, settings);
                    self.on_kiosk(move |w| kiosk_adapter::set_status(&w, &header));
                }
                if self.board.is_some() {
                    let header = board_header(&s, settings);
                    self.on_board(move |w| board_adapter::set_status(&w, &header));
                }
            }
            Update::Board(picture) => {
                if self.board.is_some() {
                    let view = board_picture_view(&picture);
                    self.on_board(move |w| board_adapter::show(&w, &view));
                }
            }
            Update::Scan { report, manifest } => {
                if self.kiosk.is_some() {
                    let view = result_view(&report, manifest.as_deref(), settings.rules.timezone);
                    self.on_kiosk(move |w| kiosk_adapter::show_result(&w, &view));
                }
            }
            Update::WalkIn(answer) => {
                let view = walkin_view(&answer, settings);
                self.on_kiosk(move |w| kiosk_adapter::set_walkin(&w, &view));
            }
            Update::Slip(result) => {
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "walk-in slip not printed");
                }
                let text = slip_status(result.is_ok());
                self.on_kiosk(move |w| kiosk_adapter::set_slip_status(&w, text));
            }
        }
    }
}
