//! The staff page served by `antrean-central` at `/`, driven in headless
//! Chromium through chromedriver (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/install-deps --test`): a
//! counter clerk enters the token, picks a counter, calls the next
//! resident, recalls, finishes, and sees who waits and each kiosk's
//! printer; a wrong token and a kiosk's token are refused with a message.
//! The page runs under its strict CSP (no inline script or style), keeps
//! the token in sessionStorage only, and is served with its security
//! headers. Without chromedriver the browser test says so in one line and
//! passes, except in CI (`CI` set), where it fails. A city's administrator
//! chooses among the offices its token may see, and calls at the one
//! chosen only. A clerk confirms a resident's priority claim, and the next
//! call takes it before the earlier ordinary check-in.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use antrean_central::auth::Role;
use antrean_central::Central;
use antrean_core::api::{HealthReport, PrinterHealth};
use fantoccini::{Client, ClientBuilder, Locator};

use crate::support::service::{book_and_check_in, inprocess_central_with};
use crate::support::wait::{wait_for, LIMIT};
use crate::support::NOW;

const TOKEN: &str = "staff-token-for-the-page";
const KIOSK_TOKEN: &str = "kiosk-token-not-for-staff";

/// chromedriver on a free loopback port, killed on drop.
pub(crate) struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where chromedriver is, if it is installed (on `PATH`).
fn chromedriver() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
}

/// chromedriver, or `None` (said in one line) when it is not installed and
/// this is not CI; in CI a missing chromedriver fails the test.
pub(crate) fn driver_or_skip() -> Option<Driver> {
    if chromedriver().is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !ci,
            "chromedriver not found, and CI is set: install chromium-driver (scripts/install-deps --test)"
        );
        eprintln!(
            "skipping staff page browser test: chromedriver not found; install chromium-driver or run scripts/test"
        );
        return None;
    }
    Some(start_driver())
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start chromedriver ({e}): run scripts/install-deps --test (Debian packages chromium, chromium-driver)")
        });
    wait_for("chromedriver to listen", LIMIT, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    Driver(child, port)
}

pub(crate) async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    // Plain HTTP to chromedriver on loopback: no TLS needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a Chromium session through chromedriver")
}

/// Polls the text of `css` until `want` accepts it.
pub(crate) async fn text_until(c: &Client, css: &str, want: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if want(&t) {
                    return t;
                }
                assert!(
                    start.elapsed() < LIMIT,
                    "{css} still shows {t:?} after {LIMIT:?}"
                );
            }
        }
        assert!(start.elapsed() < LIMIT, "{css} never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id} on the page: {e}"))
        .click()
        .await
        .unwrap();
}

async fn serving(central: &Central, counter: &str) -> Option<String> {
    central
        .board()
        .await
        .unwrap()
        .counters
        .into_iter()
        .find(|c| c.id == counter)
        .and_then(|c| c.serving.map(|s| s.number))
}

