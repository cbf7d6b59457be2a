//! The configuration the `.deb` installs as the live one
//! (`config/kiosk.example.toml`), installed as shipped: only the machine's
//! paths change. It must trust no published key, so a QR code signed with
//! the spec vectors' test key is refused and nothing prints; and a
//! configuration that trusts a published key does not start.

use std::process::Command;

use antrean_testkit::prelude::*;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/kiosk.example.toml");

/// The vectors' "valid token inside its session", signed with the published
/// key k2024a for office kota-bogor.
fn published_token() -> String {
    token_with(
        PUBLISHED_KID,
        PUBLISHED_SEED,
        OFFICE,
        "BGR-240508-00123",
        "B-015",
        "2024-05-08",
        "09:00-10:00",
        "KTP-EL",
    )
}

/// The shipped file with this machine's paths: state dir, printer and
/// scanner links, a token file, a central service that is not there.
fn install_shipped(office: &Office) -> toml::Table {
    let mut t: toml::Table = std::fs::read_to_string(SHIPPED).unwrap().parse().unwrap();
    let set = |t: &mut toml::Table, table: &str, key: &str, v: toml::Value| {
        t.get_mut(table)
            .and_then(|x| x.as_table_mut())
            .unwrap_or_else(|| panic!("the shipped config has no [{table}]"))
            .insert(key.into(), v);
    };
    let token_file = office.dir.path().join("token");
    std::fs::write(&token_file, "kiosk-token\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let path = |p: &std::path::Path| toml::Value::String(p.display().to_string());
    set(&mut t, "kiosk", "state_dir", path(&office.state_dir));
    set(&mut t, "printer", "port", path(&office.printer_link));
    set(&mut t, "scanner", "port", path(&office.scanner_link));
    set(&mut t, "central", "url", "http://127.0.0.1:9".into());
    set(&mut t, "central", "token_file", path(&token_file));
    t.remove("status");
    t
}

#[test]
fn the_shipped_config_trusts_no_published_key() {
    let text = std::fs::read_to_string(SHIPPED).unwrap();
    let shipped: toml::Table = text.parse().unwrap();
    assert!(
        !shipped.contains_key("keys"),
        "config/kiosk.example.toml must not trust any key"
    );
    for (kid, public) in antrean_core::keys::PUBLISHED_TEST_KEYS {
        assert!(!text.contains(public), "the shipped config holds {kid}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .args(["check-config", SHIPPED])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let office = Office::new("");
    std::fs::write(
        &office.config,
        toml::to_string(&install_shipped(&office)).unwrap(),
    )
    .unwrap();
    let printer_pty = Pty::new();
    printer_pty.link_at(&office.printer_link);
    let mut scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let printer = PrinterTap::start(printer_pty);
    // Yesterday's fetch left today's manifest (without keys) in the cache.
    office.cache_vector_manifest();
    let daemon = DaemonProcess::start(&office, &[]);
    daemon.wait_log("scanner port open");
    scanner.scan(&published_token());
    let scan = daemon.wait_scan(1);
    assert_eq!(scan["outcome"], "unknown_key", "{scan}");
    assert!(office.checkins().is_empty());
    // The rig does print what the kiosk accepts: a booking code of the day.
    scanner.scan("BGR-240508-00124");
    assert_eq!(daemon.wait_scan(2)["outcome"], "accept");
    let tickets = printer.wait_tickets(1);
    assert_eq!(tickets.len(), 1, "only the booking code's ticket printed");
    let checkins = office.checkins();
    assert_eq!(checkins.len(), 1);
    assert_eq!(checkins[0].0, "BGR-240508-00124");
}

#[test]
fn a_published_key_is_refused_for_a_real_office_with_the_fix() {
    let office = Office::new("");
    let mut t = install_shipped(&office);
    let key = |kid: &str, public: &str| {
        let mut k = toml::Table::new();
        k.insert("kid".into(), kid.into());
        k.insert("public_key".into(), public.into());
        toml::Value::Table(k)
    };
    t.insert(
        "keys".into(),
        toml::Value::Array(vec![
            key(&test_key().kid, &test_key().public_key),
            key(PUBLISHED_KID, PUBLISHED_PUBLIC_KEY),
        ]),
    );
    let write =
        |t: &toml::Table| std::fs::write(&office.config, toml::to_string(t).unwrap()).unwrap();
    write(&t);
    for args in [
        vec![
            "check-config".to_string(),
            office.config.display().to_string(),
        ],
        vec![
            "run".to_string(),
            "--headless".to_string(),
            "--config".to_string(),
            office.config.display().to_string(),
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for needle in [
            "keys[1].public_key",
            "published test key k2024a",
            "antrean-central keygen",
            "SECURITY.md",
        ] {
            assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
        }
    }
    // The demo office may trust it (training with the spec's samples).
    t.get_mut("office")
        .and_then(|o| o.as_table_mut())
        .unwrap()
        .insert("id".into(), "demo".into());
    write(&t);
    let out = Command::new(env!("CARGO_BIN_EXE_antrean-kiosk"))
        .arg("check-config")
        .arg(&office.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
