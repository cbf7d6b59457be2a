//! `antrean-central`'s configuration file: office, listening address,
//! storage, keys, tokens, sessions, services and counters. Validated once,
//! errors name the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{CentralSettings, SessionDef};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentralFile {
    pub office: OfficeSection,
    pub server: ServerSection,
    #[serde(default)]
    pub sessions: Vec<SessionSection>,
    #[serde(default)]
    pub services: Vec<ServiceSection>,
    #[serde(default)]
    pub counters: Vec<CounterSection>,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(default = "listen")]
    pub listen: String,
    pub db: PathBuf,
    pub key_dir: PathBuf,
    #[serde(default)]
    pub tokens: Vec<String>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default = "ping")]
    pub ping_seconds: u64,
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

/// A configuration problem naming the file and key.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct CentralConfigError {
    pub path: PathBuf,
    pub problem: String,
}

impl CentralFile {
    pub fn load(path: &Path) -> Result<CentralFile, CentralConfigError> {
        let fail = |problem: String| CentralConfigError {
            path: path.to_path_buf(),
            problem,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let file: CentralFile =
            toml::from_str(&text).map_err(|e| fail(e.to_string().replace('\n', " ")))?;
        file.settings(Vec::new()).map_err(fail)?;
        Ok(file)
    }

    /// The tokens from `tokens` and `token_file` (which must be private).
    pub fn tokens(&self) -> Result<Vec<String>, String> {
        let mut tokens = self.server.tokens.clone();
        if let Some(path) = &self.server.token_file {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("server.token_file {}: {e}", path.display()))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "server.token_file {} can be read by other users; run chmod 600 on it",
                    path.display()
                ));
            }
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("server.token_file: {e}"))?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
        if tokens.is_empty() {
            return Err(
                "key `server.tokens` (or server.token_file) must give at least one token".into(),
            );
        }
        Ok(tokens)
    }

    /// The service settings, validated.
    pub fn settings(&self, tokens: Vec<String>) -> Result<CentralSettings, String> {
        let timezone = self.office.timezone.parse().map_err(|_| {
            format!(
                "key `office.timezone`: {:?} is not a time zone",
                self.office.timezone
            )
        })?;
        let mut s = CentralSettings::standard(&self.office.id, &self.office.name, tokens);
        s.timezone = timezone;
        s.booking_prefix = self.office.booking_prefix.clone();
        s.ping_every = std::time::Duration::from_secs(self.server.ping_seconds.clamp(1, 15));
        if !self.sessions.is_empty() {
            s.sessions = self
                .sessions
                .iter()
                .map(|x| SessionDef {
                    slot: x.slot.clone(),
                    letter: x.letter.clone(),
                    quota: x.quota,
                })
                .collect();
        }
        for (i, x) in s.sessions.iter().enumerate() {
            if crate::core::booking::Slot::parse(&x.slot).is_none() {
                return Err(format!(
                    "key `sessions[{i}].slot`: {:?} is not HH:MM-HH:MM",
                    x.slot
                ));
            }
        }
        if !self.services.is_empty() {
            s.services = self
                .services
                .iter()
                .map(|x| (x.code.clone(), x.name.clone()))
                .collect();
        }
        if !self.counters.is_empty() {
            s.counters = self
                .counters
                .iter()
                .map(|x| (x.id.clone(), x.label.clone()))
                .collect();
        }
        if !crate::core::booking::is_booking_code(&format!("{}-000000-00001", s.booking_prefix)) {
            return Err("key `office.booking_prefix` must be upper-case letters or digits".into());
        }
        Ok(s)
    }
}
