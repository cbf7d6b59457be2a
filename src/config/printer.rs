//! `[printer]`: where tickets go ([`PrinterPort`]: a serial line, a USB
//! printer-class device, a network printer, or the virtual printer), how to
//! talk to it, and the printer's [`PrinterProfile`] (paper width, code page,
//! QR, cutter, status) from the profiles file. Parsing only: nothing here
//! opens a device or a socket.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// The profiles shipped with the kiosk (also installed by the `.deb` as
/// `/usr/share/antrean-kiosk/printer-profiles.toml`).
pub const BUILT_IN_PROFILES: &str = include_str!("../../config/printer-profiles.toml");

/// Where the `.deb` installs the shipped profiles, and where an office adds
/// or changes its own (later files win, profile by profile).
pub const PROFILE_FILES: [&str; 2] = [
    "/usr/share/antrean-kiosk/printer-profiles.toml",
    "/etc/antrean-kiosk/printer-profiles.toml",
];

/// The profile used when `[printer] profile` is not set.
pub const DEFAULT_PROFILE: &str = "generic-80mm";

/// A network printer's address (`tcp://host:9100`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAddr {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for NetworkAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "tcp://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "tcp://{}:{}", self.host, self.port)
        }
    }
}

/// Where tickets go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrinterPort {
    /// `virtual`: each ticket is filed in `state_dir/tickets/` (demo, training).
    Virtual,
    /// A serial device (USB-serial or RS-232), e.g. `/dev/antrean-printer`.
    /// A path that turns out to be a USB printer-class device (a symlink to
    /// `/dev/usb/lp0`) is driven as one.
    Serial(PathBuf),
    /// A USB printer-class device (kernel `usblp`): `/dev/usb/lp0`, or any
    /// path written as `usb:/path`.
    UsbClass(PathBuf),
    /// A network printer on raw TCP (port 9100): `tcp://192.0.2.10:9100`.
    Network(NetworkAddr),
}

impl fmt::Display for PrinterPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrinterPort::Virtual => f.write_str("virtual"),
            PrinterPort::Serial(p) => write!(f, "{}", p.display()),
            PrinterPort::UsbClass(p) if p.starts_with("/dev/usb/") => write!(f, "{}", p.display()),
            PrinterPort::UsbClass(p) => write!(f, "usb:{}", p.display()),
            PrinterPort::Network(a) => a.fmt(f),
        }
    }
}

impl PrinterPort {
    /// Parses a `port` value.
    pub fn parse(text: &str) -> Result<PrinterPort, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must be a serial device such as \"/dev/ttyUSB0\", a USB printer such as \"/dev/usb/lp0\", a network printer such as \"tcp://192.0.2.10:9100\", or \"virtual\"".into());
        }
        if text == "virtual" {
            return Ok(PrinterPort::Virtual);
        }
        if let Some(rest) = text.strip_prefix("tcp://") {
            return parse_network(rest).map(PrinterPort::Network);
        }
        if text.contains("://") {
            return Err(format!(
                "{text:?}: only tcp:// network printers are supported (raw port 9100, e.g. \"tcp://192.0.2.10:9100\")"
            ));
        }
        if let Some(path) = text.strip_prefix("usb:") {
            return Ok(PrinterPort::UsbClass(PathBuf::from(path)));
        }
        if text.starts_with("/dev/usb/") {
            return Ok(PrinterPort::UsbClass(PathBuf::from(text)));
        }
        Ok(PrinterPort::Serial(PathBuf::from(text)))
    }
}

fn parse_network(rest: &str) -> Result<NetworkAddr, String> {
    let rest = rest.trim_end_matches('/');
    let bad =
        || format!("\"tcp://{rest}\" must be a host and port such as \"tcp://192.0.2.10:9100\"");
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() || host.contains('/') || host.contains('@') {
        return Err(bad());
    }
    let port = match port {
        None => 9100,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?,
    };
    Ok(NetworkAddr {
        host: host.to_string(),
        port,
    })
}

impl<'de> Deserialize<'de> for PrinterPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PrinterPort::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How the ticket's QR codes are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum QrMode {
    /// The printer's own QR command when the profile has it, otherwise the
    /// booking code in large text.
    #[default]
    Auto,
    /// Always the printer's own QR command (`GS ( k`).
    Native,
    /// A raster image (`GS v 0`) when the profile has no native QR: the
    /// ticket grows to several KiB (see docs/ticket.md).
    Raster,
    /// Never a QR code: the code in large text.
    Text,
}

/// The cutter a printer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cutter {
    Full,
    Partial,
    None,
}

