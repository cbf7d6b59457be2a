//! Counters, the board and its event log: calling in order, recall, done
//! and skip, the notice, the board snapshot, where a reconnecting stream
//! resumes, pruning; kiosk health and the staff overview.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Office;
use crate::error::{ServiceError, ServiceResult};
use crate::rules;
use crate::store::{CounterAction, Finish, KioskHealth, Replay};
use antrean_core::api::{
    BoardCounter, BoardSnapshot, HealthReport, PriorityState, RecentCall, Serving, Waiting,
};
use antrean_core::events::{BoardEvent, ResetEvent};
use antrean_core::manifest::BookingStatus;

/// `POST counters/{c}/next` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallAnswer {
    pub booking: String,
    pub number: String,
    pub counter: String,
    pub service: String,
    pub called_at: String,
}

/// `POST counters/{c}/recall|done|skip` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterAnswer {
    pub booking: String,
    pub number: String,
    pub counter: String,
    pub action: &'static str,
}

/// `GET staff`: the board, who waits, the kiosks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffView {
    pub date: String,
    pub board: BoardSnapshot,
    pub waiting: Vec<StaffWaiting>,
    pub kiosks: Vec<StaffKiosk>,
}

/// One checked-in resident waiting (no name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffWaiting {
    /// The booking code (what confirm/decline take).
    pub booking: String,
    pub number: String,
    pub slot: String,
    pub service: String,
    /// The priority claim, when the resident made one at the kiosk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<PriorityState>,
}

/// One device's last report: the office's kiosks and boards (listed in
/// the configuration, reported or not), then any other that reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffKiosk {
    pub kiosk: String,
    /// `kiosk`, `board` (as the office lists it) or `other`.
    pub kind: &'static str,
    /// False for a listed device that never reported.
    pub reported: bool,
    /// `None` until it reported.
    pub printer: Option<antrean_core::printer_status::PrinterState>,
    pub pending: u64,
    pub at: String,
}

/// Recent calls on the board.
const RECENT: usize = 10;

fn device(id: &str, kind: &'static str, report: Option<KioskHealth>) -> StaffKiosk {
    match report {
        Some(k) => StaffKiosk {
            kiosk: id.to_string(),
            kind,
            reported: true,
            printer: Some(k.report.printer.state),
            pending: k.report.pending_checkins,
            at: k.at,
        },
        None => StaffKiosk {
            kiosk: id.to_string(),
            kind,
            reported: false,
            printer: None,
            pending: 0,
            at: String::new(),
        },
    }
}

fn action_name(action: CounterAction) -> &'static str {
    match action {
        CounterAction::Recall => "recall",
        CounterAction::Finish(Finish::Done) => "done",
        CounterAction::Finish(Finish::Skip) => "skip",
    }
}

impl Office {
    fn known_counter(&self, counter: &str) -> ServiceResult<()> {
        if self.settings().has_counter(counter) {
            Ok(())
        } else {
            Err(ServiceError::UnknownCounter(counter.to_string()))
        }
    }

    /// `GET board`.
    pub async fn board(&self) -> ServiceResult<BoardSnapshot> {
        let rows = self.store().board(self.id(), self.today(), RECENT).await?;
        let s = self.settings();
        let counters = s
            .counters
            .iter()
            .map(|(id, label)| BoardCounter {
                id: id.clone(),
                label: label.clone(),
                serving: rows
                    .serving
                    .iter()
                    .find(|(c, _)| c == id)
                    .map(|(_, b)| Serving {
                        number: b.number.clone(),
                        service: b.service.clone(),
                        called_at: b.called_at.clone().unwrap_or_default(),
                        priority: b.priority == Some(PriorityState::Confirmed),
                    }),
            })
            .collect();
        let mut recent: Vec<RecentCall> = Vec::new();
        for call in rows.recent {
            // A recall is one entry, at its newest time.
            if !recent
                .iter()
                .any(|r| r.number == call.number && r.counter == call.counter)
            {
                recent.push(RecentCall {
                    number: call.number,
                    counter: call.counter,
                    called_at: call.called_at,
                });
            }
        }
        let mut waiting: BTreeMap<&str, u32> =
            s.sessions.iter().map(|x| (x.slot.as_str(), 0)).collect();
        for (slot, n) in &rows.waiting {
            if let Some(w) = waiting.get_mut(slot.as_str()) {
                *w = *n;
            }
        }
        Ok(BoardSnapshot {
            seq: rows.seq,
            counters,
            recent,
            waiting: waiting
                .into_iter()
                .map(|(slot, count)| Waiting {
                    slot: slot.to_string(),
                    count,
                })
                .collect(),
            notice: rows.notice,
        })
    }

    /// `POST counters/{c}/next`: finishes whom the counter serves, calls the
    /// first checked-in, not yet called booking of today (by session, then
    /// serial); `None` when nobody waits.
    pub async fn next(&self, counter: &str) -> ServiceResult<Option<CallAnswer>> {
        self.known_counter(counter)?;
        let now = self.now().to_rfc3339();
        let called = self
            .store()
            .call_next(
                self.id(),
                counter,
                self.today(),
                &now,
                self.settings().priority.calls_priority_first(counter),
            )
            .await?;
        Ok(called.map(|c| CallAnswer {
            booking: c.booking.code,
            number: c.booking.number,
            counter: counter.to_string(),
            service: c.booking.service,
            called_at: now,
        }))
    }

