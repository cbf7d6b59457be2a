//! What the public pages show, as data: one number's status (state, the
//! counter that calls it, people ahead, the estimated call time, who each
//! counter serves) and the office's day (sessions with places still free,
//! now serving, the notice, opening hours and breaks). Numbers, counters
//! and times only: never a name, a booking code or anything personal.
//! No HTTP and no HTML here (`mod.rs`, `html.rs`).

use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;

use crate::call_order;
use crate::error::ServiceResult;
use crate::service::Office;
use antrean_core::booking::Slot;
use antrean_core::manifest::BookingStatus;

/// One counter and whom it calls now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicCounter {
    pub id: String,
    pub label: String,
    /// The number it calls now, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// That call was a confirmed priority arrival.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub priority: bool,
}

/// `GET /p/{office}/status/{date}/{number}`: where one number stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicStatus {
    pub office: String,
    pub office_name: String,
    pub date: String,
    pub number: String,
    pub slot: String,
    /// `booked` (not checked in yet), `checked_in` (waiting), `called`,
    /// `served`, `no_show`, `cancelled`.
    pub state: &'static str,
    /// While `called`: the counter's id and label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter_label: Option<String>,
    /// While waiting today: people called before this number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u32>,
    /// While waiting today: `HH:MM`, from the day's pace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_call: Option<String>,
    /// Today's counters and whom they call (empty for another day).
    pub counters: Vec<PublicCounter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The board's `seq` this status is as of.
    pub seq: u64,
}

/// One session on the office page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicSession {
    pub slot: String,
    pub quota: u32,
    /// Places not booked (cancelled ones count as free).
    pub free: u32,
    /// The session has ended (nothing more to book today).
    pub over: bool,
}

/// `GET /p/{office}`: the office's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicOffice {
    pub office: String,
    pub office_name: String,
    pub date: String,
    /// `HH:MM` now, in the office's time zone.
    pub now: String,
    pub opening_hours: Option<String>,
    pub breaks: Vec<String>,
    /// The break going on now, if any.
    pub in_break: Option<String>,
    pub sessions: Vec<PublicSession>,
    pub booking_url: Option<String>,
    pub counters: Vec<PublicCounter>,
    pub notice: Option<String>,
}

/// A queue number as the public URL may carry it: `B-015` (bounded).
pub fn is_public_number(n: &str) -> bool {
    (3..=16).contains(&n.len())
        && n.contains('-')
        && n.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// The break of `breaks` (`HH:MM-HH:MM`) that `now` falls in.
pub fn break_at(breaks: &[String], now: NaiveTime) -> Option<String> {
    breaks
        .iter()
        .find(|b| Slot::parse(b).is_some_and(|s| s.start <= now && now < s.end))
        .cloned()
}

impl Office {
    async fn public_counters(&self) -> ServiceResult<(Vec<PublicCounter>, Option<String>, u64)> {
        let board = self.board().await?;
        let counters = board
            .counters
            .into_iter()
            .map(|c| PublicCounter {
                id: c.id,
                label: c.label,
                priority: c.serving.as_ref().is_some_and(|s| s.priority),
                number: c.serving.map(|s| s.number),
            })
            .collect();
        Ok((counters, board.notice, board.seq))
    }

    /// The status of `number` on `date`; `None` when there is no such
    /// number that day.
    pub async fn public_status(
        &self,
        date: NaiveDate,
        number: &str,
    ) -> ServiceResult<Option<PublicStatus>> {
        let day = self.bookings_on(date).await?;
        let Some(me) = day.iter().find(|b| b.number == number) else {
            return Ok(None);
        };
        let today = date == self.today();
        let (counters, notice, seq) = if today {
            self.public_counters().await?
        } else {
            (Vec::new(), None, 0)
        };
        let s = self.settings();
        let (mut ahead, mut estimated_call) = (None, None);
        if today && me.status == BookingStatus::CheckedIn {
            let n = call_order::ahead_of(&day, me);
            let per = crate::service::pace(
                self.central().settings().default_service_minutes,
                s.counters.len(),
                &day,
            );
            let at =
                self.now() + chrono::Duration::seconds(((f64::from(n) + 1.0) * per * 60.0) as i64);
            ahead = Some(n);
            estimated_call = Some(at.format("%H:%M").to_string());
        }
        let called = me.status == BookingStatus::Called;
        let counter = me.counter.clone().filter(|_| called);
        let counter_label = counter.as_ref().map(|c| {
            s.counters
                .iter()
                .find(|(id, _)| id == c)
                .map_or_else(|| format!("Loket {c}"), |(_, l)| l.clone())
        });
        Ok(Some(PublicStatus {
            office: s.id.clone(),
            office_name: s.name.clone(),
            date: date.to_string(),
            number: me.number.clone(),
            slot: me.slot.clone(),
            state: me.status.as_str(),
            counter,
            counter_label,
            ahead,
            estimated_call,
            counters,
            notice,
            seq,
        }))
    }

    /// Today at the office, for its public page.
    pub async fn public_office(&self) -> ServiceResult<PublicOffice> {
        let now = self.now();
        let today = now.date_naive();
        let day = self.bookings_on(today).await?;
        let (counters, notice, _) = self.public_counters().await?;
        let s = self.settings();
        let sessions = s
            .sessions
            .iter()
            .map(|x| {
                let taken = day
                    .iter()
                    .filter(|b| b.slot == x.slot && b.status != BookingStatus::Cancelled)
                    .count() as u32;
                PublicSession {
                    slot: x.slot.clone(),
                    quota: x.quota,
                    free: x.quota.saturating_sub(taken),
                    over: Slot::parse(&x.slot).is_some_and(|sl| sl.end <= now.time()),
                }
            })
            .collect();
        Ok(PublicOffice {
            office: s.id.clone(),
            office_name: s.name.clone(),
            date: today.to_string(),
            now: now.format("%H:%M").to_string(),
            opening_hours: s.opening_hours(),
            breaks: s.breaks.clone(),
            in_break: break_at(&s.breaks, now.time()),
            sessions,
            booking_url: s.booking_url.clone(),
            counters,
            notice,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_numbers_are_bounded() {
        for (n, ok) in [
            ("B-015", true),
            ("A-001", true),
            ("b-015", false),
            ("B015", false),
            ("B-015<script>", false),
            ("", false),
            ("ABCDEFGHIJKLMNOP-1", false),
        ] {
            assert_eq!(is_public_number(n), ok, "{n}");
        }
    }

    #[test]
    fn the_break_going_on() {
        let breaks = vec!["12:00-13:00".to_string()];
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(break_at(&breaks, t(11, 59)), None);
        assert_eq!(break_at(&breaks, t(12, 0)).as_deref(), Some("12:00-13:00"));
        assert_eq!(break_at(&breaks, t(12, 59)).as_deref(), Some("12:00-13:00"));
        assert_eq!(break_at(&breaks, t(13, 0)), None);
    }
}
