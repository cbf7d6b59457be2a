//! Every example configuration in `config/` parses and validates, and the
//! CLI's `check-config` answers 0 for them and 2, naming the key, otherwise.

use std::process::Command;

use antrean_testkit::prelude::{altered, test_key, token};

fn check_config(path: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .arg("check-config")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_kiosk_example_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // (printer-profiles.toml is data of its own: config_files.rs checks it.)
        if path.extension().is_some_and(|e| e == "toml")
            && !name.starts_with("central")
            && name != "printer-profiles.toml"
        {
            let (code, out) = check_config(&path);
            assert_eq!(code, 0, "{name}: {out}");
            n += 1;
        }
    }
    assert!(n >= 2, "found {n} kiosk examples");
}

#[test]
fn broken_configs_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kiosk.example.toml"),
    )
    .unwrap();
    for (from, to, key) in [
        ("columns = 48 ", "columns = 47 ", "printer.columns"),
        (
            "timezone = \"Asia/Jakarta\"",
            "timezone = \"WIB\"",
            "office.timezone",
        ),
        ("baud = 19200", "baud = \"fast\"", "baud"),
        ("[printer]", "[printer]\npaper = \"a4\"", "paper"),
    ] {
        let path = dir.path().join("kiosk.toml");
        let text = example.replacen(from, to, 1);
        assert_ne!(text, example, "{from} not in the example");
        std::fs::write(&path, text).unwrap();
        let (code, out) = check_config(&path);
        assert_eq!(code, 2, "{out}");
        assert!(out.contains(key), "{out:?} should name {key}");
        assert!(out.contains("kiosk.toml"), "{out:?} should name the file");
    }
    let (code, out) = check_config(&dir.path().join("missing.toml"));
    assert_eq!(code, 2);
    assert!(out.contains("missing.toml"));
}

fn kiosk(args: &[&str], now: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"));
    cmd.args(args).env_remove("RUST_LOG");
    if let Some(n) = now {
        cmd.env("ANTREAN_NOW", n);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn write_config(
    dir: &std::path::Path,
    state_dir: &std::path::Path,
    columns: u8,
) -> std::path::PathBuf {
    let path = dir.join("kiosk.toml");
    std::fs::write(
        &path,
        format!(
            r#"[office]
id = "kota-bogor"
name = "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor"
[kiosk]
id = "lobby-1"
state_dir = "{}"
[[keys]]
kid = "{}"
public_key = "{}"
[printer]
port = "virtual"
columns = {columns}
"#,
            state_dir.display(),
            test_key().kid,
            test_key().public_key
        ),
    )
    .unwrap();
    path
}

/// A valid token for BGR-240508-00123, B-015, 09:00-10:00 (this run's key).
fn valid() -> String {
    token(
        "BGR-240508-00123",
        "B-015",
        "2024-05-08",
        "09:00-10:00",
        "KTP-EL",
    )
}

#[test]
fn ticket_preview_shows_what_the_printer_gets_at_both_widths() {
    for columns in [48u8, 32] {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &dir.path().join("state"), columns);
        let (code, out, err) = kiosk(
            &[
                "ticket-preview",
                "--config",
                config.to_str().unwrap(),
                "--token",
                &valid(),
            ],
            Some("2024-05-08T09:20:00+07:00"),
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("NOMOR ANTREAN"), "{out}");
        assert!(out.contains("B   -   0   1   5"), "the number at 4x: {out}");
        assert!(out.contains("[QR M: BGR-240508-00123]"), "{out}");
        assert!(out.contains("Sesi    : 09.00-10.00 WIB"), "{out}");
        assert!(out.contains("Rabu, 08 Mei 2024"), "{out}");
        assert!(out.contains("potong"), "{out}");
        for line in out.lines().filter(|l| !l.starts_with('(')) {
            assert!(
                line.len() <= usize::from(columns),
                "{line:?} wider than {columns}"
            );
        }
        let (code, out, _) = kiosk(
            &[
                "ticket-preview",
                "--config",
                config.to_str().unwrap(),
                "--sample",
            ],
            None,
        );
        assert_eq!(code, 0);
        assert!(out.contains("CONTOH-0001"));
        // A token altered after signing (another number) is refused, with the reason.
        let forged = altered(&valid(), "B-015", "A-001");
        let (code, _, err) = kiosk(
            &[
                "ticket-preview",
                "--config",
                config.to_str().unwrap(),
                "--token",
                &forged,
            ],
            None,
        );
        assert_eq!(code, 1);
        assert!(err.contains("bad_signature"), "{err}");
    }
}

#[test]
fn print_test_goes_to_the_virtual_printer() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = write_config(dir.path(), &state, 48);
    let (code, out, err) = kiosk(&["print-test", "--config", config.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("test page sent"), "{out}");
    let files: Vec<_> = std::fs::read_dir(state.join("tickets"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}: the bytes and the decoded text");
}

#[test]
fn refuses_to_start_without_a_usable_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let config = write_config(dir.path(), &blocker.join("state"), 48);
    let (code, _, err) = kiosk(
        &["run", "--headless", "--config", config.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("state directory") && err.contains("not usable"),
        "{err}"
    );
}

#[test]
fn a_bad_clock_override_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &dir.path().join("state"), 48);
    let (code, _, err) = kiosk(
        &["run", "--headless", "--config", config.to_str().unwrap()],
        Some("yesterday at nine"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("ANTREAN_NOW"), "{err}");
}
