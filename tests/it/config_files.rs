//! Every configuration file the project ships (`config/*.toml`: the
//! kiosk's and the central service's) parses with the real parser of its
//! program, and the kiosk's parser gives what the examples say.

use std::path::{Path, PathBuf};

use antrean_kiosk::config::{CentralUrl, Config, PrinterPort, UiRole};

fn shipped() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        // The printer profiles are data of their own (checked below).
        .filter(|p| !p.ends_with("printer-profiles.toml"))
        .collect();
    files.sort();
    files
}

fn is_central(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("central"))
}

#[test]
fn every_shipped_config_parses_with_its_programs_parser() {
    let files = shipped();
    let (central, kiosk): (Vec<&PathBuf>, Vec<&PathBuf>) =
        files.iter().partition(|p| is_central(p));
    assert!(kiosk.len() >= 2, "kiosk examples: {kiosk:?}");
    assert!(central.len() >= 2, "central examples: {central:?}");
    for path in kiosk {
        if let Err(e) = Config::load(path) {
            panic!("{}: {e}", path.display());
        }
    }
    for path in central {
        if let Err(e) = antrean_central::config::CentralFile::load(path) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn the_shipped_printer_profiles_are_the_built_in_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let text = std::fs::read_to_string(dir.join("printer-profiles.toml")).unwrap();
    assert_eq!(text, antrean_kiosk::config::BUILT_IN_PROFILES);
    let profiles = antrean_kiosk::config::Profiles::parse(&text, "shipped").unwrap();
    // Every shipped profile is listed in the README.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for name in profiles.0.keys() {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README lists profile {name}"
        );
    }
}

#[test]
fn the_kiosk_examples_say_what_they_mean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let example = Config::load(&dir.join("kiosk.example.toml")).unwrap();
    assert_eq!(example.timezone(), chrono_tz::Asia::Jakarta);
    assert_eq!(
        example.printer.port,
        PrinterPort::Serial("/dev/antrean-printer".into())
    );
    assert!(
        matches!(&example.central, Some(c) if matches!(&c.url, CentralUrl::Service(u) if u.scheme() == "https"))
    );
    assert!(
        example.trusted_keys().is_empty(),
        "the example trusts no key"
    );
    assert_eq!(
        example.status.as_ref().map(|s| s.listen.to_string()),
        Some("127.0.0.1:9180".to_string())
    );
    // The seeds' day: sessions 08:00-12:00 and 13:00-14:00 around the
    // lunch break; the status link on the ticket.
    assert_eq!(example.ticket.status_url, "https://antrean.example.go.id");
    assert_eq!(
        example.audio.languages,
        [
            antrean_core::announce::Language::Id,
            antrean_core::announce::Language::En
        ]
    );
    assert_eq!(example.kiosk.priority_wait_seconds, 6);
    let demo = Config::load(&dir.join("demo.toml")).unwrap();
    for c in [&example, &demo] {
        let breaks: Vec<String> = c.office.breaks.iter().map(|b| b.wire()).collect();
        assert_eq!(breaks, ["12:00-13:00"], "{}", c.source.display());
    }
    assert_eq!(demo.printer.port, PrinterPort::Virtual);
    assert!(matches!(&demo.central, Some(c) if c.url == CentralUrl::Embedded));
    assert_eq!(demo.ui.role, UiRole::Both);
}

/// What the `.deb` brings for printers and the kiosk without X: udev names
/// for usblp and the common USB-serial chips, the `lp` group, cage.
#[test]
fn the_package_brings_printer_names_groups_and_cage() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let rules = read("config/99-antrean.rules");
    for needle in [
        "SUBSYSTEM==\"usbmisc\", KERNEL==\"lp[0-9]*\", SYMLINK+=\"antrean-printer\", GROUP=\"lp\"",
        "ATTRS{idVendor}==\"1a86\"",
        "ATTRS{idVendor}==\"067b\"",
        "ATTRS{idVendor}==\"0403\"",
        "ATTRS{idVendor}==\"10c4\"",
        "SYMLINK+=\"antrean-scanner\"",
    ] {
        assert!(rules.contains(needle), "99-antrean.rules lacks {needle}");
    }
    assert!(read("debian/postinst").contains("for g in lp dialout"));
    let cargo = read("Cargo.toml");
    assert!(cargo.contains("recommends = \"cage\""));
    for asset in [
        "config/printer-profiles.toml",
        "config/antrean-kiosk-cage.service",
    ] {
        assert!(
            cargo.contains(&format!("[\"{asset}\"")),
            "the .deb installs {asset}"
        );
    }
    let unit = read("config/antrean-kiosk-cage.service");
    assert!(unit.contains("ExecStart=/usr/bin/cage -d -s -- /usr/bin/antrean-kiosk run"));
    assert!(unit.contains("Conflicts=antrean-kiosk.service"));
    assert!(read("config/antrean-kiosk.service").contains("SupplementaryGroups=lp dialout"));
}