#[test]
fn a_clerk_calls_recalls_and_finishes_from_the_staff_page() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (central, addr) = inprocess_central_with(
        &rt,
        dir.path(),
        &[
            (TOKEN, Role::Staff, None),
            (KIOSK_TOKEN, Role::Kiosk, Some("lobby-1")),
        ],
    );
    let numbers: Vec<String> = (0..3)
        .map(|_| rt.block_on(book_and_check_in(&central, "09:00-10:00", "lobby-1")))
        .collect();
    rt.block_on(central.health(
        "lobby-1",
        &HealthReport {
            at: NOW.into(),
            version: "test".into(),
            printer: PrinterHealth {
                state: antrean_core::printer_status::PrinterState::PaperLow,
                detail: None,
            },
            pending_checkins: 0,
            last_event_seq: None,
        },
    ))
    .unwrap();
    let profile = dir.path().join("chromium-profile");
    rt.block_on(async {
        let c = browser(&driver, &profile).await;
        c.goto(&format!("http://{addr}/")).await.unwrap();

        // No token baked in: the page asks for one.
        text_until(&c, "#message", |t| t.contains("token petugas / enter a staff token")).await;
        // A wrong token is refused, in both languages.
        let token = c.find(Locator::Id("token")).await.unwrap();
        token.send_keys("not-the-token\t").await.unwrap();
        text_until(&c, "#message", |t| t.contains("Token salah / wrong token")).await;
        assert_eq!(serving(&central, "2").await, None);
        // A kiosk's token is a token, but not a staff one.
        token.clear().await.unwrap();
        token.send_keys(&format!("{KIOSK_TOKEN}\t")).await.unwrap();
        text_until(&c, "#message", |t| t.contains("not a staff token")).await;

        // The right token: who waits, and the kiosk's printer.
        token.clear().await.unwrap();
        token.send_keys(&format!("{TOKEN}\t")).await.unwrap();
        text_until(&c, "#message", str::is_empty).await;
        let waiting = text_until(&c, "#waiting tbody", |t| t.contains(&numbers[2])).await;
        for n in &numbers {
            assert!(waiting.contains(n.as_str()), "{n} missing from {waiting:?}");
        }
        text_until(&c, "#kiosks tbody", |t| {
            t.contains("lobby-1") && t.contains("paper_low")
        })
        .await;

        // Counter 2 calls the next resident: the first in line.
        c.find(Locator::Css("#counter option[value='2']"))
            .await
            .expect("counter 2 in the list")
            .click()
            .await
            .unwrap();
        click(&c, "next").await;
        text_until(&c, "#serving", |t| t == numbers[0]).await;
        assert_eq!(serving(&central, "2").await.as_deref(), Some(numbers[0].as_str()));
        let waiting = text_until(&c, "#waiting tbody", |t| !t.contains(&numbers[0])).await;
        assert!(waiting.contains(numbers[1].as_str()));

        // Recall: a new event for the same number.
        let seq = central.seq().await.unwrap();
        click(&c, "recall").await;
        let start = Instant::now();
        while central.seq().await.unwrap() == seq {
            assert!(
                start.elapsed() < LIMIT,
                "the recall never reached the service"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(serving(&central, "2").await.as_deref(), Some(numbers[0].as_str()));

        // Done: the counter is free again.
        click(&c, "done").await;
        text_until(&c, "#serving", |t| t == "\u{2013}").await;
        assert_eq!(serving(&central, "2").await, None);

        // The token is kept for this tab only (sessionStorage), never in
        // localStorage.
        let stored = c
            .execute(
                "return [sessionStorage.getItem('antrean-token'), localStorage.getItem('antrean-token')]",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(stored, serde_json::json!([TOKEN, null]));

        // The page remembers the token and the counter after a reload.
        c.refresh().await.unwrap();
        click(&c, "next").await;
        text_until(&c, "#serving", |t| t == numbers[1]).await;
        assert_eq!(serving(&central, "2").await.as_deref(), Some(numbers[1].as_str()));
        c.close().await.unwrap();
    });
}

#[test]
fn the_page_is_served_with_strict_security_headers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_central, addr) = inprocess_central_with(
        &rt,
        dir.path(),
        &[("kiosk-token-0000000", Role::Kiosk, Some("lobby-1"))],
    );
    let http = reqwest::blocking::Client::new();
    for path in [
        "/",
        "/staff.js",
        "/staff.css",
        "/v1/offices/kota-bogor/board",
    ] {
        let resp = http.get(format!("http://{addr}{path}")).send().unwrap();
        let h = resp.headers();
        for (name, want) in [
            ("content-security-policy", antrean_central::routes::CSP),
            ("x-frame-options", "DENY"),
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(
                h.get(name).and_then(|v| v.to_str().ok()),
                Some(want),
                "{name} on {path}"
            );
        }
    }
    let csp = antrean_central::routes::CSP;
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let html = http
        .get(format!("http://{addr}/"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    // Nothing inline for the CSP to block: script and style are files.
    assert!(
        html.contains("<script src=\"/staff.js\"></script>"),
        "{html}"
    );
    assert!(!html.contains("<style") && !html.contains(" onclick="));
    assert!(
        !html.contains("kiosk-token-0000000"),
        "no token in the page"
    );
}

#[test]
fn a_city_administrator_chooses_the_office_on_the_staff_page() {
    use crate::support::city::{start_city, CITY};
    use crate::support::stores::Backend;
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let city = rt.block_on(start_city(Backend::Sqlite));
    let (timur, utara) = (CITY[1].0, CITY[2].0);
    for id in [timur, utara] {
        let office = city.central.office(id).unwrap();
        let b = rt
            .block_on(office.book(&antrean_core::api::BookingRequest {
                date: crate::support::TODAY.into(),
                slot: "09:00-10:00".into(),
                service: "KK".into(),
                name: None,
            }))
            .unwrap();
        rt.block_on(office.checkin(&antrean_core::api::CheckinRequest {
            booking: b.booking,
            number: b.number,
            kiosk: "lobby-1".into(),
            checked_in_at: NOW.into(),
            offline: false,
        }))
        .unwrap();
    }
    let serving_at = |id: &str| {
        rt.block_on(city.central.office(id).unwrap().board())
            .unwrap()
            .counters[0]
            .serving
            .as_ref()
            .map(|s| s.number.clone())
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("chromium-profile");
    rt.block_on(async {
        let c = browser(&driver, &profile).await;
        c.goto(&format!("http://{}/", city.addr)).await.unwrap();
        let token = c.find(Locator::Id("token")).await.unwrap();
        token.send_keys(&format!("{}\t", city.admin)).await.unwrap();
        // Every office of the city to choose from, the first chosen.
        let offices = text_until(&c, "#office", |t| t.contains(CITY[2].1)).await;
        for (_, name, _) in CITY {
            assert!(offices.contains(name), "{name} missing from {offices:?}");
        }
        text_until(&c, "#office-name", |t| t == CITY[0].1).await;
        // Bekasi Utara: its resident is called there, nowhere else.
        c.find(Locator::Css(&format!("#office option[value='{utara}']")))
            .await
            .expect("the office in the list")
            .click()
            .await
            .unwrap();
        text_until(&c, "#office-name", |t| t == CITY[2].1).await;
        text_until(&c, "#waiting tbody", |t| t.contains("B-001")).await;
        click(&c, "next").await;
        text_until(&c, "#serving", |t| t == "B-001").await;
        c.close().await.unwrap();
    });
    assert_eq!(serving_at(utara).as_deref(), Some("B-001"));
    assert_eq!(serving_at(timur), None, "another office's counter");
}

#[test]
fn a_clerk_confirms_a_priority_claim_and_calls_it_first() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (central, addr) = inprocess_central_with(&rt, dir.path(), &[(TOKEN, Role::Staff, None)]);
    let first = rt.block_on(book_and_check_in(&central, "09:00-10:00", "lobby-1"));
    let elderly = rt.block_on(book_and_check_in(&central, "09:00-10:00", "lobby-1"));
    let office = central.default_office();
    let code = rt
        .block_on(office.bookings_on(office.today()))
        .unwrap()
        .into_iter()
        .find(|b| b.number == elderly)
        .unwrap()
        .code;
    // The kiosk passed on the resident's claim.
    rt.block_on(office.request_priority(
        &code,
        &antrean_core::api::PriorityRequest {
            kiosk: "lobby-1".into(),
            requested_at: NOW.into(),
        },
    ))
    .unwrap();
    let profile = dir.path().join("chromium-profile");
    rt.block_on(async {
        let c = browser(&driver, &profile).await;
        c.goto(&format!("http://{addr}/")).await.unwrap();
        let token = c.find(Locator::Id("token")).await.unwrap();
        token.send_keys(&format!("{TOKEN}\t")).await.unwrap();
        // The claim is marked, with the clerk's two choices.
        let waiting = text_until(&c, "#waiting tbody", |t| t.contains("diminta / requested")).await;
        assert!(waiting.contains(&first), "{waiting}");
        c.find(Locator::Css(&format!(
            "button.priority-confirm[data-booking='{code}']"
        )))
        .await
        .expect("a confirm button for the claim")
        .click()
        .await
        .unwrap();
        text_until(&c, "#waiting tbody", |t| {
            t.contains("PRIORITAS (dikonfirmasi")
        })
        .await;
        // Confirmed: called before the earlier ordinary check-in.
        click(&c, "next").await;
        text_until(&c, "#serving", |t| t == elderly).await;
        c.close().await.unwrap();
    });
    let board = rt.block_on(central.board()).unwrap();
    let serving = board.counters[0].serving.as_ref().expect("counter 1 calls");
    assert_eq!(
        (serving.number.as_str(), serving.priority),
        (elderly.as_str(), true)
    );
}
