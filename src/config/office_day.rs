//! `[office] breaks`: the office's breaks in the day (default: the lunch
//! break 12:00-13:00 of the seeds' day), shown on the board while they
//! last. Parsing and checks only; the state is `antrean_core::board`.

use antrean_core::booking::Slot;
use serde::{Deserialize, Deserializer};

/// At most this many breaks a day.
pub const MAX_BREAKS: usize = 6;

/// The seeds' day: a lunch break between the 11:00-12:00 and 13:00-14:00
/// sessions.
pub fn default_breaks() -> Vec<Slot> {
    Slot::parse("12:00-13:00").into_iter().collect()
}

/// `["12:00-13:00"]`, each `HH:MM-HH:MM` with the start before the end.
pub fn breaks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Slot>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts
        .iter()
        .map(|t| {
            Slot::parse(t.trim()).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{t:?} is not HH:MM-HH:MM with the start before the end (for example \"12:00-13:00\")"
                ))
            })
        })
        .collect()
}

/// The first problem with a list of breaks: too many, or two that overlap.
pub fn breaks_problem(breaks: &[Slot]) -> Option<String> {
    if breaks.len() > MAX_BREAKS {
        return Some(format!("may hold at most {MAX_BREAKS} breaks"));
    }
    for (i, a) in breaks.iter().enumerate() {
        for b in &breaks[i + 1..] {
            if a.start < b.end && b.start < a.end {
                return Some(format!(
                    "{} and {} overlap: join them into one break",
                    a.wire(),
                    b.wire()
                ));
            }
        }
    }
    None
}
