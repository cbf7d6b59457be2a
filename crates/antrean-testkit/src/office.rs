//! A temporary office: its configuration file, state directory, the links
//! its printer and scanner ports are found at, the spec vectors' manifest,
//! and what its journal holds.

use std::path::PathBuf;

use crate::keys::test_key;

/// The vectors' day, 20 minutes into the 09:00 session.
pub const NOW: &str = "2024-05-08T09:20:00+07:00";
pub const OFFICE: &str = "kota-bogor";

/// The manifest of the vectors' day, 2024-05-08: five sessions, the
/// vectors' bookings and one more (no keys: they come from configuration).
pub fn vector_manifest() -> serde_json::Value {
    serde_json::json!({
        "office": OFFICE, "date": "2024-05-08", "timezone": "Asia/Jakarta",
        "office_name": "Disdukcapil Kota Bogor",
        "sessions": [{"slot": "08:00-09:00", "letter": "A", "quota": 50},
                     {"slot": "09:00-10:00", "letter": "B", "quota": 50},
                     {"slot": "10:00-11:00", "letter": "C", "quota": 50},
                     {"slot": "11:00-12:00", "letter": "D", "quota": 50},
                     {"slot": "13:00-14:00", "letter": "E", "quota": 50}],
        "services": [{"code": "KTP-EL", "name": "KTP Elektronik"},
                     {"code": "KK", "name": "Kartu Keluarga"}],
        "counters": [{"id": "1", "label": "Loket 1"}],
        "keys": [],
        "bookings": [
            {"booking": "BGR-240508-00123", "number": "B-015", "slot": "09:00-10:00", "service": "KTP-EL", "status": "booked"},
            {"booking": "BGR-240508-00007", "number": "A-007", "slot": "08:00-09:00", "service": "KK", "status": "booked"},
            {"booking": "BGR-240508-00124", "number": "B-016", "slot": "09:00-10:00", "service": "KK", "status": "booked"},
            {"booking": "BGR-240508-00200", "number": "E-011", "slot": "13:00-14:00", "service": "AKTA-LAHIR", "status": "cancelled"}
        ]
    })
}

/// A temporary office: state dir, config file, links for the ports.
pub struct Office {
    pub dir: tempfile::TempDir,
    pub state_dir: PathBuf,
    pub config: PathBuf,
    pub printer_link: PathBuf,
    pub scanner_link: PathBuf,
}

impl Office {
    /// An office whose printer and scanner are the symlinks in its dir.
    pub fn new(extra: &str) -> Office {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        let printer_link = dir.path().join("printer");
        let scanner_link = dir.path().join("scanner");
        let config = dir.path().join("kiosk.toml");
        let office = Office {
            state_dir,
            config,
            printer_link,
            scanner_link,
            dir,
        };
        office.write_config(&format!(
            "[printer]\nport = \"{}\"\nbaud = 19200\ncolumns = 48\nwrite_timeout_ms = 2000\n\n[scanner]\nport = \"{}\"\nbaud = 9600\nidle_ms = 100\n{extra}",
            office.printer_link.display(),
            office.scanner_link.display()
        ));
        office
    }

    /// Writes the config with `[office]`, `[kiosk]`, `[[keys]]` and `rest`.
    pub fn write_config(&self, rest: &str) {
        let text = format!(
            r#"[office]
id = "{OFFICE}"
name = "Dinas Kependudukan dan Pencatatan Sipil Kota Bogor"
timezone = "Asia/Jakarta"

[kiosk]
id = "lobby-1"
state_dir = "{}"
early_minutes = 30
late_minutes = 15
reprint_limit = 1

[[keys]]
kid = "{}"
public_key = "{}"

{rest}
"#,
            self.state_dir.display(),
            test_key().kid,
            test_key().public_key
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Caches the vectors' manifest of 2024-05-08 in the state dir.
    pub fn cache_vector_manifest(&self) {
        let dir = self.state_dir.join("manifests");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("2024-05-08.json"), vector_manifest().to_string()).unwrap();
    }

    pub fn journal(&self) -> PathBuf {
        self.state_dir.join("journal.sqlite3")
    }

    /// Reads the journal's check-ins: (booking, number, printed, reprints).
    pub fn checkins(&self) -> Vec<(String, String, bool, u32)> {
        let Ok(conn) = rusqlite::Connection::open_with_flags(
            self.journal(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return vec![];
        };
        let Ok(mut stmt) = conn.prepare(
            "SELECT booking, number, printed_at IS NOT NULL, reprints FROM checkins ORDER BY id",
        ) else {
            return vec![];
        };
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}
