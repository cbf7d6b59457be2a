//! The kiosk's configuration: one TOML file parsed into typed structs and
//! validated once at start. Errors name the file and the key. Nothing here
//! opens ports or talks to the network.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use antrean_core::keys::TrustedKey;

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
    #[error("configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("configuration file {path}: key `{key}` {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub office: OfficeConfig,
    pub kiosk: KioskConfig,
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
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
    /// Where the file was read from (for messages); not a key in the file.
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeConfig {
    pub id: String,
    pub name: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub kid: String,
    pub public_key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    /// A serial device path, or `virtual` for the file-backed virtual printer.
    pub port: String,
    #[serde(default = "default_printer_baud")]
    pub baud: u32,
    #[serde(default = "default_columns")]
    pub columns: u8,
    /// Milliseconds a write may take before the printer counts as stuck.
    #[serde(default = "default_write_timeout_ms")]
    pub write_timeout_ms: u64,
    /// RTS/CTS hardware flow control.
    #[serde(default)]
    pub flow_control: bool,
    /// How long to wait for the answer to a status query.
    #[serde(default = "default_status_timeout_ms")]
    pub status_timeout_ms: u64,
    /// Seconds between status queries while idle.
    #[serde(default = "default_status_every_s")]
    pub status_every_seconds: u64,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentralConfig {
    /// Base URL of the central service, or `embedded` for the in-process one.
    pub url: String,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketConfig {
    #[serde(default = "default_footer")]
    pub footer: Vec<String>,
}

impl Default for TicketConfig {
    fn default() -> Self {
        TicketConfig {
            footer: default_footer(),
        }
    }
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

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`; `RUST_LOG` overrides it.
    #[serde(default)]
    pub level: Option<String>,
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
    pub working_days: Vec<String>,
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
            weekdays: self
                .working_days
                .iter()
                .filter_map(|d| weekday(d))
                .collect(),
            extra_days: self.extra_days.iter().copied().collect(),
            holidays: self.holidays.iter().copied().collect(),
        }
    }
}

fn weekday(s: &str) -> Option<chrono::Weekday> {
    match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "senin" => Some(chrono::Weekday::Mon),
        "tue" | "selasa" => Some(chrono::Weekday::Tue),
        "wed" | "rabu" => Some(chrono::Weekday::Wed),
        "thu" | "kamis" => Some(chrono::Weekday::Thu),
        "fri" | "jumat" => Some(chrono::Weekday::Fri),
        "sat" | "sabtu" => Some(chrono::Weekday::Sat),
        "sun" | "minggu" => Some(chrono::Weekday::Sun),
        _ => None,
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
fn default_working_days() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| d.to_string())
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

fn default_timezone() -> String {
    "Asia/Jakarta".into()
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
fn default_printer_baud() -> u32 {
    19200
}
fn default_columns() -> u8 {
    48
}
fn default_write_timeout_ms() -> u64 {
    3000
}
fn default_status_timeout_ms() -> u64 {
    500
}
fn default_status_every_s() -> u64 {
    5
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
fn default_footer() -> Vec<String> {
    vec![
        "Harap menunggu panggilan di layar.".into(),
        "Simpan tiket ini.".into(),
    ]
}

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        config.source = path.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.source.clone(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !is_identifier(&self.office.id) {
            return Err(self.invalid(
                "office.id",
                "must be a lower-case id like \"kota-bogor\" (letters, digits, dashes)",
            ));
        }
        if self.office.name.trim().is_empty() {
            return Err(self.invalid("office.name", "must not be empty"));
        }
        self.office.timezone.parse::<Tz>().map_err(|_| {
            self.invalid(
                "office.timezone",
                format!(
                    "\"{}\" is not a time zone name; use e.g. \"Asia/Jakarta\", \"Asia/Makassar\" or \"Asia/Jayapura\"",
                    self.office.timezone
                ),
            )
        })?;
        if !is_identifier(&self.kiosk.id) {
            return Err(self.invalid(
                "kiosk.id",
                "must be an id like \"lobby-1\" (letters, digits, dashes)",
            ));
        }
        if self.kiosk.state_dir.as_os_str().is_empty() {
            return Err(self.invalid("kiosk.state_dir", "must be a directory path"));
        }
        if self.kiosk.early_minutes > 240 {
            return Err(self.invalid("kiosk.early_minutes", "must be between 0 and 240"));
        }
        if self.kiosk.late_minutes > 240 {
            return Err(self.invalid("kiosk.late_minutes", "must be between 0 and 240"));
        }
        if !(1..=3650).contains(&self.kiosk.retention_days) {
            return Err(self.invalid("kiosk.retention_days", "must be between 1 and 3650"));
        }
        if self.kiosk.reprint_limit > 10 {
            return Err(self.invalid("kiosk.reprint_limit", "must be between 0 and 10"));
        }
        for (i, key) in self.keys.iter().enumerate() {
            if key.kid.trim().is_empty() {
                return Err(self.invalid(&format!("keys[{i}].kid"), "must not be empty"));
            }
            let trusted = TrustedKey::from_base64(&key.kid, &key.public_key).map_err(|_| {
                self.invalid(
                    &format!("keys[{i}].public_key"),
                    "must be a 32-byte Ed25519 public key in base64url without padding",
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
        }
        if self.printer.port.trim().is_empty() {
            return Err(self.invalid(
                "printer.port",
                "must be a serial device such as \"/dev/ttyUSB0\" or \"virtual\"",
            ));
        }
        if !VALID_BAUDS.contains(&self.printer.baud) {
            return Err(self.invalid(
                "printer.baud",
                format!(
                    "must be one of {VALID_BAUDS:?} (the printer's setting, often 19200 or 9600)"
                ),
            ));
        }
        if self.printer.columns != 48 && self.printer.columns != 32 {
            return Err(self.invalid(
                "printer.columns",
                "must be 48 (80 mm paper) or 32 (58 mm paper)",
            ));
        }
        if self.printer.write_timeout_ms == 0 {
            return Err(self.invalid("printer.write_timeout_ms", "must be above 0"));
        }
        if let Some(scanner) = &self.scanner {
            if scanner.port.trim().is_empty() {
                return Err(self.invalid(
                    "scanner.port",
                    "must be a serial device such as \"/dev/ttyACM0\"",
                ));
            }
            if !VALID_BAUDS.contains(&scanner.baud) {
                return Err(self.invalid("scanner.baud", format!("must be one of {VALID_BAUDS:?}")));
            }
            if scanner.idle_ms == 0 || scanner.idle_ms > 5000 {
                return Err(self.invalid("scanner.idle_ms", "must be between 1 and 5000"));
            }
        }
        if let Some(central) = &self.central {
            let url = central.url.trim();
            if url != "embedded" && !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(self.invalid(
                    "central.url",
                    "must start with http:// or https://, or be \"embedded\"",
                ));
            }
            if url.starts_with("http://") && !central.allow_insecure_http && !is_loopback_url(url) {
                return Err(self.invalid(
                    "central.url",
                    format!(
                        "is plain http:// to another machine ({url}): the kiosk token and check-ins would cross the network unencrypted. Use the service's https:// address, or, only on a closed office network, set `allow_insecure_http = true` under [central]"
                    ),
                ));
            }
            if central.token.is_some() && central.token_file.is_some() {
                return Err(
                    self.invalid("central.token", "give either token or token_file, not both")
                );
            }
            if url != "embedded" && central.token.is_none() && central.token_file.is_none() {
                return Err(self.invalid("central.token", "is missing (or set central.token_file)"));
            }
        }
        if let Some(status) = &self.status {
            if !status.listen.ip().is_loopback() {
                return Err(self.invalid(
                    "status.listen",
                    "must be a loopback address such as 127.0.0.1:9180 (the endpoint is for this machine only)",
                ));
            }
        }
        for (i, d) in self.walkin.working_days.iter().enumerate() {
            if weekday(d).is_none() {
                return Err(self.invalid(
                    &format!("walkin.working_days[{i}]"),
                    format!("{d:?} is not a day: use mon, tue, wed, thu, fri, sat or sun"),
                ));
            }
        }
        if let Err(problem) = self.audio.validate() {
            let key = problem.split('`').nth(1).unwrap_or("audio").to_string();
            return Err(self.invalid(
                &key,
                problem.split(": ").last().unwrap_or(&problem).to_string(),
            ));
        }
        if !(1..=14).contains(&self.walkin.days_ahead) {
            return Err(self.invalid("walkin.days_ahead", "must be between 1 and 14"));
        }
        if self.ticket.footer.len() > 4 {
            return Err(self.invalid("ticket.footer", "may hold at most 4 lines"));
        }
        Ok(())
    }

    /// The office time zone (validated at load).
    pub fn timezone(&self) -> Tz {
        self.office
            .timezone
            .parse()
            .unwrap_or(chrono_tz::Asia::Jakarta)
    }

    /// Keys from the configuration file (validated at load).
    pub fn trusted_keys(&self) -> Vec<TrustedKey> {
        self.keys
            .iter()
            .filter_map(|k| TrustedKey::from_base64(&k.kid, &k.public_key).ok())
            .collect()
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

/// True for an `http://` URL whose host is this machine (127.0.0.0/8,
/// `::1`, `localhost`): tests and the embedded demo service.
fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

const VALID_BAUDS: [u32; 7] = [2400, 4800, 9600, 19200, 38400, 57600, 115200];

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[office]
id = "kota-bogor"
name = "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor"
timezone = "Asia/Jakarta"
[kiosk]
id = "lobby-1"
state_dir = "/tmp/x"
[[keys]]
kid = "k2026a"
public_key = "YGlgFhe4paP0hkZsDgH6JSkkXOPlyBaNTq8zggz68a4"
[printer]
port = "virtual"
"#;

    fn check(text: &str, expect_key: Option<&str>) {
        let result = Config::parse(text, Path::new("kiosk.toml"));
        match (result, expect_key) {
            (Ok(_), None) => {}
            (Err(e), Some(key)) => {
                let msg = e.to_string();
                assert!(msg.contains(key), "error {msg:?} should name {key:?}");
                assert!(
                    msg.contains("kiosk.toml"),
                    "error {msg:?} should name the file"
                );
            }
            (Ok(_), Some(key)) => panic!("expected an error about {key}"),
            (Err(e), None) => panic!("unexpected error: {e}"),
        }
    }

    #[test]
    fn good_config_parses_with_defaults() {
        let c = Config::parse(GOOD, Path::new("kiosk.toml")).unwrap();
        assert_eq!(c.kiosk.early_minutes, 30);
        assert_eq!(c.kiosk.late_minutes, 15);
        assert_eq!(c.kiosk.reprint_limit, 1);
        assert_eq!(c.printer.columns, 48);
        assert_eq!(c.trusted_keys().len(), 1);
        assert!(c.scanner.is_none());
    }

    #[test]
    fn bad_configs_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "timezone = \"Asia/Jakarta\"",
                "timezone = \"Mars/Olympus\"",
                "office.timezone",
            ),
            (
                "port = \"virtual\"",
                "port = \"virtual\"\ncolumns = 40",
                "printer.columns",
            ),
            (
                "port = \"virtual\"",
                "port = \"virtual\"\nbaud = 12345",
                "printer.baud",
            ),
            ("id = \"lobby-1\"", "id = \"Lobby 1\"", "kiosk.id"),
            (
                "YGlgFhe4paP0hkZsDgH6JSkkXOPlyBaNTq8zggz68a4",
                "not-a-key",
                "keys[0].public_key",
            ),
            // The spec vectors' keys are published: no real office trusts them.
            (
                "YGlgFhe4paP0hkZsDgH6JSkkXOPlyBaNTq8zggz68a4",
                "fnMA8bqxc-ap9RYG7LrXNR37RPbLIoqgSpC1nMj3R6Q",
                "published test key k2024a",
            ),
            (
                "YGlgFhe4paP0hkZsDgH6JSkkXOPlyBaNTq8zggz68a4",
                "y3QRZDmSofskewOyX1jhu_WuiWvrhxTZ20DjGB8zn1w",
                "published test key k2024b",
            ),
            (
                "port = \"virtual\"",
                "port = \"virtual\"\ncolour = 1",
                "colour",
            ),
            ("[printer]", "[printer]\nport2 = 1", "port2"),
            ("state_dir = \"/tmp/x\"", "", "state_dir"),
            (
                "[printer]",
                "[status]\nlisten = \"0.0.0.0:9180\"\n[printer]",
                "status.listen",
            ),
        ];
        for (from, to, key) in cases {
            check(&GOOD.replacen(from, to, 1), Some(key));
        }
        check(GOOD, None);
        // ... but the demo office may, for training with the spec's samples.
        check(
            &GOOD.replacen("kota-bogor", "demo", 1).replacen(
                "YGlgFhe4paP0hkZsDgH6JSkkXOPlyBaNTq8zggz68a4",
                "fnMA8bqxc-ap9RYG7LrXNR37RPbLIoqgSpC1nMj3R6Q",
                1,
            ),
            None,
        );
        check(
            &format!("{GOOD}\n[central]\nurl = \"ftp://x\"\ntoken = \"t\"\n"),
            Some("central.url"),
        );
        check(
            &format!("{GOOD}\n[central]\nurl = \"http://127.0.0.1:9\"\n"),
            Some("central.token"),
        );
        check("this is not toml = = ", Some("kiosk.toml"));
    }

    #[test]
    fn plain_http_only_to_this_machine_unless_allowed() {
        // (url, allow_insecure_http, accepted)
        let cases: &[(&str, Option<bool>, bool)] = &[
            ("https://antrean.example.go.id", None, true),
            ("https://10.0.0.5:8443", None, true),
            ("http://127.0.0.1:9000", None, true),
            ("http://127.9.9.9", None, true),
            ("http://[::1]:9000", None, true),
            ("http://localhost:9000", None, true),
            ("http://LOCALHOST", None, true),
            ("http://antrean.example.go.id", None, false),
            ("http://10.0.0.5:8080", None, false),
            ("http://192.168.1.20", Some(false), false),
            ("http://localhost.example.com", None, false),
            ("http://127.0.0.1.example.com", None, false),
            ("http://[::ffff:10.0.0.5]", None, false),
            ("http://10.0.0.5:8080", Some(true), true),
            ("http://antrean.example.go.id", Some(true), true),
        ];
        for (url, allow, accepted) in cases {
            let allow = allow
                .map(|a| format!("allow_insecure_http = {a}\n"))
                .unwrap_or_default();
            let text = format!("{GOOD}\n[central]\nurl = \"{url}\"\ntoken = \"t\"\n{allow}");
            match Config::parse(&text, Path::new("kiosk.toml")) {
                Ok(_) => assert!(accepted, "{url} {allow}: accepted"),
                Err(e) => {
                    assert!(!accepted, "{url} {allow}: {e}");
                    let msg = e.to_string();
                    for needle in [
                        "kiosk.toml",
                        "central.url",
                        "https://",
                        "allow_insecure_http = true",
                    ] {
                        assert!(msg.contains(needle), "{msg:?} should say {needle:?}");
                    }
                }
            }
        }
    }
}