    /// `recall`, `done`, `skip` on whom a counter serves.
    pub async fn counter_action(
        &self,
        counter: &str,
        action: CounterAction,
    ) -> ServiceResult<CounterAnswer> {
        self.known_counter(counter)?;
        let now = self.now().to_rfc3339();
        let called = self
            .store()
            .counter_action(self.id(), counter, action, self.today(), &now)
            .await?
            .ok_or(ServiceError::NothingCalled)?;
        Ok(CounterAnswer {
            booking: called.booking.code,
            number: called.booking.number,
            counter: counter.to_string(),
            action: action_name(action),
        })
    }

    /// `POST notice` (an empty text clears it).
    pub async fn notice(&self, text: Option<String>) -> ServiceResult<()> {
        let text = text.filter(|t| !t.trim().is_empty());
        if let Some(t) = &text {
            rules::check_notice(&self.central().settings().rules, t)
                .map_err(ServiceError::Refused)?;
        }
        self.store()
            .set_notice(self.id(), text, self.today())
            .await?;
        Ok(())
    }

    /// `PUT kiosks/{k}/health`.
    pub async fn health(&self, kiosk: &str, report: &HealthReport) -> ServiceResult<()> {
        if !crate::auth::is_identifier(kiosk) {
            return Err(ServiceError::unprocessable(
                "the kiosk id must be 1-64 lower-case letters, digits, - or _",
            ));
        }
        if !self.settings().expects_device(kiosk) {
            return Err(ServiceError::unprocessable(
                "this office does not list that kiosk id; add it to the office's kiosks or boards in the central configuration",
            ));
        }
        for (field, value, max) in [
            ("at", report.at.as_str(), 40),
            ("version", report.version.as_str(), 64),
            ("printer.state", report.printer.state.as_str(), 32),
            (
                "printer.detail",
                report.printer.detail.as_deref().unwrap_or(""),
                200,
            ),
        ] {
            rules::check_short(field, value, max).map_err(ServiceError::Refused)?;
        }
        let at = self.now().to_rfc3339();
        Ok(self
            .store()
            .put_health(self.id(), kiosk, report, &at)
            .await?)
    }

    /// The last health report of every kiosk.
    pub async fn kiosk_health(&self) -> ServiceResult<Vec<KioskHealth>> {
        Ok(self.store().health(self.id()).await?)
    }

    /// `GET staff`.
    pub async fn staff_view(&self) -> ServiceResult<StaffView> {
        let board = self.board().await?;
        let today = self.today();
        let waiting = self
            .bookings_on(today)
            .await?
            .into_iter()
            .filter(|b| b.status == BookingStatus::CheckedIn)
            .map(|b| StaffWaiting {
                booking: b.code,
                number: b.number,
                slot: b.slot,
                service: b.service,
                priority: b.priority,
            })
            .collect();
        let mut reports = self.kiosk_health().await?;
        let s = self.settings();
        let listed = s
            .kiosks
            .iter()
            .map(|k| (k, "kiosk"))
            .chain(s.boards.iter().map(|b| (b, "board")));
        let mut kiosks: Vec<StaffKiosk> = listed
            .map(|(id, kind)| {
                let report = reports
                    .iter()
                    .position(|r| &r.kiosk == id)
                    .map(|i| reports.remove(i));
                device(id, kind, report)
            })
            .collect();
        kiosks.extend(
            reports
                .into_iter()
                .map(|r| device(&r.kiosk.clone(), "other", Some(r))),
        );
        Ok(StaffView {
            date: today.to_string(),
            board,
            waiting,
            kiosks,
        })
    }

    /// What a stream opened with `Last-Event-ID: last_id` gets first, and
    /// the `seq` it is up to then: nothing without an id; the events after
    /// it when the log still holds them within today; else a `reset`
    /// (fetch `/board`): an id never issued, older than today's log, or
    /// more than [`rules::MAX_REPLAY`] behind.
    pub async fn stream_start(
        &self,
        last_id: Option<u64>,
    ) -> ServiceResult<(Vec<BoardEvent>, u64)> {
        let office = self.id();
        let Some(after) = last_id else {
            return Ok((vec![], self.store().last_seq(office).await?));
        };
        match self
            .store()
            .replay(office, after, self.today(), rules::MAX_REPLAY)
            .await?
        {
            Replay::Events(events) => {
                let upto = events.last().map(BoardEvent::seq).unwrap_or(after);
                Ok((events, upto))
            }
            Replay::Reset { seq } => Ok((vec![BoardEvent::Reset(ResetEvent { seq })], seq)),
        }
    }

    /// Deletes board events older than the retention; returns how many.
    pub async fn prune_events(&self) -> ServiceResult<usize> {
        let days = i64::from(self.central().settings().event_retention_days);
        let before = self.today() - chrono::Duration::days(days);
        Ok(self.store().prune_events(self.id(), before).await?)
    }

    /// The current last `seq`.
    pub async fn seq(&self) -> ServiceResult<u64> {
        Ok(self.store().last_seq(self.id()).await?)
    }
}
