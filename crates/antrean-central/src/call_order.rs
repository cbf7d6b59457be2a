//! Who a counter calls next, and where a priority claim stands, pure:
//! the call order of checked-in bookings (by session, then, with the
//! priority policy, confirmed priority arrivals first within the session,
//! then by serial) and how a request, a confirmation or a decline changes
//! a claim. Storage reads the candidates and writes the result; nothing
//! here reads a clock or touches storage.

use antrean_core::api::PriorityState;
use antrean_core::manifest::BookingStatus;

use crate::store::StoredBooking;

/// The order in which checked-in bookings are called when priority counts:
/// session (the earliest with anyone waiting is the current one), then
/// confirmed priority first, then serial. The number keeps its serial;
/// only its place in the order changes, and only within its session.
pub fn call_key(b: &StoredBooking) -> (&str, bool, u32) {
    (
        b.slot.as_str(),
        b.priority != Some(PriorityState::Confirmed),
        b.serial,
    )
}

/// The ordinary order: session, then serial.
fn plain_key(b: &StoredBooking) -> (&str, u32) {
    (b.slot.as_str(), b.serial)
}

/// Which of `waiting` (checked in, not yet called; any order) a counter
/// calls next: with `priority_first` (the policy lets this counter) a
/// confirmed priority check-in of the current session before the ordinary
/// ones, else the first by session and serial. Bookings already called
/// are not candidates: a call never re-calls or jumps back over them.
pub fn next_to_call(waiting: &[StoredBooking], priority_first: bool) -> Option<&StoredBooking> {
    let waiting = waiting
        .iter()
        .filter(|b| b.status == BookingStatus::CheckedIn);
    if priority_first {
        waiting.min_by_key(|b| call_key(b))
    } else {
        waiting.min_by_key(|b| plain_key(b))
    }
}

/// How many of `day` are called before `me` in the priority order:
/// checked-in, not yet called bookings ahead of it (the resident's "people
/// ahead" on the status page; an estimate under a dedicated counter).
pub fn ahead_of(day: &[StoredBooking], me: &StoredBooking) -> u32 {
    day.iter()
        .filter(|b| b.status == BookingStatus::CheckedIn && b.code != me.code)
        .filter(|b| call_key(b) < call_key(me))
        .count() as u32
}

/// What changes a priority claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorityChange {
    /// The resident asked at the kiosk (idempotent).
    Request,
    /// Staff saw the reason at the counter.
    Confirm,
    /// Staff did not.
    Decline,
}

/// Why a priority claim cannot change now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorityRefusal {
    /// Still only booked: the check-in has not arrived (yet).
    NotCheckedIn,
    Cancelled,
}

/// The claim after `change`, for a booking in `status` whose claim is
/// `current`: a request never resets a confirmed or declined claim; staff
/// decide (and may change their mind). Only checked-in (or later)
/// bookings have a claim.
pub fn priority_after(
    status: BookingStatus,
    current: Option<PriorityState>,
    change: PriorityChange,
) -> Result<PriorityState, PriorityRefusal> {
    match status {
        BookingStatus::Booked | BookingStatus::Unknown => {
            return Err(PriorityRefusal::NotCheckedIn)
        }
        BookingStatus::Cancelled => return Err(PriorityRefusal::Cancelled),
        _ => {}
    }
    Ok(match change {
        PriorityChange::Request => current.unwrap_or(PriorityState::Requested),
        PriorityChange::Confirm => PriorityState::Confirmed,
        PriorityChange::Decline => PriorityState::Declined,
    })
}

/// The stored form of a claim (`requested`, `confirmed`, `declined`).
pub fn priority_str(p: PriorityState) -> &'static str {
    match p {
        PriorityState::Requested => "requested",
        PriorityState::Confirmed => "confirmed",
        PriorityState::Declined => "declined",
    }
}

