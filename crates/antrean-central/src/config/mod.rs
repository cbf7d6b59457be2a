//! `antrean-central`'s configuration file: its offices (`[office]` for
//! one, `[[offices]]` for a city; sessions, services, counters and the
//! devices each expects), listening address, storage (`[server] db` for
//! SQLite, `[database] url` or `ANTREAN_DATABASE_URL` for PostgreSQL),
//! keys, limits, booking rules.
//! Read and validated once, into [`CentralSettings`]; errors name the file,
//! the key and the fix. Tokens are not here: they live
//! hashed in the database (`antrean-central token ...`); the plaintext
//! `tokens` / `token_file` of older versions are only read to import them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::limits::Limits;
use crate::rules::{BookingRules, MAX_PREFIX_LEN};
use crate::settings::{
    breaks_between, CentralSettings, OfficeSettings, PriorityPolicy, SessionDef,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentralFile {
    /// One office (the form of a single office's service).
    #[serde(default)]
    pub office: Option<OfficeSection>,
    /// Several offices (a city's service): `[[offices]]`.
    #[serde(default)]
    pub offices: Vec<OfficeSection>,
    pub server: ServerSection,
    /// Where the data lives when not in `[server] db` (PostgreSQL).
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub rules: RulesSection,
    /// Top level: the sessions, services and counters of every office
    /// that lists none of its own.
    #[serde(default)]
    pub sessions: Vec<SessionSection>,
    #[serde(default)]
    pub services: Vec<ServiceSection>,
    #[serde(default)]
    pub counters: Vec<CounterSection>,
    /// How counters call confirmed priority arrivals (every office that
    /// has no `[offices.priority]` of its own).
    #[serde(default)]
    pub priority: Option<PrioritySection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeSection {
    pub id: String,
    pub name: String,
    #[serde(default = "jakarta")]
    pub timezone: String,
    #[serde(default = "prefix")]
    pub booking_prefix: String,
    /// The lobby kiosks this office expects (their `[kiosk] id`s).
    #[serde(default)]
    pub kiosks: Vec<String>,
    /// The board displays this office expects (their `[kiosk] id`s).
    #[serde(default)]
    pub boards: Vec<String>,
    #[serde(default)]
    pub sessions: Vec<SessionSection>,
    #[serde(default)]
    pub services: Vec<ServiceSection>,
    #[serde(default)]
    pub counters: Vec<CounterSection>,
    /// Breaks of the day (`HH:MM-HH:MM`); absent: the gaps between sessions.
    #[serde(default)]
    pub breaks: Option<Vec<String>>,
    /// Where residents book (`https://...`), shown on the public page.
    #[serde(default)]
    pub booking_url: Option<String>,
    #[serde(default)]
    pub priority: Option<PrioritySection>,
}

/// `[priority]`: `policy = "first_in_session"` (default) or
/// `"dedicated_counter"` with `counters = ["4"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrioritySection {
    #[serde(default = "first_in_session")]
    pub policy: String,
    #[serde(default)]
    pub counters: Vec<String>,
}

fn first_in_session() -> String {
    "first_in_session".into()
}

/// `[database]`: PostgreSQL for a city (several instances share it).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `postgres://user:password@host:port/database` (the
    /// `ANTREAN_DATABASE_URL` environment variable overrides it).
    #[serde(default)]
    pub url: Option<String>,
    /// Connections this instance keeps to PostgreSQL at most.
    #[serde(default = "d_db_connections")]
    pub max_connections: u32,
}

impl std::fmt::Debug for DatabaseSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSection")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl Default for DatabaseSection {
    fn default() -> DatabaseSection {
        DatabaseSection {
            url: None,
            max_connections: d_db_connections(),
        }
    }
}

