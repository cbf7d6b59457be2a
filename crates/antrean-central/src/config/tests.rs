use super::*;
use crate::settings::PriorityPolicy;

fn load_text(text: &str, env_url: Option<&str>) -> Result<CentralConfig, String> {
    CentralFile::parse(text, Path::new("central.toml"), env_url.map(str::to_string))
        .map_err(|e| e.to_string())
}

fn parse(text: &str) -> Result<CentralSettings, String> {
    let c = load_text(text, None)?;
    assert!(!c.file.has_old_tokens());
    Ok(c.settings)
}

#[test]
fn the_shipped_examples_are_valid() {
    let example = load_text(
        include_str!("../../../../config/central.example.toml"),
        None,
    )
    .unwrap();
    let s = &example.settings;
    assert_eq!(
        s.limits,
        Limits::default(),
        "the example documents the defaults"
    );
    assert_eq!(s.rules, BookingRules::default());
    assert_eq!(s.event_retention_days, 7);
    assert_eq!(s.offices.len(), 1);
    assert_eq!(
        example.storage,
        Storage::Sqlite("/var/lib/antrean-central/central.sqlite3".into())
    );
    parse(include_str!("../../../../config/central.demo.toml")).unwrap();
    let city = load_text(
        include_str!("../../../../config/central-city.example.toml"),
        None,
    )
    .unwrap();
    let s = &city.settings;
    assert_eq!(
        s.limits,
        Limits::default(),
        "the city example documents the defaults"
    );
    let ids: Vec<&str> = s.offices.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "kota-bekasi",
            "bekasi-timur",
            "bekasi-utara",
            "bekasi-barat"
        ]
    );
    // The main office's own plan; the kecamatan offices the defaults.
    let main = &s.offices[0];
    assert_eq!((main.sessions.len(), main.counters.len()), (3, 4));
    assert_eq!(main.kiosks, ["lobby-1", "lobby-2"]);
    let timur = &s.offices[1];
    assert_eq!((timur.sessions.len(), timur.counters.len()), (5, 2));
    assert_eq!(timur.services.len(), 5);
    assert_eq!(timur.booking_prefix, "BKS-TMR");
    assert!(timur.expects_device("tv-1") && !timur.expects_device("lobby-2"));
    assert!(s.offices[3].boards.is_empty());
    match &city.storage {
        Storage::Postgres {
            url,
            max_connections,
        } => {
            assert!(url.starts_with("postgres://"));
            assert_eq!(*max_connections, 10);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !city.storage.describe().contains("GANTI-SANDI"),
        "{}",
        city.storage.describe()
    );
}

#[test]
fn bad_values_name_their_key() {
    let base =
        "[office]\nid = \"kota-bogor\"\nname = \"X\"\n[server]\ndb = \"d\"\nkey_dir = \"k\"\n";
    for (extra, key) in [
        ("max_connections = 0", "server.max_connections"),
        ("write_burst = 0", "server.write_burst"),
        (
            "header_read_timeout_ms = 0",
            "server.header_read_timeout_ms",
        ),
    ] {
        let e = parse(&format!("{base}{extra}\n")).unwrap_err();
        assert!(
            e.contains(&format!("key `{key}`")) && e.contains("use 1 or more"),
            "{e}"
        );
    }
    let e = parse(&base.replace("kota-bogor", "Kota Bogor")).unwrap_err();
    assert!(e.contains("office.id") && e.contains("lower-case"), "{e}");
    let e = parse(&base.replace("name = \"X\"", "name = \"X\"\ntimezone = \"Asia/Bogor\""))
        .unwrap_err();
    assert!(
        e.starts_with("central.toml: key `office.timezone`") && e.contains("Asia/Jakarta"),
        "{e}"
    );
    let long = base.replace(
        "[server]",
        "booking_prefix = \"ABCDEFGHIJKLMNOPQR\"\n[server]",
    );
    assert!(parse(&long).unwrap_err().contains("booking_prefix"));
    let old: CentralFile =
        toml::from_str(&format!("{base}tokens = [\"a-very-old-token-1\"]\n")).unwrap();
    assert!(old.has_old_tokens());
    let help = old.migration_help(Path::new("/etc/antrean-central/central.toml"));
    assert!(
        help.contains("--from-config 1") && !help.contains("a-very-old-token-1"),
        "{help}"
    );
}

