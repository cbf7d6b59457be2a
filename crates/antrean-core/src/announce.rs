//! Spoken calls, as data: Indonesian and English number words, the clip
//! sequence of an announcement ("Nomor antrean, B, nol satu lima, silakan
//! menuju loket tiga", then, with English on, "Number, B, zero one five,
//! please go to counter three"), and the queue that decides what is said and when (no overlap,
//! recalls said again, a stale backlog after a reconnect not read out).
//! Pure: the audio is assembled and played elsewhere.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, FixedOffset, NaiveTime};

use crate::checkin::Reason;
use crate::events::CallEvent;

/// How the serial of a queue number is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberStyle {
    /// `015` -> "nol satu lima".
    Digits,
    /// `015` -> "lima belas".
    Number,
}

/// A language calls are said in (`[audio] languages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Indonesian: the clips in `assets/voice/id/`, named as the words.
    Id,
    /// English: the clips in `assets/voice/en/`, named `en/<word>`.
    En,
}

/// Clip names of English words are prefixed so they never collide with
/// Indonesian ones (`en/a`, `en/one`).
pub const EN: &str = "en/";

const EN_UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// English words of 0-999 (without "and", as announcers say them).
pub fn english_number_words(n: u32) -> Vec<&'static str> {
    let n = n.min(999);
    if n == 0 {
        return vec!["zero"];
    }
    let mut words = Vec::new();
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        words.extend([EN_UNITS[hundreds as usize], "hundred"]);
    }
    match rest {
        0 => {}
        1..=19 => words.push(EN_UNITS[rest as usize]),
        _ => {
            words.push(EN_TENS[(rest / 10) as usize]);
            if rest % 10 != 0 {
                words.push(EN_UNITS[(rest % 10) as usize]);
            }
        }
    }
    words
}

/// The English phrase: "Number B 15, please go to counter 2" (no chime:
/// it follows the Indonesian call).
pub fn english_phrase() -> Vec<String> {
    [
        "en/number",
        "{letter}",
        "{number}",
        "en/please_go_to_counter",
        "{counter}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The pause between the two languages of one call.
pub const BETWEEN_LANGUAGES: &str = "pause";

const UNITS: [&str; 10] = [
    "nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
];

/// Indonesian words of 0-999, as clip names.
pub fn number_words(n: u32) -> Vec<&'static str> {
    let n = n.min(999);
    if n == 0 {
        return vec!["nol"];
    }
    let mut words = Vec::new();
    let (hundreds, rest) = (n / 100, n % 100);
    match hundreds {
        0 => {}
        1 => words.push("seratus"),
        h => words.extend([UNITS[h as usize], "ratus"]),
    }
    match rest {
        0 => {}
        1..=9 => words.push(UNITS[rest as usize]),
        10 => words.push("sepuluh"),
        11 => words.push("sebelas"),
        12..=19 => words.extend([UNITS[(rest - 10) as usize], "belas"]),
        _ => {
            words.extend([UNITS[(rest / 10) as usize], "puluh"]);
            if rest % 10 != 0 {
                words.push(UNITS[(rest % 10) as usize]);
            }
        }
    }
    words
}

/// Each digit as a word: "015" -> nol satu lima.
pub fn digit_words(digits: &str) -> Vec<&'static str> {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| UNITS[d as usize])
        .collect()
}

/// Splits `B-015` into the letters and the serial digits.
pub fn split_number(number: &str) -> (String, String) {
    let letters: String = number.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    let digits: String = number.chars().filter(|c| c.is_ascii_digit()).collect();
    (letters.to_ascii_lowercase(), digits)
}

