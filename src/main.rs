//! `antrean-kiosk`: the command line. Thin: parses arguments, loads the
//! configuration, and calls the library. Exit codes: 0 fine, 1 failure,
//! 2 bad configuration or arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use antrean_core::api::CheckinRequest;
use antrean_core::checkin::{at_office, preview_booking};
use antrean_core::keys::KeyRing;
use antrean_host::clock::Clock;
use antrean_host::logging::{self, LogFormat};
use antrean_kiosk::app::{demo_codes, read_token, App, AppOptions};
use antrean_kiosk::central::client::{CentralClient, ClientError, ManifestFetch};
use antrean_kiosk::config::{CentralUrl, Config};
use antrean_kiosk::daemon::ScanSource;
use antrean_kiosk::journal::Journal;
use antrean_kiosk::kiosk::{compose_ticket, sample_booking, TicketContext};
use antrean_kiosk::metrics::Metrics;
use antrean_kiosk::printer::Printer;
use antrean_kiosk::ui::run::{ScreenSettings, ScreenWindows};
use antrean_kiosk::{escpos_decode, manifest_cache};

#[derive(Parser)]
#[command(
    name = "antrean-kiosk",
    version,
    about = "Lobby kiosk and queue-ticket printer for Disdukcapil offices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the kiosk daemon.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// No screen: scans from the serial scanner (or standard input), tickets to the printer.
        #[arg(long)]
        headless: bool,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Validate a configuration file (exit 0 when fine, 2 with the problem).
    CheckConfig { file: PathBuf },
    /// Print the decoded ticket as text, exactly what the printer would get.
    TicketPreview {
        #[arg(long)]
        config: PathBuf,
        /// A booking QR token or booking code to preview.
        #[arg(long, conflicts_with = "sample")]
        token: Option<String>,
        /// Preview a sample ticket.
        #[arg(long)]
        sample: bool,
    },
    /// Print a test page on the configured printer (its profile, the code
    /// page's characters, both QR codes) and report what the printer said.
    PrintTest {
        #[arg(long)]
        config: PathBuf,
    },
    /// List the printers this kiosk can see, ask each for its status, and
    /// print the [printer] lines that would use it (stop the kiosk first).
    PrinterDetect {
        #[arg(long)]
        config: PathBuf,
        /// Also ask this port (a device path, usb:PATH or tcp://host:port).
        #[arg(long)]
        port: Vec<String>,
    },
    /// Ask the printer for its real-time status (exit 1 when it cannot print).
    PrinterStatus {
        #[arg(long)]
        config: PathBuf,
    },
    /// The day's check-ins, reprints, rejections and printer faults,
    /// reconciled against the central service (unacknowledged check-ins are sent again).
    Report {
        #[arg(long)]
        config: PathBuf,
        /// The service date (default: today in the office's time zone).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
}

fn main() -> ExitCode {
    logging::exit_on_panic();
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(c) => {
                println!(
                    "{}: OK (office {}, kiosk {}, printer {}, {} trusted key(s))",
                    file.display(),
                    c.office.id,
                    c.kiosk.id,
                    c.printer.port,
                    c.trusted_keys().len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            config,
            headless,
            log_format,
        } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            logging::init(log_format, config.log.level.map(|l| l.as_str()));
            report(run(config, headless))
        }
        Command::TicketPreview {
            config,
            token,
            sample,
        } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            report(preview(&config, token.as_deref(), sample))
        }
        Command::PrintTest { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            report(print_test(&config))
        }
        Command::PrinterDetect { config, port } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            printer_detect(&config, &port)
        }
        Command::PrinterStatus { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let mut printer = Printer::from_config(
                &config.printer,
                &config.kiosk.state_dir,
                Arc::new(Metrics::new()),
            );
            let status = printer.check();
            println!(
                "{}: {}{}",
                printer.describe(),
                status.state.as_str(),
                status.detail.map(|d| format!(" ({d})")).unwrap_or_default()
            );
            if status.state.can_print() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Report { config, date } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            report(day_report(&config, date))
        }
    }
}

fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("antrean-kiosk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config, headless: bool) -> anyhow::Result<()> {
    let clock = Clock::from_env()?;
    if headless {
        let mut app = App::start(&config, AppOptions::configured(clock))?;
        let waited = app.wait();
        app.stop();
        return Ok(waited?);
    }
    // The screens: the kiosk loop's scans come from the serial scanner and
    // the screen's keyboard wedge; the board says its calls aloud.
    let role = config.ui.role;
    let app = App::start(
        &config,
        AppOptions {
            source: ScanSource::SerialOnly,
            announce: role.shows_board(),
            ..AppOptions::configured(clock)
        },
    )?;
    let demo = if config.ui.demo_panel {
        demo_codes(&config, clock)
    } else {
        Vec::new()
    };
    let shown = (|| -> anyhow::Result<()> {
        let windows = ScreenWindows::open(&ScreenSettings::from_config(&config), &demo)?;
        let feed = app.attach_screens(windows.presenter())?;
        app.on_stop_signal(antrean_kiosk::ui::run::quit);
        windows.run(feed)?;
        Ok(())
    })();
    app.stop();
    shown
}

/// The booking a preview shows: a verified token (any date), a cached
/// booking code, or the sample.
fn preview(config: &Config, token: Option<&str>, sample: bool) -> anyhow::Result<()> {
    let clock = Clock::from_env()?;
    let now = at_office(clock.now(), config.timezone());
    let manifest = manifest_cache::load(&config.kiosk.state_dir, now.date_naive())
        .ok()
        .flatten();
    let booking = match (token, sample) {
        (Some(scan), _) => {
            let mut keys = KeyRing::new(config.trusted_keys().to_vec());
            if let Some(m) = &manifest {
                keys.extend(m.trusted_keys());
            }
            // A preview checks the signature and the office but not the time.
            preview_booking(scan, &config.rules(), &keys, manifest.as_ref())
                .map_err(|r| anyhow::anyhow!("this scan would be refused: {}", r.reason))?
        }
        _ => sample_booking(now.date_naive()),
    };
    let ctx = TicketContext::from_config(config, manifest.as_ref());
    let ticket = compose_ticket(&ctx, &booking, now, false, false, None, None);
    let bytes = antrean_kiosk::printer::encode::encode_ticket(&ticket);
    let elements = escpos_decode::decode(&bytes).context("decoding our own ticket")?;
    print!(
        "{}",
        escpos_decode::render_text(&elements, config.printer.columns)
    );
    println!("({} bytes)", bytes.len());
    Ok(())
}

fn print_test(config: &Config) -> anyhow::Result<()> {
    use antrean_kiosk::printer::encode::{encode_test_page, Encoding};
    let clock = Clock::from_env()?;
    let now = at_office(clock.now(), config.timezone());
    let booking = sample_booking(now.date_naive());
    let p = &config.printer;
    let profile = &p.profile;
    let lines = vec![
        format!("Profil  : {}", profile.name),
        format!("  {}", profile.description),
        format!("Kolom   : {}", p.columns),
        format!(
            "Kode hal: {} (ESC t {})",
            profile.code_page_name, profile.code_page
        ),
        format!("QR      : {:?}", p.qr_style()).to_lowercase(),
        format!("Pemotong: {:?}", profile.cutter).to_lowercase(),
        format!("Status  : {:?}", profile.status).to_lowercase(),
        format!("Port    : {}", p.port),
    ];
    let qrs = [booking.booking.as_str(), config.walkin.booking_url.as_str()];
    let bytes = encode_test_page(p.columns, &lines, &qrs, &Encoding::from_config(p));
    let mut printer = Printer::from_config(p, &config.kiosk.state_dir, Arc::new(Metrics::new()));
    println!("printer: {}", printer.describe());
    println!(
        "profile: {} ({}), {} columns, code page {} (ESC t {}), QR {:?}, cutter {:?}, status {:?}",
        profile.name,
        profile.description,
        p.columns,
        profile.code_page_name,
        profile.code_page,
        p.qr_style(),
        profile.cutter,
        profile.status
    );
    let result = printer.ready().and_then(|()| printer.print(&bytes, "test"));
    let said = printer.health().borrow().clone();
    println!(
        "printer said / jawaban printer: {}{}",
        said.state.as_str(),
        said.detail.map(|d| format!(" ({d})")).unwrap_or_default()
    );
    result.with_context(|| format!("printing on {}", printer.describe()))?;
    println!(
        "test page sent / halaman tes terkirim: {} bytes, QR codes: {}",
        bytes.len(),
        qrs.join(", ")
    );
    Ok(())
}

