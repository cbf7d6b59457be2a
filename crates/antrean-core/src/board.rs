//! The call board's state, built from a `/board` snapshot and the event
//! stream of `docs/central-api.md`. Pure: events in, state and a verdict out
//! (applied, duplicate, gap, reset). It never goes backwards: an older
//! snapshot or an event at or below the current `seq` changes nothing.

use crate::api::{BoardCounter, BoardSnapshot, RecentCall, Serving, Waiting};
use crate::booking::Slot;
use crate::events::{BoardEvent, CallEvent};

/// Most recent calls kept.
pub const RECENT: usize = 10;

/// What applying a snapshot or an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Updated,
    /// Already seen (`seq` at or below ours): ignored.
    Duplicate,
    /// An older snapshot than what is shown: ignored.
    Stale,
    /// Events are missing between `have` and `got`: fetch `/board`.
    Gap {
        have: u64,
        got: u64,
    },
    /// The server reset the stream: fetch `/board`.
    ResetNeeded,
}

/// The office's break at `now` (office time), if any: from its start up
/// to, not including, its end. The board shows it (`locale::break_notice`).
pub fn current_break(breaks: &[Slot], now: chrono::NaiveTime) -> Option<Slot> {
    breaks
        .iter()
        .copied()
        .find(|b| b.start <= now && now < b.end)
}

/// The number just called, for the big display and the flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCall {
    pub call: CallEvent,
    /// Increments on every call and recall: the screen flashes when it changes.
    pub serial: u64,
}

/// The board as shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardState {
    snapshot: BoardSnapshot,
    known: bool,
    last_call: Option<LastCall>,
    calls: u64,
}

impl BoardState {
    pub fn new() -> BoardState {
        BoardState::default()
    }

    /// True once a snapshot was applied.
    pub fn is_known(&self) -> bool {
        self.known
    }

    pub fn seq(&self) -> u64 {
        self.snapshot.seq
    }

    pub fn counters(&self) -> &[BoardCounter] {
        &self.snapshot.counters
    }

    /// Newest first.
    pub fn recent(&self) -> &[RecentCall] {
        &self.snapshot.recent
    }

    pub fn waiting(&self) -> &[Waiting] {
        &self.snapshot.waiting
    }

    pub fn notice(&self) -> Option<&str> {
        self.snapshot.notice.as_deref()
    }

    pub fn last_call(&self) -> Option<&LastCall> {
        self.last_call.as_ref()
    }

    /// The whole state in the snapshot's shape (to compare with the server).
    pub fn snapshot(&self) -> &BoardSnapshot {
        &self.snapshot
    }

    /// Replaces the state with a snapshot that is not older than ours.
    pub fn apply_snapshot(&mut self, snap: BoardSnapshot) -> Applied {
        if self.known && snap.seq < self.snapshot.seq {
            return Applied::Stale;
        }
        // The newest recent call becomes "just called" if it is new to us.
        if let Some(newest) = snap.recent.first() {
            let same = self.last_call.as_ref().is_some_and(|l| {
                l.call.number == newest.number && l.call.called_at == newest.called_at
            });
            if !same {
                let serving = snap
                    .counters
                    .iter()
                    .find(|c| c.id == newest.counter)
                    .and_then(|c| c.serving.as_ref())
                    .filter(|s| s.number == newest.number);
                self.calls += 1;
                self.last_call = Some(LastCall {
                    call: CallEvent {
                        seq: snap.seq,
                        number: newest.number.clone(),
                        counter: newest.counter.clone(),
                        service: serving.map(|s| s.service.clone()).unwrap_or_default(),
                        called_at: newest.called_at.clone(),
                        recall: false,
                        priority: serving.is_some_and(|s| s.priority),
                    },
                    serial: self.calls,
                });
            }
        }
        self.snapshot = snap;
        self.known = true;
        Applied::Updated
    }

    /// After a `reset` the server's history is gone (its database may have
    /// been replaced): the next snapshot is the truth even when its `seq`
    /// is lower than ours.
    pub fn replace_after_reset(&mut self, snap: BoardSnapshot) -> Applied {
        self.known = false;
        self.apply_snapshot(snap)
    }