/// The phrase as a list of parts: clip names, or `{letter}`, `{number}`,
/// `{counter}`, and `chime`.
pub fn default_phrase() -> Vec<String> {
    [
        "chime",
        "nomor_antrean",
        "{letter}",
        "{number}",
        "silakan_menuju_loket",
        "{counter}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The clip names of one announcement in Indonesian.
pub fn clips(number: &str, counter: &str, phrase: &[String], style: NumberStyle) -> Vec<String> {
    clips_in(Language::Id, number, counter, phrase, style)
}

/// The clip names of one announcement in `lang` (English clip names carry
/// the [`EN`] prefix).
pub fn clips_in(
    lang: Language,
    number: &str,
    counter: &str,
    phrase: &[String],
    style: NumberStyle,
) -> Vec<String> {
    let prefix = match lang {
        Language::Id => "",
        Language::En => EN,
    };
    let words = |n: u32| match lang {
        Language::Id => number_words(n),
        Language::En => english_number_words(n),
    };
    let digit = |d: u32| match lang {
        Language::Id => UNITS[d as usize],
        Language::En => EN_UNITS[d as usize],
    };
    let (letters, digits) = split_number(number);
    let serial: Vec<&str> = match style {
        NumberStyle::Digits => digits
            .chars()
            .filter_map(|c| c.to_digit(10))
            .map(digit)
            .collect(),
        NumberStyle::Number => words(digits.parse().unwrap_or(0)),
    };
    let counter_words: Vec<String> = match counter.trim().parse::<u32>() {
        Ok(n) => words(n).into_iter().map(str::to_string).collect(),
        // A counter named with letters is spelled.
        Err(_) => counter
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase().to_string())
            .collect(),
    };
    let mut out = Vec::new();
    for part in phrase {
        match part.as_str() {
            "{letter}" => out.extend(letters.chars().map(|c| format!("{prefix}{c}"))),
            "{number}" => out.extend(serial.iter().map(|s| format!("{prefix}{s}"))),
            "{counter}" => out.extend(counter_words.iter().map(|s| format!("{prefix}{s}"))),
            other => out.push(other.to_string()),
        }
    }
    out
}

/// One call in every language of `languages`, in order, with a pause
/// between them: one announcement, so the languages never overlap another
/// call. `phrase` is the Indonesian phrase; English uses [`english_phrase`].
pub fn call_clips(
    languages: &[Language],
    number: &str,
    counter: &str,
    phrase: &[String],
    style: NumberStyle,
) -> Vec<String> {
    let english = english_phrase();
    let mut out = Vec::new();
    for (i, lang) in languages.iter().enumerate() {
        if i > 0 {
            out.push(BETWEEN_LANGUAGES.to_string());
        }
        let phrase = match lang {
            Language::Id => phrase,
            Language::En => &english,
        };
        out.extend(clips_in(*lang, number, counter, phrase, style));
    }
    out
}

/// What the kiosk says about a scan, for residents who cannot read the
/// screen (`[audio] kiosk_voice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KioskSpeech<'a> {
    /// Checked in (or reprinted): "Nomor antrean Anda B 15. Silakan ambil
    /// tiket."
    Ticket { number: &'a str },
    /// Refused: a short reason.
    Refused(Reason),
    /// The printer cannot print: "go to the information desk".
    PrinterFault,
}

/// The clips the kiosk says about a scan (Indonesian; each refusal is one
/// whole-sentence clip).
pub fn kiosk_clips(speech: KioskSpeech, style: NumberStyle) -> Vec<String> {
    let one = |c: &str| vec![c.to_string()];
    match speech {
        KioskSpeech::Ticket { number } => {
            let phrase: Vec<String> = [
                "nomor_antrean_anda",
                "{letter}",
                "{number}",
                "silakan_ambil_tiket",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            clips(number, "", &phrase, style)
        }
        KioskSpeech::Refused(reason) => one(match reason {
            Reason::NotToday => "maaf_bukan_hari_ini",
            Reason::TooEarly => "maaf_belum_waktunya",
            Reason::TooLate => "maaf_sesi_sudah_lewat",
            Reason::AlreadyPrinted => "maaf_tiket_sudah_dicetak",
            Reason::Cancelled | Reason::Expired => "maaf_booking_tidak_berlaku",
            Reason::InvalidFormat
            | Reason::UnknownKey
            | Reason::BadSignature
            | Reason::WrongOffice
            | Reason::UnknownBooking => "maaf_kode_tidak_dikenali",
        }),
        KioskSpeech::PrinterFault => one("printer_bermasalah"),
    }
}

/// The whole-sentence clips of [`kiosk_clips`] and what they say (for
/// `scripts/make-voice` and recordings).
pub const KIOSK_SENTENCES: [(&str, &str); 9] = [
    ("nomor_antrean_anda", "Nomor antrean Anda"),
    ("silakan_ambil_tiket", "Silakan ambil tiket."),
    (
        "maaf_bukan_hari_ini",
        "Maaf, booking Anda bukan untuk hari ini.",
    ),
    (
        "maaf_belum_waktunya",
        "Maaf, belum waktunya check-in. Silakan tunggu.",
    ),
    (
        "maaf_sesi_sudah_lewat",
        "Maaf, sesi Anda sudah lewat. Silakan ke petugas.",
    ),
    (
        "maaf_tiket_sudah_dicetak",
        "Maaf, tiket sudah dicetak. Silakan ke petugas.",
    ),
    (
        "maaf_booking_tidak_berlaku",
        "Maaf, booking tidak berlaku. Silakan ke petugas.",
    ),
    (
        "maaf_kode_tidak_dikenali",
        "Maaf, kode tidak dikenali. Silakan ke petugas.",
    ),
    (
        "printer_bermasalah",
        "Printer bermasalah. Silakan ke meja informasi.",
    ),
];

/// One announcement to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub seq: u64,
    pub number: String,
    pub counter: String,
    pub recall: bool,
    pub clips: Vec<String>,
}

/// Settings of the queue.
#[derive(Debug, Clone)]
pub struct AnnounceRules {
    /// In order; each call is said in every one (default: Indonesian only).
    pub languages: Vec<Language>,
    pub phrase: Vec<String>,
    pub style: NumberStyle,
    /// A call older than this (by `called_at`) is not said any more.
    pub freshness_seconds: i64,
    /// Times of day with no announcements (e.g. the midday break).
    pub quiet: Vec<(NaiveTime, NaiveTime)>,
}

/// What is waiting to be said, in order. Calls are kept one per counter:
/// after a reconnect only each counter's latest call is said, and only
/// when it is still fresh.
#[derive(Debug, Default)]
pub struct AnnouncementQueue {
    pending: VecDeque<CallEvent>,
    seen: BTreeSet<u64>,
}

impl AnnouncementQueue {
    pub fn new() -> AnnouncementQueue {
        AnnouncementQueue::default()
    }

    /// Adds a call (a recall is a call too). Duplicates (same `seq`) are
    /// ignored; an older waiting call of the same counter is replaced.
    pub fn push(&mut self, call: CallEvent) {
        if !self.seen.insert(call.seq) {
            return;
        }
        if self.seen.len() > 4096 {
            let keep: BTreeSet<u64> = self.seen.iter().rev().take(1024).copied().collect();
            self.seen = keep;
        }
        self.pending.retain(|c| c.counter != call.counter);
        self.pending.push_back(call);
    }

    /// The next announcement to play at `now`, skipping stale calls and
    /// staying silent in quiet hours.
    pub fn next(
        &mut self,
        now: DateTime<FixedOffset>,
        rules: &AnnounceRules,
    ) -> Option<Announcement> {
        let time = now.time();
        if rules
            .quiet
            .iter()
            .any(|(from, to)| time >= *from && time < *to)
        {
            self.pending.clear();
            return None;
        }
        while let Some(call) = self.pending.pop_front() {
            let fresh = DateTime::parse_from_rfc3339(&call.called_at)
                .map(|t| (now - t).num_seconds() <= rules.freshness_seconds)
                .unwrap_or(false);
            if !fresh {
                continue;
            }
            return Some(Announcement {
                seq: call.seq,
                clips: call_clips(
                    &rules.languages,
                    &call.number,
                    &call.counter,
                    &rules.phrase,
                    rules.style,
                ),
                number: call.number,
                counter: call.counter,
                recall: call.recall,
            });
        }
        None
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indonesian_numbers_table() {
        let cases: &[(u32, &str)] = &[
            (0, "nol"),
            (1, "satu"),
            (7, "tujuh"),
            (10, "sepuluh"),
            (11, "sebelas"),
            (12, "dua belas"),
            (15, "lima belas"),
            (19, "sembilan belas"),
            (20, "dua puluh"),
            (21, "dua puluh satu"),
            (99, "sembilan puluh sembilan"),
            (100, "seratus"),
            (101, "seratus satu"),
            (110, "seratus sepuluh"),
            (111, "seratus sebelas"),
            (120, "seratus dua puluh"),
            (200, "dua ratus"),
            (315, "tiga ratus lima belas"),
            (999, "sembilan ratus sembilan puluh sembilan"),
        ];
        for (n, words) in cases {
            assert_eq!(number_words(*n).join(" "), *words, "{n}");
        }
        // Every number 0-999 reads to known clips only.
        let known = [
            "nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
            "sepuluh", "sebelas", "belas", "puluh", "seratus", "ratus",
        ];
        for n in 0..1000 {
            assert!(number_words(n).iter().all(|w| known.contains(w)), "{n}");
        }
    }

    #[test]
    fn announcements_table() {
        let p = default_phrase();
        for (number, counter, style, expect) in [
            (
                "B-015",
                "3",
                NumberStyle::Digits,
                "chime nomor_antrean b nol satu lima silakan_menuju_loket tiga",
            ),
            (
                "B-015",
                "3",
                NumberStyle::Number,
                "chime nomor_antrean b lima belas silakan_menuju_loket tiga",
            ),
            (
                "A-120",
                "12",
                NumberStyle::Number,
                "chime nomor_antrean a seratus dua puluh silakan_menuju_loket dua belas",
            ),
            (
                "F-001",
                "A",
                NumberStyle::Digits,
                "chime nomor_antrean f nol nol satu silakan_menuju_loket a",
            ),
        ] {
            assert_eq!(clips(number, counter, &p, style).join(" "), expect);
        }
    }

    #[test]
    fn kiosk_speech_table() {
        let cases = [
            (
                KioskSpeech::Ticket { number: "B-015" },
                NumberStyle::Number,
                "nomor_antrean_anda b lima belas silakan_ambil_tiket",
            ),
            (
                KioskSpeech::Ticket { number: "B-015" },
                NumberStyle::Digits,
                "nomor_antrean_anda b nol satu lima silakan_ambil_tiket",
            ),
            (
                KioskSpeech::Refused(Reason::NotToday),
                NumberStyle::Digits,
                "maaf_bukan_hari_ini",
            ),
            (
                KioskSpeech::Refused(Reason::BadSignature),
                NumberStyle::Digits,
                "maaf_kode_tidak_dikenali",
            ),
            (
                KioskSpeech::PrinterFault,
                NumberStyle::Digits,
                "printer_bermasalah",
            ),
        ];
        for (speech, style, expect) in cases {
            assert_eq!(kiosk_clips(speech, style).join(" "), expect, "{speech:?}");
        }
        // Every refusal has a sentence clip.
        let known: Vec<&str> = KIOSK_SENTENCES.iter().map(|(c, _)| *c).collect();
        for r in Reason::ALL {
            for c in kiosk_clips(KioskSpeech::Refused(r), NumberStyle::Digits) {
                assert!(known.contains(&c.as_str()), "{r:?}");
            }
        }
    }

    #[test]
    fn english_numbers_table() {
        let cases: &[(u32, &str)] = &[
            (0, "zero"),
            (2, "two"),
            (13, "thirteen"),
            (15, "fifteen"),
            (20, "twenty"),
            (42, "forty two"),
            (100, "one hundred"),
            (115, "one hundred fifteen"),
            (999, "nine hundred ninety nine"),
        ];
        for (n, words) in cases {
            assert_eq!(english_number_words(*n).join(" "), *words, "{n}");
        }
    }

    #[test]
    fn calls_in_both_languages_table() {
        let p = default_phrase();
        let both = [Language::Id, Language::En];
        for (languages, number, counter, style, expect) in [
            (
                &both[..],
                "B-015",
                "2",
                NumberStyle::Number,
                "chime nomor_antrean b lima belas silakan_menuju_loket dua pause \
                 en/number en/b en/fifteen en/please_go_to_counter en/two",
            ),
            (
                &both[..],
                "B-015",
                "2",
                NumberStyle::Digits,
                "chime nomor_antrean b nol satu lima silakan_menuju_loket dua pause \
                 en/number en/b en/zero en/one en/five en/please_go_to_counter en/two",
            ),
            (
                &both[..1],
                "A-120",
                "12",
                NumberStyle::Number,
                "chime nomor_antrean a seratus dua puluh silakan_menuju_loket dua belas",
            ),
            (
                &[Language::En][..],
                "F-001",
                "A",
                NumberStyle::Number,
                "en/number en/f en/one en/please_go_to_counter en/a",
            ),
        ] {
            assert_eq!(
                call_clips(languages, number, counter, &p, style).join(" "),
                expect
            );
        }
    }

    fn call(seq: u64, number: &str, counter: &str, at: &str, recall: bool) -> CallEvent {
        CallEvent {
            seq,
            number: number.into(),
            counter: counter.into(),
            service: "KK".into(),
            called_at: format!("2024-05-08T{at}+07:00"),
            recall,
            priority: false,
        }
    }

    #[test]
    fn queue_dedupes_keeps_latest_per_counter_and_drops_stale() {
        let rules = AnnounceRules {
            languages: vec![Language::Id],
            phrase: default_phrase(),
            style: NumberStyle::Digits,
            freshness_seconds: 60,
            quiet: vec![(
                NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(13, 0, 0).unwrap(),
            )],
        };
        let now = DateTime::parse_from_rfc3339("2024-05-08T09:30:00+07:00").unwrap();
        let mut q = AnnouncementQueue::new();
        // A backlog after a reconnect: three calls at counter 1, one stale at 2.
        q.push(call(1, "A-001", "1", "09:29:10", false));
        q.push(call(2, "A-002", "1", "09:29:20", false));
        q.push(call(3, "A-003", "2", "09:10:00", false));
        q.push(call(4, "A-004", "1", "09:29:50", false));
        q.push(call(4, "A-004", "1", "09:29:50", false));
        let said: Vec<String> = std::iter::from_fn(|| q.next(now, &rules))
            .map(|a| a.number)
            .collect();
        assert_eq!(
            said,
            vec!["A-004"],
            "only the latest fresh call per counter"
        );
        // A recall is said again.
        q.push(call(5, "A-004", "1", "09:29:58", true));
        assert!(q.next(now, &rules).unwrap().recall);
        // Quiet hours.
        q.push(call(6, "B-001", "3", "12:10:00", false));
        let noon = DateTime::parse_from_rfc3339("2024-05-08T12:10:05+07:00").unwrap();
        assert_eq!(q.next(noon, &rules), None);
        assert!(q.is_empty());
    }
}
