//! Spoken calls end to end: calls made at the real central service reach
//! the board's stream, become announcements, and the recording sink holds
//! real audio, one announcement after another, of the expected length. A
//! stale backlog after a reconnect is not read out.

use std::path::Path;
use std::sync::mpsc::channel;
use std::time::Duration;

use antrean_core::api::CallEvent;
use antrean_host::clock::Clock;
use antrean_kiosk::audio::{
    assemble, spawn_player, AudioConfig, RecordingSink, Voice, GAP_MS, RATE,
};
use antrean_kiosk::central::board_sync::{run_board, BoardFeed, BoardSyncOptions};
use antrean_kiosk::central::client::CentralClient;
use antrean_testkit::prelude::{wait_for, NOW};
use chrono::DateTime;

fn voice() -> Voice {
    Voice::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/voice/id"
    )))
    .unwrap()
}

#[test]
fn calls_become_announcements_without_overlap() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (central, addr, clock) = antrean_testkit::prelude::inprocess_central(&rt, dir.path(), "t");
    for slot in ["08:00-09:00", "09:00-10:00"] {
        for _ in 0..2 {
            rt.block_on(antrean_testkit::prelude::book_and_check_in(
                &central, slot, "k",
            ));
        }
    }
    let (calls_tx, calls_rx) = channel();
    let (feed_tx, feed) = tokio::sync::watch::channel(BoardFeed::default());
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    rt.spawn(run_board(
        CentralClient::new(&format!("http://{addr}"), "kota-bogor", "t").unwrap(),
        clock,
        BoardSyncOptions {
            calls: Some(calls_tx),
            ..BoardSyncOptions::default()
        },
        feed_tx,
        std::sync::Arc::new(tokio::sync::watch::Sender::new(Default::default())),
        std::sync::Arc::new(antrean_kiosk::metrics::Metrics::new()),
        stop,
    ));
    let sink = RecordingSink::new(&dir.path().join("said"));
    let log = sink.log.clone();
    let config = AudioConfig {
        sink: antrean_kiosk::audio::SinkKind::None,
        ..AudioConfig::default()
    };
    let _player = spawn_player(
        calls_rx,
        voice(),
        config,
        clock,
        chrono_tz::Asia::Jakarta,
        Box::new(sink),
    )
    .unwrap();
    let said = |n: usize| {
        wait_for(
            &format!("{n} announcements"),
            Duration::from_secs(20),
            || {
                let l = log.lock().unwrap();
                (l.len() >= n).then(|| l.clone())
            },
        )
    };
    // Wait for the stream before calling.
    wait_for("the event stream", Duration::from_secs(10), || {
        feed.borrow().connected.then_some(())
    });
    rt.block_on(central.next("3")).unwrap();
    said(1);
    rt.block_on(central.next("1")).unwrap();
    said(2);
    rt.block_on(central.counter_action("3", antrean_central::store::CounterAction::Recall))
        .unwrap();
    let records = said(3);
    let seqs: Vec<String> = records
        .iter()
        .map(|r| r.announcement.clips.join(" "))
        .collect();
    assert_eq!(
        seqs,
        vec![
            "chime nomor_antrean a nol nol satu silakan_menuju_loket tiga",
            "chime nomor_antrean a nol nol dua silakan_menuju_loket satu",
            "chime nomor_antrean a nol nol satu silakan_menuju_loket tiga",
        ]
    );
    assert!(records[2].announcement.recall);
    // One after another, never overlapping.
    for w in records.windows(2) {
        assert!(w[1].start >= w[0].end, "announcements overlap");
    }
    // Real audio of the expected length: the clips plus the gaps.
    let v = voice();
    for r in &records {
        let mut reader = hound::WavReader::open(&r.file).unwrap();
        assert_eq!(reader.spec().sample_rate, RATE);
        let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        let expected: usize = r
            .announcement
            .clips
            .iter()
            .map(|c| v.clip(c).unwrap().len())
            .sum::<usize>()
            + (r.announcement.clips.len() - 1) * (RATE * GAP_MS / 1000) as usize;
        assert_eq!(samples.len(), expected);
        assert!(
            samples.len() as f64 / f64::from(RATE) > 2.0,
            "a call takes a few seconds to say"
        );
        assert!(
            samples.iter().any(|s| s.unsigned_abs() > 1000),
            "not silence"
        );
        assert_eq!(samples, assemble(&v, &r.announcement.clips, 80));
    }
}

