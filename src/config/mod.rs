//! The kiosk's configuration: one TOML file parsed once, at start, into
//! typed values (a time zone is a `Tz`, an address a `SocketAddr`, the
//! printer a [`PrinterPort`], keys are [`TrustedKey`]s). Every error names
//! the file, the key and the fix. Nothing here opens ports or talks to the
//! network, and nothing is parsed a second time later.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::Weekday;
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

use antrean_core::keys::TrustedKey;

mod printer;
pub use printer::{
    Cutter, NetworkAddr, PrinterConfig, PrinterPort, PrinterProfile, Profiles, QrMode, QrStyle,
    StatusSupport, BUILT_IN_PROFILES, DEFAULT_PROFILE,
};
mod office_day;
mod ticket;
pub use ticket::TicketConfig;

/// Where to look for the expected form of a value.
const EXAMPLE: &str = "see config/kiosk.example.toml for the expected form";

/// A configuration problem, with the file and the key it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error(
        "cannot read configuration file {path}: {source}. Check the path and its permissions."
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid TOML{}: {message}. Fix the file; `antrean-kiosk check-config FILE` checks it.", at_line(*line))]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("configuration file {path}: key `{key}`{}: {problem}", at_line(*line))]
    Invalid {
        path: PathBuf,
        key: String,
        line: Option<usize>,
        problem: String,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub office: OfficeConfig,
    pub kiosk: KioskConfig,
    /// `[[keys]]` as written; [`Config::trusted_keys`] holds them parsed.
    #[serde(default, rename = "keys")]
    key_entries: Vec<KeyConfig>,
    pub printer: PrinterConfig,
    #[serde(default)]
    pub scanner: Option<ScannerConfig>,
    #[serde(default)]
    pub central: Option<CentralConfig>,
    #[serde(default)]
    pub ticket: TicketConfig,
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub status: Option<StatusConfig>,
    #[serde(default)]
    pub walkin: WalkinConfig,
    #[serde(default)]
    pub audio: crate::audio::AudioConfig,
    /// The keys of `[[keys]]`, parsed (filled in by [`Config::parse`]).
    #[serde(skip)]
    trusted: Vec<TrustedKey>,
    /// Where the file was read from (for messages); not a key in the file.
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeConfig {
    pub id: String,
    pub name: String,
    /// The office's time zone (default `Asia/Jakarta`, WIB).
    #[serde(default = "default_timezone", deserialize_with = "time_zone")]
    pub timezone: Tz,
    /// Breaks in the office's day, shown on the board (default 12:00-13:00).
    #[serde(
        default = "office_day::default_breaks",
        deserialize_with = "office_day::breaks"
    )]
    pub breaks: Vec<antrean_core::booking::Slot>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskConfig {
    pub id: String,
    pub state_dir: PathBuf,
    #[serde(default = "default_early")]
    pub early_minutes: u32,
    #[serde(default = "default_late")]
    pub late_minutes: u32,
    #[serde(default = "default_reprint_limit")]
    pub reprint_limit: u32,
    /// Days the journal and cached manifests are kept (privacy).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// How long a fresh ticket waits for the resident's "Prioritas" choice
    /// on the kiosk screen (0: the choice is not offered).
    #[serde(default = "default_priority_wait")]
    pub priority_wait_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyConfig {
    kid: String,
    public_key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerConfig {
    pub port: String,
    #[serde(default = "default_scanner_baud")]
    pub baud: u32,
    /// A scan without CR/LF ends after this many idle milliseconds.
    #[serde(default = "default_idle_ms")]
    pub idle_ms: u64,
}

/// Where the central service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CentralUrl {
    /// The reference service inside this process, with demo bookings.
    Embedded,
    /// A central service at this `http://` or `https://` address.
    Service(reqwest::Url),
}

impl<'de> Deserialize<'de> for CentralUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        if text == "embedded" {
            return Ok(CentralUrl::Embedded);
        }
        let bad = || {
            serde::de::Error::custom(format!(
                "{text:?} must be the central service's address, starting with https:// (or http://), or \"embedded\""
            ))
        };
        if !(text.starts_with("http://") || text.starts_with("https://")) {
            return Err(bad());
        }
        let url = reqwest::Url::parse(text).map_err(|_| bad())?;
        if url.host_str().is_none() {
            return Err(bad());
        }
        Ok(CentralUrl::Service(url))
    }
}