/// Which status a printer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusSupport {
    /// Real-time status `DLE EOT 1-4`.
    DleEot,
    /// None: its state is unknown; a ticket counts as printed when every
    /// byte went out.
    None,
}

/// What a printer model can do (one entry of the profiles file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterProfile {
    /// The profile's name (the table's key; filled in when loaded).
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// Columns of font A: 48 (80 mm) or 32 (58 mm).
    pub columns: u8,
    /// `ESC t n`: the code page selected at the start of every ticket.
    pub code_page: u8,
    /// The code page's name (for `print-test`), e.g. `PC437`.
    pub code_page_name: String,
    /// The printer has the native QR command (`GS ( k`).
    pub native_qr: bool,
    pub cutter: Cutter,
    pub status: StatusSupport,
}

/// The profiles known to this kiosk, by name.
#[derive(Debug, Clone, Default)]
pub struct Profiles(pub BTreeMap<String, PrinterProfile>);

impl Profiles {
    /// Parses one profiles file (`source` names it in messages).
    pub fn parse(text: &str, source: &str) -> Result<Profiles, String> {
        let map: BTreeMap<String, PrinterProfile> =
            toml::from_str(text).map_err(|e| format!("printer profiles {source}: {e}"))?;
        let mut out = BTreeMap::new();
        for (name, mut p) in map {
            if p.columns != 48 && p.columns != 32 {
                return Err(format!(
                    "printer profiles {source}: [{name}] columns must be 48 (80 mm) or 32 (58 mm)"
                ));
            }
            p.name.clone_from(&name);
            out.insert(name, p);
        }
        Ok(Profiles(out))
    }

