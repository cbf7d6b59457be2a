//! Bookings and check-ins: the day's manifest, booking a place (quota per
//! session), the signed QR token, cancelling, and the first-wins check-in
//! with people ahead and an estimated call time from the day's pace.

use chrono::{DateTime, NaiveDate};
use serde::Serialize;

use super::Office;
use crate::error::{ServiceError, ServiceResult};
use crate::rules;
use crate::store::{CancelOutcome, CheckinOutcome, NewBooking, NewCheckin, StoredBooking};
use antrean_core::api::{BookingRequest, BookingResponse, CheckinRequest, CheckinResponse};
use antrean_core::booking::{parse_date, Slot};
use antrean_core::manifest::{BookingStatus, Counter, Manifest, ManifestBooking, Service, Session};

/// Masks a name as the booking system shows it: `Siti Rahma` -> `S***a R.`.
pub fn mask_name(name: &str) -> Option<String> {
    let mut words = name.split_whitespace();
    let first: Vec<char> = words.next()?.chars().collect();
    let mut masked = match first.as_slice() {
        [] => return None,
        [one] => format!("{one}***"),
        [a, .., z] => format!("{a}***{z}"),
    };
    if let Some(second) = words.next().and_then(|w| w.chars().next()) {
        masked.push_str(&format!(" {second}."));
    }
    Some(masked)
}

/// `POST bookings/{b}/cancel` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CancelAnswer {
    pub booking: String,
    pub status: &'static str,
}

/// Minutes until the next call per person ahead: minutes per resident
/// (the day's finished calls once there are three, else the default) over
/// the open counters.
pub(crate) fn pace(default_minutes: u32, counters: usize, day: &[StoredBooking]) -> f64 {
    let served: Vec<f64> = day
        .iter()
        .filter(|b| b.status == BookingStatus::Served)
        .filter_map(|b| {
            let called = DateTime::parse_from_rfc3339(b.called_at.as_deref()?).ok()?;
            let done = DateTime::parse_from_rfc3339(b.done_at.as_deref()?).ok()?;
            Some((done - called).num_seconds() as f64 / 60.0)
        })
        .filter(|m| *m > 0.0 && *m < 120.0)
        .collect();
    let per_person = if served.len() >= 3 {
        served.iter().sum::<f64>() / served.len() as f64
    } else {
        f64::from(default_minutes)
    };
    per_person / counters.max(1) as f64
}

impl Office {
    /// `GET manifest`.
    pub async fn manifest(&self, date: NaiveDate) -> ServiceResult<Manifest> {
        let s = self.settings();
        let bookings = self.store().bookings_on(self.id(), date).await?;
        Ok(Manifest {
            office: s.id.clone(),
            date,
            timezone: s.timezone.name().to_string(),
            office_name: Some(s.name.clone()),
            sessions: s
                .sessions
                .iter()
                .map(|x| Session {
                    slot: x.slot.clone(),
                    letter: x.letter.clone(),
                    quota: x.quota,
                })
                .collect(),
            services: s
                .services
                .iter()
                .map(|(code, name)| Service {
                    code: code.clone(),
                    name: name.clone(),
                })
                .collect(),
            counters: s
                .counters
                .iter()
                .map(|(id, label)| Counter {
                    id: id.clone(),
                    label: label.clone(),
                })
                .collect(),
            keys: self.keys().published(),
            bookings: bookings
                .into_iter()
                .map(|b| ManifestBooking {
                    booking: b.code,
                    number: b.number,
                    slot: b.slot,
                    service: b.service,
                    status: b.status,
                    name: b.masked_name,
                })
                .collect(),
        })
    }