impl CentralUrl {
    /// True for an `http://` URL whose host is this machine (127.0.0.0/8,
    /// `::1`, `localhost`): tests and the embedded demo service.
    pub fn is_loopback(&self) -> bool {
        let CentralUrl::Service(url) = self else {
            return true;
        };
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for CentralUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CentralUrl::Embedded => f.write_str("embedded"),
            CentralUrl::Service(u) => f.write_str(u.as_str().trim_end_matches('/')),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentralConfig {
    /// Base URL of the central service, or `embedded` for the in-process one.
    pub url: CentralUrl,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// How long printing may wait for the check-in answer (`ahead`).
    #[serde(default = "default_answer_deadline_ms")]
    pub answer_deadline_ms: u64,
    /// Manifest refresh period.
    #[serde(default = "default_manifest_refresh_s")]
    pub manifest_refresh_seconds: u64,
    /// Longest wait between two tries to reach the central service.
    #[serde(default = "default_retry_max_s")]
    pub retry_max_seconds: u64,
    /// Embedded mode only: seconds between simulated counter calls (0 = none).
    #[serde(default)]
    pub simulate_counters_seconds: u64,
    /// Allow plain `http://` to a central service on another machine (a
    /// closed office network only). Loopback `http://` is always allowed.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// Which screens `run` shows.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum UiRole {
    #[default]
    Kiosk,
    Board,
    Both,
}

impl UiRole {
    pub fn shows_kiosk(self) -> bool {
        matches!(self, UiRole::Kiosk | UiRole::Both)
    }

    pub fn shows_board(self) -> bool {
        matches!(self, UiRole::Board | UiRole::Both)
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    #[serde(default)]
    pub role: UiRole,
    /// Full-screen windows (kiosk PCs).
    #[serde(default)]
    pub fullscreen: bool,
    /// Show sample booking codes as buttons (demo and training only).
    #[serde(default)]
    pub demo_panel: bool,
}

/// How much the log says; `RUST_LOG` overrides it.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`.
    #[serde(default)]
    pub level: Option<LogLevel>,
}

/// A day of the week as the configuration writes it: `mon`..`sun` (or
/// the Indonesian `senin`..`minggu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceDay(pub Weekday);

impl<'de> Deserialize<'de> for ServiceDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let day = match text.trim().to_ascii_lowercase().as_str() {
            "mon" | "senin" => Weekday::Mon,
            "tue" | "selasa" => Weekday::Tue,
            "wed" | "rabu" => Weekday::Wed,
            "thu" | "kamis" => Weekday::Thu,
            "fri" | "jumat" => Weekday::Fri,
            "sat" | "sabtu" => Weekday::Sat,
            "sun" | "minggu" => Weekday::Sun,
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "{text:?} is not a day: use mon, tue, wed, thu, fri, sat or sun"
                )))
            }
        };
        Ok(ServiceDay(day))
    }
}

/// Help for residents without a booking.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkinConfig {
    /// The office's online booking address (shown and printed as a QR code).
    #[serde(default = "default_booking_url")]
    pub booking_url: String,
    /// Where the information desk is.
    #[serde(default = "default_desk")]
    pub desk_location: String,
    /// Opening hours as printed on the slip.
    #[serde(default = "default_hours")]
    pub office_hours: String,
    /// Regular service days: "mon".."sun".
    #[serde(default = "default_working_days")]
    pub working_days: Vec<ServiceDay>,
    /// Extra service days (Saturday service), YYYY-MM-DD.
    #[serde(default)]
    pub extra_days: Vec<chrono::NaiveDate>,
    /// Closed days (public holidays), YYYY-MM-DD.
    #[serde(default)]
    pub holidays: Vec<chrono::NaiveDate>,
    /// How many service days ahead to show.
    #[serde(default = "default_days_ahead")]
    pub days_ahead: usize,
}

