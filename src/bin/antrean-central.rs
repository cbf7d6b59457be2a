//! `antrean-central`: the reference central booking service. Thin CLI over
//! `antrean_kiosk::central::server`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use antrean_kiosk::app::shutdown_signal;
use antrean_kiosk::central::server::config::CentralFile;
use antrean_kiosk::central::server::demo::{seed_demo, simulate_counters, write_demo_files};
use antrean_kiosk::central::server::keys::KeyStore;
use antrean_kiosk::central::server::store::Store;
use antrean_kiosk::central::server::{serve, Central};
use antrean_kiosk::clock::Clock;
use antrean_kiosk::logging::{self, LogFormat};

#[derive(Parser)]
#[command(
    name = "antrean-central",
    version,
    about = "Reference central booking service for antrean-kiosk"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the staff page.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Overrides [server] listen (use 127.0.0.1:0 for any free port).
        #[arg(long)]
        listen: Option<String>,
        /// Seed today's sessions with a realistic day of bookings.
        #[arg(long)]
        demo: bool,
        /// Write sample booking codes, tokens and QR images here (with --demo).
        #[arg(long)]
        demo_out: Option<PathBuf>,
        /// Simulate counters calling (and other kiosks checking in) every N seconds.
        #[arg(long)]
        simulate_counters: Option<u64>,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Create a signing key and make it the active one (older keys stay published).
    Keygen {
        #[arg(long)]
        key_dir: PathBuf,
        /// Key id; default k<YYYYMMDD>.
        #[arg(long)]
        kid: Option<String>,
    },
}

fn main() -> ExitCode {
    logging::exit_on_panic();
    match Cli::parse().command {
        Command::Keygen { key_dir, kid } => {
            let kid = kid.unwrap_or_else(|| format!("k{}", chrono::Utc::now().format("%Y%m%d")));
            match KeyStore::generate(&key_dir, &kid) {
                Ok(public) => {
                    println!(
                        "created key {kid} in {} (now active)\npublic_key = \"{public}\"",
                        key_dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve {
            config,
            listen,
            demo,
            demo_out,
            simulate_counters: sim,
            log_format,
        } => {
            logging::init(log_format, None);
            let file = match CentralFile::load(&config) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            match run(file, listen, demo, demo_out, sim) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("antrean-central: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn run(
    file: CentralFile,
    listen: Option<String>,
    demo: bool,
    demo_out: Option<PathBuf>,
    sim: Option<u64>,
) -> anyhow::Result<()> {
    let tokens = file.tokens().map_err(anyhow::Error::msg)?;
    let settings = file.settings(tokens).map_err(anyhow::Error::msg)?;
    let clock = Clock::from_env()?;
    if let Some(dir) = file
        .server
        .db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        antrean_kiosk::state_dir::create_private_dir(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let store = Store::open(&file.server.db)
        .with_context(|| format!("opening {}", file.server.db.display()))?;
    let keys = match KeyStore::load(&file.server.key_dir) {
        Ok(k) => k,
        Err(_) if !file.server.key_dir.join("active").exists() => {
            let kid = format!("k{}", clock.now().format("%Y%m%d"));
            KeyStore::generate(&file.server.key_dir, &kid)?;
            tracing::info!(kid, dir = %file.server.key_dir.display(), "no signing key yet: created one");
            KeyStore::load(&file.server.key_dir)?
        }
        Err(e) => return Err(e.into()),
    };
    let central = Central::new(settings, store, keys, clock);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        if demo {
            let summary = seed_demo(&central, central.today(), 2024).map_err(|e| anyhow::anyhow!(e.message))?;
            tracing::info!(date = %summary.date, bookings = summary.bookings, "demo bookings ready");
            if let Some(dir) = &demo_out {
                let files = write_demo_files(&summary, dir)?;
                tracing::info!(dir = %dir.display(), files = files.len(), "demo codes and QR images written");
            }
        }
        let addr = listen.unwrap_or(file.server.listen.clone());
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let local = listener.local_addr()?;
        tracing::info!(%local, "listening");
        println!("antrean-central listening on http://{local}");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if let Some(secs) = sim.filter(|s| *s > 0) {
            tokio::spawn(simulate_counters(central.clone(), Duration::from_secs(secs), stop_rx.clone()));
        }
        serve(listener, central, async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await?;
        tracing::info!("stopped");
        Ok(())
    })
}
