//! The central service's domain (`Central`): who may call, booking and
//! check-in (`booking.rs`), counters, the board, notices, kiosk health and
//! the event log (`board.rs`), tokens (here). It validates with `rules.rs`
//! and `auth.rs`, keeps everything through the [`Store`] and publishes
//! committed events to the fan-out. No SQL and no HTTP here: handlers in
//! `routes.rs` call these methods and turn [`ServiceError`] into answers.

mod board;
mod booking;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};

pub use board::{CallAnswer, CounterAnswer, StaffKiosk, StaffView, StaffWaiting};
pub use booking::{mask_name, CancelAnswer};

use crate::auth::{self, Action, Principal, Role, TokenInfo, TokenSpecError};
use crate::error::{ServiceError, ServiceResult};
use crate::fanout::Fanout;
use crate::keys::KeyStore;
use crate::limits::{StreamSlot, StreamSlots, WriteLimiter};
use crate::settings::CentralSettings;
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

/// The central service of one office (cheap to clone).
#[derive(Clone)]
pub struct Central {
    inner: Arc<Inner>,
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
    /// The service over `store`, signing with `keys`, on `clock`.
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

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    fn office(&self) -> &str {
        &self.inner.settings.office_id
    }

    pub(crate) fn fanout(&self) -> &Fanout {
        &self.inner.fanout
    }

    /// Now, in the office's time zone.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.inner
            .clock
            .now()
            .with_timezone(&self.inner.settings.timezone)
            .fixed_offset()
    }

    /// Today in the office's time zone.
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// True when this service holds `office`.
    pub fn serves(&self, office: &str) -> bool {
        office == self.office()
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

    /// `403` unless `who` may do `action` at `office`; `404` for an office
    /// this service does not hold; `429` when a write comes too fast.
    pub fn authorize(
        &self,
        who: &Principal,
        office: &str,
        action: Action<'_>,
    ) -> ServiceResult<()> {
        if !auth::allows(who, office, action) {
            return Err(ServiceError::Forbidden(who.role));
        }
        if !self.serves(office) {
            return Err(ServiceError::UnknownOffice);
        }
        if action.is_write() {
            if let Err(wait) = self.inner.writes.check(who.id) {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                return Err(ServiceError::RateLimited(secs));
            }
        }
        Ok(())
    }

    /// A slot for one more event stream of `office`, or `503`.
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
