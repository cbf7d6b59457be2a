//! `antrean-central`: the reference central booking service. Thin CLI over
//! `antrean_central`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use std::sync::Arc;

use antrean_central::auth::{self, Role};
use antrean_central::config::{CentralConfig, CentralFile, Storage};
use antrean_central::demo::{seed_every_office, simulate_counters, write_demo_files};
use antrean_central::keys::KeyStore;
use antrean_central::settings::CentralSettings;
use antrean_central::store::{AppliedMigration, PostgresOptions, PostgresStore};
use antrean_central::{
    limits, maintenance, revoke_token, serve, shutdown, store_token, Central, SqliteStore, Store,
};
use antrean_host::clock::Clock;
use antrean_host::logging::{self, LogFormat};

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
        /// Seed today's sessions of every office with a realistic day of bookings.
        #[arg(long)]
        demo: bool,
        /// Write sample booking codes, tokens and QR images here (with
        /// --demo; one folder per office when there are several).
        #[arg(long)]
        demo_out: Option<PathBuf>,
        /// Simulate counters calling (and other kiosks checking in) every N seconds.
        #[arg(long)]
        simulate_counters: Option<u64>,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Apply the database migrations this version needs (also done at
    /// every start) and say which ones ran.
    Migrate {
        #[arg(long)]
        config: PathBuf,
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
        Command::Migrate { config } => match migrate_command(&config) {
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

/// A store as opened: which back end, and the migrations it applied.
struct Opened {
    store: Arc<dyn Store>,
    applied: Vec<AppliedMigration>,
    /// Closes its connections at the stop (PostgreSQL's pool).
    closer: Option<shutdown::Closer>,
}

/// Opens the configuration's database (SQLite: creating it and its
/// directory, private), migrating it. `listen`: hear the other instances'
/// events (only `serve` needs to).
async fn open_store(config: &CentralConfig, listen: bool) -> anyhow::Result<Opened> {
    match &config.storage {
        Storage::Sqlite(db) => {
            if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
                antrean_host::state_dir::create_private_dir(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let store = SqliteStore::open(db, config.file.first_office_id())?;
            let applied = store.applied_migrations().to_vec();
            Ok(Opened {
                store: Arc::new(store),
                applied,
                closer: None,
            })
        }
        Storage::Postgres {
            url,
            max_connections,
        } => {
            let options = PostgresOptions {
                max_connections: *max_connections,
                listen,
                ..PostgresOptions::default()
            };
            let store = PostgresStore::connect(url, options).await?;
            let applied = store.applied_migrations().to_vec();
            let closer: shutdown::Closer = Box::pin(store.closer());
            Ok(Opened {
                store: Arc::new(store),
                applied,
                closer: Some(closer),
            })
        }
    }
}

/// Loads the configuration and opens its database.
async fn load(config: &std::path::Path) -> anyhow::Result<(CentralConfig, Arc<dyn Store>)> {
    let loaded = CentralFile::load(config)?;
    let opened = open_store(&loaded, false).await?;
    Ok((loaded, opened.store))
}

/// `--role`, `--office` and `--kiosk`, checked against the configuration:
/// an office this service holds (or `*` for an admin token), a kiosk id
/// the office lists among its kiosks or boards (when it lists any).
fn token_binding(
    settings: &CentralSettings,
    role: &str,
    office: &str,
    kiosk: Option<&str>,
) -> anyhow::Result<Role> {
    let role = Role::parse(role).ok_or_else(|| {
        anyhow::anyhow!("--role {role:?}: use kiosk, board, booking, staff or admin")
    })?;
    if office == auth::ALL_OFFICES {
        return Ok(role);
    }
    let held: Vec<&str> = settings.offices.iter().map(|o| o.id.as_str()).collect();
    let Some(o) = settings.office(office) else {
        anyhow::bail!(
            "--office {office:?}: this service holds office(s) {} (or use * for an admin token)",
            held.join(", ")
        );
    };
    if let Some(k) = kiosk {
        if !o.expects_device(k) {
            anyhow::bail!(
                "--kiosk {k:?}: office {office} lists kiosks [{}] and boards [{}]; add the device to its `kiosks` or `boards` in the configuration first",
                o.kiosks.join(", "),
                o.boards.join(", ")
            );
        }
    }
    Ok(role)
}

fn migrate_command(config: &std::path::Path) -> anyhow::Result<()> {
    let loaded = CentralFile::load(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let opened = rt.block_on(open_store(&loaded, false))?;
    let db = loaded.storage.describe();
    if opened.applied.is_empty() {
        println!("{db}: up to date, nothing to apply");
    }
    for m in &opened.applied {
        println!("{db}: applied {m}");
    }
    drop(opened);
    Ok(())
}

fn token_command(command: TokenCommand) -> anyhow::Result<()> {
    // The store works asynchronously; these commands wait for each answer.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
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
            let (loaded, store) = load(&config).await?;
            let role = token_binding(&loaded.settings, &role, &office, kiosk.as_deref())?;
            let secret = auth::new_secret();
            let id = store_token(
                store.as_ref(),
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
            let (loaded, store) = load(&config).await?;
            let role = token_binding(&loaded.settings, &role, &office, kiosk.as_deref())?;
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
                store.as_ref(),
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
            let (_, store) = load(&config).await?;
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
            let (_, store) = load(&config).await?;
            revoke_token(store.as_ref(), id, &now()).await?;
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
    let runtime = tokio::runtime::Runtime::new()?;
    let opened = runtime.block_on(open_store(&loaded, true))?;
    let offices: Vec<&str> = loaded
        .settings
        .offices
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    tracing::info!(
        database = %loaded.storage.describe(),
        migrations = ?opened.applied,
        offices = ?offices,
        "database ready"
    );
    let store = opened.store;
    let closer = opened.closer;
    let live = runtime
        .block_on(store.tokens())?
        .iter()
        .filter(|t| t.revoked.is_none())
        .count();
    if live == 0 {
        tracing::warn!(
            "no API tokens yet: every request gets 401. Make them with `antrean-central token add --config {} --role ROLE --office {}`",
            config.display(),
            file.first_office_id()
        );
    }
    let keys = match KeyStore::load(&file.server.key_dir) {
        Ok(k) => k,
        Err(_)
            if !file.server.key_dir.join("active").exists()
                && matches!(loaded.storage, Storage::Sqlite(_)) =>
        {
            let kid = format!("k{}", clock.now().format("%Y%m%d"));
            KeyStore::generate(&file.server.key_dir, &kid)?;
            tracing::info!(kid, dir = %file.server.key_dir.display(), "no signing key yet: created one");
            KeyStore::load(&file.server.key_dir)?
        }
        Err(e) if !file.server.key_dir.join("active").exists() => {
            // Several instances must sign with the same keys: none makes
            // its own.
            anyhow::bail!(
                "{e}\nWith [database] (several instances), make the signing key once with `antrean-central keygen --key-dir {}` and copy that directory (mode 0700, files 0600) to every instance.",
                file.server.key_dir.display()
            );
        }
        Err(e) => return Err(e.into()),
    };
    let central = Central::new(loaded.settings.clone(), store, keys, clock);
    runtime.block_on(async move {
        if demo {
            let summaries = seed_every_office(&central, 2024).await?;
            for s in &summaries {
                tracing::info!(office = %s.office, date = %s.date, bookings = s.bookings, "demo bookings ready");
            }
            if let Some(dir) = &demo_out {
                for s in &summaries {
                    let to = if summaries.len() > 1 { dir.join(&s.office) } else { dir.clone() };
                    let files = write_demo_files(s, &to)?;
                    tracing::info!(office = %s.office, dir = %to.display(), files = files.len(), "demo codes and QR images written");
                }
                // A fresh token for the demo's staff page, in a private
                // file (never in the log); the last demo's goes. With
                // several offices it is an admin token of every office, so
                // that the page can switch between them.
                central.revoke_labelled("demo").await?;
                let (role, office) = if summaries.len() > 1 {
                    (Role::Admin, auth::ALL_OFFICES.to_string())
                } else {
                    (Role::Staff, file.first_office_id().to_string())
                };
                let (_, staff) = central.add_token(role, &office, None, Some("demo")).await?;
                let path = dir.join("staff-token");
                antrean_host::state_dir::write_private(&path, format!("{staff}\n").as_bytes())?;
                tracing::info!(file = %path.display(), role = %role, "demo staff token written (paste it into the staff page)");
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
        shutdown::notify_ready();
        serve(listener, central, async move {
            shutdown::signalled().await;
            let _ = stop_tx.send(true);
        })
        .await?;
        shutdown::close_database(closer).await;
        tracing::info!("stopped");
        Ok(())
    })
}
