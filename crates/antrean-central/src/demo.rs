//! Demo data for the reference central service: a realistic day of
//! bookings at every office, sample codes and QR images to scan, and
//! simulated counters (plus residents checking in at "another kiosk") so
//! every office's board is alive.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};

use crate::service::Office;
use crate::store::{CounterAction, Finish};
use crate::{Central, ServiceError, StoredBooking};
use antrean_core::api::{BookingRequest, CheckinRequest, PriorityRequest};
use antrean_core::manifest::BookingStatus;

/// What the demo seeding made at one office.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub office: String,
    pub date: NaiveDate,
    pub bookings: usize,
    pub cancelled: usize,
    /// A few bookings per session: (booking code, number, slot, QR token).
    pub samples: Vec<(String, String, String, String)>,
}

const NAMES: [&str; 12] = [
    "Siti Rahma",
    "Budi Santoso",
    "Dewi Lestari",
    "Agus Salim",
    "Rina Wati",
    "Joko Widodo",
    "Ani Yudhoyono",
    "Hendra Gunawan",
    "Maya Sari",
    "Rudi Hartono",
    "Lina Marlina",
    "Eko Prasetyo",
];

/// [`seed_demo`] at every office, each on its own today.
pub async fn seed_every_office(
    central: &Central,
    seed: u64,
) -> Result<Vec<DemoSummary>, ServiceError> {
    let mut out = Vec::new();
    for (i, office) in central.offices().into_iter().enumerate() {
        out.push(seed_demo(&office, office.today(), seed + i as u64).await?);
    }
    Ok(out)
}

/// Books most of each session of `date` at `central` (an office; a
/// [`Central`] seeds its first office), a few cancelled, deterministic for
/// a given `seed`. Does nothing when the day already has bookings.
pub async fn seed_demo(
    central: &Office,
    date: NaiveDate,
    seed: u64,
) -> Result<DemoSummary, ServiceError> {
    let existing = central.bookings_on(date).await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    if existing.is_empty() {
        let services: Vec<String> = central
            .settings()
            .services
            .iter()
            .map(|(c, _)| c.clone())
            .collect();
        let sessions = central.settings().sessions.clone();
        for s in &sessions {
            let n = rng.gen_range(s.quota * 3 / 4..=s.quota.saturating_sub(2).max(1));
            for _ in 0..n {
                let req = BookingRequest {
                    date: date.to_string(),
                    slot: s.slot.clone(),
                    service: services[rng.gen_range(0..services.len())].clone(),
                    name: Some(NAMES[rng.gen_range(0..NAMES.len())].to_string()),
                };
                let b = central.book(&req).await?;
                if rng.gen_ratio(1, 25) {
                    central.cancel(&b.booking).await?;
                }
            }
        }
    }
    let day = central.bookings_on(date).await?;
    let mut samples = Vec::new();
    for s in &central.settings().sessions {
        for b in day
            .iter()
            .filter(|b| b.slot == s.slot && b.status == BookingStatus::Booked)
            .take(3)
        {
            samples.push((
                b.code.clone(),
                b.number.clone(),
                b.slot.clone(),
                central.token_for(b),
            ));
        }
    }
    Ok(DemoSummary {
        office: central.id().to_string(),
        date,
        bookings: day.len(),
        cancelled: day
            .iter()
            .filter(|b| b.status == BookingStatus::Cancelled)
            .count(),
        samples,
    })
}

/// The kiosk id simulated check-ins come from: the office's second listed
/// kiosk (its first is the real one), else `lobby-2`.
fn other_kiosk(office: &Office) -> &str {
    let kiosks = &office.settings().kiosks;
    kiosks
        .get(1)
        .or(kiosks.first())
        .map_or("lobby-2", String::as_str)
}

/// Writes `bookings.txt` and one QR PNG per sample into `dir`.
pub fn write_demo_files(summary: &DemoSummary, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut text = format!(
        "Demo bookings of {} for {} ({} booked, {} cancelled).\nScan a QR image from a phone or screen, type a booking code, or paste a token.\n\n",
        summary.office, summary.date, summary.bookings, summary.cancelled
    );
    let mut files = Vec::new();
    for (code, number, slot, token) in &summary.samples {
        text.push_str(&format!("{number}  {slot}  {code}\n  {token}\n\n"));
        let png = dir.join(format!("{code}.png"));
        let qr = qrcode::QrCode::with_error_correction_level(token.as_bytes(), qrcode::EcLevel::M)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let image = qr
            .render::<image::Luma<u8>>()
            .min_dimensions(320, 320)
            .build();
        image
            .save(&png)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        files.push(png);
    }
    let list = dir.join("bookings.txt");
    std::fs::write(&list, text)?;
    files.insert(0, list);
    Ok(files)
}

/// Every `every`, at every office: one resident of the open session
/// checks in at another kiosk, and one counter finishes and calls the
/// next. Until `shutdown`.
pub async fn simulate_counters(
    central: Central,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut turn = 0usize;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        for office in central.offices() {
            let counters = &office.settings().counters;
            if counters.is_empty() {
                continue;
            }
            let counter = counters[turn % counters.len()].0.clone();
            // A failing database only makes this round do nothing (the
            // next one waits `every`).
            simulate_round(&office, &counter).await;
        }
        turn += 1;
    }
}

/// One round of [`simulate_counters`] at `counter` of `central` (an office).
async fn simulate_round(central: &Office, counter: &str) {
    let now = central.now();
    let today = now.date_naive();
    let time = now.time();
    let day: Vec<StoredBooking> = match central.bookings_on(today).await {
        Ok(d) => d,
        Err(_) => return,
    };
    // What happens this round, decided up front.
    let (arrives, recall, skip, priority) = {
        let mut rng = rand::rngs::StdRng::from_entropy();
        (
            rng.gen_ratio(2, 3),
            rng.gen_ratio(1, 12),
            rng.gen_ratio(1, 15),
            rng.gen_ratio(1, 10),
        )
    };
    // Someone whose session is open arrives at the other kiosk.
    let open = day.iter().find(|b| {
        b.status == BookingStatus::Booked
            && antrean_core::booking::Slot::parse(&b.slot).is_some_and(|s| {
                time >= s.start - chrono::Duration::minutes(30)
                    && time <= s.end + chrono::Duration::minutes(15)
            })
    });
    if let Some(b) = open.filter(|_| arrives) {
        let _ = central
            .checkin(&CheckinRequest {
                booking: b.code.clone(),
                number: b.number.clone(),
                kiosk: other_kiosk(central).into(),
                checked_in_at: now.to_rfc3339(),
                offline: false,
            })
            .await;
        // Now and then an elderly resident asks for priority, and the
        // counter confirms it (the board shows PRIORITAS at the call).
        if priority {
            let _ = central
                .request_priority(
                    &b.code,
                    &PriorityRequest {
                        kiosk: other_kiosk(central).into(),
                        requested_at: now.to_rfc3339(),
                    },
                )
                .await;
            let _ = central.decide_priority(&b.code, true).await;
        }
    }
    if recall {
        let _ = central.counter_action(counter, CounterAction::Recall).await;
        return;
    }
    if skip {
        let _ = central
            .counter_action(counter, CounterAction::Finish(Finish::Skip))
            .await;
    }
    let _ = central.next(counter).await;
}