/// A stored claim read back (`None` for none or an unknown word).
pub fn priority_of(s: Option<&str>) -> Option<PriorityState> {
    match s? {
        "requested" => Some(PriorityState::Requested),
        "confirmed" => Some(PriorityState::Confirmed),
        "declined" => Some(PriorityState::Declined),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use BookingStatus::*;
    use PriorityState::*;

    fn b(number: &str, status: BookingStatus, priority: Option<PriorityState>) -> StoredBooking {
        let (letter, serial) = number.split_once('-').unwrap();
        let slot = match letter {
            "A" => "08:00-09:00",
            "B" => "09:00-10:00",
            _ => "13:00-14:00",
        };
        StoredBooking {
            code: format!("BGR-20240508-{number}"),
            date: NaiveDate::from_ymd_opt(2024, 5, 8).unwrap(),
            slot: slot.into(),
            letter: letter.into(),
            serial: serial.parse().unwrap(),
            number: number.into(),
            service: "KK".into(),
            status,
            masked_name: None,
            checked_in_at: None,
            kiosk: None,
            offline: false,
            called_at: None,
            counter: None,
            ahead: None,
            estimated_call: None,
            done_at: None,
            priority,
        }
    }

    #[test]
    fn confirmed_priority_of_the_current_session_goes_first() {
        // (waiting, priority first?, who is called)
        let cases: Vec<(Vec<StoredBooking>, bool, Option<&str>)> = vec![
            (vec![], true, None),
            (
                vec![
                    b("B-001", CheckedIn, None),
                    b("B-005", CheckedIn, Some(Confirmed)),
                ],
                true,
                Some("B-005"),
            ),
            // The counter the policy does not let: ordinary order.
            (
                vec![
                    b("B-001", CheckedIn, None),
                    b("B-005", CheckedIn, Some(Confirmed)),
                ],
                false,
                Some("B-001"),
            ),
            // Requested or declined: no jump.
            (
                vec![
                    b("B-001", CheckedIn, None),
                    b("B-005", CheckedIn, Some(Requested)),
                ],
                true,
                Some("B-001"),
            ),
            (
                vec![
                    b("B-001", CheckedIn, None),
                    b("B-005", CheckedIn, Some(Declined)),
                ],
                true,
                Some("B-001"),
            ),
            // A later session's priority waits for its session.
            (
                vec![
                    b("A-010", CheckedIn, None),
                    b("B-002", CheckedIn, Some(Confirmed)),
                ],
                true,
                Some("A-010"),
            ),
            // Two confirmed: by serial.
            (
                vec![
                    b("B-009", CheckedIn, Some(Confirmed)),
                    b("B-003", CheckedIn, None),
                    b("B-007", CheckedIn, Some(Confirmed)),
                ],
                true,
                Some("B-007"),
            ),
            // Already called or served: never a candidate again.
            (
                vec![
                    b("B-001", Called, Some(Confirmed)),
                    b("B-002", Served, None),
                    b("B-003", CheckedIn, None),
                ],
                true,
                Some("B-003"),
            ),
        ];
        for (waiting, first, want) in cases {
            let got = next_to_call(&waiting, first).map(|b| b.number.as_str());
            assert_eq!(
                got,
                want,
                "{:?}",
                waiting.iter().map(|b| &b.number).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn people_ahead_follow_the_call_order() {
        let day = vec![
            b("A-001", Called, None),
            b("A-002", CheckedIn, None),
            b("B-001", CheckedIn, None),
            b("B-002", Booked, None),
            b("B-003", CheckedIn, None),
            b("B-004", CheckedIn, Some(Confirmed)),
        ];
        let find = |n: &str| day.iter().find(|b| b.number == n).unwrap();
        for (n, ahead) in [("A-002", 0), ("B-001", 2), ("B-003", 3), ("B-004", 1)] {
            assert_eq!(ahead_of(&day, find(n)), ahead, "{n}");
        }
    }

    #[test]
    fn a_request_never_resets_what_staff_decided() {
        use PriorityChange::*;
        let cases = [
            (CheckedIn, None, Request, Ok(Requested)),
            (CheckedIn, Some(Requested), Request, Ok(Requested)),
            (CheckedIn, Some(Confirmed), Request, Ok(Confirmed)),
            (Called, Some(Declined), Request, Ok(Declined)),
            (CheckedIn, Some(Requested), Confirm, Ok(Confirmed)),
            (CheckedIn, None, Decline, Ok(Declined)),
            (CheckedIn, Some(Declined), Confirm, Ok(Confirmed)),
            (Booked, None, Request, Err(PriorityRefusal::NotCheckedIn)),
            (Booked, None, Confirm, Err(PriorityRefusal::NotCheckedIn)),
            (Cancelled, None, Request, Err(PriorityRefusal::Cancelled)),
        ];
        for (status, current, change, want) in cases {
            assert_eq!(
                priority_after(status, current, change),
                want,
                "{status:?} {current:?} {change:?}"
            );
        }
        for p in [Requested, Confirmed, Declined] {
            assert_eq!(priority_of(Some(priority_str(p))), Some(p));
        }
        assert_eq!(priority_of(Some("vip")), None);
    }
}
