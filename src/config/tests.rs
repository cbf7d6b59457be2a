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

/// Parses `text`; with `Some(needles)` it must fail with a message
/// holding every needle (and the file), with `None` it must parse.
fn check(text: &str, expect: Option<&[&str]>) {
    let result = Config::parse(text, Path::new("kiosk.toml"));
    match (result, expect) {
        (Ok(_), None) => {}
        (Err(e), Some(needles)) => {
            let msg = e.to_string();
            for needle in needles.iter().chain(&["kiosk.toml"]) {
                assert!(msg.contains(needle), "error {msg:?} should say {needle:?}");
            }
        }
        (Ok(_), Some(needles)) => panic!("expected an error about {needles:?}"),
        (Err(e), None) => panic!("unexpected error: {e}"),
    }
}

#[test]
fn good_config_parses_into_typed_values() {
    let c = Config::parse(GOOD, Path::new("kiosk.toml")).unwrap();
    assert_eq!(c.kiosk.early_minutes, 30);
    assert_eq!(c.kiosk.late_minutes, 15);
    assert_eq!(c.kiosk.reprint_limit, 1);
    // The seeds' day: one lunch break; no status QR unless configured.
    let breaks: Vec<String> = c.office.breaks.iter().map(|b| b.wire()).collect();
    assert_eq!(breaks, ["12:00-13:00"]);
    assert_eq!(c.ticket.status_url, "");
    let none = GOOD.replace(
        "timezone = \"Asia/Jakarta\"",
        "timezone = \"Asia/Jakarta\"\nbreaks = []",
    );
    let c = Config::parse(&none, Path::new("kiosk.toml")).unwrap();
    assert!(c.office.breaks.is_empty(), "an office without a break");
    assert_eq!(c.printer.columns, 48);
    assert_eq!(c.printer.port, PrinterPort::Virtual);
    assert_eq!(c.timezone(), chrono_tz::Asia::Jakarta);
    assert_eq!(c.trusted_keys().len(), 1);
    assert!(c.scanner.is_none());
    let c = Config::parse(
        &GOOD.replacen("Asia/Jakarta", "Asia/Jayapura", 1),
        Path::new("kiosk.toml"),
    )
    .unwrap();
    assert_eq!(c.timezone(), chrono_tz::Asia::Jayapura);
}

