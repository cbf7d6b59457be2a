//! View models for the screens, and the keyboard-wedge burst detector.
//! Pure: they turn scan reports, the situation, the board and the walk-in
//! answer into the texts the screens show; the adapters copy them into
//! Slint properties. No Slint types, no I/O.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use crate::config::{Config, UiRole};
use crate::kiosk::{Outcome, ScanReport};
use crate::screen_feed::{BoardPicture, Situation, WalkInAnswer};
use antrean_core::board::{current_break, BoardState};
use antrean_core::booking::Slot;
use antrean_core::checkin::{is_open, Reason, Rules};
use antrean_core::locale::{
    break_notice, date_en, jam, printer_fault_message, rejection_message, tanggal, zona,
};
use antrean_core::manifest::{default_service_name, Manifest};
use antrean_core::printer_status::PrinterState;

/// What the screens need of the configuration.
#[derive(Debug, Clone)]
pub struct ScreenSettings {
    pub office_name: String,
    pub rules: Rules,
    pub booking_url: String,
    pub desk: String,
    pub role: UiRole,
    pub fullscreen: bool,
    /// `[office] breaks`: the board says so while one lasts.
    pub breaks: Vec<Slot>,
}

impl ScreenSettings {
    pub fn from_config(config: &Config) -> ScreenSettings {
        ScreenSettings {
            office_name: config.office.name.clone(),
            rules: config.rules(),
            booking_url: config.walkin.booking_url.clone(),
            desk: config.walkin.desk_location.clone(),
            role: config.ui.role,
            fullscreen: config.ui.fullscreen,
            breaks: config.office.breaks.clone(),
        }
    }
}

/// The kiosk screen of the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Idle,
    Typing,
    Processing,
    Success,
    Rejected,
    Fault,
    WalkIn,
}

/// What a person did on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiAction {
    /// A keyboard-wedge burst or the keypad's OK.
    Scan(String),
    /// "Belum punya booking?".
    WalkInHelp,
    /// "Cetak info" on the walk-in screen.
    PrintInfo,
    /// "Prioritas" on the success screen, for this queue number.
    Priority(String),
    /// A result screen timed out or "Kembali" was pressed.
    BackToIdle,
}

/// Keyboard-wedge scanners type a whole code quickly, then Enter. Keys
/// further apart than the idle gap start a new burst (a half-typed burst
/// is dropped), so a stray key press never becomes part of a scan.
#[derive(Debug, Clone)]
pub struct WedgeBuffer {
    buf: String,
    last_ms: Option<u64>,
    gap_ms: u64,
}

impl Default for WedgeBuffer {
    fn default() -> Self {
        WedgeBuffer::new(300)
    }
}

impl WedgeBuffer {
    pub fn new(gap_ms: u64) -> WedgeBuffer {
        WedgeBuffer {
            buf: String::new(),
            last_ms: None,
            gap_ms,
        }
    }

    /// Feeds the text of one key press at `at_ms`; returns a completed burst.
    pub fn key(&mut self, text: &str, at_ms: u64) -> Option<String> {
        if self
            .last_ms
            .is_some_and(|last| at_ms.saturating_sub(last) > self.gap_ms)
        {
            self.buf.clear();
        }
        self.last_ms = Some(at_ms);
        if text == "\n" || text == "\r" {
            let burst = std::mem::take(&mut self.buf);
            return (!burst.trim().is_empty()).then_some(burst);
        }
        // Printable characters only (Slint sends special keys as private-use
        // characters).
        if text
            .chars()
            .all(|c| !c.is_control() && !('\u{f700}'..='\u{f8ff}').contains(&c))
            && self.buf.len() < 2048
        {
            self.buf.push_str(text);
        }
        None
    }
}

/// What the kiosk screen shows after a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultView {
    /// Success, rejected or fault; `None` for nothing to show (a double read).
    pub screen: Option<Screen>,
    pub number: String,
    pub service: String,
    pub session: String,
    pub ahead: String,
    pub reprint: bool,
    pub message_id: String,
    pub message_en: String,
    /// Offer the walk-in help (unknown or unreadable codes).
    pub offer_walkin: bool,
    /// Offer "Prioritas" (the ticket waits for the choice).
    pub offer_priority: bool,
    /// The ticket says `PRIORITAS`.
    pub priority: bool,
}

