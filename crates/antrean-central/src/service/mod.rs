//! The central service's domain: [`Central`] (the whole service: its
//! offices, who may call, tokens, readiness) and [`Office`] (one office
//! of it: booking and check-in in `booking.rs`; counters, the board,
//! notices, kiosk health and the event log in `board.rs`). Every request
//! resolves its office from the path and is authorised for that office
//! ([`Central::authorize`] gives the `Office` handle), so nothing of
//! another office is ever in reach. It validates with `rules.rs` and
//! `auth.rs` and keeps everything through the [`Store`], which delivers
//! committed events to the streams. No SQL and no HTTP here: handlers in
//! `routes.rs` call these methods and turn [`ServiceError`] into answers.
//! `single.rs`: shortcuts to the first office, for a service of one.

mod board;
mod booking;
mod priority;
mod single;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;

pub use board::{CallAnswer, CounterAnswer, StaffKiosk, StaffView, StaffWaiting};
pub(crate) use booking::pace;
pub use booking::{mask_name, CancelAnswer};

use crate::auth::{self, Action, Principal, Role, TokenInfo, TokenSpecError};
use crate::error::{ServiceError, ServiceResult};
use crate::fanout::Fanout;
use crate::keys::KeyStore;
use crate::limits::{StreamSlot, StreamSlots, WriteLimiter};
use crate::settings::{CentralSettings, OfficeSettings};
use crate::store::{NewToken, Store, StoreError};
use antrean_host::clock::Clock;

struct Inner {
    settings: CentralSettings,
    store: Arc<dyn Store>,
    keys: KeyStore,
    clock: Clock,
    fanout: Fanout,
    writes: WriteLimiter,
    streams: Arc<StreamSlots>,
    maintenance_runs: AtomicU64,
}

/// The central service: every office it holds (cheap to clone).
#[derive(Clone)]
pub struct Central {
    inner: Arc<Inner>,
}

/// One office of the service (cheap to clone): what a request works on
/// once its token was authorised for this office.
#[derive(Clone)]
pub struct Office {
    central: Central,
    index: usize,
}

/// An office as `GET /v1/offices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficeSummary {
    pub id: String,
    pub name: String,
    pub timezone: String,
}

/// `GET /v1/offices`: the offices a token may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficeList {
    pub offices: Vec<OfficeSummary>,
}

/// Why a token cannot be made, imported or revoked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error(transparent)]
    Spec(#[from] TokenSpecError),
    #[error("that token is (or was) in the database already; nothing changed. Make a new one with `antrean-central token add`.")]
    Duplicate,
    #[error("no live token with id {0}; `antrean-central token list` shows the ids")]
    NoSuchToken(i64),
    #[error(transparent)]
    Storage(StoreError),
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> TokenError {
        match e {
            StoreError::DuplicateToken => TokenError::Duplicate,
            e => TokenError::Storage(e),
        }
    }
}

impl Central {
    /// The service of `settings.offices` over `store`, signing with
    /// `keys`, on `clock`.
    pub fn new(
        settings: CentralSettings,
        store: Arc<dyn Store>,
        keys: KeyStore,
        clock: Clock,
    ) -> Central {
        let writes = WriteLimiter::new(&settings.limits);
        let streams = StreamSlots::new(settings.limits.max_streams_per_office);
        Central {
            inner: Arc::new(Inner {
                settings,
                store,
                keys,
                clock,
                fanout: Fanout::default(),
                writes,
                streams,
                maintenance_runs: AtomicU64::new(0),
            }),
        }
    }

    pub fn settings(&self) -> &CentralSettings {
        &self.inner.settings
    }

    pub fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub(crate) fn fanout(&self) -> &Fanout {
        &self.inner.fanout
    }

    /// Every office, in the configuration's order.
    pub fn offices(&self) -> Vec<Office> {
        (0..self.inner.settings.offices.len())
            .map(|index| Office {
                central: self.clone(),
                index,
            })
            .collect()
    }

    /// The office with this id.
    pub fn office(&self, id: &str) -> Option<Office> {
        self.inner
            .settings
            .offices
            .iter()
            .position(|o| o.id == id)
            .map(|index| Office {
                central: self.clone(),
                index,
            })
    }

    /// The first office of the configuration (the only one of a service
    /// of one office, such as the kiosk's embedded mode).
    pub fn default_office(&self) -> Office {
        Office {
            central: self.clone(),
            index: 0,
        }
    }

    /// The principal of a bearer token, or `401`. Read from the store at
    /// every request, so that tokens added or revoked by another process
    /// or instance count at once.
    pub async fn authenticate(&self, token: Option<&str>) -> ServiceResult<Principal> {
        let Some(token) = token else {
            return Err(ServiceError::Unauthorized);
        };
        let hash = auth::hash(token);
        match self.store().token_by_hash(hash).await? {
            Some((who, stored)) if auth::same_hash(&stored, &hash) => Ok(who),
            _ => Err(ServiceError::Unauthorized),
        }
    }

    /// The office `office` for `who` to do `action` at: `403` unless the
    /// token's role and office allow it (before anything else, so that a
    /// token learns nothing of other offices), `404` for an office this
    /// service does not hold, `429` when a write comes too fast.
    pub fn authorize(
        &self,
        who: &Principal,
        office: &str,
        action: Action<'_>,
    ) -> ServiceResult<Office> {
        if !auth::allows(who, office, action) {
            return Err(ServiceError::Forbidden(who.role));
        }
        let Some(found) = self.office(office) else {
            return Err(ServiceError::UnknownOffice);
        };
        if action.is_write() {
            if let Err(wait) = self.inner.writes.check(who.id) {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                return Err(ServiceError::RateLimited(secs));
            }
        }
        Ok(found)
    }

