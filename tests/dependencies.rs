//! What the release binaries link: `cargo tree -e normal` of the shipped
//! package shows no test machinery (no failpoints, no Slint testing
//! backend). Tests and benchmarks get those as dev-dependencies only.

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