/// Turns a scan report into what the screen shows.
pub fn result_view(report: &ScanReport, manifest: Option<&Manifest>, tz: Tz) -> ResultView {
    let mut v = ResultView {
        screen: None,
        number: String::new(),
        service: String::new(),
        session: String::new(),
        ahead: String::new(),
        reprint: false,
        message_id: String::new(),
        message_en: String::new(),
        offer_walkin: false,
        offer_priority: report.choosing.is_some(),
        priority: report.ticket.as_ref().is_some_and(|t| t.priority),
    };
    if let Some(b) = &report.booking {
        v.number = b.number.clone();
        v.service = manifest
            .map(|m| m.service_name(&b.service).to_string())
            .filter(|n| *n != b.service)
            .unwrap_or_else(|| default_service_name(&b.service).to_string());
        v.session = format!("{} {}", b.slot.display(), zona(tz))
            .trim_end()
            .to_string();
        v.ahead = report.ahead.map(|a| a.to_string()).unwrap_or_default();
    }
    match &report.outcome {
        Outcome::Accept | Outcome::Reprint => {
            v.screen = Some(Screen::Success);
            v.reprint = report.outcome == Outcome::Reprint;
        }
        Outcome::Rejected(r) => {
            v.screen = Some(Screen::Rejected);
            let m = rejection_message(r);
            v.message_id = m.id;
            v.message_en = m.en;
            v.offer_walkin = matches!(r.reason, Reason::UnknownBooking | Reason::InvalidFormat);
        }
        Outcome::PrinterFault(_) | Outcome::JournalFault => {
            v.screen = Some(Screen::Fault);
            let m = printer_fault_message();
            v.message_id = m.id;
            v.message_en = m.en;
        }
        Outcome::DoubleRead => {}
    }
    v
}

/// `Rabu, 08 Mei 2024` / `09.20`.
pub fn date_and_clock(now: DateTime<FixedOffset>) -> (String, String) {
    (tanggal(now.date_naive()), jam(now.time()))
}

/// The idle screen's line about which session is open for check-in now,
/// in both languages.
pub fn open_session_text(
    manifest: Option<&Manifest>,
    now: DateTime<FixedOffset>,
    rules: &Rules,
) -> (String, String) {
    let today = now.date_naive();
    let open: Vec<Slot> = manifest
        .filter(|m| m.date == today)
        .map(|m| {
            m.sessions
                .iter()
                .filter_map(|s| Slot::parse(&s.slot))
                .filter(|slot| is_open(today, *slot, now, rules))
                .collect()
        })
        .unwrap_or_default();
    if open.is_empty() {
        return (
            "Belum ada sesi yang dibuka untuk check-in saat ini.".into(),
            "No session is open for check-in right now.".into(),
        );
    }
    let list = open
        .iter()
        .map(|s| s.display())
        .collect::<Vec<_>>()
        .join(", ");
    (
        format!("Check-in dibuka untuk sesi {list}"),
        format!("Check-in is open for session {list}"),
    )
}

/// What the call board shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoardView {
    pub last_number: String,
    pub last_counter: String,
    pub last_recall: bool,
    /// The call took a confirmed priority check-in first: `PRIORITAS`
    /// beside the number says why.
    pub last_priority: bool,
    pub flash_serial: i32,
    /// (label, number or empty, served as priority).
    pub counters: Vec<(String, String, bool)>,
    /// (number, counter label).
    pub recent: Vec<(String, String)>,
    /// (session `HH.MM-HH.MM`, count).
    pub waiting: Vec<(String, String)>,
    pub notice: String,
    pub stale_text: String,
}