impl Default for WalkinConfig {
    fn default() -> Self {
        WalkinConfig {
            booking_url: default_booking_url(),
            desk_location: default_desk(),
            office_hours: default_hours(),
            working_days: default_working_days(),
            extra_days: vec![],
            holidays: vec![],
            days_ahead: default_days_ahead(),
        }
    }
}

impl WalkinConfig {
    /// The office's schedule for the walk-in core.
    pub fn schedule(&self) -> antrean_core::walkin::Schedule {
        antrean_core::walkin::Schedule {
            weekdays: self.working_days.iter().map(|d| d.0).collect(),
            extra_days: self.extra_days.iter().copied().collect(),
            holidays: self.holidays.iter().copied().collect(),
        }
    }
}

fn default_booking_url() -> String {
    "https://antrean.example.go.id".into()
}
fn default_desk() -> String {
    "Meja informasi di dekat pintu masuk · Information desk by the entrance".into()
}
fn default_hours() -> String {
    "Senin-Jumat 08.00-14.00".into()
}
fn default_working_days() -> Vec<ServiceDay> {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
    .into_iter()
    .map(ServiceDay)
    .collect()
}
fn default_days_ahead() -> usize {
    3
}

/// The local status endpoint (`/healthz`, `/metrics`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// A loopback address and port, e.g. `127.0.0.1:9180`.
    pub listen: std::net::SocketAddr,
}

fn default_timezone() -> Tz {
    chrono_tz::Asia::Jakarta
}

/// A time zone by its IANA name; anything else is an error (never a
/// silent default).
fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.trim().parse::<Tz>().map_err(|_| {
        serde::de::Error::custom(format!(
            "{name:?} is not a time zone name; use \"Asia/Jakarta\" (WIB), \"Asia/Makassar\" (WITA) or \"Asia/Jayapura\" (WIT)"
        ))
    })
}

fn default_early() -> u32 {
    30
}
fn default_late() -> u32 {
    15
}
fn default_reprint_limit() -> u32 {
    1
}
fn default_retention_days() -> u32 {
    30
}
fn default_priority_wait() -> u64 {
    6
}
fn default_scanner_baud() -> u32 {
    9600
}
fn default_idle_ms() -> u64 {
    150
}
fn default_answer_deadline_ms() -> u64 {
    800
}
fn default_manifest_refresh_s() -> u64 {
    180
}
fn default_retry_max_s() -> u64 {
    30
}
/// The line of a byte offset in `text` (1-based).
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

