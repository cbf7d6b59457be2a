//! What the central service links: PostgreSQL through sqlx's postgres
//! driver only. sqlx's SQLite driver would bring a second libsqlite3-sys
//! beside rusqlite's (the two cannot link together), and its MySQL driver
//! nothing the service uses.

#[test]
fn sqlx_brings_only_its_postgres_driver() {
    let out = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", "antrean-central"])
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"sqlx-postgres"),
        "the tree was read: {crates:?}"
    );
    for forbidden in ["sqlx-sqlite", "sqlx-mysql"] {
        assert!(
            !crates.contains(&forbidden),
            "antrean-central links {forbidden}"
        );
    }
    let sqlite_sys = crates.iter().filter(|c| **c == "libsqlite3-sys").count();
    assert!(sqlite_sys <= 1, "libsqlite3-sys twice");
}
