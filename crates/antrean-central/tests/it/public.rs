//! The public pages over real HTTP on every back end: a resident books,
//! checks in at the kiosk (its POST), opens the ticket's status URL and
//! sees the number and the people ahead; the call shows as "dipanggil di
//! Loket 2" (and in English on the toggle); the office page shows the
//! sessions with room, the booking link, opening hours, the lunch break,
//! now serving and the (escaped) notice. No token, no personal data,
//! cacheable, small (< 50 kB with its script and style), rate limited,
//! bounded streams, and a bilingual 404 for anything unknown.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::service::*;
use crate::support::sse::read_events;
use crate::support::stores::backends;
use crate::support::{NOW, OFFICE, TODAY};
use antrean_core::events::BoardEvent;
use antrean_core::sse::SseParser;

/// Books through the booking API with a name, checks in with the kiosk's
/// POST: (booking code, number).
async fn arrive(s: &Server, slot: &str) -> (String, String) {
    let (status, b) = s
        .call(
            "POST",
            "/bookings",
            BOOKING,
            Some(json!({"date": TODAY, "slot": slot, "service": "KK", "name": "Siti Rahmawati"})),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    let (code, number) = (
        b["booking"].as_str().unwrap().to_string(),
        b["number"].as_str().unwrap().to_string(),
    );
    let (status, v) = s
        .call(
            "POST",
            "/checkins",
            KIOSK,
            Some(
                json!({"booking": code, "number": number, "kiosk": "lobby-1",
                        "checked_in_at": NOW, "offline": false}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    (code, number)
}

async fn get(s: &Server, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let r = s
        .http
        .get(format!("http://{}{path}", s.addr))
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

fn cache_control(h: &reqwest::header::HeaderMap) -> &str {
    h.get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_follows_the_number_from_the_ticket_url() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        let s = start_on(backend, |c| {
            c.offices[0].booking_url = Some("https://antrean.example.go.id/booking".into());
        })
        .await;
        let (_, first) = arrive(&s, "09:00-10:00").await;
        let (_, second) = arrive(&s, "09:00-10:00").await;
        let (code, mine) = arrive(&s, "09:00-10:00").await;
        // The ticket's status URL: {status_url}/p/{office}/{date}/{number}.
        let url = format!("/p/{OFFICE}/{TODAY}/{mine}");
        let (status, h, page) = get(&s, &url).await;
        assert_eq!(status, 200, "{page}");
        assert!(cache_control(&h).starts_with("public, max-age="), "{h:?}");
        assert_eq!(h.get("content-type").unwrap(), "text/html; charset=utf-8");
        assert!(
            page.contains(&format!("<h1 id=\"number\">{mine}</h1>")),
            "{page}"
        );
        assert!(
            page.contains("Orang di depan Anda</dt><dd id=\"ahead\">2</dd>"),
            "{page}"
        );
        assert!(page.contains("Menunggu dipanggil"), "{page}");
        // Nothing personal: no name (not even masked), no booking code.
        for secret in ["Siti", "S***i", code.as_str()] {
            assert!(!page.contains(secret), "{secret} on the public page");
        }
        // The JSON the page keeps itself current with.
        let (status, h, body) = get(&s, &format!("/p/{OFFICE}/status/{TODAY}/{mine}")).await;
        assert_eq!(status, 200);
        assert!(cache_control(&h).starts_with("public"), "{h:?}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (
                v["number"].as_str(),
                v["state"].as_str(),
                v["ahead"].as_u64()
            ),
            (Some(mine.as_str()), Some("checked_in"), Some(2))
        );
        assert!(
            v["estimated_call"].as_str().is_some_and(|t| t.len() == 5),
            "{v}"
        );
        assert!(!body.contains("Siti") && !body.contains(&code), "{body}");
        // Counter 1 calls the first, counter 2 the second: one ahead less
        // each; then counter 2 finishes and calls mine.
        s.call("POST", "/counters/1/next", STAFF, None).await;
        s.call("POST", "/counters/2/next", STAFF, None).await;
        let (_, _, body) = get(&s, &format!("/p/{OFFICE}/status/{TODAY}/{mine}")).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["ahead"], 0, "{v}");
        let serving: Vec<(&str, &str)> = v["counters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| Some((c["label"].as_str()?, c["number"].as_str()?)))
            .collect();
        assert_eq!(
            serving,
            [("Loket 1", first.as_str()), ("Loket 2", second.as_str())]
        );
        s.call("POST", "/counters/2/next", STAFF, None).await;
        let (_, _, page) = get(&s, &url).await;
        assert!(page.contains("Nomor Anda dipanggil di Loket 2"), "{page}");
        assert!(
            page.contains("Your number is being called at Loket 2"),
            "both languages when called"
        );
        let (_, _, page) = get(&s, &format!("{url}?lang=en")).await;
        assert!(
            page.contains("<html lang=\"en\">") && page.contains("People ahead of you"),
            "{page}"
        );
        assert!(page.contains("Your number is being called at Loket 2"));
        assert!(page.contains("href=\"?lang=en\"") || page.contains("Bahasa Indonesia"));
        let v: Value = serde_json::from_str(
            &get(&s, &format!("/p/{OFFICE}/status/{TODAY}/{mine}"))
                .await
                .2,
        )
        .unwrap();
        assert_eq!(
            (v["state"].as_str(), v["counter_label"].as_str()),
            (Some("called"), Some("Loket 2"))
        );
        // A booking not checked in yet says so.
        let (_, n) = s.book("10:00-11:00").await;
        let (_, _, page) = get(&s, &format!("/p/{OFFICE}/{TODAY}/{n}")).await;
        assert!(page.contains("Belum check-in"), "{page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_its_script_and_style_are_small() {
    let s = start(|_| {}).await;
    let (_, n) = s.checked_in("09:00-10:00").await;
    let mut total = 0;
    for path in [
        format!("/p/{OFFICE}/{TODAY}/{n}"),
        "/p.js".into(),
        "/p.css".into(),
    ] {
        let (status, h, body) = get(&s, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(cache_control(&h).starts_with("public"), "{path}: {h:?}");
        assert_eq!(
            h.get("content-security-policy").unwrap(),
            antrean_central::routes::CSP,
            "{path}"
        );
        total += body.len();
    }
    assert!(total < 50 * 1024, "{total} bytes");
    eprintln!("status page with script and style: {total} bytes");
    // The page runs under the strict CSP: nothing inline.
    let (_, _, page) = get(&s, &format!("/p/{OFFICE}/{TODAY}/{n}")).await;
    assert!(
        page.contains("<script src=\"/p.js\"></script>")
            && !page.contains("<style")
            && !page.contains(" on"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_office_page_is_the_official_word_of_the_day() {
    for backend in backends() {
        let s = start_on(backend, |c| {
            c.offices[0].booking_url = Some("https://antrean.example.go.id/booking".into());
            c.offices[0].sessions[0].quota = 3;
            c.offices[0].sessions[1].quota = 4;
        })
        .await;
        for _ in 0..3 {
            s.book("09:00-10:00").await;
        }
        let (_, n) = s.checked_in("09:00-10:00").await;
        s.call("POST", "/counters/3/next", STAFF, None).await;
        s.call(
            "POST",
            "/notice",
            STAFF,
            Some(json!({"text": "Server <b>lambat</b> & antre"})),
        )
        .await;
        let (status, h, page) = get(&s, &format!("/p/{OFFICE}")).await;
        assert_eq!(status, 200, "{page}");
        assert!(cache_control(&h).starts_with("public, max-age="), "{h:?}");
        for want in [
            "Disdukcapil Kota Bogor",
            "Jam layanan</dt><dd id=\"hours\">08.00-14.00</dd>",
            "Istirahat</dt><dd id=\"breaks\">12.00-13.00</dd>",
            "Belum punya booking? Sesi ini masih ada tempat:",
            "<a href=\"https://antrean.example.go.id/booking\">pesan di sini</a>",
            // 08:00 is over at 09:20; 09:00 is full; 10:00 has its 500 (the support's quota).
            "<tr class=\"gone\"><td>08.00-09.00</td><td>selesai</td></tr>",
            "<tr class=\"gone\"><td>09.00-10.00</td><td>penuh</td></tr>",
            "<tr class=\"open\"><td>10.00-11.00</td><td>500 tempat</td></tr>",
            "<tr class=\"open\"><td>13.00-14.00</td>",
            "Server &lt;b&gt;lambat&lt;/b&gt; &amp; antre",
        ] {
            assert!(page.contains(want), "{want:?} missing from {page}");
        }
        assert!(
            page.contains(&format!("<td>Loket 3</td><td class=\"num\">{n}</td>")),
            "{page}"
        );
        let (_, _, en) = get(&s, &format!("/p/{OFFICE}?lang=en")).await;
        for want in [
            "Opening hours",
            "Lunch break",
            "No booking? These sessions still have room:",
            "book here",
        ] {
            assert!(en.contains(want), "{want:?} missing from {en}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_offices_dates_and_numbers_get_a_bilingual_404() {
    let s = start(|_| {}).await;
    let (_, n) = s.checked_in("09:00-10:00").await;
    for path in [
        "/p/kota-tidak-ada".to_string(),
        format!("/p/kota-tidak-ada/{TODAY}/{n}"),
        format!("/p/{OFFICE}/2024-13-45/{n}"),
        format!("/p/{OFFICE}/kemarin/{n}"),
        format!("/p/{OFFICE}/{TODAY}/Z-999"),
        format!("/p/{OFFICE}/2024-05-09/{n}"),
        format!("/p/{OFFICE}/{TODAY}/%3Cscript%3E"),
    ] {
        let (status, _, page) = get(&s, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            page.contains("Tidak ditemukan") && page.contains("Not found"),
            "{path}: {page}"
        );
        assert!(!page.contains("<script>"), "{path}");
    }
    let (status, _, body) = get(&s, &format!("/p/{OFFICE}/status/{TODAY}/Z-999")).await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "not_found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_requests_are_rate_limited_and_streams_bounded() {
    let s = start(|c| {
        c.limits.writes_per_minute = 60;
        c.limits.write_burst = 5;
        c.limits.max_streams_per_office = 2;
    })
    .await;
    let codes: Vec<u16> = futures_util::future::join_all(
        (0..8).map(|_| async { get(&s, &format!("/p/{OFFICE}")).await.0.as_u16() }),
    )
    .await;
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 3, "{codes:?}");
    // The devices' own streams are not taken by the public's.
    let s = start(|c| c.limits.max_streams_per_office = 2).await;
    let open = |path: String| {
        let http = s.http.clone();
        let url = format!("http://{}{path}", s.addr);
        async move { http.get(url).send().await.unwrap() }
    };
    let mut a = open(format!("/p/{OFFICE}/events")).await;
    let _b = open(format!("/p/{OFFICE}/events")).await;
    let c = open(format!("/p/{OFFICE}/events")).await;
    assert_eq!(c.status(), 503, "a third public stream");
    assert!(c.headers().get("retry-after").is_some());
    let kiosk = s.send("GET", "/events", Some(KIOSK), None).await;
    assert_eq!(kiosk.status(), 200, "the kiosk's stream still opens");
    assert_eq!(a.headers().get("cache-control").unwrap(), "no-store");
    // The public stream carries the office's typed events.
    let (_, n) = s.checked_in("09:00-10:00").await;
    s.call("POST", "/counters/2/next", STAFF, None).await;
    let events = read_events(&mut a, &mut SseParser::new(), 2).await;
    match &events[1].1 {
        BoardEvent::Call(c) => {
            assert_eq!((c.number.as_str(), c.counter.as_str()), (n.as_str(), "2"))
        }
        other => panic!("{other:?}"),
    }
}
