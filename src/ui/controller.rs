//! The screens' controller on the UI thread: forwards what people do to
//! the kiosk loop, and shows scan reports, the clock, the link state and
//! the board. It never blocks: channels are drained with `try_recv`, watch
//! channels are read, and anything slow (fetching manifests for the
//! walk-in screen) runs on the async runtime and comes back by channel.

use std::sync::mpsc::{channel, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;

use chrono::NaiveDate;
use tokio::sync::watch;

use super::kiosk_adapter::{self, WalkInView};
use super::model::{
    board_view, date_and_clock, free_session_rows, open_session_text, result_view, UiAction,
};
use super::{board_adapter, BoardWindow, KioskWindow};
use crate::central::board_sync::BoardFeed;
use crate::central::client::{CentralClient, ManifestFetch};
use crate::central::sync::LinkStatus;
use crate::config::Config;
use crate::kiosk::{Event, ScanReport};
use antrean_core::api::PrinterHealth;
use antrean_core::checkin::{at_office, Rules};
use antrean_core::framing::Frame;
use antrean_core::manifest::Manifest;
use antrean_host::clock::Clock;

/// Everything the screens read from the rest of the process.
pub struct Sources {
    /// The kiosk loop's bounded channel: the UI thread only `try_send`s.
    pub kiosk_events: SyncSender<Event>,
    pub reports: Receiver<ScanReport>,
    pub actions: Receiver<UiAction>,
    pub manifest: watch::Receiver<Option<Arc<Manifest>>>,
    pub board: watch::Receiver<BoardFeed>,
    pub link: Option<watch::Receiver<LinkStatus>>,
    pub printer: watch::Receiver<PrinterHealth>,
    pub client: Option<CentralClient>,
    pub runtime: Option<tokio::runtime::Handle>,
    pub clock: Clock,
}

/// The controller; call [`Controller::pump`] often (a Slint timer does).
pub struct Controller {
    config: Config,
    rules: Rules,
    src: Sources,
    kiosk: Option<KioskWindow>,
    board: Option<BoardWindow>,
    walkin_tx: Sender<Vec<Manifest>>,
    walkin_rx: Receiver<Vec<Manifest>>,
    slip_rx: Option<Receiver<Result<(), String>>>,
    last_board_key: Option<(u64, bool, String)>,
}

impl Controller {
    pub fn new(
        config: &Config,
        src: Sources,
        kiosk: Option<KioskWindow>,
        board: Option<BoardWindow>,
    ) -> Controller {
        let (walkin_tx, walkin_rx) = channel();
        let c = Controller {
            rules: config.rules(),
            config: config.clone(),
            src,
            kiosk,
            board,
            walkin_tx,
            walkin_rx,
            slip_rx: None,
            last_board_key: None,
        };
        if let Some(k) = &c.kiosk {
            kiosk_adapter::show_idle(k);
        }
        c
    }

    pub fn kiosk(&self) -> Option<&KioskWindow> {
        self.kiosk.as_ref()
    }

    pub fn board(&self) -> Option<&BoardWindow> {
        self.board.as_ref()
    }

    /// Handles whatever is pending. Never blocks.
    pub fn pump(&mut self) {
        while let Ok(action) = self.src.actions.try_recv() {
            self.act(action);
        }
        while let Ok(report) = self.src.reports.try_recv() {
            if let Some(k) = &self.kiosk {
                let manifest = self.src.manifest.borrow().clone();
                kiosk_adapter::show_result(
                    k,
                    &result_view(&report, manifest.as_deref(), self.rules.timezone),
                );
            }
        }
        while let Ok(manifests) = self.walkin_rx.try_recv() {
            self.show_walkin(manifests);
        }
        if let Some(rx) = &self.slip_rx {
            if let Ok(result) = rx.try_recv() {
                if let Some(k) = &self.kiosk {
                    let text = match result {
                        Ok(()) => "Info sudah dicetak, silakan ambil. · Printed, please take it.".to_string(),
                        Err(_) => "Printer bermasalah, silakan ke meja informasi. · Printer problem, please go to the information desk.".to_string(),
                    };
                    kiosk_adapter::set_slip_status(k, &text);
                }
                self.slip_rx = None;
            }
        }
        self.refresh_status();
    }

    fn act(&mut self, action: UiAction) {
        match action {
            UiAction::Scan(text) => {
                let mut frames = crate::scanner::frames_of(&text);
                if text.trim().is_empty() {
                    frames.push(Frame::Garbage);
                }
                for frame in frames {
                    self.hand_over(Event::Scan(frame));
                }
            }
            UiAction::WalkInHelp => self.start_walkin(),
            UiAction::PrintInfo => self.print_slip(),
            UiAction::BackToIdle => {}
        }
    }

    fn office_now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        at_office(self.src.clock.now(), self.rules.timezone)
    }

    fn walkin_days(&self) -> Vec<NaiveDate> {
        self.config.walkin.schedule().next_days(
            self.office_now().date_naive(),
            self.config.walkin.days_ahead,
        )
    }

    /// Shows the walk-in screen at once from what is at hand, and fetches
    /// the days not cached in the background.
    fn start_walkin(&mut self) {
        let days = self.walkin_days();
        let today = self.src.manifest.borrow().clone();
        let state_dir = self.config.kiosk.state_dir.clone();
        let cached: Vec<Manifest> = days
            .iter()
            .filter_map(|d| match &today {
                Some(m) if m.date == *d => Some((**m).clone()),
                _ => None,
            })
            .collect();
        self.show_walkin(cached.clone());
        let (Some(client), Some(rt)) = (self.src.client.clone(), self.src.runtime.clone()) else {
            // No central service: the disk cache is all there is.
            let tx = self.walkin_tx.clone();
            std::thread::spawn(move || {
                let found = days
                    .iter()
                    .filter_map(|d| crate::manifest_cache::load(&state_dir, *d).ok().flatten())
                    .collect();
                let _ = tx.send(found);
            });
            return;
        };
        let tx = self.walkin_tx.clone();
        rt.spawn(async move {
            let mut found = Vec::new();
            for d in days {
                let dir = state_dir.clone();
                let from_disk = tokio::task::spawn_blocking(move || {
                    crate::manifest_cache::load(&dir, d).ok().flatten()
                })
                .await
                .ok()
                .flatten();
                let fetched = tokio::time::timeout(
                    std::time::Duration::from_secs(3),
                    client.manifest(d, None),
                )
                .await;
                match fetched {
                    Ok(Ok(ManifestFetch::Fresh { manifest, .. })) => found.push(*manifest),
                    _ => found.extend(from_disk),
                }
            }
            let _ = tx.send(found);
        });
    }

    fn show_walkin(&mut self, manifests: Vec<Manifest>) {
        let Some(k) = &self.kiosk else { return };
        let days = self.walkin_days();
        let refs: Vec<&Manifest> = manifests.iter().collect();
        let schedule = self.config.walkin.schedule();
        let free = antrean_core::walkin::free_sessions(
            &schedule,
            &days,
            &refs,
            self.office_now().naive_local(),
        );
        let offline = self.src.link.as_ref().is_none_or(|l| !l.borrow().online);
        let (note_id, note_en) = if offline {
            (
                "Data mungkin belum terbaru (layanan pusat tidak terhubung).".to_string(),
                "Figures may be out of date (central service not reachable).".to_string(),
            )
        } else {
            (String::new(), String::new())
        };
        kiosk_adapter::set_walkin(
            k,
            WalkInView {
                rows: free_session_rows(&free, self.rules.timezone, 6),
                booking_url: self.config.walkin.booking_url.clone(),
                desk: self.config.walkin.desk_location.clone(),
                note_id,
                note_en,
                qr: kiosk_adapter::qr_image(&self.config.walkin.booking_url),
            },
        );
    }

    /// Prints the walk-in slip through the kiosk loop (it owns the printer).
    fn print_slip(&mut self) {
        let days = self.walkin_days();
        let today = self.src.manifest.borrow().clone();
        let refs: Vec<&Manifest> = today.iter().map(|m| m.as_ref()).collect();
        let free = antrean_core::walkin::free_sessions(
            &self.config.walkin.schedule(),
            &days,
            &refs,
            self.office_now().naive_local(),
        );
        let lines = antrean_core::walkin::slip_lines(
            &free,
            self.rules.timezone,
            &self.config.walkin.office_hours,
            &self.config.walkin.desk_location,
            self.config.printer.columns,
        );
        let bytes = crate::printer::encode::encode_slip(
            self.config.printer.columns,
            &[
                "Belum punya booking?".to_string(),
                self.config.office.name.clone(),
            ],
            &lines,
            Some(&self.config.walkin.booking_url),
        );
        let (tx, rx) = channel();
        if self.hand_over(Event::PrintSlip { bytes, reply: tx }) {
            self.slip_rx = Some(rx);
        }
    }

    /// Gives the kiosk loop an event without ever blocking the UI thread;
    /// false when it is too busy to take it (the person simply tries again).
    fn hand_over(&self, event: Event) -> bool {
        match self.src.kiosk_events.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!("the kiosk loop is busy; an input from the screen was dropped");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn refresh_status(&mut self) {
        let now = self.office_now();
        let (date, clock) = date_and_clock(now);
        let link = self.src.link.as_ref().map(|l| l.borrow().clone());
        let offline = link.as_ref().is_some_and(|l| !l.online);
        if let Some(k) = &self.kiosk {
            let manifest = self.src.manifest.borrow().clone();
            let session = open_session_text(manifest.as_deref(), now, &self.rules);
            let office = manifest
                .as_ref()
                .and_then(|m| m.office_name.clone())
                .unwrap_or_else(|| self.config.office.name.clone());
            kiosk_adapter::set_status(k, &office, &date, &clock, &session, offline);
        }
        if let Some(b) = &self.board {
            let printer = self.src.printer.borrow().clone();
            let warning = match printer.state.as_str() {
                "ok" => String::new(),
                "paper_low" => "Kertas printer kiosk hampir habis · Kiosk printer paper low".into(),
                other => format!("Printer kiosk: {other} · Kiosk printer needs attention"),
            };
            let skew = link
                .as_ref()
                .and_then(|l| l.clock_skew_seconds)
                .filter(|s| s.abs() > 120 && !self.src.clock.is_shifted());
            let warning = match skew {
                Some(s) => {
                    format!("{warning} Jam kiosk selisih {s} detik · Kiosk clock off by {s} s")
                        .trim()
                        .to_string()
                }
                None => warning,
            };
            board_adapter::set_status(b, &self.config.office.name, &date, &clock, &warning);
            let feed = self.src.board.borrow().clone();
            let last = feed.last_contact.map(|t| at_office(t, self.rules.timezone));
            let view = board_view(&feed.state, feed.connected, last, now);
            let key = (feed.state.seq(), feed.connected, view.stale_text.clone());
            if self.last_board_key.as_ref() != Some(&key)
                || view.flash_serial != 0 && self.last_board_key.is_none()
            {
                board_adapter::show(b, &view);
                self.last_board_key = Some(key);
            }
        }
    }
}