#[test]
fn a_stale_backlog_is_not_read_out() {
    let clock = Clock::starting_at(DateTime::parse_from_rfc3339(NOW).unwrap().to_utc());
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new(dir.path());
    let log = sink.log.clone();
    let (tx, rx) = channel();
    // The backlog arrives at once, as after a reconnect.
    let call = |seq, number: &str, counter: &str, at: &str| CallEvent {
        seq,
        number: number.into(),
        counter: counter.into(),
        service: "KK".into(),
        called_at: format!("2024-05-08T{at}+07:00"),
        recall: false,
        priority: false,
    };
    for c in [
        call(1, "A-001", "1", "09:05:00"),
        call(2, "A-002", "2", "09:06:00"),
        call(3, "A-003", "1", "09:19:40"),
        call(4, "A-004", "1", "09:19:50"),
        call(4, "A-004", "1", "09:19:50"),
        call(5, "B-001", "2", "09:19:55"),
    ] {
        tx.send(c).unwrap();
    }
    let config = AudioConfig {
        style: antrean_core::announce::NumberStyle::Number,
        ..AudioConfig::default()
    };
    let _player = spawn_player(
        rx,
        voice(),
        config,
        clock,
        chrono_tz::Asia::Jakarta,
        Box::new(sink),
    )
    .unwrap();
    let records = wait_for("the fresh calls", Duration::from_secs(10), || {
        let l = log.lock().unwrap();
        (l.len() >= 2).then(|| l.clone())
    });
    drop(tx);
    let said: Vec<String> = records
        .iter()
        .map(|r| r.announcement.number.clone())
        .collect();
    assert_eq!(
        said,
        vec!["A-004", "B-001"],
        "only each counter's latest fresh call"
    );
    assert_eq!(
        records[1].announcement.clips.join(" "),
        "chime nomor_antrean b satu silakan_menuju_loket dua"
    );
}

/// `[audio] languages = ["id", "en"]`: each call is said in Indonesian,
/// then English ("Number B 15, please go to counter 2"), as one
/// announcement with the shipped English clips, one call after another.
#[test]
fn calls_in_indonesian_then_english() {
    let clock = Clock::starting_at(DateTime::parse_from_rfc3339(NOW).unwrap().to_utc());
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new(dir.path());
    let log = sink.log.clone();
    let (tx, rx) = channel();
    for (seq, number, counter) in [(1, "B-015", "2"), (2, "A-003", "1")] {
        tx.send(CallEvent {
            seq,
            number: number.into(),
            counter: counter.into(),
            service: "KK".into(),
            called_at: "2024-05-08T09:19:55+07:00".into(),
            recall: false,
            priority: false,
        })
        .unwrap();
    }
    let config = AudioConfig {
        style: antrean_core::announce::NumberStyle::Number,
        languages: vec![
            antrean_core::announce::Language::Id,
            antrean_core::announce::Language::En,
        ],
        voice_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/voice/id").into()),
        ..AudioConfig::default()
    };
    let voice = config.load_voice().unwrap();
    let _player = spawn_player(
        rx,
        config.load_voice().unwrap(),
        config,
        clock,
        chrono_tz::Asia::Jakarta,
        Box::new(sink),
    )
    .unwrap();
    let records = wait_for("both calls", Duration::from_secs(10), || {
        let l = log.lock().unwrap();
        (l.len() >= 2).then(|| l.clone())
    });
    assert_eq!(
        records[0].announcement.clips.join(" "),
        "chime nomor_antrean b lima belas silakan_menuju_loket dua pause \
         en/number en/b en/fifteen en/please_go_to_counter en/two"
    );
    assert!(records[1].start >= records[0].end, "announcements overlap");
    for r in &records {
        let clips = &r.announcement.clips;
        assert!(voice.missing(clips.iter().map(String::as_str)).is_empty());
        let mut reader = hound::WavReader::open(&r.file).unwrap();
        let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(samples, assemble(&voice, clips, 80));
        // The English half is real audio, not silence.
        let pause = clips.iter().position(|c| c == "pause").unwrap();
        let english: usize = clips[..=pause]
            .iter()
            .map(|c| voice.clip(c).unwrap().len() + (RATE * GAP_MS / 1000) as usize)
            .sum();
        assert!(samples[english..].iter().any(|s| s.unsigned_abs() > 1000));
    }
}

