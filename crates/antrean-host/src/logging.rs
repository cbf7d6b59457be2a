//! Log set-up: plain text for people, or one JSON object per line
//! (`--log-format json`, journald- and machine-friendly). Levels come from
//! `RUST_LOG`, else `[log] level`, else `info`. What is logged never
//! identifies a person: booking codes and queue numbers only.

use tracing_subscriber::EnvFilter;

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber (once per process; later calls are no-ops).
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(level.unwrap_or("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(false).compact().try_init(),
    };
}

/// The exit status of a process that panicked (Rust's own convention).
pub const PANIC_EXIT_CODE: i32 = 101;

/// Makes a panic on any thread end the whole process with
/// [`PANIC_EXIT_CODE`], after logging where it happened. A daemon with a
/// dead kiosk loop or sync task must not carry on looking healthy: systemd
/// restarts it, and the journal (committed before paper) loses nothing.
pub fn exit_on_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        let thread = std::thread::current();
        tracing::error!(
            thread = thread.name().unwrap_or("unnamed"),
            location = %info.location().map(|l| l.to_string()).unwrap_or_default(),
            "internal error (panic): exiting so that the service manager restarts the process"
        );
        std::process::exit(PANIC_EXIT_CODE);
    }));
}
