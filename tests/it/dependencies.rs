//! What the release binaries and the workspace's crates link: `cargo tree
//! -e normal` of the shipped package shows no test machinery (no
//! failpoints, no Slint testing backend; tests and benchmarks get those as
//! dev-dependencies only); the pure core links no runtime, database, UI,
//! HTTP or serial crate; the central service links no UI or serial crate.

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