fn d_db_connections() -> u32 {
    crate::store::PostgresOptions::default().max_connections
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(default = "listen")]
    pub listen: String,
    /// The SQLite database (one instance); not used with `[database] url`.
    #[serde(default)]
    pub db: Option<PathBuf>,
    pub key_dir: PathBuf,
    /// Old (before roles): plaintext tokens that could do everything. Only
    /// read by `token import --from-config`; `serve` refuses to start
    /// while they are present.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Old, as `tokens`: a file with one token per line.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default = "ping")]
    pub ping_seconds: u64,
    #[serde(default = "d_max_connections")]
    pub max_connections: usize,
    #[serde(default = "d_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    #[serde(default = "d_request_timeout_seconds")]
    pub request_timeout_seconds: u64,
    #[serde(default = "d_max_body_bytes")]
    pub max_body_bytes: usize,
    #[serde(default = "d_max_streams_per_office")]
    pub max_streams_per_office: usize,
    #[serde(default = "d_writes_per_minute")]
    pub writes_per_minute: u32,
    #[serde(default = "d_write_burst")]
    pub write_burst: u32,
    #[serde(default = "d_event_retention_days")]
    pub event_retention_days: u32,
    #[serde(default = "d_maintenance_seconds")]
    pub maintenance_seconds: u64,
}

/// Booking and check-in rules (`[rules]`, all optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    #[serde(default = "d_horizon_days")]
    pub booking_horizon_days: u32,
    #[serde(default = "d_early")]
    pub early_minutes: u32,
    #[serde(default = "d_late")]
    pub late_minutes: u32,
    #[serde(default = "d_skew")]
    pub clock_skew_minutes: u32,
    #[serde(default = "d_name")]
    pub max_name_chars: usize,
    #[serde(default = "d_notice")]
    pub max_notice_chars: usize,
}

impl Default for RulesSection {
    fn default() -> RulesSection {
        let r = BookingRules::default();
        RulesSection {
            booking_horizon_days: r.horizon_days,
            early_minutes: r.early_minutes,
            late_minutes: r.late_minutes,
            clock_skew_minutes: r.clock_skew_minutes,
            max_name_chars: r.max_name_chars,
            max_notice_chars: r.max_notice_chars,
        }
    }
}

fn d_horizon_days() -> u32 {
    BookingRules::default().horizon_days
}
fn d_early() -> u32 {
    BookingRules::default().early_minutes
}
fn d_late() -> u32 {
    BookingRules::default().late_minutes
}
fn d_skew() -> u32 {
    BookingRules::default().clock_skew_minutes
}
fn d_name() -> usize {
    BookingRules::default().max_name_chars
}
fn d_notice() -> usize {
    BookingRules::default().max_notice_chars
}
fn d_max_connections() -> usize {
    Limits::default().max_connections
}
fn d_header_read_timeout_ms() -> u64 {
    Limits::default().header_read_timeout.as_millis() as u64
}
fn d_request_timeout_seconds() -> u64 {
    Limits::default().request_timeout.as_secs()
}
fn d_max_body_bytes() -> usize {
    Limits::default().max_body_bytes
}
fn d_max_streams_per_office() -> usize {
    Limits::default().max_streams_per_office
}
fn d_writes_per_minute() -> u32 {
    Limits::default().writes_per_minute
}
fn d_write_burst() -> u32 {
    Limits::default().write_burst
}
fn d_event_retention_days() -> u32 {
    7
}
fn d_maintenance_seconds() -> u64 {
    3600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    pub slot: String,
    pub letter: String,
    pub quota: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterSection {
    pub id: String,
    pub label: String,
}

fn jakarta() -> String {
    "Asia/Jakarta".into()
}
fn prefix() -> String {
    "BGR".into()
}
fn listen() -> String {
    "127.0.0.1:8080".into()
}
fn ping() -> u64 {
    15
}

/// Why the configuration cannot be used: the file, the key, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: cannot read it: {source}. Check the path given to --config.")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}. See config/central.example.toml for every key.")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: key `{}`: {}; {}", .invalid.key, .invalid.problem, .invalid.fix)]
    Invalid { path: PathBuf, invalid: Invalid },
    #[error("{path}: key `{key}`: {problem}")]
    OldTokens {
        path: PathBuf,
        key: &'static str,
        problem: String,
    },
}

/// A value that is not allowed: which key, what is wrong, what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: String,
    pub problem: String,
    pub fix: String,
}

