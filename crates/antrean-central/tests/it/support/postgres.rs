//! A throwaway PostgreSQL cluster for this test binary, from Debian's
//! packages (`/usr/lib/postgresql/<version>/bin`): started on first use
//! (`initdb` in a temporary directory, as the `postgres` user when the
//! tests run as root, since `initdb` refuses root), listening on 127.0.0.1
//! on a free port and on a unix socket in its directory, shared by every
//! test of the run; each test gets its own freshly created database. The
//! cluster is stopped and its directory removed when the test binary
//! exits, also after a failed test, and (by a watchdog process) when the
//! binary is killed. Without the binaries: with `CI=true` the tests fail
//! naming `scripts/install-deps --test`; otherwise one line says the PostgreSQL
//! cases are skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The user the cluster's superuser is called (trust auth on loopback).
pub const USER: &str = "antrean";

/// A running cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` in it.
fn server_binaries() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `program args` as the cluster's owner: the `postgres` user when we are
/// root (initdb and the server refuse root), else ourselves.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(what: &str, mut c: Command) {
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

extern "C" fn stop_at_exit() {
    if let Some(Some(c)) = CLUSTER.get() {
        c.stop();
    }
}

impl Cluster {
    fn start(bin: PathBuf) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("antrean-pg-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("postgres:postgres").arg(&dir);
            run("chown of the cluster's directory", chown);
        }
        let data = dir.join("data");
        let mut initdb = as_owner(&bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            USER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run("initdb", initdb);
        let port = free_port();
        let mut start = as_owner(&bin.join("pg_ctl"));
        start
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                dir.display()
            ))
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "60", "start"]);
        let cluster = Cluster { dir, bin, port };
        // From here on the cluster goes away with this process, however it
        // ends: a watchdog outlives a killed test binary.
        cluster.watchdog();
        run("pg_ctl start", start);
        // SAFETY: registering a plain `extern "C" fn` without arguments.
        unsafe { libc::atexit(stop_at_exit) };
        eprintln!(
            "PostgreSQL test cluster on 127.0.0.1:{} ({})",
            cluster.port,
            cluster.dir.display()
        );
        cluster
    }

    /// A process that stops the cluster and removes it once this test
    /// binary is gone (it polls our pid).
    fn watchdog(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            stop = if is_root() {
                format!("runuser -u postgres -- '{}'", self.bin.join("pg_ctl").display())
            } else {
                format!("'{}'", self.bin.join("pg_ctl").display())
            },
            data = self.dir.join("data").display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    fn stop(&self) {
        let _ = as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// A new, empty database; its URL.
    pub fn fresh_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// The URL of database `name` (trust auth: no password).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` in database `db` with psql (stops at the first error).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops new connections to `db` and ends its open ones: to the
    /// service, the database is gone.
    pub fn block(&self, db: &str) {
        self.psql(
            "postgres",
            &format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS false"),
        );
        self.psql(
            "postgres",
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"
            ),
        );
    }

    /// Lets connections to `db` in again.
    pub fn unblock(&self, db: &str) {
        self.psql(
            "postgres",
            &format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true"),
        );
    }
}

/// The database name of a URL made by [`Cluster::fresh_database`].
pub fn database_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

/// The cluster of this run, started on first use; `None` (said once) when
/// PostgreSQL is not installed and this is not CI.
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER
        .get_or_init(|| match server_binaries() {
            Some(bin) => Some(Cluster::start(bin)),
            None => {
                assert!(
                    !ci(),
                    "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb), and CI is set: run scripts/install-deps --test, which installs the postgresql package"
                );
                eprintln!(
                    "skipping the PostgreSQL cases: PostgreSQL is not installed; run scripts/install-deps --test (it installs postgresql)"
                );
                None
            }
        })
        .as_ref()
}