    /// `POST bookings`.
    pub async fn book(&self, req: &BookingRequest) -> ServiceResult<BookingResponse> {
        let s = self.settings();
        let date = parse_date(&req.date).ok_or_else(|| {
            ServiceError::unprocessable(format!(
                "date {:?} is not YYYY-MM-DD",
                req.date.chars().take(16).collect::<String>()
            ))
        })?;
        rules::check_booking_date(&self.central().settings().rules, date, self.today())
            .map_err(ServiceError::Refused)?;
        if let Some(name) = &req.name {
            rules::check_name(&self.central().settings().rules, name)
                .map_err(ServiceError::Refused)?;
        }
        let session = s.session(&req.slot).ok_or_else(|| {
            ServiceError::unprocessable(
                "no such session at this office; see the manifest's sessions",
            )
        })?;
        if !s.offers(&req.service) {
            return Err(ServiceError::unprocessable(
                "no such service at this office; see the manifest's services",
            ));
        }
        let new = NewBooking {
            date,
            slot: req.slot.clone(),
            letter: session.letter.clone(),
            quota: session.quota,
            service: req.service.clone(),
            masked_name: req.name.as_deref().and_then(mask_name),
            code_prefix: s.booking_prefix.clone(),
        };
        let Some(b) = self.store().book(self.id(), new).await? else {
            return Err(ServiceError::SlotFull {
                slot: req.slot.clone(),
                date: date.to_string(),
            });
        };
        let token = self.token_for(&b);
        Ok(BookingResponse {
            booking: b.code,
            number: b.number,
            token,
        })
    }

    /// The signed QR token of a booking.
    pub fn token_for(&self, b: &StoredBooking) -> String {
        let keys = self.keys();
        let mut payload = serde_json::json!({
            "kid": keys.active_kid(),
            "office": self.id(),
            "booking": b.code,
            "date": b.date.to_string(),
            "slot": b.slot,
            "service": b.service,
            "number": b.number,
        });
        if let Some(name) = &b.masked_name {
            payload["name"] = serde_json::Value::String(name.clone());
        }
        keys.sign_token(&payload)
    }

    /// The bookings of `date`, by session and serial.
    pub async fn bookings_on(&self, date: NaiveDate) -> ServiceResult<Vec<StoredBooking>> {
        Ok(self.store().bookings_on(self.id(), date).await?)
    }

    /// The booking with this code.
    pub async fn booking(&self, code: &str) -> ServiceResult<Option<StoredBooking>> {
        Ok(self.store().booking(self.id(), code).await?)
    }

    /// `POST bookings/{b}/cancel`.
    pub async fn cancel(&self, code: &str) -> ServiceResult<CancelAnswer> {
        match self.store().cancel(self.id(), code).await? {
            CancelOutcome::Unknown => Err(ServiceError::UnknownBooking),
            CancelOutcome::TooLate => Err(ServiceError::AlreadyCheckedIn),
            CancelOutcome::Cancelled => Ok(CancelAnswer {
                booking: code.to_string(),
                status: "cancelled",
            }),
        }
    }

