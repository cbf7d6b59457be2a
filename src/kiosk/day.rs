//! The day the kiosk checks people in for: today's manifest (from the
//! central service, or the disk cache), the keys that verify QR codes
//! (configured ones plus the manifest's, never a published test key), and
//! how fresh the manifest is. Owned by the kiosk loop; the screens and the
//! walk-in help read today's manifest from [`Day::watch`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::watch;

use crate::config::Config;
use antrean_core::checkin::KnownDay;
use antrean_core::keys::{KeyRing, TrustedKey};
use antrean_core::manifest::Manifest;

/// Today's manifest and keys.
pub struct Day {
    office: String,
    state_dir: PathBuf,
    config_keys: Vec<TrustedKey>,
    keys: KeyRing,
    manifest: Option<Manifest>,
    /// The date and cache file time last looked at.
    checked: Option<(NaiveDate, Option<SystemTime>)>,
    /// When the central service last confirmed `manifest` (fetched or `304`).
    confirmed: Option<DateTime<Utc>>,
    /// How long a confirmed manifest counts as fresh.
    fresh_for: chrono::Duration,
    watch: watch::Sender<Option<Arc<Manifest>>>,
}

impl Day {
    pub fn new(config: &Config) -> Day {
        let config_keys = config.trusted_keys().to_vec();
        Day {
            office: config.office.id.clone(),
            state_dir: config.kiosk.state_dir.clone(),
            keys: KeyRing::new(config_keys.clone()),
            config_keys,
            manifest: None,
            checked: None,
            confirmed: None,
            fresh_for: chrono::Duration::seconds(
                config
                    .central
                    .as_ref()
                    .map(|c| (2 * c.manifest_refresh_seconds).max(60) as i64)
                    .unwrap_or(0),
            ),
            watch: watch::Sender::new(None),
        }
    }

    /// Today's manifest as the loop uses it (screens read service names and
    /// sessions from it without touching the disk).
    pub fn watch(&self) -> watch::Receiver<Option<Arc<Manifest>>> {
        self.watch.subscribe()
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// The manifest for the check-in rules, with its freshness at `now`.
    pub fn known(&self, now: DateTime<Utc>) -> Option<KnownDay<'_>> {
        let fresh = self
            .confirmed
            .is_some_and(|t| now.signed_duration_since(t) <= self.fresh_for);
        self.manifest
            .as_ref()
            .map(|manifest| KnownDay { manifest, fresh })
    }

    /// A manifest the central service just sent.
    pub fn fetched(&mut self, m: Manifest, today: NaiveDate, now: DateTime<Utc>) {
        if self.install(m, today) {
            self.confirmed = Some(now);
        }
    }

    /// The central service confirmed that the manifest of `date` is current.
    pub fn confirmed(&mut self, date: NaiveDate, now: DateTime<Utc>) {
        if self.manifest.as_ref().is_some_and(|m| m.date == date) {
            self.confirmed = Some(now);
        }
    }

    /// Loads today's cached manifest when the date changed or the file did.
    pub fn refresh(&mut self, today: NaiveDate) {
        let modified = crate::manifest_cache::modified(&self.state_dir, today);
        if self.checked == Some((today, modified)) {
            return;
        }
        self.checked = Some((today, modified));
        match crate::manifest_cache::load(&self.state_dir, today) {
            Ok(Some(m)) => {
                self.install(m, today);
            }
            Ok(None) => {
                if self.manifest.as_ref().is_some_and(|m| m.date != today) {
                    self.manifest = None;
                    self.confirmed = None;
                    self.watch.send_replace(None);
                    self.keys = KeyRing::new(self.config_keys.clone());
                }
            }
            Err(e) => tracing::warn!(error = %e, "cached manifest unusable"),
        }
    }

    /// Takes a manifest of today for this office; false when it is not one.
    fn install(&mut self, m: Manifest, today: NaiveDate) -> bool {
        if m.office != self.office || m.date != today {
            return false;
        }
        if self.manifest.as_ref() == Some(&m) {
            // The same day again (the cache file of what just arrived): no news.
            return true;
        }
        self.keys = KeyRing::new(self.config_keys.clone());
        let (keys, published): (Vec<_>, Vec<_>) = m
            .trusted_keys()
            .into_iter()
            .partition(|k| k.trustworthy_for(&self.office));
        for k in published {
            tracing::error!(kid = %k.kid, published_as = k.published_as(),
                "the central service's manifest offers a published test key; it is NOT trusted. Tell the central service's operators: see SECURITY.md");
        }
        self.keys.extend(keys);
        self.watch.send_replace(Some(Arc::new(m.clone())));
        self.manifest = Some(m);
        true
    }
}