impl Config {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses configuration text into typed values and checks what one
    /// value alone cannot say; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| Config::serde_error(text, path, e))?;
        config.source = path.to_path_buf();
        config.trusted = config.parse_keys()?;
        if let Err((key, problem)) = config.printer.resolve() {
            return Err(config.invalid(key, problem));
        }
        config.check()?;
        Ok(config)
    }

    /// Turns a deserialisation error into one naming the key.
    fn serde_error(
        text: &str,
        path: &Path,
        e: serde_path_to_error::Error<toml::de::Error>,
    ) -> ConfigError {
        let at = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.span().map(|s| line_of(text, s.start));
        let message = inner.message().trim_end().replace('\n', " ");
        // `unknown field `x`, expected ...` / `missing field `x``: the key is
        // the field, inside the table the path names.
        let field = |prefix: &str| {
            message
                .strip_prefix(prefix)
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string)
        };
        // The path may or may not end with the field already.
        let join = |name: &str| {
            if at == "." || at.is_empty() {
                name.to_string()
            } else if at == name || at.ends_with(&format!(".{name}")) {
                at.clone()
            } else {
                format!("{at}.{name}")
            }
        };
        if let Some(name) = field("unknown field `") {
            let known = message
                .split_once("expected ")
                .map(|(_, k)| format!("; expected {}", k.replace('`', "")))
                .unwrap_or_default();
            return ConfigError::Invalid {
                path: path.to_path_buf(),
                key: join(&name),
                line,
                problem: format!("is not a known key (a typo?){known}"),
            };
        }
        if let Some(name) = field("missing field `") {
            return ConfigError::Invalid {
                path: path.to_path_buf(),
                key: join(&name),
                line,
                problem: format!("is missing; {EXAMPLE}"),
            };
        }
        if at == "." || at.is_empty() {
            return ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                message,
            };
        }
        let problem = if message.starts_with("invalid type") || message.starts_with("invalid value")
        {
            format!("{message}; {EXAMPLE}")
        } else {
            message
        };
        ConfigError::Invalid {
            path: path.to_path_buf(),
            key: at,
            line,
            problem,
        }
    }

    fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.source.clone(),
            key: key.into(),
            line: None,
            problem: problem.into(),
        }
    }

    /// `[[keys]]` as trusted keys; published test keys only for the demo office.
    fn parse_keys(&self) -> Result<Vec<TrustedKey>, ConfigError> {
        let mut keys = Vec::with_capacity(self.key_entries.len());
        for (i, key) in self.key_entries.iter().enumerate() {
            if key.kid.trim().is_empty() {
                return Err(self.invalid(&format!("keys[{i}].kid"), "must not be empty"));
            }
            let trusted = TrustedKey::from_base64(&key.kid, &key.public_key).map_err(|_| {
                self.invalid(
                    &format!("keys[{i}].public_key"),
                    "must be a 32-byte Ed25519 public key in base64url without padding (43 characters); copy it from `antrean-central keygen`",
                )
            })?;
            if let Some(published) = trusted
                .published_as()
                .filter(|_| !trusted.trustworthy_for(&self.office.id))
            {
                return Err(self.invalid(
                    &format!("keys[{i}].public_key"),
                    format!(
                        "is the published test key {published} of the booking-QR test vectors: anyone can sign QR codes with it, \
                         so a kiosk trusting it prints forged tickets. Trust only your office's own key: ask whoever runs the \
                         central booking service for its public key (`antrean-central keygen` prints it as a `public_key = \"...\"` line), \
                         or leave out [[keys]] and let the kiosk take the keys from the central service's manifest. \
                         Only the demo office (office.id = \"{}\") may trust test keys. See SECURITY.md.",
                        antrean_core::keys::DEMO_OFFICE
                    ),
                ));
            }
            keys.push(trusted);
        }
        Ok(keys)
    }

    /// What single values cannot say: ranges and keys that depend on others.
    fn check(&self) -> Result<(), ConfigError> {
        let range = |key: &str, value: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(self.invalid(key, format!("is {value}; it must be between {lo} and {hi}")))
            }
        };
        if !is_identifier(&self.office.id) {
            return Err(self.invalid(
                "office.id",
                "must be a lower-case id like \"kota-bogor\" (letters, digits, dashes), the `office` of the booking QR codes",
            ));
        }
        if self.office.name.trim().is_empty() {
            return Err(self.invalid(
                "office.name",
                "must not be empty: it is printed on every ticket",
            ));
        }
        if let Some(problem) = office_day::breaks_problem(&self.office.breaks) {
            return Err(self.invalid("office.breaks", problem));
        }
        if !is_identifier(&self.kiosk.id) {
            return Err(self.invalid(
                "kiosk.id",
                "must be an id like \"lobby-1\" (lower-case letters, digits, dashes)",
            ));
        }
        if self.kiosk.state_dir.as_os_str().is_empty() {
            return Err(self.invalid(
                "kiosk.state_dir",
                "must be a directory path such as \"/var/lib/antrean-kiosk\"",
            ));
        }
        range(
            "kiosk.early_minutes",
            self.kiosk.early_minutes.into(),
            0,
            240,
        )?;
        range("kiosk.late_minutes", self.kiosk.late_minutes.into(), 0, 240)?;
        range(
            "kiosk.retention_days",
            self.kiosk.retention_days.into(),
            1,
            3650,
        )?;
        range(
            "kiosk.priority_wait_seconds",
            self.kiosk.priority_wait_seconds,
            0,
            30,
        )?;
        range(
            "kiosk.reprint_limit",
            self.kiosk.reprint_limit.into(),
            0,
            10,
        )?;
        if !VALID_BAUDS.contains(&self.printer.baud) {
            return Err(self.invalid(
                "printer.baud",
                format!(
                    "must be one of {VALID_BAUDS:?}: the printer's own setting, often 19200 or 9600 (its self-test page shows it)"
                ),
            ));
        }
        if self.printer.columns != 48 && self.printer.columns != 32 {
            return Err(self.invalid(
                "printer.columns",
                "must be 48 (80 mm paper) or 32 (58 mm paper)",
            ));
        }
        range(
            "printer.write_timeout_ms",
            self.printer.write_timeout_ms,
            1,
            60_000,
        )?;
        range(
            "printer.status_timeout_ms",
            self.printer.status_timeout_ms,
            1,
            10_000,
        )?;
        range(
            "printer.status_every_seconds",
            self.printer.status_every_seconds,
            1,
            3600,
        )?;
        if let Some(scanner) = &self.scanner {
            if scanner.port.trim().is_empty() {
                return Err(self.invalid(
                    "scanner.port",
                    "must be a serial device such as \"/dev/ttyACM0\"",
                ));
            }
            if !VALID_BAUDS.contains(&scanner.baud) {
                return Err(self.invalid(
                    "scanner.baud",
                    format!("must be one of {VALID_BAUDS:?}: the scanner's own setting"),
                ));
            }
            range("scanner.idle_ms", scanner.idle_ms, 1, 5000)?;
        }
        if let Some(central) = &self.central {
            if let CentralUrl::Service(url) = &central.url {
                if url.scheme() == "http"
                    && !central.allow_insecure_http
                    && !central.url.is_loopback()
                {
                    return Err(self.invalid(
                        "central.url",
                        format!(
                            "is plain http:// to another machine ({}): the kiosk token and check-ins would cross the network unencrypted. Use the service's https:// address, or, only on a closed office network, set `allow_insecure_http = true` under [central]",
                            central.url
                        ),
                    ));
                }
            }
            if central.token.is_some() && central.token_file.is_some() {
                return Err(
                    self.invalid("central.token", "give either token or token_file, not both")
                );
            }
            if central.url != CentralUrl::Embedded
                && central.token.is_none()
                && central.token_file.is_none()
            {
                return Err(self.invalid(
                    "central.token",
                    "is missing: set token_file = \"/etc/antrean-kiosk/token\" (a file only the kiosk's user can read) or token",
                ));
            }
            range(
                "central.answer_deadline_ms",
                central.answer_deadline_ms,
                0,
                10_000,
            )?;
            range(
                "central.retry_max_seconds",
                central.retry_max_seconds,
                1,
                3600,
            )?;
        }
        if let Some(status) = &self.status {
            if !status.listen.ip().is_loopback() {
                return Err(self.invalid(
                    "status.listen",
                    "must be a loopback address such as 127.0.0.1:9180 (the endpoint is for this machine only)",
                ));
            }
        }
        range("walkin.days_ahead", self.walkin.days_ahead as u64, 1, 14)?;
        if let Some((key, problem)) = self.ticket.problem() {
            return Err(self.invalid(key, problem));
        }
        if let Some((key, problem)) = self.audio.problem() {
            return Err(self.invalid(key, problem));
        }
        Ok(())
    }

    /// The office time zone.
    pub fn timezone(&self) -> Tz {
        self.office.timezone
    }

    /// Keys from the configuration file.
    pub fn trusted_keys(&self) -> &[TrustedKey] {
        &self.trusted
    }

    /// The check-in rules' parameters for this office and kiosk.
    pub fn rules(&self) -> antrean_core::checkin::Rules {
        antrean_core::checkin::Rules {
            office: self.office.id.clone(),
            timezone: self.timezone(),
            early_minutes: self.kiosk.early_minutes,
            late_minutes: self.kiosk.late_minutes,
            reprint_limit: self.kiosk.reprint_limit,
        }
    }
}

const VALID_BAUDS: [u32; 7] = [2400, 4800, 9600, 19200, 38400, 57600, 115200];

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests;
