//! The real `antrean-central` binary: its commands, and `serve` on a free
//! port with its log collected.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::wait::{wait_for, LIMIT};
use super::{NOW, OFFICE};

/// `antrean-central ARGS`: (exit success, stdout, stderr).
pub fn central_cmd(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_antrean-central"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("ANTREAN_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A configuration for the real binary in `dir`, with `extra` in [server].
pub fn central_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let config = dir.join("central.toml");
    std::fs::write(
        &config,
        format!(
            "[office]\nid = \"{OFFICE}\"\nname = \"Disdukcapil Kota Bogor\"\n[server]\ndb = \"{}\"\nkey_dir = \"{}\"\n{extra}\n",
            dir.join("db/central.sqlite3").display(),
            dir.join("keys").display()
        ),
    )
    .unwrap();
    config
}

/// `antrean-central serve` on a free port; its log lines and address.
pub struct Serving {
    pub child: std::process::Child,
    pub addr: String,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve_binary(config: &Path, extra_args: &[&str]) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_antrean-central"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra_args)
        .env("ANTREAN_NOW", NOW)
        .env_remove("RUST_LOG")
        .env_remove("ANTREAN_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push(line);
            }
        });
    }
    let addr = wait_for("antrean-central to listen", LIMIT, || {
        log.lock().unwrap().iter().find_map(|l| {
            l.strip_prefix("antrean-central listening on http://")
                .map(str::to_string)
        })
    });
    Serving { child, addr, log }
}

pub fn get_status(addr: &str, path: &str, token: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(format!("http://{addr}/v1/offices/{OFFICE}{path}"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .unwrap()
        .status()
        .as_u16()
}