/// Builds the board's view; when it is not live, a banner says since when.
pub fn board_view(
    state: &BoardState,
    live: bool,
    last_contact: Option<DateTime<FixedOffset>>,
) -> BoardView {
    let label_of = |id: &str| {
        state
            .counters()
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.label.clone())
            .unwrap_or_else(|| format!("Loket {id}"))
    };
    let stale_text = if live {
        String::new()
    } else {
        match last_contact {
            Some(t) => format!(
                "Koneksi terputus, terakhir diperbarui {} · Connection lost, last updated {}",
                jam(t.time()),
                jam(t.time())
            ),
            None => {
                "Koneksi terputus, menunggu data antrean · Connection lost, waiting for queue data"
                    .into()
            }
        }
    };
    BoardView {
        last_number: state
            .last_call()
            .map(|l| l.call.number.clone())
            .unwrap_or_default(),
        last_counter: state
            .last_call()
            .map(|l| label_of(&l.call.counter).to_uppercase())
            .unwrap_or_default(),
        last_recall: state.last_call().is_some_and(|l| l.call.recall),
        last_priority: state.last_call().is_some_and(|l| l.call.priority),
        flash_serial: state.last_call().map(|l| l.serial as i32).unwrap_or(0),
        counters: state
            .counters()
            .iter()
            .map(|c| {
                (
                    c.label.clone(),
                    c.serving
                        .as_ref()
                        .map(|s| s.number.clone())
                        .unwrap_or_default(),
                    c.serving.as_ref().is_some_and(|s| s.priority),
                )
            })
            .collect(),
        recent: state
            .recent()
            .iter()
            .map(|r| (r.number.clone(), label_of(&r.counter)))
            .collect(),
        waiting: state
            .waiting()
            .iter()
            .map(|w| {
                (
                    Slot::parse(&w.slot)
                        .map(|s| s.display())
                        .unwrap_or_else(|| w.slot.clone()),
                    w.count.to_string(),
                )
            })
            .collect(),
        notice: state.notice().unwrap_or_default().to_string(),
        stale_text,
    }
}

/// One row of the walk-in screen: (`Rabu, 08 Mei 2024`, `13.00-14.00 WIB`, `12 tempat`).
pub fn free_session_rows(
    sessions: &[antrean_core::walkin::FreeSession],
    tz: Tz,
    limit: usize,
) -> Vec<(String, String, String)> {
    sessions
        .iter()
        .take(limit)
        .map(|s| {
            (
                tanggal(s.date),
                format!("{} {}", s.slot.display(), zona(tz))
                    .trim_end()
                    .to_string(),
                format!("{} tempat", s.free),
            )
        })
        .collect()
}

/// English date for the walk-in screen's English mode.
pub fn english_date(d: NaiveDate) -> String {
    date_en(d)
}

/// Local naive time of an instant (for the walk-in core).
pub fn local(now: DateTime<FixedOffset>) -> NaiveDateTime {
    now.naive_local()
}

/// The board's picture as the board shows it.
pub fn board_picture_view(picture: &BoardPicture) -> BoardView {
    board_view(&picture.state, picture.live, picture.last_contact)
}

/// The kiosk screen's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskHeader {
    pub office: String,
    pub date: String,
    pub clock: String,
    /// The open session, (Indonesian, English).
    pub session: (String, String),
    pub offline: bool,
}

/// The kiosk's header in this situation.
pub fn kiosk_header(s: &Situation, settings: &ScreenSettings) -> KioskHeader {
    let (date, clock) = date_and_clock(s.now);
    KioskHeader {
        office: s
            .manifest
            .as_ref()
            .and_then(|m| m.office_name.clone())
            .unwrap_or_else(|| settings.office_name.clone()),
        date,
        clock,
        session: open_session_text(s.manifest.as_deref(), s.now, &settings.rules),
        offline: s.offline,
    }
}

/// The board's header and its staff banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardHeader {
    pub office: String,
    pub date: String,
    pub clock: String,
    /// For staff: the kiosk's printer, the kiosk's clock (empty when fine).
    pub warning: String,
    /// During an office break: `Istirahat 12.00-13.00 / Lunch break`.
    pub break_text: String,
}

/// The board's header in this situation.
pub fn board_header(s: &Situation, settings: &ScreenSettings) -> BoardHeader {
    let (date, clock) = date_and_clock(s.now);
    let printer = match s.printer {
        PrinterState::Ok if s.printer_status_unknown => {
            "Status printer kiosk tidak diketahui · Kiosk printer status unknown".into()
        }
        PrinterState::Ok => String::new(),
        PrinterState::PaperLow => {
            "Kertas printer kiosk hampir habis · Kiosk printer paper low".into()
        }
        other => format!(
            "Printer kiosk: {} · Kiosk printer needs attention",
            other.as_str()
        ),
    };
    let warning = match s.clock_skew_seconds {
        Some(skew) => {
            format!("{printer} Jam kiosk selisih {skew} detik · Kiosk clock off by {skew} s")
                .trim()
                .to_string()
        }
        None => printer,
    };
    let break_text = current_break(&settings.breaks, s.now.time())
        .map(|b| {
            let m = break_notice(b);
            format!("{} / {}", m.id, m.en)
        })
        .unwrap_or_default();
    BoardHeader {
        office: settings.office_name.clone(),
        date,
        clock,
        warning,
        break_text,
    }
}

