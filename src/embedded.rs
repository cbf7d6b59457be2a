//! The demo's embedded central service (`[central] url = "embedded"`):
//! the reference service of the `antrean-central` crate, in this process
//! on 127.0.0.1, with today's demo bookings. Only the demo uses it.

use std::time::Duration;

use tokio::sync::watch;

use crate::config::Config;
use antrean_host::clock::Clock;

/// The embedded central service did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the embedded central service: {message}. Check that [kiosk] state_dir is writable (the service keeps its files in embedded-central/ there).")]
pub struct EmbeddedError {
    /// What the central service's library said (its errors are its own).
    pub message: String,
}

/// Runs the reference central service in this process on 127.0.0.1 with
/// today's demo bookings (and simulated counters when asked). Returns its
/// URL and a fresh kiosk token for this kiosk. A fresh staff token goes to
/// a 0600 file under `state_dir/embedded-central/` (only its path is
/// logged); the previous start's tokens are revoked. Sample codes and QR
/// images go to `state_dir/demo/`.
pub async fn start(
    config: &Config,
    clock: Clock,
    simulate_every: u64,
    shutdown: watch::Receiver<bool>,
) -> Result<(String, String), EmbeddedError> {
    use antrean_central::auth::Role;
    use antrean_central::{demo, keys::KeyStore, Central, CentralSettings, SqliteStore};
    let fail = |e: &dyn std::fmt::Display| EmbeddedError {
        message: e.to_string(),
    };
    let dir = config.kiosk.state_dir.join("embedded-central");
    antrean_host::state_dir::create_private_dir(&dir).map_err(|e| fail(&e))?;
    let mut settings = CentralSettings::standard(&config.office.id, &config.office.name);
    settings.offices[0].timezone = config.timezone();
    let store =
        SqliteStore::open(&dir.join("central.sqlite3"), &config.office.id).map_err(|e| fail(&e))?;
    let key_dir = dir.join("keys");
    if !key_dir.join("active").exists() {
        KeyStore::generate(&key_dir, "demo").map_err(|e| fail(&e))?;
    }
    let keys = KeyStore::load(&key_dir).map_err(|e| fail(&e))?;
    let central = Central::new(settings, std::sync::Arc::new(store), keys, clock);
    const LABEL: &str = "embedded";
    central.revoke_labelled(LABEL).await.map_err(|e| fail(&e))?;
    let (_, kiosk_token) = central
        .add_token(
            Role::Kiosk,
            &config.office.id,
            Some(&config.kiosk.id),
            Some(LABEL),
        )
        .await
        .map_err(|e| fail(&e))?;
    let (_, staff_token) = central
        .add_token(Role::Staff, &config.office.id, None, Some(LABEL))
        .await
        .map_err(|e| fail(&e))?;
    let staff_file = dir.join("staff-token");
    antrean_host::state_dir::write_private(&staff_file, format!("{staff_token}\n").as_bytes())
        .map_err(|e| fail(&e))?;
    let summary = demo::seed_demo(&central.default_office(), central.today(), 2024)
        .await
        .map_err(|e| fail(&e))?;
    let files = demo::write_demo_files(&summary, &config.kiosk.state_dir.join("demo"))
        .map_err(|e| fail(&e))?;
    tracing::info!(bookings = summary.bookings, samples = %files[0].display(), "embedded central service: demo bookings ready");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail(&e))?;
    let addr = listener.local_addr().map_err(|e| fail(&e))?;
    if simulate_every > 0 {
        tokio::spawn(demo::simulate_counters(
            central.clone(),
            Duration::from_secs(simulate_every),
            shutdown.clone(),
        ));
    }
    tokio::spawn(antrean_central::maintenance::run(
        central.clone(),
        shutdown.clone(),
    ));
    let mut stop = shutdown;
    tokio::spawn(antrean_central::serve(listener, central, async move {
        let _ = stop.changed().await;
    }));
    tracing::info!(%addr, staff_token_file = %staff_file.display(), "embedded central service listening (staff page at http://{addr}/; its staff token is in the file)");
    Ok((format!("http://{addr}"), kiosk_token))
}
