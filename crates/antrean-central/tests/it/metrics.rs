//! `GET /metrics` over real HTTP, on every back end: after bookings,
//! check-ins (one repeated) and calls in two offices of a city, and an
//! event stream open at one of them, each office's counters and gauge say
//! exactly that; the latency histogram is labelled by route template and
//! status class (never a raw path); only an admin token of every office
//! reads it.

use antrean_central::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::city::{start_city, City};
use crate::support::stores::{backends, Backend};
use crate::support::wait::wait_for_async;
use crate::support::{NOW, TODAY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_per_office() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        metrics_on(backend).await;
    }
}

/// Books a place at `office` and checks it in `checkins` times (the
/// repeats are answered `200`, not `201`).
async fn book_and_check_in(city: &City, office: &str, checkins: usize) {
    let (st, b) = city
        .call(
            "POST",
            &format!("/v1/offices/{office}/bookings"),
            city.token(office, Role::Booking),
            Some(json!({"date": TODAY, "slot": "09:00-10:00", "service": "KK"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{office}: {b}");
    for i in 0..checkins {
        let (st, v) = city
            .call(
                "POST",
                &format!("/v1/offices/{office}/checkins"),
                city.token(office, Role::Kiosk),
                Some(
                    json!({"booking": b["booking"], "number": b["number"], "kiosk": "lobby-1",
                            "checked_in_at": NOW, "offline": false}),
                ),
            )
            .await;
        let want = if i == 0 {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        assert_eq!(st, want, "{office}: {v}");
    }
}

async fn call_next(city: &City, office: &str) -> StatusCode {
    city.send(
        "POST",
        &format!("/v1/offices/{office}/counters/1/next"),
        city.token(office, Role::Staff),
        None,
    )
    .await
    .status()
}

async fn scrape(city: &City, token: &str) -> (StatusCode, String) {
    let resp = city.send("GET", "/metrics", token, None).await;
    (resp.status(), resp.text().await.unwrap())
}

/// The value of the sample `name{labels}` in an OpenMetrics text.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

async fn metrics_on(backend: Backend) {
    let city = start_city(backend).await;
    let (main, timur, utara) = ("kota-bekasi", "bekasi-timur", "bekasi-utara");
    // A board at the main office listens.
    let stream = city
        .send(
            "GET",
            &format!("/v1/offices/{main}/events"),
            city.token(main, Role::Board),
            None,
        )
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    book_and_check_in(&city, main, 1).await;
    book_and_check_in(&city, main, 1).await;
    book_and_check_in(&city, timur, 2).await;
    assert_eq!(call_next(&city, main).await, StatusCode::OK);
    assert_eq!(call_next(&city, main).await, StatusCode::OK);
    assert_eq!(call_next(&city, main).await, StatusCode::NO_CONTENT);
    assert_eq!(call_next(&city, timur).await, StatusCode::OK);

    // Who may read it.
    let (st, _) = scrape(&city, "not-a-token-at-all-0000").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = scrape(&city, city.token(main, Role::Staff)).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "an office's token");

    let (st, text) = scrape(&city, &city.admin).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    // (office, bookings, check-ins, calls, open streams)
    for (office, bookings, checkins, calls, streams) in
        [(main, 2, 2, 2, 1), (timur, 1, 1, 1, 0), (utara, 0, 0, 0, 0)]
    {
        let l = format!("{{office=\"{office}\"}}");
        let got = [
            sample(&text, &format!("antrean_central_bookings_total{l}")),
            sample(&text, &format!("antrean_central_checkins_total{l}")),
            sample(&text, &format!("antrean_central_calls_total{l}")),
            sample(&text, &format!("antrean_central_sse_subscribers{l}")),
        ];
        let want = [bookings, checkins, calls, streams].map(|n| Some(f64::from(n)));
        assert_eq!(got, want, "{office} in:\n{text}");
    }
    // Latency by route template and status class.
    let bookings_2xx = "antrean_central_request_duration_seconds_count{route=\"/v1/offices/:office/bookings\",method=\"POST\",status=\"2xx\"}";
    assert_eq!(sample(&text, bookings_2xx), Some(3.0), "{text}");
    let checkins_2xx = "antrean_central_request_duration_seconds_count{route=\"/v1/offices/:office/checkins\",method=\"POST\",status=\"2xx\"}";
    assert_eq!(sample(&text, checkins_2xx), Some(4.0), "{text}");
    let metrics_4xx = "antrean_central_request_duration_seconds_count{route=\"/metrics\",method=\"GET\",status=\"4xx\"}";
    assert_eq!(sample(&text, metrics_4xx), Some(2.0), "{text}");
    assert!(
        !text.contains("/v1/offices/kota-bekasi"),
        "no raw paths in labels:\n{text}"
    );

    // The board goes: its office's gauge follows.
    drop(stream);
    wait_for_async("the stream gauge to fall", || async {
        let (_, text) = scrape(&city, &city.admin).await;
        (sample(
            &text,
            &format!("antrean_central_sse_subscribers{{office=\"{main}\"}}"),
        ) == Some(0.0))
        .then_some(())
    })
    .await;
}
