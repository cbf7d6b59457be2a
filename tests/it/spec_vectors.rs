//! The booking-QR spec vectors (`tests/data/booking-tokens.json`, a copy of
//! the shared contract) through the pure core, case by case.

use std::collections::BTreeMap;

use antrean_core::checkin::{
    checkin_decision, verify, CheckinDecision, JournalState, KnownDay, Rules,
};
use antrean_core::keys::{KeyRing, TrustedKey};
use antrean_core::manifest::{BookingStatus, Manifest, ManifestBooking};
use chrono::{DateTime, NaiveDate};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    office: String,
    timezone: String,
    early_minutes: u32,
    late_minutes: u32,
    reprint_limit: u32,
    trusted_keys: Vec<VectorKey>,
    manifest: Vec<VectorBooking>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct VectorKey {
    kid: String,
    public_key: String,
}

#[derive(Deserialize)]
struct VectorBooking {
    booking: String,
    number: String,
    date: NaiveDate,
    slot: String,
    service: String,
    status: BookingStatus,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    scan: String,
    now: String,
    expect: String,
    #[serde(default)]
    checked_in: bool,
    #[serde(default)]
    reprints_done: u32,
}

const COPY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/booking-tokens.json"
);
const SHARED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared");
const SHARED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/spec/vectors/booking-tokens.json"
);

/// The project's own copy of the vectors: it must be there.
fn copy() -> String {
    std::fs::read_to_string(COPY).unwrap_or_else(|e| {
        panic!("{COPY}: {e}. The project keeps its own copy of the booking-QR vectors: copy ../shared/spec/vectors/booking-tokens.json there")
    })
}

fn load() -> Vectors {
    serde_json::from_str(&copy()).expect("tests/data/booking-tokens.json is the vectors' JSON")
}

/// The outcome the kiosk gives a case: `accept`, `reprint` or a reason code.
fn outcome(v: &Vectors, manifests: &BTreeMap<NaiveDate, Manifest>, case: &Case) -> String {
    let rules = Rules {
        office: v.office.clone(),
        timezone: v.timezone.parse().unwrap(),
        early_minutes: v.early_minutes,
        late_minutes: v.late_minutes,
        reprint_limit: v.reprint_limit,
    };
    let keys = KeyRing::new(
        v.trusted_keys
            .iter()
            .map(|k| TrustedKey::from_base64(&k.kid, &k.public_key).unwrap()),
    );
    let now = DateTime::parse_from_rfc3339(&case.now).unwrap();
    let today = now.with_timezone(&rules.timezone).date_naive();
    match verify(
        &case.scan,
        now,
        &rules,
        &keys,
        manifests.get(&today).map(KnownDay::fresh),
    ) {
        Err(rejection) => rejection.reason.code().to_string(),
        Ok(_) => {
            let state = case.checked_in.then_some(JournalState {
                checked_in: true,
                printed: true,
                reprints_done: case.reprints_done,
            });
            match checkin_decision(state, rules.reprint_limit) {
                CheckinDecision::Accept | CheckinDecision::ResumePrint => "accept".into(),
                CheckinDecision::Reprint => "reprint".into(),
                CheckinDecision::AlreadyPrinted => "already_printed".into(),
            }
        }
    }
}

#[test]
fn every_spec_vector_passes() {
    let v = load();
    let mut manifests: BTreeMap<NaiveDate, Manifest> = BTreeMap::new();
    for b in &v.manifest {
        manifests
            .entry(b.date)
            .or_insert_with(|| Manifest {
                office: v.office.clone(),
                date: b.date,
                timezone: v.timezone.clone(),
                office_name: None,
                sessions: vec![],
                services: vec![],
                counters: vec![],
                keys: vec![],
                bookings: vec![],
            })
            .bookings
            .push(ManifestBooking {
                booking: b.booking.clone(),
                number: b.number.clone(),
                slot: b.slot.clone(),
                service: b.service.clone(),
                status: b.status,
                name: None,
            });
    }
    assert!(v.cases.len() >= 30, "the vector file lost cases");
    let failures: Vec<String> = v
        .cases
        .iter()
        .filter_map(|case| {
            let got = outcome(&v, &manifests, case);
            (got != case.expect)
                .then(|| format!("{}: expected {}, got {got}", case.name, case.expect))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "failing vectors:\n{}",
        failures.join("\n")
    );
}

#[test]
fn vector_copy_matches_the_shared_contract() {
    // The copy must exist whatever else is there.
    let copy = copy();
    // Only a missing ../shared (the project outside its workspace) skips
    // the comparison; a ../shared without the vectors is an error.
    let shared_dir = std::path::Path::new(SHARED_DIR);
    if !shared_dir.exists() {
        eprintln!("{SHARED_DIR} is absent: the copy is not compared with the shared contract");
        return;
    }
    let shared = std::fs::read_to_string(SHARED)
        .unwrap_or_else(|e| panic!("{SHARED}: {e} (../shared is there, its vectors are not)"));
    assert!(
        copy == shared,
        "tests/data/booking-tokens.json differs from shared/spec/vectors: copy the new contract in"
    );
}
