//! `antrean-central`: the reference central booking service. Thin CLI over
//! `antrean_central`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use antrean_central::auth::{self, Role};
use antrean_central::config::{CentralConfig, CentralFile};
use antrean_central::demo::{seed_demo, simulate_counters, write_demo_files};
use antrean_central::keys::KeyStore;
use antrean_central::{
    limits, maintenance, revoke_token, serve, store_token, Central, SqliteStore, Store,
};
use antrean_host::clock::Clock;
use antrean_host::logging::{self, LogFormat};
use antrean_host::shutdown_signal;

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
    /// Manage API tokens (stored hashed in the central database).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
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

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a new token; it is printed once and only its hash is kept.
    Add {
        #[arg(long)]
        config: PathBuf,
        /// kiosk, board, booking, staff or admin.
        #[arg(long)]
        role: String,
        /// The office id (`*` for an admin token valid at every office).
        #[arg(long)]
        office: String,
        /// The kiosk's id ([kiosk] id); kiosk tokens only.
        #[arg(long)]
        kiosk: Option<String>,
        /// A note for `token list`, e.g. where the token is used.
        #[arg(long)]
        label: Option<String>,
    },
    /// Move an old plaintext token (from [server] tokens / token_file, or
    /// standard input) into the database with a role.
    Import {
        #[arg(long)]
        config: PathBuf,
        /// The N-th old token of the configuration (1-based: `tokens`, then
        /// `token_file`'s lines). Without it the token is read from stdin.
        #[arg(long)]
        from_config: Option<usize>,
        #[arg(long)]
        role: String,
        #[arg(long)]
        office: String,
        #[arg(long)]
        kiosk: Option<String>,
        #[arg(long)]
        label: Option<String>,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[arg(long)]
        config: PathBuf,
    },
    /// Revoke a token by its id (from `token list`): it gets 401 at once.
    Revoke {
        #[arg(long)]
        config: PathBuf,
        id: i64,
    },
}

