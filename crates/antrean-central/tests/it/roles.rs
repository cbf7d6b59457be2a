//! Every endpoint with every role (`docs/central-api.md`, "Tokens and
//! roles"), against the service on 127.0.0.1 on every back end; the
//! `token` commands and the
//! migration of old plaintext tokens, through the real binary.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::binary::{central_cmd, central_config, get_status, serve_binary};
use crate::support::service::*;
use crate::support::stores::{backends, Backend};
use crate::support::{NOW, OFFICE, TODAY};

/// One cell's expected class: 2xx, 401 or 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Ok,
    Unauthorized,
    Forbidden,
}

fn class(status: StatusCode) -> Option<Want> {
    match status.as_u16() {
        200..=299 => Some(Want::Ok),
        401 => Some(Want::Unauthorized),
        403 => Some(Want::Forbidden),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_with_every_role() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        every_endpoint_on(backend).await;
    }
}

async fn every_endpoint_on(backend: Backend) {
    let s = start_on(backend, |_| {}).await;
    // Columns: who calls.
    let callers: [(&str, Option<&str>); 12] = [
        ("no token", None),
        ("wrong token", Some("not-a-token-of-this-service")),
        ("revoked", Some(REVOKED)),
        ("kiosk lobby-1", Some(KIOSK)),
        ("kiosk lobby-2", Some(KIOSK_2)),
        ("board", Some(BOARD)),
        ("booking", Some(BOOKING)),
        ("staff", Some(STAFF)),
        ("admin", Some(ADMIN)),
        ("admin *", Some(ROOT)),
        ("other office's staff", Some(OTHER_STAFF)),
        ("other office's kiosk", Some(OTHER_KIOSK)),
    ];
    // Rows: what is called. `k` = 2xx, `u` = 401, `f` = 403, in the
    // columns' order. The setup makes a 2xx possible for every caller
    // the role table allows.
    let rows: [(&str, &str); 21] = [
        ("GET manifest", "uuukkfffkkff"),
        ("GET board", "uuukkkfkkkff"),
        ("GET events", "uuukkkfkkkff"),
        ("POST checkins (kiosk lobby-1)", "uuukffffkkff"),
        ("PUT kiosks/lobby-1/health", "uuukffffkkff"),
        ("POST bookings", "uuufffkfkkff"),
        ("POST bookings/{b}/cancel", "uuufffkfkkff"),
        ("POST counters/1/next", "uuuffffkkkff"),
        ("POST counters/1/recall", "uuuffffkkkff"),
        ("POST counters/1/done", "uuuffffkkkff"),
        ("POST counters/1/skip", "uuuffffkkkff"),
        ("POST notice", "uuuffffkkkff"),
        ("GET staff", "uuuffffkkkff"),
        ("POST checkins/{b}/priority (kiosk lobby-1)", "uuukffffkkff"),
        ("POST checkins/{b}/priority/confirm", "uuuffffkkkff"),
        ("POST checkins/{b}/priority/decline", "uuuffffkkkff"),
        ("GET /p/{office} (public page)", "kkkkkkkkkkkk"),
        ("GET /p/{office}/{date}/{number}", "kkkkkkkkkkkk"),
        ("GET /p/{office}/status/{date}/{number}", "kkkkkkkkkkkk"),
        ("GET / (staff page)", "kkkkkkkkkkkk"),
        ("GET /staff.js", "kkkkkkkkkkkk"),
    ];
    let mut failures = Vec::new();
    for (what, want) in rows {
        assert_eq!(want.len(), callers.len(), "{what}");
        for ((who, token), w) in callers.iter().zip(want.chars()) {
            let want = match w {
                'k' => Want::Ok,
                'u' => Want::Unauthorized,
                _ => Want::Forbidden,
            };
            // Fresh state for this cell.
            let (method, path, body) = match what {
                "GET manifest" => ("GET", "/manifest".to_string(), None),
                "GET board" => ("GET", "/board".into(), None),
                "GET events" => ("GET", "/events".into(), None),
                "POST checkins (kiosk lobby-1)" => {
                    let (b, n) = s.book("09:00-10:00").await;
                    (
                        "POST",
                        "/checkins".into(),
                        Some(json!({"booking": b, "number": n, "kiosk": "lobby-1",
                                    "checked_in_at": NOW, "offline": false})),
                    )
                }
                "PUT kiosks/lobby-1/health" => (
                    "PUT",
                    "/kiosks/lobby-1/health".into(),
                    Some(json!({"at": NOW, "version": "0.3.0",
                                "printer": {"state": "ok", "detail": null},
                                "pending_checkins": 0, "last_event_seq": 0})),
                ),
                "POST bookings" => (
                    "POST",
                    "/bookings".into(),
                    Some(json!({"date": TODAY, "slot": "10:00-11:00", "service": "KK"})),
                ),
                "POST bookings/{b}/cancel" => {
                    let (b, _) = s.book("11:00-12:00").await;
                    ("POST", format!("/bookings/{b}/cancel"), None)
                }
                "POST counters/1/next" => ("POST", "/counters/1/next".into(), None),
                w if w.starts_with("POST counters/1/") => {
                    s.serving_at("1").await;
                    (
                        "POST",
                        w.trim_start_matches("POST ")
                            .replace("counters", "/counters"),
                        None,
                    )
                }
                "POST notice" => ("POST", "/notice".into(), Some(json!({"text": "Istirahat"}))),
                "GET staff" => ("GET", "/staff".into(), None),
                "POST checkins/{b}/priority (kiosk lobby-1)" => {
                    let (b, _) = s.checked_in("09:00-10:00").await;
                    (
                        "POST",
                        format!("/checkins/{b}/priority"),
                        Some(json!({"kiosk": "lobby-1", "requested_at": NOW})),
                    )
                }
                w if w.starts_with("POST checkins/{b}/priority/") => {
                    let (b, _) = s.checked_in("09:00-10:00").await;
                    let decision = w.rsplit('/').next().unwrap();
                    ("POST", format!("/checkins/{b}/priority/{decision}"), None)
                }
                // Public pages: no token needed, any token ignored.
                "GET /p/{office} (public page)" => ("GET", format!("!/p/{OFFICE}"), None),
                "GET /p/{office}/{date}/{number}" => {
                    let (_, n) = s.checked_in("09:00-10:00").await;
                    ("GET", format!("!/p/{OFFICE}/{TODAY}/{n}"), None)
                }
                "GET /p/{office}/status/{date}/{number}" => {
                    let (_, n) = s.checked_in("09:00-10:00").await;
                    ("GET", format!("!/p/{OFFICE}/status/{TODAY}/{n}"), None)
                }
                "GET / (staff page)" => ("GET", "/".into(), None),
                "GET /staff.js" => ("GET", "/staff.js".into(), None),
                other => unreachable!("{other}"),
            };
            let resp = s.send(method, &path, *token, body).await;
            let status = resp.status();
            let got = class(status);
            if got != Some(want) {
                let text = resp.text().await.unwrap_or_default();
                failures.push(format!("{what} as {who}: {status} {text}, wanted {want:?}"));
                continue;
            }
            if want != Want::Ok {
                let v: Value = resp.json().await.unwrap();
                let code = if want == Want::Unauthorized {
                    "unauthorized"
                } else {
                    "forbidden"
                };
                assert_eq!(v["error"], code, "{what} as {who}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Opens `n` TCP connections that never finish a request: half of them

#[test]
fn token_add_list_revoke_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let config = central_config(dir.path(), "");
    let cfg = config.to_str().unwrap();
    // Bad requests are refused with what to do.
    for (args, says) in [
        (
            vec!["--role", "root", "--office", OFFICE],
            "use kiosk, board",
        ),
        (vec!["--role", "kiosk", "--office", OFFICE], "needs --kiosk"),
        (
            vec!["--role", "staff", "--office", "kota-bekasi"],
            "holds office",
        ),
        (vec!["--role", "staff", "--office", "*"], "only an admin"),
    ] {
        let mut a = vec!["token", "add", "--config", cfg];
        a.extend(args);
        let (ok, _, err) = central_cmd(&a, None);
        assert!(!ok && err.contains(says), "{a:?}: {err}");
    }
    let (ok, out, err) = central_cmd(
        &[
            "token", "add", "--config", cfg, "--role", "staff", "--office", OFFICE, "--label",
            "loket 1",
        ],
        None,
    );
    assert!(ok, "{err}");
    // The token, once, alone on stdout; the note on stderr.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let staff = lines[0].to_string();
    assert!(staff.starts_with("act1_") && staff.len() == 48, "{staff}");
    assert!(err.contains("shown once"), "{err}");
    let (ok, kiosk, _) = central_cmd(
        &[
            "token", "add", "--config", cfg, "--role", "kiosk", "--office", OFFICE, "--kiosk",
            "lobby-1",
        ],
        None,
    );
    assert!(ok);
    let kiosk = kiosk.trim().to_string();
    // The database has no secret in it.
    let db = std::fs::read(dir.path().join("db/central.sqlite3")).unwrap();
    let wal = std::fs::read(dir.path().join("db/central.sqlite3-wal")).unwrap_or_default();
    for secret in [&staff, &kiosk] {
        let needle = secret.as_bytes();
        assert!(
            !db.windows(needle.len()).any(|w| w == needle)
                && !wal.windows(needle.len()).any(|w| w == needle),
            "a token stored in clear"
        );
    }
    // list: ids, roles, prefixes, never the tokens.
    let (ok, list, _) = central_cmd(&["token", "list", "--config", cfg], None);
    assert!(ok);
    assert!(!list.contains(&staff) && !list.contains(&kiosk), "{list}");
    let row = |role: &str| -> Vec<String> {
        list.lines()
            .find(|l| l.split_whitespace().nth(2) == Some(role))
            .unwrap_or_else(|| panic!("no {role} row in {list}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let staff_row = row("staff");
    assert_eq!(staff_row[1], format!("{}…", &staff[..9]));
    assert_eq!(
        (staff_row[3].as_str(), staff_row[4].as_str()),
        (OFFICE, "-")
    );
    assert_eq!(row("kiosk")[4], "lobby-1");
    // The service takes them, each within its role.
    let server = serve_binary(&config, &[]);
    assert_eq!(get_status(&server.addr, "/staff", &staff), 200);
    assert_eq!(get_status(&server.addr, "/staff", &kiosk), 403);
    assert_eq!(get_status(&server.addr, "/manifest", &kiosk), 200);
    // Revoked while the service runs: 401 at once.
    let (ok, out, err) = central_cmd(&["token", "revoke", "--config", cfg, &staff_row[0]], None);
    assert!(ok, "{err}");
    assert!(out.contains("revoked"));
    assert_eq!(get_status(&server.addr, "/staff", &staff), 401);
    assert_eq!(get_status(&server.addr, "/manifest", &kiosk), 200);
    let (ok, list, _) = central_cmd(&["token", "list", "--config", cfg], None);
    assert!(ok);
    assert_ne!(
        row_of(&list, "staff")[6],
        "-",
        "the revocation's time is listed"
    );
    let (ok, _, err) = central_cmd(&["token", "revoke", "--config", cfg, "999"], None);
    assert!(!ok && err.contains("token list"), "{err}");
    assert!(
        !server
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(&staff) || l.contains(&kiosk)),
        "a token in the service's log"
    );
}

fn row_of(list: &str, role: &str) -> Vec<String> {
    list.lines()
        .find(|l| l.split_whitespace().nth(2) == Some(role))
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn old_plaintext_tokens_are_migrated_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let old = "old-plaintext-token-everything";
    let config = central_config(dir.path(), &format!("tokens = [\"{old}\"]"));
    let cfg = config.to_str().unwrap();
    // serve refuses, and says which commands to run.
    let (ok, _, err) = central_cmd(&["serve", "--config", cfg, "--listen", "127.0.0.1:0"], None);
    assert!(!ok, "serve started with plaintext tokens");
    for says in [
        "1 plaintext token(s)",
        &format!("antrean-central token import --config {cfg} --from-config 1 --role kiosk --office {OFFICE} --kiosk"),
        "token add",
        "delete `tokens` and `token_file`",
    ] {
        assert!(err.contains(says), "{says:?} missing from: {err}");
    }
    assert!(!err.contains(old), "the message shows the old token");
    // Import it as the kiosk's token, as the message says.
    let (ok, out, err) = central_cmd(
        &[
            "token",
            "import",
            "--config",
            cfg,
            "--from-config",
            "1",
            "--role",
            "kiosk",
            "--office",
            OFFICE,
            "--kiosk",
            "lobby-1",
        ],
        None,
    );
    assert!(ok && out.contains("imported"), "{out}{err}");
    let (ok, _, err) = central_cmd(
        &[
            "token",
            "import",
            "--config",
            cfg,
            "--from-config",
            "1",
            "--role",
            "staff",
            "--office",
            OFFICE,
        ],
        None,
    );
    assert!(!ok && err.contains("already"), "imported twice: {err}");
    let (ok, _, err) = central_cmd(
        &[
            "token", "import", "--config", cfg, "--role", "staff", "--office", OFFICE,
        ],
        Some("short\n"),
    );
    assert!(!ok && err.contains("16-256"), "{err}");
    // Without the old key the service starts; the old token keeps working
    // for what a kiosk does, and only that.
    central_config(dir.path(), "");
    let server = serve_binary(&config, &[]);
    assert_eq!(get_status(&server.addr, "/manifest", old), 200);
    assert_eq!(get_status(&server.addr, "/staff", old), 403);
}
