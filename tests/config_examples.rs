//! Every example configuration in `config/` parses and validates, and the
//! CLI's `check-config` answers 0 for them and 2, naming the key, otherwise.

use std::process::Command;

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
        if path.extension().is_some_and(|e| e == "toml") && !name.starts_with("central") {
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
