//! The manifest cache on disk: one JSON file per date in
//! `state_dir/manifests/`, written atomically, read at start and whenever
//! the date changes, so the kiosk checks people in while the central
//! service is unreachable. Fetching is the central client's job. Masked
//! names are never written: the cache holds no names at all.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use antrean_core::manifest::Manifest;

/// The cache directory of a state directory.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("manifests")
}

fn file(state_dir: &Path, date: NaiveDate) -> PathBuf {
    dir(state_dir).join(format!("{date}.json"))
}

/// A cached manifest could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    #[error("cannot write the manifest cache {path}: {source}. Check free disk space and the permissions of state_dir.")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cached manifest {path} is damaged ({reason}); it will be fetched again")]
    Damaged { path: PathBuf, reason: String },
}

/// Loads the cached manifest of `date`; `Ok(None)` when none is cached.
pub fn load(state_dir: &Path, date: NaiveDate) -> Result<Option<Manifest>, CacheError> {
    let path = file(state_dir, date);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CacheError::Damaged {
                path,
                reason: e.to_string(),
            })
        }
    };
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| CacheError::Damaged {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if manifest.date != date {
        return Err(CacheError::Damaged {
            path,
            reason: format!("it is for {}", manifest.date),
        });
    }
    Ok(Some(manifest))
}

/// Stores a manifest without its bookings' names (atomically: a crash
/// leaves the old or the new file).
pub fn store(state_dir: &Path, manifest: &Manifest) -> Result<PathBuf, CacheError> {
    let mut manifest = manifest.clone();
    for b in &mut manifest.bookings {
        b.name = None;
    }
    let manifest = &manifest;
    let path = file(state_dir, manifest.date);
    let err = |source| CacheError::Write {
        path: path.clone(),
        source,
    };
    antrean_host::state_dir::create_private_dir(&dir(state_dir)).map_err(err)?;
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
    antrean_host::state_dir::write_private(&tmp, &text).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(path)
}

/// Removes cached manifests of dates before `cutoff`; returns how many.
pub fn purge_before(state_dir: &Path, cutoff: NaiveDate) -> usize {
    let Ok(entries) = std::fs::read_dir(dir(state_dir)) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(date) = name
            .strip_suffix(".json")
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            continue;
        };
        if date < cutoff && std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
}

/// Modification time of the cached file, to notice a newer copy.
pub fn modified(state_dir: &Path, date: NaiveDate) -> Option<std::time::SystemTime> {
    std::fs::metadata(file(state_dir, date))
        .and_then(|m| m.modified())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let date = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap();
        assert!(load(dir.path(), date).unwrap().is_none());
        let m = Manifest {
            office: "kota-bogor".into(),
            date,
            timezone: "Asia/Jakarta".into(),
            office_name: None,
            sessions: vec![],
            services: vec![],
            counters: vec![],
            keys: vec![],
            bookings: vec![],
        };
        store(dir.path(), &m).unwrap();
        assert_eq!(load(dir.path(), date).unwrap(), Some(m));
        assert_eq!(purge_before(dir.path(), date), 0);
        assert_eq!(purge_before(dir.path(), date.succ_opt().unwrap()), 1);
        assert!(load(dir.path(), date).unwrap().is_none());
        std::fs::write(file(dir.path(), date), "{broken").unwrap();
        assert!(load(dir.path(), date).is_err());
    }

    #[test]
    fn names_are_not_cached() {
        use antrean_core::manifest::{BookingStatus, ManifestBooking};
        let dir = tempfile::tempdir().unwrap();
        let date = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap();
        let booking = |code: &str, name: Option<&str>| ManifestBooking {
            booking: code.into(),
            number: "B-015".into(),
            slot: "09:00-10:00".into(),
            service: "KTP-EL".into(),
            status: BookingStatus::Booked,
            name: name.map(str::to_string),
        };
        let m = Manifest {
            office: "kota-bogor".into(),
            date,
            timezone: "Asia/Jakarta".into(),
            office_name: None,
            sessions: vec![],
            services: vec![],
            counters: vec![],
            keys: vec![],
            bookings: vec![
                booking("BGR-240508-00123", Some("S***i R.")),
                booking("BGR-240508-00124", None),
            ],
        };
        let path = store(dir.path(), &m).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(!text.contains("S***i"), "{text}");
        assert!(!text.contains("\"name\""), "{text}");
        let back = load(dir.path(), date).unwrap().unwrap();
        assert!(back.bookings.iter().all(|b| b.name.is_none()));
        assert_eq!(back.bookings.len(), 2);
    }
}