    /// `POST checkins`: the first check-in of a booking wins (`duplicate`
    /// is set on every later answer).
    pub async fn checkin(&self, req: &CheckinRequest) -> ServiceResult<CheckinResponse> {
        let s = self.settings();
        let at = DateTime::parse_from_rfc3339(&req.checked_in_at)
            .map_err(|_| ServiceError::BadRequest("checked_in_at is not RFC 3339".into()))?
            .with_timezone(&s.timezone)
            .fixed_offset();
        if !crate::auth::is_identifier(&req.kiosk) {
            return Err(ServiceError::unprocessable(
                "kiosk must be the kiosk's id: 1-64 lower-case letters, digits, - or _",
            ));
        }
        let b = self
            .store()
            .booking(self.id(), &req.booking)
            .await?
            .ok_or(ServiceError::UnknownBooking)?;
        if b.number != req.number {
            // Never tell which number the booking has: a code alone must not
            // give away someone's place.
            return Err(ServiceError::Refused(rules::Refusal {
                code: "invalid_format",
                message: "the number does not match this booking".into(),
            }));
        }
        match b.status {
            BookingStatus::Cancelled => return Err(ServiceError::Cancelled),
            BookingStatus::Booked => {}
            _ => return Ok(answer(&b, true)),
        }
        let slot = Slot::parse(&b.slot).ok_or_else(|| {
            ServiceError::Internal(format!("booking {} has a damaged slot", b.code))
        })?;
        let now = self.now();
        rules::check_checkin_time(&self.central().settings().rules, b.date, &slot, at, now)
            .map_err(ServiceError::Refused)?;
        let behind = now - at;
        if !req.offline
            && behind
                > chrono::Duration::minutes(i64::from(
                    self.central().settings().rules.clock_skew_minutes,
                ))
        {
            // A resend of a slow answer, or a kiosk clock running behind.
            tracing::warn!(kiosk = %req.kiosk, behind_minutes = behind.num_minutes(), "an online check-in's time is behind the service's clock");
        }
        let outcome = self
            .store()
            .check_in(
                self.id(),
                NewCheckin {
                    code: b.code.clone(),
                    at: req.checked_in_at.clone(),
                    kiosk: req.kiosk.clone(),
                    offline: req.offline,
                    today: self.today(),
                },
            )
            .await?;
        let updated = match outcome {
            CheckinOutcome::Unknown => return Err(ServiceError::UnknownBooking),
            // Cancelled between our read and our write.
            CheckinOutcome::Already(b) if b.status == BookingStatus::Cancelled => {
                return Err(ServiceError::Cancelled)
            }
            // Another kiosk was first, between our read and our write.
            CheckinOutcome::Already(b) => return Ok(answer(&b, true)),
            CheckinOutcome::First { booking, .. } => booking,
        };
        let day = self.store().bookings_on(self.id(), b.date).await?;
        let per = pace(
            self.central().settings().default_service_minutes,
            s.counters.len(),
            &day,
        );
        let ahead = updated.ahead.unwrap_or(0);
        let base = self.now().max(at);
        let est = (base
            + chrono::Duration::seconds(((f64::from(ahead) + 1.0) * per * 60.0) as i64))
        .format("%H:%M")
        .to_string();
        self.store().set_estimate(self.id(), &b.code, &est).await?;
        let mut body = answer(&updated, false);
        body.estimated_call = Some(est);
        tracing::info!(booking = %b.code, number = %b.number, kiosk = %req.kiosk, offline = req.offline, "checked in");
        Ok(body)
    }
}

fn answer(b: &StoredBooking, duplicate: bool) -> CheckinResponse {
    CheckinResponse {
        booking: b.code.clone(),
        number: b.number.clone(),
        status: "checked_in".into(),
        checked_in_at: b.checked_in_at.clone().unwrap_or_default(),
        ahead: b.ahead,
        estimated_call: b.estimated_call.clone(),
        duplicate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked() {
        for (name, masked) in [
            ("Siti Rahma", Some("S***i R.")),
            ("Budi", Some("B***i")),
            ("A", Some("A***")),
            ("  ", None),
            ("Maria Ulfa Santoso", Some("M***a U.")),
        ] {
            assert_eq!(mask_name(name).as_deref(), masked, "{name}");
        }
    }

    fn served(called: &str, done: Option<&str>) -> StoredBooking {
        StoredBooking {
            code: "BGR-20240508-00001".into(),
            date: NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
            slot: "09:00-10:00".into(),
            letter: "B".into(),
            serial: 1,
            number: "B-001".into(),
            service: "KK".into(),
            status: BookingStatus::Served,
            masked_name: None,
            checked_in_at: None,
            kiosk: None,
            offline: false,
            called_at: Some(called.into()),
            counter: Some("1".into()),
            ahead: None,
            estimated_call: None,
            done_at: done.map(str::to_string),
            priority: None,
        }
    }

    #[test]
    fn the_pace_comes_from_finished_calls_once_there_are_three() {
        let at = |m: u32| format!("2024-05-08T09:{m:02}:00+07:00");
        let four_min = |start: u32| served(&at(start), Some(&at(start + 4)));
        // (day, counters, minutes per person ahead)
        let cases = [
            (vec![], 4, 6.0 / 4.0),
            (vec![four_min(0), four_min(10)], 2, 3.0),
            (vec![four_min(0), four_min(10), four_min(20)], 2, 2.0),
            (vec![four_min(0), four_min(10), four_min(20)], 0, 4.0),
            // Not finished, or nonsense durations: not counted.
            (
                vec![
                    four_min(0),
                    four_min(10),
                    served(&at(20), None),
                    served(&at(30), Some(&at(30))),
                ],
                1,
                6.0,
            ),
        ];
        for (day, counters, want) in cases {
            assert_eq!(pace(6, counters, &day), want, "{} rows", day.len());
        }
    }
}