fn main() -> ExitCode {
    logging::exit_on_panic();
    match Cli::parse().command {
        Command::Token { command } => match token_command(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("antrean-central: {e:#}");
                ExitCode::FAILURE
            }
        },
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
            let loaded = match CentralFile::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            match run(&config, loaded, listen, demo, demo_out, sim) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("antrean-central: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Opens the configuration's database (creating it and its directory,
/// private).
fn open_store(config: &CentralConfig) -> anyhow::Result<SqliteStore> {
    let db = &config.file.server.db;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        antrean_host::state_dir::create_private_dir(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(SqliteStore::open(db, &config.settings.office_id)?)
}

/// Loads the configuration and opens its database.
fn load(config: &std::path::Path) -> anyhow::Result<(CentralConfig, SqliteStore)> {
    let loaded = CentralFile::load(config)?;
    let store = open_store(&loaded)?;
    Ok((loaded, store))
}

/// `--role` and `--office`, checked against the configuration.
fn role_and_office(file: &CentralFile, role: &str, office: &str) -> anyhow::Result<Role> {
    let role = Role::parse(role).ok_or_else(|| {
        anyhow::anyhow!("--role {role:?}: use kiosk, board, booking, staff or admin")
    })?;
    if office != file.office.id && office != auth::ALL_OFFICES {
        anyhow::bail!(
            "--office {office:?}: this service holds office {:?} (or use * for an admin token)",
            file.office.id
        );
    }
    Ok(role)
}

fn token_command(command: TokenCommand) -> anyhow::Result<()> {
    // The store works asynchronously; these commands wait for each answer.
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    rt.block_on(token_command_async(command))
}

async fn token_command_async(command: TokenCommand) -> anyhow::Result<()> {
    let now = || chrono::Utc::now().to_rfc3339();
    match command {
        TokenCommand::Add {
            config,
            role,
            office,
            kiosk,
            label,
        } => {
            let (loaded, store) = load(&config)?;
            let role = role_and_office(&loaded.file, &role, &office)?;
            let secret = auth::new_secret();
            let id = store_token(
                &store,
                &secret,
                role,
                &office,
                kiosk.as_deref(),
                label.as_deref(),
                &now(),
            )
            .await?;
            eprintln!(
                "token {id} added: role {role}, office {office}{}. It is shown once, here; only its hash is kept.",
                kiosk.map(|k| format!(", kiosk {k}")).unwrap_or_default()
            );
            println!("{secret}");
            Ok(())
        }
        TokenCommand::Import {
            config,
            from_config,
            role,
            office,
            kiosk,
            label,
        } => {
            let (loaded, store) = load(&config)?;
            let role = role_and_office(&loaded.file, &role, &office)?;
            let secret = match from_config {
                Some(n) => {
                    let old = loaded.file.old_tokens(&config)?;
                    old.get(n.wrapping_sub(1)).cloned().ok_or_else(|| {
                        anyhow::anyhow!(
                            "--from-config {n}: {} has {} old token(s) in [server] tokens / token_file",
                            config.display(),
                            old.len()
                        )
                    })?
                }
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the token from standard input")?;
                    line.trim().to_string()
                }
            };
            auth::check_imported_secret(&secret)?;
            let id = store_token(
                &store,
                &secret,
                role,
                &office,
                kiosk.as_deref(),
                label.as_deref(),
                &now(),
            )
            .await?;
            println!(
                "token {id} imported: role {role}, office {office}{}",
                kiosk.map(|k| format!(", kiosk {k}")).unwrap_or_default()
            );
            Ok(())
        }
        TokenCommand::List { config } => {
            let (_, store) = load(&config)?;
            println!(
                "{:>4}  {:<14} {:<8} {:<16} {:<12} {:<25} {:<25} label",
                "id", "token", "role", "office", "kiosk", "created", "revoked"
            );
            for t in store.tokens().await? {
                println!(
                    "{:>4}  {:<14} {:<8} {:<16} {:<12} {:<25} {:<25} {}",
                    t.id,
                    t.prefix,
                    t.role.as_str(),
                    t.office,
                    t.kiosk.as_deref().unwrap_or("-"),
                    t.created,
                    t.revoked.as_deref().unwrap_or("-"),
                    t.label.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { config, id } => {
            let (_, store) = load(&config)?;
            revoke_token(&store, id, &now()).await?;
            println!("token {id} revoked");
            Ok(())
        }
    }
}

fn run(
    config: &std::path::Path,
    loaded: CentralConfig,
    listen: Option<String>,
    demo: bool,
    demo_out: Option<PathBuf>,
    sim: Option<u64>,
) -> anyhow::Result<()> {
    let file = &loaded.file;
    if file.has_old_tokens() {
        anyhow::bail!(file.migration_help(config));
    }
    let clock = Clock::from_env()?;
    match limits::raise_fd_limit() {
        Ok(n) => tracing::info!(open_files = n, "file-descriptor limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the file-descriptor limit"),
    }
    let store = open_store(&loaded)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let live = runtime
        .block_on(store.tokens())?
        .iter()
        .filter(|t| t.revoked.is_none())
        .count();
    if live == 0 {
        tracing::warn!(
            "no API tokens yet: every request gets 401. Make them with `antrean-central token add --config {} --role ROLE --office {}`",
            config.display(),
            file.office.id
        );
    }
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
    let central = Central::new(
        loaded.settings.clone(),
        std::sync::Arc::new(store),
        keys,
        clock,
    );
    runtime.block_on(async move {
        if demo {
            let summary = seed_demo(&central, central.today(), 2024).await?;
            tracing::info!(date = %summary.date, bookings = summary.bookings, "demo bookings ready");
            if let Some(dir) = &demo_out {
                let files = write_demo_files(&summary, dir)?;
                tracing::info!(dir = %dir.display(), files = files.len(), "demo codes and QR images written");
                // A fresh staff token for the demo's staff page, in a
                // private file (never in the log); the last demo's goes.
                central.revoke_labelled("demo").await?;
                let (_, staff) = central.add_token(Role::Staff, &file.office.id, None, Some("demo")).await?;
                let path = dir.join("staff-token");
                antrean_host::state_dir::write_private(&path, format!("{staff}\n").as_bytes())?;
                tracing::info!(file = %path.display(), "demo staff token written (paste it into the staff page)");
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
        tokio::spawn(maintenance::run(central.clone(), stop_rx.clone()));
        serve(listener, central, async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await?;
        tracing::info!("stopped");
        Ok(())
    })
}