fn invalid(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Where the service keeps its data.
#[derive(Clone, PartialEq, Eq)]
pub enum Storage {
    /// One SQLite file: one instance (a single office, the demo, tests).
    Sqlite(PathBuf),
    /// PostgreSQL: one database for every instance of the service.
    Postgres { url: String, max_connections: u32 },
}

impl Storage {
    /// What the log and messages may show: never a password.
    pub fn describe(&self) -> String {
        match self {
            Storage::Sqlite(path) => format!("SQLite {}", path.display()),
            Storage::Postgres { url, .. } => format!("PostgreSQL {}", redact_url(url)),
        }
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A database URL without its password (`postgres://antrean:***@host/db`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".into();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    // Query parameters may carry a password too.
    let host = host.split('?').next().unwrap_or_default();
    match auth {
        Some(a) => {
            let user = a.split(':').next().unwrap_or_default();
            let hidden = if a.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}")
        }
        None => format!("{scheme}://{host}"),
    }
}

/// The configuration, read and validated.
#[derive(Debug, Clone)]
pub struct CentralConfig {
    /// The file as written (paths, old tokens).
    pub file: CentralFile,
    /// What the service runs with.
    pub settings: CentralSettings,
    /// Where the data is.
    pub storage: Storage,
}

/// The environment variable that sets (or overrides) `[database] url`.
pub const DATABASE_URL_ENV: &str = "ANTREAN_DATABASE_URL";

impl CentralFile {
    /// Reads and validates the file once; `ANTREAN_DATABASE_URL` (when set
    /// and not empty) overrides `[database] url`.
    pub fn load(path: &Path) -> Result<CentralConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let env_url = std::env::var(DATABASE_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty());
        CentralFile::parse(&text, path, env_url)
    }

    /// [`CentralFile::load`] of `text` (read from `path`), with the
    /// environment's database URL given.
    pub fn parse(
        text: &str,
        path: &Path,
        env_url: Option<String>,
    ) -> Result<CentralConfig, ConfigError> {
        let file: CentralFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let fail = |invalid| ConfigError::Invalid {
            path: path.to_path_buf(),
            invalid,
        };
        let settings = file.settings().map_err(fail)?;
        let storage = file.storage(env_url).map_err(fail)?;
        Ok(CentralConfig {
            file,
            settings,
            storage,
        })
    }

    /// The offices as written: `[office]` or `[[offices]]`.
    pub fn office_sections(&self) -> Vec<&OfficeSection> {
        self.office.iter().chain(&self.offices).collect()
    }

    /// The first office's id (old databases belong to it).
    pub fn first_office_id(&self) -> &str {
        self.office_sections()
            .first()
            .map(|o| o.id.as_str())
            .unwrap_or_default()
    }

    fn storage(&self, env_url: Option<String>) -> Result<Storage, Invalid> {
        let url = env_url.or_else(|| self.database.url.clone());
        match (url, &self.server.db) {
            (Some(url), _) => {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(invalid(
                        "database.url",
                        format!("{} is not a PostgreSQL URL", redact_url(&url)),
                        "write postgres://USER:PASSWORD@HOST:PORT/DATABASE (or leave [database] out and set [server] db for SQLite)",
                    ));
                }
                if self.database.max_connections == 0 {
                    return Err(invalid(
                        "database.max_connections",
                        "0 is not allowed",
                        "use 1 or more",
                    ));
                }
                Ok(Storage::Postgres {
                    url,
                    max_connections: self.database.max_connections,
                })
            }
            (None, Some(db)) => Ok(Storage::Sqlite(db.clone())),
            (None, None) => Err(invalid(
                "server.db",
                "no database is configured",
                format!(
                    "set [server] db = \"/var/lib/antrean-central/central.sqlite3\" (one instance), or [database] url = \"postgres://...\" or {DATABASE_URL_ENV} (several instances)"
                ),
            )),
        }
    }

    /// The old plaintext tokens from `tokens` and `token_file` (which must
    /// be private), in order: what `token import --from-config N` counts.
    pub fn old_tokens(&self, config: &Path) -> Result<Vec<String>, ConfigError> {
        let mut tokens = self.server.tokens.clone();
        if let Some(path) = &self.server.token_file {
            use std::os::unix::fs::PermissionsExt;
            let fail = |problem: String| ConfigError::OldTokens {
                path: config.to_path_buf(),
                key: "server.token_file",
                problem,
            };
            let meta =
                std::fs::metadata(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(fail(format!(
                    "{} can be read by other users; run chmod 600 on it",
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| fail(format!("{}: {e}", path.display())))?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
        Ok(tokens)
    }

    /// True while the old `tokens` / `token_file` keys are present.
    pub fn has_old_tokens(&self) -> bool {
        !self.server.tokens.is_empty() || self.server.token_file.is_some()
    }

    /// What `serve` says while old plaintext tokens are configured: which
    /// commands move them into the database with a role each.
    pub fn migration_help(&self, config: &Path) -> String {
        let n = self.old_tokens(config).map(|t| t.len()).unwrap_or(0);
        let office = self.first_office_id();
        let cfg = config.display();
        let mut text = format!(
            "{cfg}: [server] `tokens` / `token_file` hold {n} plaintext token(s) that could do everything. \
             Tokens now have one role each (kiosk, board, booking, staff, admin) and are stored hashed in the database. \
             Move each old token into the database with the role it should keep, for example:\n"
        );
        for i in 1..=n.max(1) {
            text.push_str(&format!(
                "  antrean-central token import --config {cfg} --from-config {i} --role kiosk --office {office} --kiosk <KIOSK-ID>   # a kiosk's token (its [kiosk] id)\n"
            ));
            if i == 1 {
                text.push_str(&format!(
                    "  antrean-central token import --config {cfg} --from-config {i} --role staff --office {office}   # or: the staff page's token\n"
                ));
            }
        }
        text.push_str(&format!(
            "or make new ones with `antrean-central token add --config {cfg} --role ROLE --office {office}`. \
             Then delete `tokens` and `token_file` from [server] in {cfg} and start again."
        ));
        text
    }

    /// One office's settings, validated; `key` names it in errors
    /// (`office` or `offices[N]`).
    fn office_settings(&self, key: &str, o: &OfficeSection) -> Result<OfficeSettings, Invalid> {
        let timezone = o.timezone.parse().map_err(|_| {
            invalid(
                format!("{key}.timezone"),
                format!("{:?} is not a time zone", o.timezone),
                "write an IANA name such as \"Asia/Jakarta\", \"Asia/Makassar\" or \"Asia/Jayapura\"",
            )
        })?;
        if !crate::auth::is_identifier(&o.id) {
            return Err(invalid(
                format!("{key}.id"),
                format!("{:?} is not an office id", o.id),
                "use 1-64 lower-case letters, digits, - or _ (the kiosks' [office] id)",
            ));
        }
        let mut s = OfficeSettings::standard(&o.id, &o.name);
        s.timezone = timezone;
        s.booking_prefix = o.booking_prefix.clone();
        // The office's own lists, else the top-level ones, else the standard.
        let sessions = if o.sessions.is_empty() {
            &self.sessions
        } else {
            &o.sessions
        };
        let sessions_key = if o.sessions.is_empty() {
            "sessions".to_string()
        } else {
            format!("{key}.sessions")
        };
        if !sessions.is_empty() {
            s.sessions = sessions
                .iter()
                .map(|x| SessionDef {
                    slot: x.slot.clone(),
                    letter: x.letter.clone(),
                    quota: x.quota,
                })
                .collect();
        }
        for (i, x) in s.sessions.iter().enumerate() {
            if antrean_core::booking::Slot::parse(&x.slot).is_none() {
                return Err(invalid(
                    format!("{sessions_key}[{i}].slot"),
                    format!("{:?} is not a session", x.slot),
                    "write HH:MM-HH:MM, the start before the end, e.g. \"08:00-09:00\"",
                ));
            }
            if s.sessions[..i]
                .iter()
                .any(|y| y.slot == x.slot || y.letter == x.letter)
            {
                return Err(invalid(
                    format!("{sessions_key}[{i}]"),
                    format!("slot {:?} or letter {:?} is listed twice", x.slot, x.letter),
                    "give each session its own slot and letter",
                ));
            }
        }
        let services = if o.services.is_empty() {
            &self.services
        } else {
            &o.services
        };
        if !services.is_empty() {
            s.services = services
                .iter()
                .map(|x| (x.code.clone(), x.name.clone()))
                .collect();
        }
        let counters = if o.counters.is_empty() {
            &self.counters
        } else {
            &o.counters
        };
        if !counters.is_empty() {
            s.counters = counters
                .iter()
                .map(|x| (x.id.clone(), x.label.clone()))
                .collect();
        }
        let prefix_ok = s.booking_prefix.len() <= MAX_PREFIX_LEN
            && antrean_core::booking::is_booking_code(&crate::rules::booking_code(
                &s.booking_prefix,
                chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default(),
                1,
            ));
        if !prefix_ok {
            return Err(invalid(
                format!("{key}.booking_prefix"),
                format!("{:?} cannot start a booking code", s.booking_prefix),
                format!("use 1-{MAX_PREFIX_LEN} upper-case letters or digits, e.g. \"BGR\""),
            ));
        }
        for (list, ids) in [("kiosks", &o.kiosks), ("boards", &o.boards)] {
            for (i, id) in ids.iter().enumerate() {
                let twice = o
                    .kiosks
                    .iter()
                    .chain(&o.boards)
                    .filter(|d| *d == id)
                    .count()
                    > 1;
                if !crate::auth::is_identifier(id) || twice {
                    return Err(invalid(
                        format!("{key}.{list}[{i}]"),
                        format!("{id:?} is not a device id, or is listed twice"),
                        "use each device's [kiosk] id once: 1-64 lower-case letters, digits, - or _",
                    ));
                }
            }
        }
        s.kiosks = o.kiosks.clone();
        s.boards = o.boards.clone();
        s.breaks = match &o.breaks {
            None => breaks_between(&s.sessions),
            Some(list) => {
                for (i, b) in list.iter().enumerate() {
                    if antrean_core::booking::Slot::parse(b).is_none() {
                        return Err(invalid(
                            format!("{key}.breaks[{i}]"),
                            format!("{b:?} is not a break"),
                            "write HH:MM-HH:MM, the start before the end, e.g. \"12:00-13:00\"",
                        ));
                    }
                }
                list.clone()
            }
        };
        s.booking_url = match o.booking_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                let ok = (url.starts_with("https://") || url.starts_with("http://"))
                    && url.len() <= 200
                    && !url
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || "\"<>'`".contains(c));
                if !ok {
                    return Err(invalid(
                        format!("{key}.booking_url"),
                        format!("{url:?} is not a web address"),
                        "write https://... (at most 200 characters, no spaces or quotes), or leave it out",
                    ));
                }
                Some(url.to_string())
            }
        };
        let (priority, priority_key) = match (&o.priority, &self.priority) {
            (Some(p), _) => (Some(p), format!("{key}.priority")),
            (None, p) => (p.as_ref(), "priority".to_string()),
        };
        if let Some(p) = priority {
            s.priority = match p.policy.as_str() {
                "first_in_session" if p.counters.is_empty() => PriorityPolicy::FirstInSession,
                "first_in_session" => {
                    return Err(invalid(
                        format!("{priority_key}.counters"),
                        "counters are only for policy = \"dedicated_counter\"",
                        "remove counters, or set policy = \"dedicated_counter\"",
                    ))
                }
                "dedicated_counter" => {
                    if p.counters.is_empty() {
                        return Err(invalid(
                            format!("{priority_key}.counters"),
                            "a dedicated counter policy needs its counters",
                            "list them, e.g. counters = [\"4\"]",
                        ));
                    }
                    if let Some(c) = p.counters.iter().find(|c| !s.has_counter(c)) {
                        return Err(invalid(
                            format!("{priority_key}.counters"),
                            format!("office {:?} has no counter {c:?}", s.id),
                            "use ids of its [[counters]]",
                        ));
                    }
                    PriorityPolicy::DedicatedCounter(p.counters.clone())
                }
                other => {
                    return Err(invalid(
                        format!("{priority_key}.policy"),
                        format!("{other:?} is not a policy"),
                        "write \"first_in_session\" or \"dedicated_counter\"",
                    ))
                }
            };
        }
        Ok(s)
    }

    /// The service settings, validated.
    fn settings(&self) -> Result<CentralSettings, Invalid> {
        let sections: Vec<(String, &OfficeSection)> = match (&self.office, self.offices.is_empty())
        {
            (Some(_), false) => {
                return Err(invalid(
                    "office",
                    "both [office] and [[offices]] are present",
                    "keep [office] for one office, or move it into [[offices]] for several",
                ))
            }
            (Some(o), true) => vec![("office".to_string(), o)],
            (None, false) => self
                .offices
                .iter()
                .enumerate()
                .map(|(i, o)| (format!("offices[{i}]"), o))
                .collect(),
            (None, true) => {
                return Err(invalid(
                    "office",
                    "no office is configured",
                    "add an [office] table (one office) or [[offices]] tables (several)",
                ))
            }
        };
        let mut offices: Vec<OfficeSettings> = Vec::with_capacity(sections.len());
        for (key, o) in &sections {
            let s = self.office_settings(key, o)?;
            if offices.iter().any(|x| x.id == s.id) {
                return Err(invalid(
                    format!("{key}.id"),
                    format!("office {:?} is listed twice", s.id),
                    "give each office its own id",
                ));
            }
            if let Some(x) = offices
                .iter()
                .find(|x| x.booking_prefix == s.booking_prefix)
            {
                return Err(invalid(
                    format!("{key}.booking_prefix"),
                    format!(
                        "{:?} is office {:?}'s prefix too; booking codes must tell offices apart",
                        s.booking_prefix, x.id
                    ),
                    "give each office its own booking_prefix, e.g. \"BKS\" and \"BKS-TMR\"",
                ));
            }
            offices.push(s);
        }
        let mut s = CentralSettings::with_offices(offices);
        s.ping_every = std::time::Duration::from_secs(self.server.ping_seconds.clamp(1, 15));
        let sv = &self.server;
        let positive = [
            ("server.max_connections", sv.max_connections as u64),
            ("server.header_read_timeout_ms", sv.header_read_timeout_ms),
            ("server.request_timeout_seconds", sv.request_timeout_seconds),
            ("server.max_body_bytes", sv.max_body_bytes as u64),
            (
                "server.max_streams_per_office",
                sv.max_streams_per_office as u64,
            ),
            ("server.writes_per_minute", u64::from(sv.writes_per_minute)),
            ("server.write_burst", u64::from(sv.write_burst)),
            (
                "server.event_retention_days",
                u64::from(sv.event_retention_days),
            ),
            ("server.maintenance_seconds", sv.maintenance_seconds),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(invalid(key, "0 is not allowed", "use 1 or more"));
            }
        }
        s.limits = Limits {
            max_connections: sv.max_connections,
            header_read_timeout: std::time::Duration::from_millis(sv.header_read_timeout_ms),
            request_timeout: std::time::Duration::from_secs(sv.request_timeout_seconds),
            max_body_bytes: sv.max_body_bytes,
            max_streams_per_office: sv.max_streams_per_office,
            writes_per_minute: sv.writes_per_minute,
            write_burst: sv.write_burst,
        };
        s.event_retention_days = sv.event_retention_days;
        s.maintenance_every = std::time::Duration::from_secs(sv.maintenance_seconds);
        let r = &self.rules;
        s.rules = BookingRules {
            horizon_days: r.booking_horizon_days,
            early_minutes: r.early_minutes,
            late_minutes: r.late_minutes,
            clock_skew_minutes: r.clock_skew_minutes,
            max_name_chars: r.max_name_chars,
            max_notice_chars: r.max_notice_chars,
        };
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