    /// The shipped profiles, then the installed and the office's files
    /// (each may add or replace profiles), then `extra` when set.
    pub fn load(extra: Option<&Path>) -> Result<Profiles, String> {
        let mut all = Profiles::parse(BUILT_IN_PROFILES, "(built in)")?;
        for file in PROFILE_FILES {
            if let Ok(text) = std::fs::read_to_string(file) {
                all.0.extend(Profiles::parse(&text, file)?.0);
            }
        }
        if let Some(path) = extra {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            all.0
                .extend(Profiles::parse(&text, &path.display().to_string())?.0);
        }
        Ok(all)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    /// A serial device, a USB printer (`/dev/usb/lp0`), a network printer
    /// (`tcp://host:9100`), or `virtual` for the file-backed virtual printer.
    pub port: PrinterPort,
    /// The printer model: a name from the profiles file (default
    /// `generic-80mm`, or `generic-58mm` with `columns = 32`).
    #[serde(default, rename = "profile")]
    pub profile_name: Option<String>,
    /// An extra profiles file (added over the shipped and installed ones).
    #[serde(default)]
    pub profiles_file: Option<PathBuf>,
    /// How QR codes are printed (`auto`, `native`, `raster`, `text`).
    #[serde(default)]
    pub qr: QrMode,
    #[serde(default = "default_printer_baud")]
    pub baud: u32,
    /// Columns; the profile's when not set.
    #[serde(default)]
    pub columns: u8,
    /// Milliseconds a write may take before the printer counts as stuck.
    #[serde(default = "default_write_timeout_ms")]
    pub write_timeout_ms: u64,
    /// Milliseconds to connect to a network printer.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// RTS/CTS hardware flow control.
    #[serde(default)]
    pub flow_control: bool,
    /// How long to wait for the answer to a status query.
    #[serde(default = "default_status_timeout_ms")]
    pub status_timeout_ms: u64,
    /// Seconds between status queries while idle.
    #[serde(default = "default_status_every_s")]
    pub status_every_seconds: u64,
    /// The resolved profile (filled in by [`PrinterConfig::resolve`]).
    #[serde(skip, default = "unresolved")]
    pub profile: PrinterProfile,
}

fn unresolved() -> PrinterProfile {
    PrinterProfile {
        name: DEFAULT_PROFILE.into(),
        description: "80 mm ESC/POS printer".into(),
        columns: 48,
        code_page: 0,
        code_page_name: "PC437".into(),
        native_qr: true,
        cutter: Cutter::Partial,
        status: StatusSupport::DleEot,
    }
}

impl PrinterConfig {
    /// Looks the profile up and fills in what the file left to it
    /// (`columns`). Errors are `(key, problem)`.
    pub fn resolve(&mut self) -> Result<(), (&'static str, String)> {
        let profiles = Profiles::load(self.profiles_file.as_deref())
            .map_err(|e| ("printer.profiles_file", e))?;
        let name = match (&self.profile_name, self.columns) {
            (Some(name), _) => name.trim().to_string(),
            (None, 32) => "generic-58mm".to_string(),
            (None, _) => DEFAULT_PROFILE.to_string(),
        };
        let profile = profiles.0.get(&name).cloned().ok_or_else(|| {
            (
                "printer.profile",
                format!(
                    "{name:?} is not a known printer profile; known: {}. Add your printer to /etc/antrean-kiosk/printer-profiles.toml (see README, \"The printer on the first day\")",
                    profiles.0.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        if self.columns == 0 {
            self.columns = profile.columns;
        }
        if self.qr == QrMode::Native && !profile.native_qr {
            return Err((
                "printer.qr",
                format!(
                    "is \"native\" but profile {name} has no native QR command; use \"raster\" (bigger tickets) or \"auto\" (the code in large text)"
                ),
            ));
        }
        self.profile = profile;
        Ok(())
    }

    /// How the ticket's QR codes come out with this profile and `qr`.
    pub fn qr_style(&self) -> QrStyle {
        match (self.qr, self.profile.native_qr) {
            (QrMode::Text, _) => QrStyle::Text,
            (QrMode::Native, _) | (QrMode::Auto | QrMode::Raster, true) => QrStyle::Native,
            (QrMode::Raster, false) => QrStyle::Raster,
            (QrMode::Auto, false) => QrStyle::Text,
        }
    }
}

/// How a QR code is put on paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrStyle {
    /// `GS ( k`.
    Native,
    /// `GS v 0` raster image.
    Raster,
    /// The data in large text.
    Text,
}

fn default_printer_baud() -> u32 {
    19200
}
fn default_write_timeout_ms() -> u64 {
    3000
}
fn default_connect_timeout_ms() -> u64 {
    2000
}
fn default_status_timeout_ms() -> u64 {
    500
}
fn default_status_every_s() -> u64 {
    5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_to_their_transport() {
        let cases: Vec<(&str, Result<PrinterPort, ()>)> = vec![
            ("virtual", Ok(PrinterPort::Virtual)),
            (
                "/dev/ttyUSB0",
                Ok(PrinterPort::Serial("/dev/ttyUSB0".into())),
            ),
            (
                "/dev/usb/lp0",
                Ok(PrinterPort::UsbClass("/dev/usb/lp0".into())),
            ),
            (
                "usb:/dev/antrean-printer",
                Ok(PrinterPort::UsbClass("/dev/antrean-printer".into())),
            ),
            (
                "tcp://192.0.2.10:9100",
                Ok(PrinterPort::Network(NetworkAddr {
                    host: "192.0.2.10".into(),
                    port: 9100,
                })),
            ),
            (
                "tcp://printer.local",
                Ok(PrinterPort::Network(NetworkAddr {
                    host: "printer.local".into(),
                    port: 9100,
                })),
            ),
            (
                "tcp://[::1]:9101",
                Ok(PrinterPort::Network(NetworkAddr {
                    host: "::1".into(),
                    port: 9101,
                })),
            ),
            ("tcp://:9100", Err(())),
            ("tcp://host:0", Err(())),
            ("tcp://host:http", Err(())),
            ("http://192.0.2.10", Err(())),
            ("", Err(())),
        ];
        for (text, expect) in cases {
            let got = PrinterPort::parse(text).map_err(|_| ());
            assert_eq!(got, expect, "{text}");
            if let Ok(port) = got {
                assert_eq!(
                    PrinterPort::parse(&port.to_string()).unwrap(),
                    port,
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn shipped_profiles_are_complete() {
        let p = Profiles::parse(BUILT_IN_PROFILES, "built in").unwrap();
        for name in [
            "epson-tm-t82",
            "epson-tm-t88",
            "xprinter-xp-58",
            "xprinter-xp-80",
            "generic-80mm",
            "generic-58mm",
        ] {
            assert!(p.0.contains_key(name), "{name}");
        }
        assert!(p.0.values().any(|p| !p.native_qr));
        assert!(p.0.values().any(|p| p.status == StatusSupport::None));
        assert!(p.0.values().any(|p| p.cutter == Cutter::None));
    }

    #[test]
    fn qr_style_follows_profile_and_choice() {
        let mut c: PrinterConfig = toml::from_str("port = \"virtual\"").unwrap();
        for (native, mode, style) in [
            (true, QrMode::Auto, QrStyle::Native),
            (true, QrMode::Raster, QrStyle::Native),
            (true, QrMode::Text, QrStyle::Text),
            (false, QrMode::Auto, QrStyle::Text),
            (false, QrMode::Raster, QrStyle::Raster),
        ] {
            c.profile.native_qr = native;
            c.qr = mode;
            assert_eq!(c.qr_style(), style, "{native} {mode:?}");
        }
    }
}
