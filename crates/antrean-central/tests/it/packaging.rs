//! The systemd unit (`config/antrean-central.service`) and the `.deb`'s
//! metadata (`[package.metadata.deb]` of this crate) agree, without
//! running cargo-deb: the unit's key lines (notify, its own user, state
//! directory, hardening, a stop timeout longer than the graceful stop);
//! every path it names is one the package installs or creates; every
//! asset's source exists; the maintainer scripts create the user, the
//! state directory and the configuration from the shipped example only
//! when it is missing; the example keeps its state in the state directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use antrean_central::shutdown::{CLOSE_DATABASE_WITHIN, DRAIN_WITHIN};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `Key=value` lines of a unit (all values of a key, in order).
fn unit_lines(text: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with('[') || line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once('=').expect("Key=value");
        out.entry(k.to_string()).or_default().push(v.to_string());
    }
    out
}

struct Deb {
    meta: toml::Table,
    /// (source, destination) of every asset.
    assets: Vec<(String, String)>,
}

fn deb() -> Deb {
    let manifest: toml::Table = read(&crate_dir().join("Cargo.toml")).parse().unwrap();
    let meta = manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone();
    let assets = meta["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    Deb { meta, assets }
}

impl Deb {
    /// The absolute path an asset is installed at (a destination ending in
    /// `/` keeps the source's file name).
    fn installed(&self) -> Vec<String> {
        self.assets
            .iter()
            .map(|(src, dst)| {
                let dst = if dst.ends_with('/') {
                    let name = Path::new(src).file_name().unwrap().to_str().unwrap();
                    format!("{dst}{name}")
                } else {
                    dst.clone()
                };
                format!("/{dst}")
            })
            .collect()
    }

    fn script(&self, name: &str) -> String {
        let dir = self.meta["maintainer-scripts"].as_str().unwrap();
        read(&crate_dir().join(dir).join(name))
    }
}

#[test]
fn the_unit_is_hardened_and_stops_gracefully() {
    let unit = read(&crate_dir().join("../../config/antrean-central.service"));
    let lines = unit_lines(&unit);
    let one = |k: &str| -> &str {
        let v = lines.get(k).unwrap_or_else(|| panic!("{k}= missing"));
        &v[0]
    };
    for (key, want) in [
        ("Type", "notify"),
        ("User", "antrean-central"),
        ("StateDirectory", "antrean-central"),
        ("StateDirectoryMode", "0700"),
        ("UMask", "0077"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("KillSignal", "SIGTERM"),
        ("Restart", "always"),
        ("WantedBy", "multi-user.target"),
    ] {
        assert_eq!(one(key), want, "{key}=");
    }
    // systemd waits longer than the service's own bounds before SIGKILL.
    let stop: u64 = one("TimeoutStopSec").parse().unwrap();
    assert!(
        stop > (DRAIN_WITHIN + CLOSE_DATABASE_WITHIN).as_secs(),
        "TimeoutStopSec={stop}"
    );
    let exec = one("ExecStart");
    assert!(
        exec.starts_with(
            "/usr/bin/antrean-central serve --config /etc/antrean-central/central.toml"
        ),
        "{exec}"
    );
    assert_eq!(lines["ReadWritePaths"], ["/var/lib/antrean-central"]);
}

#[test]
fn the_package_installs_what_the_unit_names() {
    let deb = deb();
    let unit = read(&crate_dir().join("../../config/antrean-central.service"));
    let installed = deb.installed();
    // Every asset's source exists (but the release binary, built first).
    for (src, _) in &deb.assets {
        if src.starts_with("target/") {
            continue;
        }
        assert!(crate_dir().join(src).is_file(), "asset {src} missing");
    }
    // The unit is the package's.
    let units = deb.meta["systemd-units"].as_table().unwrap();
    assert_eq!(units["unit-name"].as_str(), Some("antrean-central"));
    let unit_dir = crate_dir().join(units["unit-scripts"].as_str().unwrap());
    assert_eq!(read(&unit_dir.join("antrean-central.service")), unit);
    // The binary the unit starts and the documentation it points to.
    let lines = unit_lines(&unit);
    let binary = lines["ExecStart"][0].split(' ').next().unwrap().to_string();
    let doc = lines["Documentation"][0]
        .strip_prefix("file://")
        .unwrap()
        .to_string();
    for path in [&binary, &doc] {
        assert!(installed.contains(path), "{path} not in {installed:?}");
    }
    assert_eq!(
        deb.assets
            .iter()
            .find(|(s, _)| s == "target/release/antrean-central")
            .map(|(_, d)| d.as_str()),
        Some("usr/bin/")
    );
    // The configuration: the example installed, copied on first install
    // only, readable by the service's group; the user and state made.
    let example = "/usr/share/doc/antrean-central/central.example.toml";
    assert!(installed.iter().any(|p| p == example), "{installed:?}");
    let postinst = deb.script("postinst");
    for want in [
        "adduser --system --group --home /var/lib/antrean-central",
        "install -d -m 700 -o antrean-central -g antrean-central /var/lib/antrean-central",
        "if [ ! -e /etc/antrean-central/central.toml ]; then",
        &format!(
            "install -m 640 -o root -g antrean-central {example} /etc/antrean-central/central.toml"
        ),
        "#DEBHELPER#",
    ] {
        assert!(postinst.contains(want), "postinst lacks {want:?}");
    }
    let postrm = deb.script("postrm");
    assert!(postrm.contains("rm -rf /var/lib/antrean-central"));
    // The example keeps its state where the unit lets it write.
    let example_text = read(&crate_dir().join("../../config/central.example.toml"));
    let example_toml: toml::Table = example_text.parse().unwrap();
    for key in ["db", "key_dir"] {
        let path = example_toml["server"][key].as_str().unwrap();
        assert!(
            path.starts_with("/var/lib/antrean-central/"),
            "[server] {key} = {path}"
        );
    }
}