/// `[audio] kiosk_voice`: the kiosk says each scan's result, through the
/// recording sink: the number and "take your ticket" for a check-in, a
/// short reason for a refusal; switched off, it says nothing.
#[test]
fn the_kiosk_says_the_scan_result() {
    use antrean_core::framing::Frame;
    use antrean_kiosk::app::{kiosk_voice, App, AppOptions};
    use antrean_kiosk::config::Config;
    use antrean_kiosk::daemon::ScanSource;
    use antrean_kiosk::kiosk::Event;
    use antrean_testkit::prelude::{token, Office};

    let office = Office::new("");
    office.cache_vector_manifest();
    let audio = format!(
        "[printer]\nport = \"virtual\"\n\n[audio]\nsink = \"none\"\nstyle = \"number\"\nvoice_dir = \"{}/assets/voice/id\"\n",
        env!("CARGO_MANIFEST_DIR")
    );
    office.write_config(&audio);
    let config = Config::load(&office.config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new(dir.path());
    let log = sink.log.clone();
    let observer = kiosk_voice(&config, Box::new(sink)).expect("kiosk_voice is on by default");
    let clock = Clock::starting_at(DateTime::parse_from_rfc3339(NOW).unwrap().to_utc());
    let app = App::start(
        &config,
        AppOptions {
            source: ScanSource::None,
            observers: vec![observer],
            ..AppOptions::configured(clock)
        },
    )
    .unwrap();
    let scan = |text: String| {
        app.sender()
            .unwrap()
            .send(Event::Scan(Frame::Scan(text)))
            .unwrap()
    };
    let said = |n: usize| {
        wait_for(&format!("{n} things said"), Duration::from_secs(10), || {
            let l = log.lock().unwrap();
            (l.len() >= n).then(|| l.clone())
        })
    };
    scan(token(
        "BGR-240508-00123",
        "B-015",
        "2024-05-08",
        "09:00-10:00",
        "KTP-EL",
    ));
    said(1);
    scan(token(
        "BGR-240509-00001",
        "A-001",
        "2024-05-09",
        "09:00-10:00",
        "KTP-EL",
    ));
    let records = said(2);
    let clips: Vec<String> = records
        .iter()
        .map(|r| r.announcement.clips.join(" "))
        .collect();
    assert_eq!(
        clips,
        [
            "nomor_antrean_anda b lima belas silakan_ambil_tiket",
            "maaf_bukan_hari_ini"
        ]
    );
    let voice = config.audio.load_voice().unwrap();
    for r in &records {
        let mut reader = hound::WavReader::open(&r.file).unwrap();
        let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(samples, assemble(&voice, &r.announcement.clips, 80));
        assert!(
            samples.iter().any(|s| s.unsigned_abs() > 1000),
            "not silence"
        );
    }
    assert!(records[1].start >= records[0].end, "one after another");
    app.stop();

    office.write_config(&format!("{audio}kiosk_voice = false\n"));
    let off = Config::load(&office.config).unwrap();
    assert!(kiosk_voice(&off, Box::new(RecordingSink::new(dir.path()))).is_none());
}
