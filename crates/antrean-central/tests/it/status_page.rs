//! The resident's status page in headless Chromium (chromedriver as in
//! `staff_page.rs`, skipped outside CI without it): opened from the
//! ticket's URL, it shows the number and the people ahead, and turns to
//! "Nomor Anda dipanggil di Loket 2" within 1 s of a call made through the
//! staff API (the page hears the office's public event stream). Beside it,
//! the README's screenshots of the phone page (360x740) and the office
//! page (an ignored test: `cargo test -p antrean-central --test it
//! screenshots -- --ignored` writes them into docs/screenshots/).

use std::time::{Duration, Instant};

use antrean_central::auth::Role;
use antrean_central::keys::KeyStore;
use antrean_central::{serve, Central, CentralSettings};
use antrean_host::clock::Clock;
use fantoccini::{Client, Locator};

use crate::staff_page::{browser, driver_or_skip, text_until};
use crate::support::service::{book_and_check_in, inprocess_central_with, sqlite};
use crate::support::{OFFICE, TODAY};

const STAFF: &str = "staff-token-for-the-status-page";

async fn state(c: &Client) -> String {
    match c.find(Locator::Id("state")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[test]
fn the_phone_page_turns_to_called_within_a_second() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (central, addr) = inprocess_central_with(&rt, dir.path(), &[(STAFF, Role::Staff, None)]);
    let ahead = rt.block_on(book_and_check_in(&central, "09:00-10:00", "lobby-1"));
    let mine = rt.block_on(book_and_check_in(&central, "09:00-10:00", "lobby-1"));
    let profile = dir.path().join("chromium-profile");
    let http = reqwest::Client::new();
    let call = |counter: &'static str| {
        let http = http.clone();
        async move {
            let r = http
                .post(format!(
                    "http://{addr}/v1/offices/{OFFICE}/counters/{counter}/next"
                ))
                .bearer_auth(STAFF)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    rt.block_on(async {
        let c = browser(&driver, &profile).await;
        c.goto(&format!("http://{addr}/p/{OFFICE}/{TODAY}/{mine}"))
            .await
            .unwrap();
        text_until(&c, "#number", |t| t == mine).await;
        text_until(&c, "#state", |t| t == "Menunggu dipanggil").await;
        text_until(&c, "#ahead", |t| t == "1").await;
        // The stream is open once the page knows the counters; a call of
        // someone else updates "now serving" and, soon, the people ahead.
        call("1").await;
        text_until(&c, "#counters tr[data-counter='1'] .num", |t| t == ahead).await;
        text_until(&c, "#ahead", |t| t == "0").await;
        assert_eq!(state(&c).await, "Menunggu dipanggil");
        // Counter 2 calls mine: the page says so within a second.
        let start = Instant::now();
        call("2").await;
        loop {
            if state(&c).await == "Nomor Anda dipanggil di Loket 2" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "the page still says {:?} 1 s after the call",
                state(&c).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "status page showed the call {:?} after it was made",
            start.elapsed()
        );
        text_until(&c, "#called-also", |t| {
            t == "Your number is being called at Loket 2"
        })
        .await;
        // The English toggle keeps the state.
        c.find(Locator::Id("lang"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        text_until(&c, "#state", |t| {
            t == "Your number is being called at Loket 2"
        })
        .await;
        c.close().await.unwrap();
    });
}

/// A busy day at `at` for the screenshots (residents of `slot` checked in): most places booked, people
/// checked in, counters calling, one priority arrival, a notice.
async fn busy_morning(
    dir: &std::path::Path,
    at: &str,
    slot: &str,
) -> (Central, std::net::SocketAddr, String) {
    let mut settings = CentralSettings::standard(OFFICE, "Disdukcapil Kota Bogor");
    settings.offices[0].booking_url =
        Some("https://antrean.kotabogor.example.go.id/booking".into());
    let clock = Clock::starting_at(chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc());
    let central = Central::new(
        settings,
        sqlite(&dir.join("shots.db")),
        KeyStore::ephemeral("k-shots"),
        clock,
    );
    let office = central.default_office();
    let today = office.today();
    antrean_central::demo::seed_demo(&office, today, 7)
        .await
        .unwrap();
    let day = office.bookings_on(today).await.unwrap();
    let now = office.now().to_rfc3339();
    let mut mine = String::new();
    for (i, b) in day
        .iter()
        .filter(|b| b.slot == slot && b.status == antrean_core::manifest::BookingStatus::Booked)
        .take(14)
        .enumerate()
    {
        office
            .checkin(&antrean_core::api::CheckinRequest {
                booking: b.code.clone(),
                number: b.number.clone(),
                kiosk: "lobby-1".into(),
                checked_in_at: now.clone(),
                offline: false,
            })
            .await
            .unwrap();
        if i == 9 {
            mine = b.number.clone();
        }
        if i == 5 {
            office
                .request_priority(
                    &b.code,
                    &antrean_core::api::PriorityRequest {
                        kiosk: "lobby-1".into(),
                        requested_at: now.clone(),
                    },
                )
                .await
                .unwrap();
            office.decide_priority(&b.code, true).await.unwrap();
        }
    }
    for counter in ["1", "2", "3", "4"] {
        office.next(counter).await.unwrap();
    }
    office
        .notice(Some(
            "Layanan KIA hari ini di Loket 4. / Child ID cards at Loket 4 today.".into(),
        ))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, central.clone(), std::future::pending()));
    (central, addr, mine)
}

#[test]
#[ignore = "writes docs/screenshots/; run with --ignored"]
fn screenshots_for_the_readme() {
    let Some(driver) = driver_or_skip() else {
        panic!("screenshots need chromedriver (scripts/install-deps --test)");
    };
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("chromium-profile");
    rt.block_on(async {
        let (central, addr, mine) =
            busy_morning(dir.path(), "2026-03-10T10:20:00+07:00", "10:00-11:00").await;
        let date = central.default_office().today();
        let c = browser(&driver, &profile).await;
        for (url, file, size) in [
            (
                format!("http://{addr}/p/{OFFICE}/{date}/{mine}"),
                "phone-status.png",
                (360, 740),
            ),
            (
                format!("http://{addr}/p/{OFFICE}"),
                "office-page.png",
                (800, 1100),
            ),
        ] {
            c.set_window_size(size.0, size.1).await.unwrap();
            c.goto(&url).await.unwrap();
            text_until(&c, "main", |t| !t.is_empty()).await;
            // The inner size is what a phone shows: adjust for the frame.
            let inner = c
                .execute("return [window.innerWidth, window.innerHeight]", vec![])
                .await
                .unwrap();
            let (w, h) = (
                inner[0].as_u64().unwrap() as u32,
                inner[1].as_u64().unwrap() as u32,
            );
            c.set_window_size(2 * size.0 - w, 2 * size.1 - h)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            let png = c.screenshot().await.unwrap();
            std::fs::write(out.join(file), &png).unwrap();
            eprintln!("wrote docs/screenshots/{file} ({} bytes)", png.len());
        }
        // The phone page when the number is called.
        let office = central.default_office();
        for _ in 0..12 {
            let called = office.next("2").await.unwrap();
            if called.is_some_and(|c| c.number == mine) {
                break;
            }
        }
        c.set_window_size(360, 740).await.unwrap();
        c.goto(&format!("http://{addr}/p/{OFFICE}/{date}/{mine}"))
            .await
            .unwrap();
        let inner = c
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .unwrap();
        let (w, h) = (
            inner[0].as_u64().unwrap() as u32,
            inner[1].as_u64().unwrap() as u32,
        );
        c.set_window_size(720 - w, 1480 - h).await.unwrap();
        text_until(&c, "#state", |t| t.starts_with("Nomor Anda dipanggil")).await;
        std::fs::write(out.join("phone-called.png"), c.screenshot().await.unwrap()).unwrap();
        // The office page during the lunch break.
        c.close().await.unwrap();
    });
    rt.block_on(async {
        let lunch = dir.path().join("lunch");
        std::fs::create_dir_all(&lunch).unwrap();
        let (_central, addr, _) =
            busy_morning(&lunch, "2026-03-10T12:10:00+07:00", "11:00-12:00").await;
        let c = browser(&driver, &dir.path().join("profile-2")).await;
        c.set_window_size(800, 1100).await.unwrap();
        c.goto(&format!("http://{addr}/p/{OFFICE}")).await.unwrap();
        text_until(&c, "#break-now", |t| t.contains("12.00-13.00")).await;
        std::fs::write(
            out.join("office-page-lunch.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.close().await.unwrap();
    });
}
