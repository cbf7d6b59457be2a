//! What the release binaries and the workspace's crates link: `cargo tree
//! -e normal` of the shipped package shows no test machinery (no
//! failpoints, no Slint testing backend; tests and benchmarks get those as
//! dev-dependencies only); the pure core links no runtime, database, UI,
//! HTTP or serial crate; the central service links no UI or serial crate;
//! the kiosk's screens import no adapter.

use std::process::Command;

/// The crates in the normal (release) dependency tree of `package`.
fn normal_tree(package: &str) -> Vec<String> {
    let out = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "-p",
            package,
        ])
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn release_binaries_carry_no_test_hooks() {
    let tree = normal_tree("antrean-kiosk");
    assert!(
        tree.iter().any(|c| c == "slint"),
        "the tree was read: {tree:?}"
    );
    for forbidden in ["fail", "i-slint-backend-testing", "antrean-testkit"] {
        assert!(
            !tree.iter().any(|c| c == forbidden),
            "the release build of antrean-kiosk links {forbidden}"
        );
    }
}

/// Asserts that `package`'s normal tree was read (it holds `expected`)
/// and holds none of `forbidden`.
fn assert_tree(package: &str, expected: &str, forbidden: &[&str]) {
    let tree = normal_tree(package);
    assert!(
        tree.iter().any(|c| c == expected),
        "the tree of {package} was read: {tree:?}"
    );
    for forbidden in forbidden {
        assert!(
            !tree.iter().any(|c| c == forbidden),
            "{package} links {forbidden} in its normal dependencies"
        );
    }
}

#[test]
fn the_core_is_pure_and_the_central_service_has_no_ui() {
    assert_tree(
        "antrean-core",
        "chrono",
        &[
            "tokio",
            "rusqlite",
            "slint",
            "reqwest",
            "axum",
            "serialport",
        ],
    );
    assert_tree("antrean-central", "axum", &["slint", "serialport"]);
}

/// The `use crate::...` paths of the Rust files under `src/<dir>`.
fn crate_imports(dir: &str) -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(dir);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                found.push((format!("src/{dir}/{name}:{}", i + 1), module));
            }
        }
    }
    assert!(
        !found.is_empty(),
        "no imports read under {}",
        root.display()
    );
    found
}

/// The screens import the kiosk side (`app`, `screen_feed`, `kiosk`,
/// `config`) and the core, never an adapter: no HTTP, disk, printer or
/// serial code behind the UI. And nothing in them polls with a timer.
#[test]
fn the_ui_imports_no_adapter_and_polls_nothing() {
    const ALLOWED: &[&str] = &["app", "screen_feed", "kiosk", "config"];
    let wrong: Vec<_> = crate_imports("ui")
        .into_iter()
        .filter(|(_, m)| !ALLOWED.contains(&m.as_str()))
        .collect();
    assert!(wrong.is_empty(), "the UI imports adapters: {wrong:?}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in ["Timer", "TimerMode", "recv_timeout", "thread::sleep"] {
            assert!(
                !text.contains(needle),
                "{} uses {needle}: the screens are woken, never polled",
                path.display()
            );
        }
    }
}

/// The crates' own imports run as ARCHITECTURE.md draws them: the host and
/// the core import no crate of ours, the central service never the kiosk,
/// and the kiosk reaches the central service only through `src/embedded.rs`
/// (the demo's embedded service).
#[test]
fn the_crates_import_downwards_only() {
    let ours = [
        "antrean-kiosk",
        "antrean-central",
        "antrean-host",
        "antrean-core",
        "antrean-testkit",
    ];
    let below: &[(&str, &[&str])] = &[
        ("antrean-core", &[]),
        ("antrean-host", &[]),
        ("antrean-central", &["antrean-core", "antrean-host"]),
        (
            "antrean-kiosk",
            &["antrean-core", "antrean-host", "antrean-central"],
        ),
    ];
    for (package, may) in below {
        let tree = normal_tree(package);
        for other in ours.iter().filter(|o| *o != package) {
            assert_eq!(
                tree.iter().any(|c| c == other),
                may.contains(other),
                "{package} -> {other}: not as ARCHITECTURE.md draws it"
            );
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut users = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path)
                    .unwrap()
                    .contains("antrean_central")
            {
                users.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    assert_eq!(
        users,
        ["embedded.rs"],
        "the kiosk's files that import the central service"
    );
}