    /// Applies one event of the stream.
    pub fn apply_event(&mut self, event: &BoardEvent) -> Applied {
        let seq = event.seq();
        if let BoardEvent::Reset(_) = event {
            return Applied::ResetNeeded;
        }
        if !self.known {
            return Applied::Gap { have: 0, got: seq };
        }
        if seq <= self.snapshot.seq {
            return Applied::Duplicate;
        }
        if seq > self.snapshot.seq + 1 {
            return Applied::Gap {
                have: self.snapshot.seq,
                got: seq,
            };
        }
        match event {
            BoardEvent::Call(call) => self.call(call),
            BoardEvent::Done(e) | BoardEvent::Skip(e) => {
                if let Some(c) = self
                    .snapshot
                    .counters
                    .iter_mut()
                    .find(|c| c.id == e.counter)
                {
                    if c.serving.as_ref().is_some_and(|s| s.number == e.number) {
                        c.serving = None;
                    }
                }
            }
            BoardEvent::Checkin(e) => {
                match self.snapshot.waiting.iter_mut().find(|w| w.slot == e.slot) {
                    Some(w) => w.count += 1,
                    None => {
                        self.snapshot.waiting.push(Waiting {
                            slot: e.slot.clone(),
                            count: 1,
                        });
                        self.snapshot.waiting.sort_by(|a, b| a.slot.cmp(&b.slot));
                    }
                }
            }
            BoardEvent::Notice(n) => {
                self.snapshot.notice = n.text.clone().filter(|t| !t.trim().is_empty())
            }
            BoardEvent::Reset(_) => unreachable!("handled above"),
        }
        self.snapshot.seq = seq;
        Applied::Updated
    }