#[test]
fn bad_configs_name_the_key_the_file_and_the_fix() {
    // (replace, with, the error says)
    let cases: &[(&str, &str, &[&str])] = &[
        // An unknown time zone is an error, never Jakarta.
        (
            "timezone = \"Asia/Jakarta\"",
            "timezone = \"Mars/Olympus\"",
            &["office.timezone", "line 5", "Mars/Olympus", "Asia/Makassar"],
        ),
        (
            "timezone = \"Asia/Jakarta\"",
            "timezone = \"WIB\"",
            &["office.timezone", "Asia/Jakarta"],
        ),
        (
            "port = \"virtual\"",
            "port = \"virtual\"\ncolumns = 40",
            &["printer.columns", "48 (80 mm paper)"],
        ),
        (
            "port = \"virtual\"",
            "port = \"virtual\"\nbaud = 12345",
            &["printer.baud", "19200"],
        ),
        (
            "port = \"virtual\"",
            "port = \"virtual\"\nbaud = \"fast\"",
            &["printer.baud", "invalid type", "kiosk.example.toml"],
        ),
        (
            "port = \"virtual\"",
            "port = \"\"",
            &["printer.port", "/dev/ttyUSB0"],
        ),
        (
            "id = \"lobby-1\"",
            "id = \"Lobby 1\"",
            &["kiosk.id", "lobby-1"],
        ),
        (
            "YGlgFhe4paP0hkZsDgH6JSkkXOPlyBaNTq8zggz68a4",
            "not-a-key",
            &["keys[0].public_key", "antrean-central keygen"],
        ),
        // The spec vectors' keys are published: no real office trusts them.
        (
            "YGlgFhe4paP0hkZsDgH6JSkkXOPlyBaNTq8zggz68a4",
            "fnMA8bqxc-ap9RYG7LrXNR37RPbLIoqgSpC1nMj3R6Q",
            &["keys[0].public_key", "published test key k2024a"],
        ),
        (
            "YGlgFhe4paP0hkZsDgH6JSkkXOPlyBaNTq8zggz68a4",
            "y3QRZDmSofskewOyX1jhu_WuiWvrhxTZ20DjGB8zn1w",
            &["published test key k2024b"],
        ),
        (
            "port = \"virtual\"",
            "port = \"virtual\"\ncolour = 1",
            &["key `printer.colour`", "not a known key", "flow_control"],
        ),
        (
            "state_dir = \"/tmp/x\"",
            "",
            &["key `kiosk.state_dir`", "is missing"],
        ),
        (
            "[printer]",
            "[status]\nlisten = \"0.0.0.0:9180\"\n[printer]",
            &["status.listen", "127.0.0.1:9180"],
        ),
        (
            "[printer]",
            "[status]\nlisten = \"localhost\"\n[printer]",
            &["status.listen"],
        ),
        (
            "[printer]",
            "[walkin]\nworking_days = [\"mon\", \"funday\"]\n[printer]",
            &["walkin.working_days[1]", "funday", "mon, tue"],
        ),
        (
            "[printer]",
            "[audio]\nvolume = 120\n[printer]",
            &["audio.volume", "between 0 and 100"],
        ),
        (
            "[printer]",
            "[audio]\nquiet = [\"12:00-13:00\", \"noon\"]\n[printer]",
            &["audio.quiet[1]", "HH:MM-HH:MM"],
        ),
        (
            "[printer]",
            "[audio]\nlanguages = [\"id\", \"fr\"]\n[printer]",
            &["audio.languages", "en"],
        ),
        (
            "[printer]",
            "[audio]\nlanguages = [\"en\", \"en\"]\n[printer]",
            &["audio.languages", "twice"],
        ),
        (
            "[printer]",
            "[audio]\nsink = \"pulse\"\n[printer]",
            &["audio.sink", "aplay"],
        ),
        (
            "[printer]",
            "[log]\nlevel = \"loud\"\n[printer]",
            &["log.level", "info"],
        ),
        (
            "timezone = \"Asia/Jakarta\"",
            "breaks = [\"12:00-13:00\", \"lunch\"]",
            &["office.breaks", "HH:MM-HH:MM"],
        ),
        (
            "timezone = \"Asia/Jakarta\"",
            "breaks = [\"12:00-13:00\", \"12:30-13:30\"]",
            &["office.breaks", "overlap"],
        ),
        (
            "[printer]",
            "[ticket]\nstatus_url = \"https://antrean.example.go.id/\"\n[printer]",
            &["ticket.status_url", "trailing slash"],
        ),
        (
            "[printer]",
            "[ticket]\nstatus_url = \"antrean.example.go.id\"\n[printer]",
            &["ticket.status_url", "not a web address"],
        ),
        (
            "[printer]",
            "[ticket]\nstatus_url = \"https://antrean.disdukcapil.a-very-long-name-of-a-regency-in-indonesia.example.go.id\"\n[printer]",
            &["ticket.status_url", "at most 80"],
        ),
        ("[printer]", "[printer", &["not valid TOML", "line"]),
    ];
    for (from, to, needles) in cases {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(&text, GOOD, "{from:?} is in the sample");
        check(&text, Some(needles));
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
        Some(&["central.url", "https://"]),
    );
    check(
        &format!("{GOOD}\n[central]\nurl = \"http://127.0.0.1:9\"\n"),
        Some(&["central.token", "token_file"]),
    );
}

#[test]
fn an_audio_problem_names_its_key_once() {
    let text = format!("{GOOD}\n[audio]\nvolume = 101\n");
    let msg = Config::parse(&text, Path::new("kiosk.toml"))
        .unwrap_err()
        .to_string();
    assert_eq!(msg.matches("audio.volume").count(), 1, "{msg}");
    assert_eq!(msg.matches("key ").count(), 1, "{msg}");
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
