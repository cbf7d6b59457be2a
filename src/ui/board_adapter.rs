//! Wiring of the call board: copies a [`BoardView`] into the window's
//! properties. The only code that touches the generated board types.

use slint::{ComponentHandle, ModelRc, VecModel};

use super::model::{BoardHeader, BoardView};
use super::{BoardAdapter, BoardWindow, CounterRow, RecentRow, WaitingRow};

pub fn create() -> Result<BoardWindow, slint::PlatformError> {
    BoardWindow::new()
}

/// Shows the board.
pub fn show(w: &BoardWindow, v: &BoardView) {
    let a = w.global::<BoardAdapter>();
    a.set_last_number(v.last_number.as_str().into());
    a.set_last_counter(v.last_counter.as_str().into());
    a.set_last_recall(v.last_recall);
    a.set_last_priority(v.last_priority);
    a.set_counters(ModelRc::new(VecModel::from(
        v.counters
            .iter()
            .map(|(label, number, priority)| CounterRow {
                label: label.as_str().into(),
                number: number.as_str().into(),
                priority: *priority,
            })
            .collect::<Vec<_>>(),
    )));
    a.set_recent(ModelRc::new(VecModel::from(
        v.recent
            .iter()
            .map(|(number, counter)| RecentRow {
                number: number.as_str().into(),
                counter: counter.as_str().into(),
            })
            .collect::<Vec<_>>(),
    )));
    a.set_waiting(ModelRc::new(VecModel::from(
        v.waiting
            .iter()
            .map(|(session, count)| WaitingRow {
                session: session.as_str().into(),
                count: count.as_str().into(),
            })
            .collect::<Vec<_>>(),
    )));
    a.set_notice(v.notice.as_str().into());
    a.set_stale_text(v.stale_text.as_str().into());
    // Last, so that the flash shows the new number.
    a.set_flash_serial(v.flash_serial);
}

/// Header texts and the staff warning banner.
pub fn set_status(w: &BoardWindow, h: &BoardHeader) {
    let a = w.global::<BoardAdapter>();
    a.set_office_name(h.office.as_str().into());
    a.set_date_text(h.date.as_str().into());
    a.set_clock_text(h.clock.as_str().into());
    a.set_warning_text(h.warning.as_str().into());
    a.set_break_text(h.break_text.as_str().into());
}