fn printer_detect(config: &Config, extra: &[String]) -> ExitCode {
    use antrean_kiosk::printer::detect;
    let scanner = config.scanner.as_ref().map(|s| s.port.as_str());
    let ports = detect::candidates(&config.printer, scanner, extra);
    if ports.is_empty() {
        println!("Tidak ada printer terlihat / no printer found: plug it in, switch it on, and check `ls /dev/usb/ /dev/ttyUSB* /dev/ttyACM*`.");
        return ExitCode::FAILURE;
    }
    let mut usable = 0;
    for port in ports {
        let found = detect::probe(&config.printer, &port);
        let state = match found.state {
            Some(s) => s.as_str().to_string(),
            None if found.reachable => "no status".into(),
            None => "not reachable".into(),
        };
        let detail = if found.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", found.detail)
        };
        println!("{}: {state}{detail}", found.port);
        if let Some(lines) = found.config_lines() {
            usable += 1;
            println!("  [printer]");
            for l in lines.lines() {
                println!("  {l}");
            }
        }
    }
    if usable == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn day_report(config: &Config, date: Option<chrono::NaiveDate>) -> anyhow::Result<()> {
    let clock = Clock::from_env()?;
    let date = date.unwrap_or_else(|| at_office(clock.now(), config.timezone()).date_naive());
    let journal = Journal::open(&config.kiosk.state_dir)?;
    let checkins = journal.checkins_on(date)?;
    let outcomes = journal.scan_counts(date)?;
    let faults = journal.printer_faults(date)?;
    let client = match &config.central {
        Some(c) if c.url != CentralUrl::Embedded => Some(CentralClient::new(
            &c.url.to_string(),
            &config.office.id,
            &read_token(c)?,
        )?),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let manifest =
        client.as_ref().and_then(
            |client| match runtime.block_on(client.manifest(date, None)) {
                Ok(ManifestFetch::Fresh { manifest, .. }) => Some(manifest),
                Ok(ManifestFetch::NotModified) => None,
                Err(e) => {
                    eprintln!("central service not reachable for reconciliation: {e}");
                    None
                }
            },
        );
    let day = antrean_kiosk::report::build(
        date,
        &checkins,
        outcomes.clone(),
        faults.clone(),
        manifest.as_deref(),
    );
    print!("{}", day.render());
    // Unacknowledged check-ins go out again under the outbox's rules: only
    // the contract's definitive answers refuse one; anything else leaves it
    // for the kiosk's outbox.
    if let Some(client) = &client {
        let mut resent = 0;
        for booking in &day.unacknowledged {
            let Some(rec) = checkins.iter().find(|c| &c.booking == booking) else {
                continue;
            };
            let request = CheckinRequest {
                booking: rec.booking.clone(),
                number: rec.number.clone(),
                kiosk: config.kiosk.id.clone(),
                checked_in_at: rec.checked_in_at.to_rfc3339(),
                offline: rec.offline,
            };
            match runtime.block_on(client.checkin(&request)) {
                Ok(answer) => {
                    journal.mark_sent(
                        &rec.booking,
                        at_office(clock.now(), config.timezone()),
                        answer.ahead,
                        answer.estimated_call.as_deref(),
                    )?;
                    resent += 1;
                }
                Err(ClientError::Refused { code, .. }) => {
                    journal.mark_refused(&rec.booking, &code)?;
                    println!(
                        "  {booking}: ditolak pusat / refused by the central service ({code})"
                    );
                }
                Err(e) => {
                    println!("  {booking}: belum terkirim / not sent, the kiosk keeps trying ({e})")
                }
            }
        }
        if !day.unacknowledged.is_empty() {
            println!(
                "Dikirim ulang / re-sent: {resent} of {}",
                day.unacknowledged.len()
            );
        }
    }
    Ok(())
}