#[test]
fn offices_are_checked_as_a_city() {
    let server = "[server]\ndb = \"d\"\nkey_dir = \"k\"\n";
    let office = |id: &str, prefix: &str| {
        format!("[[offices]]\nid = \"{id}\"\nname = \"{id}\"\nbooking_prefix = \"{prefix}\"\n")
    };
    // (configuration, the key its error names, or None when valid)
    let cases = [
        (format!("{server}{}{}", office("a", "AA"), office("b", "BB")), None),
        (
            format!("{server}{}{}", office("a", "AA"), office("a", "BB")),
            Some("offices[1].id"),
        ),
        (
            format!("{server}{}{}", office("a", "AA"), office("b", "AA")),
            Some("offices[1].booking_prefix"),
        ),
        (
            format!("[office]\nid = \"a\"\nname = \"A\"\n{server}{}", office("b", "BB")),
            Some("`office`"),
        ),
        (server.to_string(), Some("`office`")),
        (
            format!("{server}{}kiosks = [\"lobby-1\", \"Lobby 2\"]\n", office("a", "AA")),
            Some("offices[0].kiosks[1]"),
        ),
        (
            format!(
                "{server}{}kiosks = [\"lobby-1\"]\nboards = [\"lobby-1\"]\n",
                office("a", "AA")
            ),
            Some("offices[0].kiosks[0]"),
        ),
        (
            format!(
                "{server}{}[[offices.sessions]]\nslot = \"08:00-09:00\"\nletter = \"A\"\nquota = 1\n[[offices.sessions]]\nslot = \"09:00-10:00\"\nletter = \"A\"\nquota = 1\n",
                office("a", "AA")
            ),
            Some("offices[0].sessions[1]"),
        ),
        (
            format!(
                "[server]\nkey_dir = \"k\"\n{}",
                office("a", "AA")
            ),
            Some("server.db"),
        ),
        (
            format!(
                "[server]\nkey_dir = \"k\"\n[database]\nurl = \"mysql://x\"\n{}",
                office("a", "AA")
            ),
            Some("database.url"),
        ),
    ];
    for (text, want) in cases {
        match (load_text(&text, None), want) {
            (Ok(_), None) => {}
            (Err(e), Some(key)) => assert!(e.contains(key), "{key}: {e}"),
            (got, want) => panic!("{text}\n=> {got:?}, wanted an error naming {want:?}"),
        }
    }
}

#[test]
fn the_database_comes_from_the_file_or_the_environment() {
    let office = "[office]\nid = \"a\"\nname = \"A\"\n";
    let sqlite = format!("{office}[server]\ndb = \"/var/lib/c.db\"\nkey_dir = \"k\"\n");
    let pg = format!(
        "{office}[server]\nkey_dir = \"k\"\n[database]\nurl = \"postgres://antrean:rahasia@db.bekasi.go.id/antrean\"\n"
    );
    let env = "postgresql://city@10.0.0.5:6432/antrean";
    // (file, environment, storage)
    let cases = [
        (&sqlite, None, "SQLite /var/lib/c.db"),
        (
            &sqlite,
            Some(env),
            "PostgreSQL postgresql://city@10.0.0.5:6432/antrean",
        ),
        (
            &pg,
            None,
            "PostgreSQL postgres://antrean:***@db.bekasi.go.id/antrean",
        ),
        (
            &pg,
            Some(env),
            "PostgreSQL postgresql://city@10.0.0.5:6432/antrean",
        ),
    ];
    for (text, env, want) in cases {
        let c = load_text(text, env).unwrap();
        assert_eq!(c.storage.describe(), want);
        assert!(!format!("{c:?}").contains("rahasia"), "a password in Debug");
    }
    for (url, shown) in [
        ("postgres://u:p@h/d?password=x", "postgres://u:***@h/d"),
        ("postgres://h:5432/d", "postgres://h:5432/d"),
        ("not a url", "<not a URL>"),
    ] {
        assert_eq!(redact_url(url), shown);
    }
}

/// The seeds' day: five one-hour sessions of 50, lunch 12:00-13:00.
const SEEDS_DAY: [&str; 5] = [
    "08:00-09:00",
    "09:00-10:00",
    "10:00-11:00",
    "11:00-12:00",
    "13:00-14:00",
];