    /// The offices `who` may see: every office for an admin token of all
    /// offices, else its own (when this service holds it).
    pub fn visible_offices(&self, who: &Principal) -> OfficeList {
        let all = who.role == Role::Admin && who.office == auth::ALL_OFFICES;
        OfficeList {
            offices: self
                .inner
                .settings
                .offices
                .iter()
                .filter(|o| all || o.id == who.office)
                .map(|o| OfficeSummary {
                    id: o.id.clone(),
                    name: o.name.clone(),
                    timezone: o.timezone.name().to_string(),
                })
                .collect(),
        }
    }

    /// `Ok` when the service can serve now: its database answers (and,
    /// with several instances, this one hears the others' events).
    pub async fn ready(&self) -> ServiceResult<()> {
        Ok(self.store().ready().await?)
    }

    /// A slot for one more event stream of `office` on this instance, or
    /// `503`.
    pub fn stream_slot(&self, office: &str) -> ServiceResult<StreamSlot> {
        self.inner
            .streams
            .take(office)
            .ok_or(ServiceError::TooManyStreams(
                self.inner.settings.limits.max_streams_per_office,
            ))
    }

    /// Streams open now for `office`.
    pub fn open_streams(&self, office: &str) -> usize {
        self.inner.streams.open(office)
    }

    /// Ends open event streams (the server is stopping).
    pub fn close_streams(&self) {
        self.inner.fanout.close();
    }

    /// How many maintenance rounds ran (each prunes once).
    pub fn maintenance_runs(&self) -> u64 {
        self.inner.maintenance_runs.load(Ordering::Relaxed)
    }

    pub(crate) fn count_maintenance(&self) {
        self.inner.maintenance_runs.fetch_add(1, Ordering::Relaxed);
    }

    /// Makes a token; returns its id and the secret (shown once, never
    /// stored).
    pub async fn add_token(
        &self,
        role: Role,
        office: &str,
        kiosk: Option<&str>,
        label: Option<&str>,
    ) -> Result<(i64, String), TokenError> {
        let secret = auth::new_secret();
        let id = self
            .import_token(&secret, role, office, kiosk, label)
            .await?;
        Ok((id, secret))
    }

    /// Stores the hash of a token chosen elsewhere (an old configuration's).
    pub async fn import_token(
        &self,
        secret: &str,
        role: Role,
        office: &str,
        kiosk: Option<&str>,
        label: Option<&str>,
    ) -> Result<i64, TokenError> {
        let now = self.now().to_rfc3339();
        store_token(self.store(), secret, role, office, kiosk, label, &now).await
    }

    /// Every token, without secrets.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, TokenError> {
        Ok(self.store().tokens().await?)
    }

    /// Revokes token `id`: it gets `401` from now on, on every instance.
    pub async fn revoke_token(&self, id: i64) -> Result<(), TokenError> {
        let now = self.now().to_rfc3339();
        revoke_token(self.store(), id, &now).await
    }

    /// Revokes every live token labelled `label` (the embedded mode renews
    /// its own tokens at each start).
    pub async fn revoke_labelled(&self, label: &str) -> Result<usize, TokenError> {
        let now = self.now().to_rfc3339();
        Ok(self.store().revoke_labelled(label, &now).await?)
    }

    /// Deletes every office's board events older than the retention;
    /// returns how many. Every office is tried; the first failure is
    /// returned after that.
    pub async fn prune_all_events(&self) -> ServiceResult<usize> {
        let mut pruned = 0;
        let mut failed = None;
        for office in self.offices() {
            match office.prune_events().await {
                Ok(n) => pruned += n,
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        self.inner.writes.forget_idle();
        match failed {
            Some(e) => Err(e),
            None => Ok(pruned),
        }
    }
}

impl Office {
    /// The office's id (`kota-bekasi`).
    pub fn id(&self) -> &str {
        &self.settings().id
    }

    /// The office's plan and devices.
    pub fn settings(&self) -> &OfficeSettings {
        &self.central.inner.settings.offices[self.index]
    }

    /// The service this office belongs to.
    pub fn central(&self) -> &Central {
        &self.central
    }

    pub fn keys(&self) -> &KeyStore {
        self.central.keys()
    }

    fn store(&self) -> &dyn Store {
        self.central.store()
    }

    /// Now, in the office's time zone.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.central
            .inner
            .clock
            .now()
            .with_timezone(&self.settings().timezone)
            .fixed_offset()
    }

    /// Today in the office's time zone.
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Committed events of this office from now on (every instance's).
    pub fn subscribe(
        &self,
    ) -> tokio::sync::broadcast::Receiver<Arc<antrean_core::events::EncodedEvent>> {
        self.store().subscribe(self.id())
    }
}

/// Stores a token's hash (used by the service and by the `token` commands,
/// which work on the database without a running service).
pub async fn store_token(
    store: &dyn Store,
    secret: &str,
    role: Role,
    office: &str,
    kiosk: Option<&str>,
    label: Option<&str>,
    now: &str,
) -> Result<i64, TokenError> {
    auth::check_spec(role, office, kiosk, label)?;
    let row = NewToken {
        hash: auth::hash(secret),
        prefix: auth::display_prefix(secret),
        role,
        office: office.to_string(),
        kiosk: kiosk.map(str::to_string),
        label: label.map(str::to_string),
        created: now.to_string(),
    };
    Ok(store.insert_token(row).await?)
}

/// Revokes token `id` in `store`.
pub async fn revoke_token(store: &dyn Store, id: i64, now: &str) -> Result<(), TokenError> {
    if store.revoke_token(id, now).await? {
        Ok(())
    } else {
        Err(TokenError::NoSuchToken(id))
    }
}
