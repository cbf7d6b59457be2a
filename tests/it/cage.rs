//! The kiosk without X: the real `antrean-kiosk run` (screens, not
//! headless) under the `cage` Wayland kiosk compositor on wlroots' headless
//! back end with the pixman renderer (no GPU, no display), Slint drawing
//! with its software renderer through winit. A scan on the serial scanner
//! must bring up the success screen, seen in a `grim` screenshot.
//! Skipped with a note when cage or grim are missing, outside CI
//! (`scripts/install-deps --test` installs both); in CI (`CI=true`) a
//! missing tool fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use antrean_testkit::prelude::*;

/// Theme colours (ui/theme.slint): `ok` (the success title), `accent` (the
/// idle screen's buttons), `bad` (a refusal).
const OK: [u8; 3] = [0x17, 0x75, 0x3a];
const ACCENT: [u8; 3] = [0xff, 0xc6, 0x29];
const BAD: [u8; 3] = [0xb3, 0x26, 0x1e];

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `tool`, as `nobody` when the test runs as root: cage refuses to start
/// as root (it could not drop the privilege).
fn as_user(tool: &str) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", tool]);
        c
    } else {
        Command::new(tool)
    }
}

/// Hands `path` to `nobody` when the test runs as root (see [`as_user`]).
fn give(path: &Path) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let ok = Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown {}", path.display());
    }
}

struct Cage(Child);

impl Drop for Cage {
    fn drop(&mut self) {
        // SIGTERM: cage ends its client and exits.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

/// Counts of the three colours in a PNG.
fn colours(png: &Path) -> Option<(usize, usize, usize)> {
    let img = image::open(png).ok()?.to_rgb8();
    let mut c = (0, 0, 0);
    for p in img.pixels() {
        match p.0 {
            OK => c.0 += 1,
            ACCENT => c.1 += 1,
            BAD => c.2 += 1,
            _ => {}
        }
    }
    Some(c)
}

#[test]
fn the_kiosk_runs_under_cage_and_shows_the_success_screen() {
    let missing: Vec<&str> = ["cage", "grim"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{missing:?} missing in CI: scripts/install-deps --test installs cage and grim"
        );
        println!("SKIPPED cage test: {missing:?} not installed (scripts/install-deps --test installs them)");
        return;
    }
    let office = Office::new("");
    office.write_config(&format!(
        "[printer]\nport = \"virtual\"\n\n[scanner]\nport = \"{}\"\nidle_ms = 100\n\n[ui]\nrole = \"kiosk\"\nfullscreen = true\n",
        office.scanner_link.display()
    ));
    let mut scanner = Scanner { pty: Pty::new() };
    scanner.pty.link_at(&office.scanner_link);
    let runtime = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        runtime.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let log = office.dir.path().join("cage.log");
    let err = office.dir.path().join("cage.err");
    std::fs::create_dir_all(&office.state_dir).unwrap();
    std::fs::write(&log, "").unwrap();
    std::fs::write(&err, "").unwrap();
    give(office.dir.path());
    give(runtime.path());
    give(Path::new(&scanner.pty.slave_path()));
    let cage = Cage(
        as_user("cage")
            // A portrait screen (the headless output is 1280x720, turned),
            // like the kiosk's 1080x1920 window.
            .args(["-d", "-r", "--"])
            .arg(kiosk_bin())
            .args(["run", "--log-format", "json", "--config"])
            .arg(&office.config)
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("SLINT_BACKEND", "winit-software")
            .env("ANTREAN_NOW", NOW)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .env_remove("RUST_LOG")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("cage starts"),
    );
    // The kiosk logs to standard error, as cage does.
    let read_log = || {
        std::fs::read_to_string(&log).unwrap_or_default()
            + &std::fs::read_to_string(&err).unwrap_or_default()
    };
    wait_for("the kiosk under cage to open its scanner", LIMIT, || {
        read_log().contains("scanner port open").then_some(())
    });
    // The Wayland socket cage made for its client.
    let socket: PathBuf = wait_for("cage's Wayland socket", LIMIT, || {
        std::fs::read_dir(runtime.path())
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| {
                p.file_name().is_some_and(|n| {
                    n.to_string_lossy().starts_with("wayland-")
                        && !n.to_string_lossy().ends_with(".lock")
                })
            })
    });
    let shot = office.dir.path().join("shot.png");
    let grim = |out: &Path| {
        as_user("grim")
            .arg(out)
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("WAYLAND_DISPLAY", socket.file_name().unwrap())
            .status()
            .is_ok_and(|s| s.success())
    };
    // The idle screen first, so the check below can fail.
    let idle = wait_for(
        "the idle screen (its yellow buttons) under cage",
        LIMIT,
        || {
            grim(&shot)
                .then(|| colours(&shot))
                .flatten()
                .filter(|c| c.1 > 1000)
        },
    );
    assert_eq!(idle.2, 0, "no refusal on the idle screen");
    println!("idle screen colours (ok, accent, bad): {idle:?}");
    scanner.scan(&token(
        "BGR-240508-00123",
        "B-015",
        "2024-05-08",
        "09:00-10:00",
        "KTP-EL",
    ));
    wait_for("the scan to be accepted", LIMIT, || {
        read_log().contains("\"outcome\":\"accept\"").then_some(())
    });
    let success = wait_for("the success screen in a grim screenshot", LIMIT, || {
        let c = grim(&shot).then(|| colours(&shot)).flatten()?;
        // The green "Check-in berhasil" title, the idle screen's yellow
        // buttons gone, nothing red.
        (c.0 > 1000 && c.1 == 0 && c.2 == 0).then_some(c)
    });
    println!("success screen colours (ok, accent, bad): {success:?}");
    // And the ticket went to the (virtual) printer.
    wait_for("the ticket", LIMIT, || {
        std::fs::read_dir(office.state_dir.join("tickets"))
            .ok()?
            .next()
            .map(|_| ())
    });
    // The README's picture is renewed on request only: a test run leaves
    // the checkout as it found it.
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let keep =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots/kiosk-success-cage.png");
        std::fs::copy(&shot, &keep).unwrap();
    }
    drop(cage);
}
