//! Three offices in one service, on every back end: each office's kiosk,
//! board and tokens see only their own office (manifest, board, events,
//! check-ins, staff view), `403` across offices for every role, a booking
//! code of one office is unknown at another, `seq` runs per office, and
//! the offices a token may see are its own (all of them for the city's
//! administrator).

use antrean_central::auth::Role;
use antrean_core::sse::SseParser;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::city::{start_city, City, CITY, ROLES};
use crate::support::sse::read_events;
use crate::support::stores::{backends, Backend};
use crate::support::{NOW, TODAY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_office_sees_only_its_own() {
    for backend in backends() {
        eprintln!("on {}", backend.name());
        three_offices_on(backend).await;
    }
}

fn base(office: &str) -> String {
    format!("/v1/offices/{office}")
}

/// Books one place at `office` (its booking token) and checks it in (its
/// kiosk token); (booking code, number).
async fn book_and_check_in(city: &City, office: &str) -> (String, String) {
    let (st, b) = city
        .call(
            "POST",
            &format!("{}/bookings", base(office)),
            city.token(office, Role::Booking),
            Some(json!({"date": TODAY, "slot": "09:00-10:00", "service": "KK"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{office}: {b}");
    let (code, number) = (
        b["booking"].as_str().unwrap().to_string(),
        b["number"].as_str().unwrap().to_string(),
    );
    let (st, v) = city
        .call(
            "POST",
            &format!("{}/checkins", base(office)),
            city.token(office, Role::Kiosk),
            Some(
                json!({"booking": code, "number": number, "kiosk": "lobby-1",
                        "checked_in_at": NOW, "offline": false}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{office}: {v}");
    (code, number)
}

async fn three_offices_on(backend: Backend) {
    let city = start_city(backend).await;
    // Every office's board display listens from the start.
    let mut streams = Vec::new();
    for (id, _, _) in CITY {
        let resp = city
            .send(
                "GET",
                &format!("{}/events", base(id)),
                city.token(id, Role::Board),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{id}");
        streams.push((resp, SseParser::new()));
    }
    // Each office: a different number of bookings (so their numbers and
    // codes differ), a check-in, a call, its own notice.
    let mut codes = Vec::new();
    for (i, (id, _, prefix)) in CITY.iter().enumerate() {
        let mut mine = Vec::new();
        for _ in 0..=i {
            mine.push(book_and_check_in(&city, id).await);
        }
        assert!(mine
            .iter()
            .all(|(c, _)| c.starts_with(&format!("{prefix}-"))));
        let (st, called) = city
            .call(
                "POST",
                &format!("{}/counters/1/next", base(id)),
                city.token(id, Role::Staff),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{id}: {called}");
        assert_eq!(called["number"], "B-001");
        let (st, _) = city
            .call(
                "POST",
                &format!("{}/notice", base(id)),
                city.token(id, Role::Staff),
                Some(json!({"text": format!("Pengumuman {id}")})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        codes.push(mine);
    }
    // Each board saw its own office's events only, `seq` from 1.
    for (i, (id, _, _)) in CITY.iter().enumerate() {
        let (resp, parser) = &mut streams[i];
        let n = i + 1 + 2; // check-ins, the call, the notice
        let events = read_events(resp, parser, n).await;
        let got: Vec<(u64, &str)> = events.iter().map(|(_, e)| (e.seq(), e.kind())).collect();
        let mut want: Vec<(u64, &str)> = (1..=i as u64 + 1).map(|s| (s, "checkin")).collect();
        want.push((i as u64 + 2, "call"));
        want.push((i as u64 + 3, "notice"));
        assert_eq!(got, want, "{id}'s stream");
        match &events.last().unwrap().1 {
            antrean_core::events::BoardEvent::Notice(n) => {
                assert_eq!(n.text.as_deref(), Some(format!("Pengumuman {id}").as_str()))
            }
            other => panic!("{other:?}"),
        }
    }
    // Another office's change does not come between: the first office's
    // next event is its own.
    let (first, second) = (CITY[0].0, CITY[1].0);
    for (office, text) in [(second, "lain"), (first, "sendiri")] {
        let (st, _) = city
            .call(
                "POST",
                &format!("{}/notice", base(office)),
                city.token(office, Role::Staff),
                Some(json!({"text": text})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
    }
    let (resp, parser) = &mut streams[0];
    let next = read_events(resp, parser, 1).await;
    match &next[0].1 {
        antrean_core::events::BoardEvent::Notice(n) => {
            assert_eq!((n.seq, n.text.as_deref()), (4, Some("sendiri")))
        }
        other => panic!("{first} got {other:?}"),
    }
    // Manifest, board and staff view: the office's own, with its own token.
    for (i, (id, name, prefix)) in CITY.iter().enumerate() {
        let (st, m) = city
            .call(
                "GET",
                &format!("{}/manifest?date={TODAY}", base(id)),
                city.token(id, Role::Kiosk),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            (m["office"].as_str(), m["office_name"].as_str()),
            (Some(*id), Some(*name))
        );
        let listed: Vec<&str> = m["bookings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["booking"].as_str().unwrap())
            .collect();
        let mine: Vec<&str> = codes[i].iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(listed, mine, "{id}'s manifest");
        assert!(listed.iter().all(|c| c.starts_with(prefix)));
        let (_, board) = city
            .call(
                "GET",
                &format!("{}/board", base(id)),
                city.token(id, Role::Board),
                None,
            )
            .await;
        assert_eq!(board["counters"][0]["serving"]["number"], "B-001");
        assert_eq!(board["waiting"][1]["count"], i as u64, "{id}: {board}");
        let (_, staff) = city
            .call(
                "GET",
                &format!("{}/staff", base(id)),
                city.token(id, Role::Staff),
                None,
            )
            .await;
        assert_eq!(
            staff["waiting"].as_array().unwrap().len(),
            i,
            "{id}: {staff}"
        );
        let devices: Vec<(&str, &str, bool)> = staff["kiosks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["kiosk"].as_str().unwrap(),
                    k["kind"].as_str().unwrap(),
                    k["reported"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            devices,
            [("lobby-1", "kiosk", false), ("tv-1", "board", false)]
        );
    }
    // Every role of every office, at every other office: 403, whatever it
    // asks; nothing changed there.
    let endpoints: [(&str, &str, Option<Value>); 10] = [
        ("GET", "/manifest", None),
        ("GET", "/board", None),
        ("GET", "/events", None),
        (
            "POST",
            "/checkins",
            Some(
                json!({"booking": codes[0][0].0, "number": codes[0][0].1, "kiosk": "lobby-1",
                        "checked_in_at": NOW}),
            ),
        ),
        (
            "PUT",
            "/kiosks/lobby-1/health",
            Some(
                json!({"at": NOW, "version": "0.3.0", "printer": {"state": "ok", "detail": null},
                        "pending_checkins": 0, "last_event_seq": 0}),
            ),
        ),
        (
            "POST",
            "/bookings",
            Some(json!({"date": TODAY, "slot": "09:00-10:00", "service": "KK"})),
        ),
        ("POST", "/bookings/BKS-20240508-00001/cancel", None),
        ("POST", "/counters/1/next", None),
        (
            "POST",
            "/notice",
            Some(json!({"text": "bukan kantor saya"})),
        ),
        ("GET", "/staff", None),
    ];
    let mut leaks = Vec::new();
    for (from, _, _) in CITY {
        for role in ROLES {
            for (to, _, _) in CITY.iter().filter(|(o, _, _)| *o != from) {
                for (method, path, body) in &endpoints {
                    let resp = city
                        .send(
                            method,
                            &format!("{}{path}", base(to)),
                            city.token(from, role),
                            body.clone(),
                        )
                        .await;
                    let st = resp.status();
                    let v: Value = resp.json().await.unwrap_or(Value::Null);
                    if st != StatusCode::FORBIDDEN || v["error"] != "forbidden" {
                        leaks.push(format!(
                            "{role} of {from} at {to}: {method} {path} -> {st} {v}"
                        ));
                    }
                }
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    for (i, (id, _, _)) in CITY.iter().enumerate() {
        let board = city.central.office(id).unwrap().board().await.unwrap();
        let want = if *id == first {
            4
        } else if *id == second {
            i as u64 + 4
        } else {
            i as u64 + 3
        };
        assert_eq!(board.seq, want, "{id}'s log moved");
    }
    // Even the city's administrator does not find one office's booking at
    // another; an office the service does not hold is 404 for it, 403 for
    // an office's token.
    let (st, v) = city
        .call(
            "POST",
            &format!("{}/checkins", base(second)),
            &city.admin,
            Some(
                json!({"booking": codes[0][0].0, "number": codes[0][0].1, "kiosk": "lobby-1",
                        "checked_in_at": NOW}),
            ),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_booking"))
    );
    let (st, v) = city
        .call("GET", "/v1/offices/kota-bogor/board", &city.admin, None)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_office"))
    );
    let (st, _) = city
        .call(
            "GET",
            "/v1/offices/kota-bogor/board",
            city.token(first, Role::Staff),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // A device the office does not list cannot report.
    let (st, _) = city
        .call(
            "PUT",
            &format!("{}/kiosks/lobby-9/health", base(first)),
            &city.admin,
            Some(
                json!({"at": NOW, "version": "0.3.0", "printer": {"state": "ok", "detail": null},
                        "pending_checkins": 0}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // The offices a token may see.
    let ids = |v: &Value| -> Vec<String> {
        v["offices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (st, all) = city.call("GET", "/v1/offices", &city.admin, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(ids(&all), CITY.map(|(i, _, _)| i.to_string()));
    for (id, _, _) in CITY {
        for role in ROLES {
            let (_, mine) = city
                .call("GET", "/v1/offices", city.token(id, role), None)
                .await;
            assert_eq!(ids(&mine), [id.to_string()], "{role} of {id}");
        }
    }
    let (st, _) = city
        .call("GET", "/v1/offices", "no-such-token-0000", None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[test]
fn the_demo_seeds_every_office() {
    use crate::support::binary::serve_binary;
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "[server]\ndb = \"{}\"\nkey_dir = \"{}\"\n",
        dir.path().join("city.sqlite3").display(),
        dir.path().join("keys").display()
    );
    for (id, name, prefix) in CITY {
        text.push_str(&format!(
            "[[offices]]\nid = \"{id}\"\nname = \"{name}\"\nbooking_prefix = \"{prefix}\"\n"
        ));
    }
    let config = dir.path().join("city.toml");
    std::fs::write(&config, text).unwrap();
    let out = dir.path().join("demo");
    let server = serve_binary(&config, &["--demo", "--demo-out", out.to_str().unwrap()]);
    // One token for the page that can switch between the offices.
    let token = std::fs::read_to_string(out.join("staff-token")).unwrap();
    let http = reqwest::blocking::Client::new();
    for (id, _, prefix) in CITY {
        let list = std::fs::read_to_string(out.join(id).join("bookings.txt")).unwrap();
        assert!(
            list.contains(&format!("{prefix}-{}", TODAY.replace('-', ""))),
            "{list}"
        );
        let m: Value = http
            .get(format!(
                "http://{}/v1/offices/{id}/manifest?date={TODAY}",
                server.addr
            ))
            .bearer_auth(token.trim())
            .send()
            .unwrap()
            .json()
            .unwrap();
        let n = m["bookings"].as_array().map_or(0, Vec::len);
        assert!(n > 100, "{id}: {n} demo bookings");
    }
}