fn assert_seeds_day(o: &OfficeSettings, file: &str) {
    let slots: Vec<&str> = o.sessions.iter().map(|s| s.slot.as_str()).collect();
    assert_eq!(slots, SEEDS_DAY, "{file}: office {}", o.id);
    assert!(
        o.sessions.iter().all(|s| s.quota == 50),
        "{file}: office {}: 50 places a session",
        o.id
    );
    assert_eq!(o.breaks, ["12:00-13:00"], "{file}: office {}", o.id);
}

#[test]
fn every_shipped_central_config_has_the_seeds_day() {
    let files = [
        (
            "central.example.toml",
            include_str!("../../../../config/central.example.toml"),
        ),
        (
            "central.demo.toml",
            include_str!("../../../../config/central.demo.toml"),
        ),
        (
            "central-city.example.toml",
            include_str!("../../../../config/central-city.example.toml"),
        ),
    ];
    for (name, text) in files {
        let c = load_text(text, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        for o in &c.settings.offices {
            if name == "central-city.example.toml" && o.id == "kota-bekasi" {
                // The city's main office keeps its own longer sessions (the
                // example of a plan of one's own), with the same lunch break.
                assert_eq!(o.sessions.len(), 3);
                assert_eq!(o.breaks, ["12:00-13:00"]);
                assert_eq!(
                    o.priority,
                    PriorityPolicy::DedicatedCounter(vec!["4".into()])
                );
                continue;
            }
            assert_seeds_day(o, name);
            assert_eq!(o.priority, PriorityPolicy::FirstInSession, "{name}");
        }
    }
    // Without any [[sessions]]: the same day.
    let bare = parse("[office]\nid = \"x\"\nname = \"X\"\n[server]\ndb = \"d\"\nkey_dir = \"k\"\n")
        .unwrap();
    assert_seeds_day(&bare.offices[0], "no sessions listed");
}

#[test]
fn breaks_booking_url_and_priority_are_checked() {
    let base = "[office]\nid = \"kota-bogor\"\nname = \"X\"\n";
    let server = "[server]\ndb = \"d\"\nkey_dir = \"k\"\n";
    // (office keys, top-level tables after [server], the key its error names or None)
    let cases: [(&str, &str, Option<&str>); 10] = [
        ("breaks = [\"12:00-13:00\", \"15:00-15:30\"]\n", "", None),
        ("breaks = [\"noon\"]\n", "", Some("office.breaks[0]")),
        (
            "booking_url = \"https://antrean.example.go.id/\"\n",
            "",
            None,
        ),
        (
            "booking_url = \"javascript:alert(1)\"\n",
            "",
            Some("office.booking_url"),
        ),
        (
            "booking_url = \"https://x/\\\"><script>\"\n",
            "",
            Some("office.booking_url"),
        ),
        (
            "",
            "[priority]\npolicy = \"dedicated_counter\"\ncounters = [\"4\"]\n",
            None,
        ),
        (
            "",
            "[priority]\npolicy = \"dedicated_counter\"\ncounters = [\"9\"]\n",
            Some("priority.counters"),
        ),
        (
            "",
            "[priority]\npolicy = \"dedicated_counter\"\n",
            Some("priority.counters"),
        ),
        (
            "",
            "[priority]\npolicy = \"first_come\"\n",
            Some("priority.policy"),
        ),
        (
            "[office.priority]\npolicy = \"first_in_session\"\ncounters = [\"1\"]\n",
            "",
            Some("office.priority.counters"),
        ),
    ];
    for (office, tables, key) in cases {
        let text = format!("{base}{office}{server}{tables}");
        match (parse(&text), key) {
            (Ok(_), None) => {}
            (Err(e), Some(k)) => assert!(e.contains(&format!("key `{k}`")), "{text}\n{e}"),
            (r, _) => panic!("{text}\n{r:?}"),
        }
    }
    let s = parse(&format!(
        "{base}breaks = []\nbooking_url = \"https://b.example/\"\n{server}"
    ))
    .unwrap();
    assert!(s.offices[0].breaks.is_empty(), "listed breaks win");
    assert_eq!(
        s.offices[0].booking_url.as_deref(),
        Some("https://b.example/")
    );
}
