//! The graceful stop of the real `antrean-central serve`, on every back
//! end: a board's event stream is open (and has had an event); SIGTERM;
//! the client sees its stream end cleanly (the chunked body's end, not a
//! reset), the process exits 0 within the bound, says it stopped, and
//! accepts no more connections.

use std::path::Path;
use std::time::{Duration, Instant};

use antrean_core::events::BoardEvent;
use antrean_core::sse::SseParser;
use reqwest::StatusCode;
use serde_json::json;

use antrean_central::shutdown::{CLOSE_DATABASE_WITHIN, DRAIN_WITHIN};

use crate::support::binary::{central_cmd, central_config, serve_binary, Serving};
use crate::support::city::{city_config, CITY};
use crate::support::postgres::cluster;
use crate::support::sse::read_events;
use crate::support::stores::{backends, Backend};
use crate::support::wait::{wait_for, LIMIT};
use crate::support::OFFICE;

fn token(config: &Path, role: &str, office: &str) -> String {
    let cfg = config.to_str().unwrap();
    let (ok, out, err) = central_cmd(
        &[
            "token", "add", "--config", cfg, "--role", role, "--office", office,
        ],
        None,
    );
    assert!(ok, "token add {role}: {err}");
    out.trim().to_string()
}

/// A configuration of `backend` in `dir`, and the office it serves.
fn config_of(backend: Backend, dir: &Path) -> (std::path::PathBuf, &'static str) {
    match backend {
        Backend::Sqlite => (central_config(dir, ""), OFFICE),
        Backend::Postgres => {
            let url = cluster().unwrap().fresh_database();
            let config = city_config(dir, &url, 40, "");
            let keys = dir.join("keys");
            let (ok, _, err) = central_cmd(&["keygen", "--key-dir", keys.to_str().unwrap()], None);
            assert!(ok, "{err}");
            (config, CITY[0].0)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_cleanly_and_exits_zero() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        sigterm_on(backend).await;
    }
}

async fn sigterm_on(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (config, office) = config_of(backend, dir.path());
    let board = token(&config, "board", office);
    let staff = token(&config, "staff", office);
    let mut serving: Serving = serve_binary(&config, &[]);
    let base = format!("http://{}/v1/offices/{office}", serving.addr);
    let http = reqwest::Client::new();

    // A board listens and hears an event: the stream is live.
    let mut stream = http
        .get(format!("{base}/events"))
        .bearer_auth(&board)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let st = http
        .post(format!("{base}/notice"))
        .bearer_auth(&staff)
        .json(&json!({"text": "Layanan tutup pukul 15.00"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, StatusCode::NO_CONTENT);
    let mut parser = SseParser::new();
    let got = read_events(&mut stream, &mut parser, 1).await;
    assert!(matches!(got[0].1, BoardEvent::Notice(_)), "{got:?}");

    // SIGTERM.
    let pid = i32::try_from(serving.child.id()).unwrap();
    let stopped_at = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);

    // The stream ends cleanly: the body's end, not an error.
    let bound = DRAIN_WITHIN + CLOSE_DATABASE_WITHIN + Duration::from_secs(5);
    loop {
        match tokio::time::timeout(bound, stream.chunk()).await {
            Err(_) => panic!("the event stream did not end within {bound:?}"),
            Ok(Ok(Some(_))) => continue, // a ping
            Ok(Ok(None)) => break,
            Ok(Err(e)) => panic!("the event stream broke instead of ending: {e}"),
        }
    }
    // Exit code 0, within the bound.
    let status = wait_for("the process to exit", bound, || {
        serving.child.try_wait().unwrap()
    });
    let took = stopped_at.elapsed();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    assert!(took < bound, "took {took:?}");
    let log = serving.log.lock().unwrap().join("\n");
    assert!(log.contains("stopped"), "{log}");
    // Nothing listens any more.
    let refused = reqwest::Client::new()
        .get(format!("http://{}/livez", serving.addr))
        .timeout(LIMIT)
        .send()
        .await;
    assert!(refused.is_err(), "still answering after the stop");
}
