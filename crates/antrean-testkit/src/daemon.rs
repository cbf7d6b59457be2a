//! The real `antrean-kiosk` binary, headless, with its JSON log read line
//! by line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::office::{Office, NOW};
use crate::wait::{wait_for, LIMIT};

/// A binary of the workspace next to the running test executable
/// (`target/<profile>/deps/<test>-<hash>` -> `target/<profile>/<name>`).
pub fn workspace_bin(name: &str, how: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test executable");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile_dir| profile_dir.join(name));
    match bin {
        Some(bin) if bin.is_file() => bin,
        bin => panic!(
            "the {name} binary is not built ({}): {how}",
            bin.map(|b| b.display().to_string())
                .unwrap_or_else(|| exe.display().to_string())
        ),
    }
}

/// The `antrean-kiosk` executable (cargo builds it before the package's
/// integration tests and benchmarks).
pub fn kiosk_bin() -> PathBuf {
    workspace_bin(
        "antrean-kiosk",
        "run the tests with `cargo test` (or `cargo build -p antrean-kiosk` first)",
    )
}

/// The real daemon binary, headless, with its JSON log collected.
pub struct DaemonProcess {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl DaemonProcess {
    pub fn start(office: &Office, envs: &[(&str, &str)]) -> DaemonProcess {
        let mut cmd = Command::new(kiosk_bin());
        cmd.args(["run", "--headless", "--log-format", "json", "--config"])
            .arg(&office.config)
            .env("ANTREAN_NOW", NOW)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting antrean-kiosk");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push(line);
            }
        });
        let d = DaemonProcess { child, log };
        d.wait_log("ready to scan");
        d
    }

    pub fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn wait_log(&self, needle: &str) -> String {
        wait_for(&format!("log line containing {needle:?}"), LIMIT, || {
            self.lines().into_iter().find(|l| l.contains(needle))
        })
    }

    /// The JSON scan lines logged so far.
    pub fn scans(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("outcome").is_some())
            .collect()
    }

    /// Waits for the `n`-th scan line (1-based) and returns it.
    pub fn wait_scan(&self, n: usize) -> serde_json::Value {
        wait_for(&format!("scan log line #{n}"), LIMIT, || {
            self.scans().get(n - 1).cloned()
        })
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().unwrap()
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