    fn call(&mut self, call: &CallEvent) {
        let serving = Serving {
            number: call.number.clone(),
            service: call.service.clone(),
            called_at: call.called_at.clone(),
            priority: call.priority,
        };
        match self
            .snapshot
            .counters
            .iter_mut()
            .find(|c| c.id == call.counter)
        {
            Some(c) => c.serving = Some(serving),
            None => {
                self.snapshot.counters.push(BoardCounter {
                    id: call.counter.clone(),
                    label: format!("Loket {}", call.counter),
                    serving: Some(serving),
                });
            }
        }
        let recent = &mut self.snapshot.recent;
        recent.retain(|r| !(r.number == call.number && r.counter == call.counter));
        recent.insert(
            0,
            RecentCall {
                number: call.number.clone(),
                counter: call.counter.clone(),
                called_at: call.called_at.clone(),
            },
        );
        recent.truncate(RECENT);
        if !call.recall {
            // A first call takes the person out of the waiting count of
            // their session: session letters follow the sessions' order.
            if let Some(index) = call
                .number
                .bytes()
                .next()
                .filter(u8::is_ascii_uppercase)
                .map(|l| usize::from(l - b'A'))
            {
                if let Some(w) = self.snapshot.waiting.get_mut(index) {
                    w.count = w.count.saturating_sub(1);
                }
            }
        }
        self.calls += 1;
        self.last_call = Some(LastCall {
            call: call.clone(),
            serial: self.calls,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{CheckinEvent, CounterEvent, NoticeEvent, ResetEvent};

    #[test]
    fn breaks_run_from_start_to_before_end() {
        let lunch = Slot::parse("12:00-13:00").unwrap();
        let prayer = Slot::parse("11:30-11:45").unwrap();
        let breaks = [prayer, lunch];
        let cases = [
            ("11:29", None),
            ("11:30", Some(prayer)),
            ("11:59", None),
            ("12:00", Some(lunch)),
            ("12:59", Some(lunch)),
            ("13:00", None),
        ];
        for (at, want) in cases {
            let t = chrono::NaiveTime::parse_from_str(at, "%H:%M").unwrap();
            assert_eq!(current_break(&breaks, t), want, "{at}");
        }
        assert_eq!(current_break(&[], chrono::NaiveTime::MIN), None);
    }

    fn snap(seq: u64) -> BoardSnapshot {
        BoardSnapshot {
            seq,
            counters: vec![
                BoardCounter {
                    id: "1".into(),
                    label: "Loket 1".into(),
                    serving: None,
                },
                BoardCounter {
                    id: "2".into(),
                    label: "Loket 2".into(),
                    serving: None,
                },
            ],
            recent: vec![],
            waiting: vec![
                Waiting {
                    slot: "08:00-09:00".into(),
                    count: 3,
                },
                Waiting {
                    slot: "09:00-10:00".into(),
                    count: 0,
                },
            ],
            notice: None,
        }
    }

    fn call(seq: u64, number: &str, counter: &str, recall: bool) -> BoardEvent {
        BoardEvent::Call(CallEvent {
            seq,
            number: number.into(),
            counter: counter.into(),
            service: "KK".into(),
            called_at: format!("2024-05-08T09:{seq:02}:00+07:00"),
            recall,
            priority: false,
        })
    }

    fn done(seq: u64, number: &str, counter: &str) -> BoardEvent {
        BoardEvent::Done(CounterEvent {
            seq,
            number: number.into(),
            counter: counter.into(),
        })
    }

    #[test]
    fn events_table() {
        use Applied::*;
        let mut b = BoardState::new();
        assert_eq!(
            b.apply_event(&call(11, "A-001", "1", false)),
            Gap { have: 0, got: 11 }
        );
        assert_eq!(b.apply_snapshot(snap(10)), Updated);
        let steps: Vec<(BoardEvent, Applied)> = vec![
            (call(11, "A-001", "1", false), Updated),
            (call(11, "A-001", "1", false), Duplicate),
            (call(12, "A-002", "2", false), Updated),
            (call(14, "A-003", "1", false), Gap { have: 12, got: 14 }),
            (done(13, "A-001", "1"), Updated),
            (call(14, "A-002", "2", true), Updated),
            (
                BoardEvent::Checkin(CheckinEvent {
                    seq: 15,
                    number: "B-001".into(),
                    slot: "09:00-10:00".into(),
                }),
                Updated,
            ),
            (
                BoardEvent::Notice(NoticeEvent {
                    seq: 16,
                    text: Some("Layanan KIA tutup sementara".into()),
                }),
                Updated,
            ),
            (BoardEvent::Reset(ResetEvent { seq: 17 }), ResetNeeded),
        ];
        for (i, (event, expect)) in steps.iter().enumerate() {
            assert_eq!(b.apply_event(event), *expect, "step {i}");
        }
        assert_eq!(b.seq(), 16);
        assert_eq!(b.counters()[0].serving, None, "A-001 done at Loket 1");
        assert_eq!(b.counters()[1].serving.as_ref().unwrap().number, "A-002");
        let recent: Vec<&str> = b.recent().iter().map(|r| r.number.as_str()).collect();
        assert_eq!(
            recent,
            vec!["A-002", "A-001"],
            "the recall moved A-002 to the top once"
        );
        assert_eq!(b.waiting()[0].count, 1, "two first calls from session A");
        assert_eq!(b.waiting()[1].count, 1, "one check-in for session B");
        assert_eq!(b.notice(), Some("Layanan KIA tutup sementara"));
        let last = b.last_call().unwrap();
        assert!(last.call.recall && last.call.number == "A-002");
        assert_eq!(last.serial, 3);
    }

    #[test]
    fn never_goes_backwards() {
        let mut b = BoardState::new();
        b.apply_snapshot(snap(20));
        assert_eq!(b.apply_snapshot(snap(19)), Applied::Stale);
        assert_eq!(b.seq(), 20);
        // ...except right after a reset: then the server's board is the truth.
        let mut reset = b.clone();
        assert_eq!(reset.replace_after_reset(snap(3)), Applied::Updated);
        assert_eq!(reset.seq(), 3);
        assert_eq!(
            b.apply_event(&call(20, "A-001", "1", false)),
            Applied::Duplicate
        );
        assert_eq!(
            b.apply_event(&call(5, "A-009", "1", false)),
            Applied::Duplicate
        );
        assert!(b.recent().is_empty());
        let mut later = snap(25);
        later.recent.push(RecentCall {
            number: "A-004".into(),
            counter: "2".into(),
            called_at: "2024-05-08T09:30:00+07:00".into(),
        });
        assert_eq!(b.apply_snapshot(later.clone()), Applied::Updated);
        assert_eq!(b.last_call().unwrap().call.number, "A-004");
        let serial = b.last_call().unwrap().serial;
        // The same snapshot again does not flash the board again.
        b.apply_snapshot(later);
        assert_eq!(b.last_call().unwrap().serial, serial);
    }

    #[test]
    fn recent_keeps_ten_newest_and_unknown_counters_appear() {
        let mut b = BoardState::new();
        b.apply_snapshot(snap(0));
        for i in 1..=12u64 {
            b.apply_event(&call(i, &format!("A-{i:03}"), "7", false));
        }
        assert_eq!(b.recent().len(), RECENT);
        assert_eq!(b.recent()[0].number, "A-012");
        assert_eq!(b.counters().last().unwrap().label, "Loket 7");
        assert_eq!(b.waiting()[0].count, 0, "never below zero");
    }
}