/// The walk-in help screen's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkInView {
    /// (day, session, free places).
    pub rows: Vec<(String, String, String)>,
    pub booking_url: String,
    pub desk: String,
    pub note_id: String,
    pub note_en: String,
}

/// The walk-in help for this answer.
pub fn walkin_view(answer: &WalkInAnswer, settings: &ScreenSettings) -> WalkInView {
    let (note_id, note_en) = if answer.offline {
        (
            "Data mungkin belum terbaru (layanan pusat tidak terhubung).".to_string(),
            "Figures may be out of date (central service not reachable).".to_string(),
        )
    } else {
        (String::new(), String::new())
    };
    WalkInView {
        rows: free_session_rows(&answer.free, settings.rules.timezone, 6),
        booking_url: settings.booking_url.clone(),
        desk: settings.desk.clone(),
        note_id,
        note_en,
    }
}

/// The line under the walk-in buttons after "Cetak info".
pub fn slip_status(printed: bool) -> &'static str {
    if printed {
        "Info sudah dicetak, silakan ambil. · Printed, please take it."
    } else {
        "Printer bermasalah, silakan ke meja informasi. · Printer problem, please go to the information desk."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn situation(printer: PrinterState, skew: Option<i64>, offline: bool) -> Situation {
        Situation {
            now: chrono::DateTime::parse_from_rfc3339("2024-05-08T09:20:00+07:00").unwrap(),
            manifest: None,
            offline,
            printer,
            printer_status_unknown: false,
            clock_skew_seconds: skew,
        }
    }

    fn settings() -> ScreenSettings {
        ScreenSettings {
            office_name: "Disdukcapil Kota Bogor".into(),
            rules: Rules {
                office: "kota-bogor".into(),
                timezone: chrono_tz::Asia::Jakarta,
                early_minutes: 30,
                late_minutes: 15,
                reprint_limit: 1,
            },
            booking_url: "https://antrean.example.go.id".into(),
            desk: "Meja informasi".into(),
            role: UiRole::Both,
            fullscreen: false,
            breaks: vec![Slot::parse("12:00-13:00").unwrap()],
        }
    }

    #[test]
    fn the_board_says_when_the_office_is_on_its_break() {
        let cases = [
            ("11:59", ""),
            ("12:00", "Istirahat 12.00-13.00 / Lunch break"),
            ("12:59", "Istirahat 12.00-13.00 / Lunch break"),
            ("13:00", ""),
        ];
        for (at, want) in cases {
            let mut s = situation(PrinterState::Ok, None, false);
            s.now =
                chrono::DateTime::parse_from_rfc3339(&format!("2024-05-08T{at}:00+07:00")).unwrap();
            assert_eq!(board_header(&s, &settings()).break_text, want, "{at}");
        }
    }

    #[test]
    fn the_board_tells_staff_about_the_kiosk() {
        // (printer, clock skew, the board's staff banner)
        let cases: &[(PrinterState, Option<i64>, &str)] = &[
            (PrinterState::Ok, None, ""),
            (
                PrinterState::PaperLow,
                None,
                "Kertas printer kiosk hampir habis · Kiosk printer paper low",
            ),
            (
                PrinterState::CoverOpen,
                None,
                "Printer kiosk: cover_open · Kiosk printer needs attention",
            ),
            (
                PrinterState::Ok,
                Some(-300),
                "Jam kiosk selisih -300 detik · Kiosk clock off by -300 s",
            ),
            (
                PrinterState::Offline,
                Some(200),
                "Printer kiosk: offline · Kiosk printer needs attention Jam kiosk selisih 200 detik · Kiosk clock off by 200 s",
            ),
        ];
        let unknown = Situation {
            printer_status_unknown: true,
            ..situation(PrinterState::Ok, None, false)
        };
        assert_eq!(
            board_header(&unknown, &settings()).warning,
            "Status printer kiosk tidak diketahui · Kiosk printer status unknown"
        );
        for (printer, skew, warning) in cases {
            let h = board_header(&situation(*printer, *skew, false), &settings());
            assert_eq!(h.warning, *warning, "{printer:?} {skew:?}");
            assert_eq!(
                (h.date.as_str(), h.clock.as_str()),
                ("Rabu, 08 Mei 2024", "09.20")
            );
        }
    }

    #[test]
    fn the_kiosk_header_shows_the_open_session_and_the_link() {
        let h = kiosk_header(&situation(PrinterState::Ok, None, true), &settings());
        assert!(h.offline);
        assert_eq!(h.office, "Disdukcapil Kota Bogor");
        assert!(h.session.0.starts_with("Belum ada sesi"), "{:?}", h.session);
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "office": "kota-bogor", "date": "2024-05-08", "office_name": "Disdukcapil Bogor",
            "sessions": [{"slot": "09:00-10:00", "letter": "B", "quota": 50},
                         {"slot": "13:00-14:00", "letter": "E", "quota": 50}]
        }))
        .unwrap();
        let s = Situation {
            manifest: Some(std::sync::Arc::new(manifest)),
            ..situation(PrinterState::Ok, None, false)
        };
        let h = kiosk_header(&s, &settings());
        assert!(!h.offline);
        assert_eq!(h.office, "Disdukcapil Bogor");
        assert_eq!(h.session.0, "Check-in dibuka untuk sesi 09.00-10.00");
        assert_eq!(h.session.1, "Check-in is open for session 09.00-10.00");
    }

    #[test]
    fn a_priority_call_says_why_on_the_board() {
        let snapshot: antrean_core::api::BoardSnapshot = serde_json::from_value(serde_json::json!({
            "seq": 7,
            "counters": [
                {"id": "1", "label": "Loket 1", "serving": null},
                {"id": "2", "label": "Loket 2", "serving": {"number": "B-031", "service": "KTP-EL", "called_at": "2024-05-08T09:30:00+07:00", "priority": true}}
            ],
            "recent": [{"number": "B-031", "counter": "2", "called_at": "2024-05-08T09:30:00+07:00"}],
            "waiting": [],
            "notice": null
        }))
        .unwrap();
        let mut state = BoardState::new();
        state.apply_snapshot(snapshot);
        let v = board_view(&state, true, None);
        assert!(v.last_priority);
        assert_eq!(
            v.counters,
            vec![
                ("Loket 1".to_string(), String::new(), false),
                ("Loket 2".to_string(), "B-031".to_string(), true)
            ]
        );
        assert!(!board_view(&BoardState::new(), true, None).last_priority);
    }

    #[test]
    fn a_board_that_is_not_live_says_since_when() {
        let at = chrono::DateTime::parse_from_rfc3339("2024-05-08T09:21:00+07:00").unwrap();
        let state = BoardState::new();
        assert_eq!(board_view(&state, true, Some(at)).stale_text, "");
        assert_eq!(
            board_view(&state, false, Some(at)).stale_text,
            "Koneksi terputus, terakhir diperbarui 09.21 · Connection lost, last updated 09.21"
        );
        assert!(board_view(&state, false, None)
            .stale_text
            .contains("menunggu data antrean"));
    }

    #[test]
    fn wedge_bursts_and_idle_gaps() {
        let mut w = WedgeBuffer::new(300);
        let mut feed = |keys: &str, start: u64, step: u64| -> Vec<String> {
            keys.chars()
                .enumerate()
                .filter_map(|(i, c)| w.key(&c.to_string(), start + i as u64 * step))
                .collect()
        };
        assert_eq!(feed("ABCD\n", 0, 10), vec!["ABCD"]);
        // Half a burst, then a long pause: dropped.
        assert!(feed("XY", 1000, 10).is_empty());
        assert_eq!(feed("BGR-1\n", 2000, 20), vec!["BGR-1"]);
        // Slow typing (a person at a keyboard) never forms a scan.
        assert!(feed("SLOW\n", 5000, 400).is_empty());
        // A bare Enter is nothing.
        assert!(feed("\n", 9000, 10).is_empty());
        // Special keys are ignored.
        let mut w = WedgeBuffer::new(300);
        assert_eq!(w.key("\u{f700}", 0), None);
        assert_eq!(w.key("A", 5), None);
        assert_eq!(w.key("\n", 10), Some("A".into()));
    }
}
