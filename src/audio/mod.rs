//! Spoken calls on the board: loads the voice clips (16 kHz mono WAV),
//! assembles an announcement (chime, words, short gaps, volume) and plays
//! announcements one after another on a thread of their own through a
//! sink: `aplay` (ALSA) on a real board, or a null or recording sink where
//! there is no sound card (tests, CI). What to say is `core::announce`.

pub mod kiosk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use chrono::NaiveTime;
use serde::Deserialize;

use antrean_core::announce::{
    default_phrase, AnnounceRules, Announcement, AnnouncementQueue, Language, NumberStyle,
    BETWEEN_LANGUAGES, EN,
};
use antrean_core::api::CallEvent;
use antrean_host::clock::Clock;

/// Sample rate of the clips and of what is played.
pub const RATE: u32 = 16_000;
/// Silence between two clips.
pub const GAP_MS: u32 = 120;
/// Silence between the languages of one call.
pub const BETWEEN_LANGUAGES_MS: u32 = 400;

/// `[audio]` in the configuration, parsed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// 0-100.
    #[serde(default = "default_volume")]
    pub volume: u8,
    #[serde(default = "default_style")]
    pub style: NumberStyle,
    /// Each call is said in these languages, in order (`["id", "en"]`:
    /// Indonesian, then English).
    #[serde(default = "default_languages")]
    pub languages: Vec<Language>,
    #[serde(default = "default_phrase")]
    pub phrase: Vec<String>,
    /// `HH:MM-HH:MM` ranges without announcements.
    #[serde(default)]
    pub quiet: Vec<QuietHours>,
    #[serde(default = "default_fresh")]
    pub freshness_seconds: i64,
    /// Where the Indonesian clips are (default: `assets/voice/id`, then
    /// `/usr/share/antrean-kiosk/voice/id`); the English ones are in `en`
    /// beside it.
    #[serde(default)]
    pub voice_dir: Option<PathBuf>,
    /// `aplay` (ALSA) or `none`.
    #[serde(default)]
    pub sink: SinkKind,
    /// The kiosk says each scan's result aloud (with a kiosk screen).
    #[serde(default = "yes")]
    pub kiosk_voice: bool,
}

/// Where announcements are played.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// ALSA's `aplay` (package alsa-utils).
    #[default]
    Aplay,
    /// Nowhere (no sound card).
    None,
}

/// A time of day without announcements, written `HH:MM-HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl<'de> Deserialize<'de> for QuietHours {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        antrean_core::booking::Slot::parse(&text)
            .map(|s| QuietHours {
                from: s.start,
                to: s.end,
            })
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{text:?} is not HH:MM-HH:MM (for example \"12:00-13:00\")"
                ))
            })
    }
}

fn yes() -> bool {
    true
}
fn default_volume() -> u8 {
    80
}
fn default_style() -> NumberStyle {
    NumberStyle::Digits
}
fn default_fresh() -> i64 {
    60
}
fn default_languages() -> Vec<Language> {
    vec![Language::Id]
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            enabled: true,
            volume: default_volume(),
            style: default_style(),
            languages: default_languages(),
            phrase: default_phrase(),
            quiet: vec![],
            freshness_seconds: default_fresh(),
            voice_dir: None,
            sink: SinkKind::default(),
            kiosk_voice: true,
        }
    }
}

impl AudioConfig {
    /// A value out of range: the key and what it must be.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.volume > 100 {
            return Some((
                "audio.volume",
                format!("is {}; it must be between 0 and 100", self.volume),
            ));
        }
        if self.freshness_seconds < 0 {
            return Some(("audio.freshness_seconds", "must not be negative".into()));
        }
        let mut seen = Vec::new();
        for l in &self.languages {
            if seen.contains(l) {
                return Some((
                    "audio.languages",
                    "names a language twice; write [\"id\"] or [\"id\", \"en\"]".into(),
                ));
            }
            seen.push(*l);
        }
        if self.languages.is_empty() {
            return Some((
                "audio.languages",
                "must name at least one language, e.g. [\"id\"] or [\"id\", \"en\"] (to say nothing, set enabled = false)".into(),
            ));
        }
        None
    }

    pub fn rules(&self) -> AnnounceRules {
        AnnounceRules {
            languages: self.languages.clone(),
            phrase: self.phrase.clone(),
            style: self.style,
            freshness_seconds: self.freshness_seconds,
            quiet: self.quiet.iter().map(|q| (q.from, q.to)).collect(),
        }
    }

    /// The voice directory to use.
    pub fn voice_dir(&self) -> PathBuf {
        if let Some(d) = &self.voice_dir {
            return d.clone();
        }
        for d in ["assets/voice/id", "/usr/share/antrean-kiosk/voice/id"] {
            if Path::new(d).is_dir() {
                return PathBuf::from(d);
            }
        }
        PathBuf::from("assets/voice/id")
    }

    /// The voice of every configured language (English from `en` beside
    /// the Indonesian directory).
    pub fn load_voice(&self) -> Result<Voice, VoiceError> {
        let dir = self.voice_dir();
        let mut voice = Voice::load(&dir)?;
        if self.languages.contains(&Language::En) {
            let en = dir.parent().unwrap_or(Path::new(".")).join("en");
            voice.add(&en, EN)?;
        }
        Ok(voice)
    }
}

/// A clip is missing or not a 16 kHz mono 16-bit WAV.
#[derive(Debug, thiserror::Error)]
#[error("voice clip {path}: {reason}. Regenerate the clips with scripts/make-voice or check [audio] voice_dir.")]
pub struct VoiceError {
    pub path: PathBuf,
    pub reason: String,
}

/// The loaded clips.
pub struct Voice {
    clips: HashMap<String, Vec<i16>>,
}

impl Voice {
    /// Loads every `*.wav` of `dir`.
    pub fn load(dir: &Path) -> Result<Voice, VoiceError> {
        let mut voice = Voice {
            clips: HashMap::new(),
        };
        voice.add(dir, "")?;
        Ok(voice)
    }

    /// Adds every `*.wav` of `dir`, named `{prefix}{stem}`.
    pub fn add(&mut self, dir: &Path, prefix: &str) -> Result<(), VoiceError> {
        let clips = &mut self.clips;
        let entries = std::fs::read_dir(dir).map_err(|e| VoiceError {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "wav") {
                continue;
            }
            let fail = |reason: String| VoiceError {
                path: path.clone(),
                reason,
            };
            let mut reader = hound::WavReader::open(&path).map_err(|e| fail(e.to_string()))?;
            let spec = reader.spec();
            if spec.sample_rate != RATE || spec.channels != 1 || spec.bits_per_sample != 16 {
                return Err(fail(format!("{spec:?} is not 16 kHz mono 16-bit")));
            }
            let samples: Vec<i16> = reader
                .samples::<i16>()
                .collect::<Result<_, _>>()
                .map_err(|e| fail(e.to_string()))?;
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            clips.insert(format!("{prefix}{name}"), samples);
        }
        Ok(())
    }

    /// Samples of a clip (the chime is synthesised).
    pub fn clip(&self, name: &str) -> Option<Vec<i16>> {
        if name == "chime" {
            return Some(chime());
        }
        if name == BETWEEN_LANGUAGES {
            return Some(vec![0; (RATE * BETWEEN_LANGUAGES_MS / 1000) as usize]);
        }
        self.clips.get(name).cloned()
    }

    /// Clip names the voice lacks among `names`.
    pub fn missing<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        names
            .into_iter()
            .filter(|n| *n != "chime" && *n != BETWEEN_LANGUAGES && !self.clips.contains_key(*n))
            .map(str::to_string)
            .collect()
    }
}

/// A two-tone chime (ding-dong), 0.7 s.
pub fn chime() -> Vec<i16> {
    let tone = |freq: f32, ms: u32| -> Vec<i16> {
        let n = RATE * ms / 1000;
        (0..n)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                let decay = (-3.0 * t / (ms as f32 / 1000.0)).exp();
                ((2.0 * std::f32::consts::PI * freq * t).sin() * decay * 12_000.0) as i16
            })
            .collect()
    };
    let mut s = tone(880.0, 350);
    s.extend(tone(660.0, 350));
    s
}

/// The whole announcement as one buffer: clips with gaps, at `volume` %.
pub fn assemble(voice: &Voice, clips: &[String], volume: u8) -> Vec<i16> {
    let gap = vec![0i16; (RATE * GAP_MS / 1000) as usize];
    let scale = f32::from(volume.min(100)) / 100.0;
    let mut out = Vec::new();
    for (i, name) in clips.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(&gap);
        }
        match voice.clip(name) {
            Some(samples) => out.extend(samples.iter().map(|s| (f32::from(*s) * scale) as i16)),
            None => tracing::warn!(clip = %name, "voice clip missing; skipped"),
        }
    }
    out
}

/// Where announcements are played.
pub trait AudioSink: Send {
    /// Plays the samples and returns when they have been played.
    fn play(&mut self, announcement: &Announcement, samples: &[i16]);
}

/// Plays nothing (no sound card).
pub struct NullSink;

impl AudioSink for NullSink {
    fn play(&mut self, _: &Announcement, _: &[i16]) {}
}

/// One recorded announcement on the recording sink's timeline.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub announcement: Announcement,
    /// Start and end on the sink's timeline, in samples.
    pub start: u64,
    pub end: u64,
    /// The WAV file written for it.
    pub file: PathBuf,
}

/// Records each announcement as a WAV file and on a timeline (one after
/// another, like a loudspeaker would), without waiting in real time.
pub struct RecordingSink {
    dir: PathBuf,
    cursor: u64,
    pub log: Arc<Mutex<Vec<Recorded>>>,
}

impl RecordingSink {
    pub fn new(dir: &Path) -> RecordingSink {
        RecordingSink {
            dir: dir.to_path_buf(),
            cursor: 0,
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl AudioSink for RecordingSink {
    fn play(&mut self, a: &Announcement, samples: &[i16]) {
        let _ = std::fs::create_dir_all(&self.dir);
        let file = self.dir.join(format!("{:05}-{}.wav", a.seq, a.number));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        if let Ok(mut w) = hound::WavWriter::create(&file, spec) {
            for s in samples {
                let _ = w.write_sample(*s);
            }
            let _ = w.finalize();
        }
        let start = self.cursor;
        self.cursor += samples.len() as u64;
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Recorded {
                announcement: a.clone(),
                start,
                end: self.cursor,
                file,
            });
    }
}

/// Plays through ALSA's `aplay` (package alsa-utils); waits until done.
/// A failure (no sound device, say) is logged once with what `aplay` said,
/// and again only after a success, so that a board without speakers does
/// not fill the log.
#[derive(Default)]
pub struct AplaySink {
    failing: bool,
}

impl AplaySink {
    fn failed(&mut self, number: &str, why: &str) {
        if !self.failing {
            tracing::warn!(number, error = why, "cannot play the announcement: check the speakers and `aplay -l` (the calls still show on the board)");
        } else {
            tracing::debug!(number, error = why, "announcement not played");
        }
        self.failing = true;
    }
}

/// The one loudspeaker: a kiosk that is also the board has two voices (the
/// calls' announcer and the kiosk's spoken help), each on its own thread;
/// they take turns here, so nothing is ever said over something else.
static SPEAKER: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl AudioSink for AplaySink {
    fn play(&mut self, a: &Announcement, samples: &[i16]) {
        use std::io::Write;
        let _speaker = SPEAKER.lock().unwrap_or_else(|e| e.into_inner());
        let child = std::process::Command::new("aplay")
            .args([
                "-q",
                "-t",
                "raw",
                "-f",
                "S16_LE",
                "-c",
                "1",
                "-r",
                &RATE.to_string(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                self.failed(&a.number, &format!("{e} (is alsa-utils installed?)"));
                return;
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            let _ = stdin.write_all(&bytes);
        }
        match child.wait_with_output() {
            Ok(out) if out.status.success() => self.failing = false,
            Ok(out) => {
                let said = String::from_utf8_lossy(&out.stderr);
                let last = said.lines().last().unwrap_or("").trim();
                self.failed(&a.number, &format!("aplay {}: {last}", out.status));
            }
            Err(e) => self.failed(&a.number, &e.to_string()),
        }
    }
}

/// Says calls one after another until the channel closes.
pub fn spawn_player(
    calls: Receiver<CallEvent>,
    voice: Voice,
    config: AudioConfig,
    clock: Clock,
    tz: chrono_tz::Tz,
    mut sink: Box<dyn AudioSink>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("announcer".into())
        .spawn(move || {
            let rules = config.rules();
            let mut queue = AnnouncementQueue::new();
            loop {
                // Wait for a call, then take everything already waiting: a
                // backlog collapses to the latest call per counter.
                // Sleeps until a call comes: no wake-ups while the board is quiet.
                match calls.recv() {
                    Ok(c) => queue.push(c),
                    Err(_) => return,
                }
                while let Ok(c) = calls.try_recv() {
                    queue.push(c);
                }
                while let Some(a) = queue.next(clock.now().with_timezone(&tz).fixed_offset(), &rules) {
                    let samples = assemble(&voice, &a.clips, config.volume);
                    tracing::info!(number = %a.number, counter = %a.counter, recall = a.recall, "announcing");
                    sink.play(&a, &samples);
                    while let Ok(c) = calls.try_recv() {
                        queue.push(c);
                    }
                }
            }
        })
}

/// The sink `[audio] sink` asks for.
pub fn sink_for(config: &AudioConfig) -> Box<dyn AudioSink> {
    match config.sink {
        SinkKind::Aplay => Box::new(AplaySink::default()),
        SinkKind::None => Box::new(NullSink),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_english_voice_has_every_clip_of_every_call() {
        let config = AudioConfig {
            languages: vec![Language::Id, Language::En],
            voice_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/voice/id").into()),
            ..AudioConfig::default()
        };
        let voice = config.load_voice().unwrap();
        let phrase = default_phrase();
        for letter in 'A'..='Z' {
            for n in [0u32, 1, 15, 19, 120, 999] {
                for style in [NumberStyle::Digits, NumberStyle::Number] {
                    for counter in ["2", "12", "B"] {
                        let c = antrean_core::announce::call_clips(
                            &config.languages,
                            &format!("{letter}-{n:03}"),
                            counter,
                            &phrase,
                            style,
                        );
                        let missing = voice.missing(c.iter().map(String::as_str));
                        assert!(missing.is_empty(), "{letter}-{n}: {missing:?}");
                    }
                }
            }
        }
        // Small files: 16 kHz mono.
        for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/voice/en"))
            .unwrap()
            .flatten()
        {
            assert!(e.metadata().unwrap().len() < 64 << 10, "{:?}", e.path());
        }
    }

    #[test]
    fn the_shipped_voice_has_every_clip_of_every_call() {
        let voice = Voice::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/voice/id"
        )))
        .unwrap();
        // The kiosk's spoken help too.
        let sentences = antrean_core::announce::KIOSK_SENTENCES.map(|(c, _)| c);
        assert!(voice.missing(sentences).is_empty());
        let phrase = default_phrase();
        for letter in 'A'..='Z' {
            for n in [0u32, 1, 15, 120, 999] {
                for style in [NumberStyle::Digits, NumberStyle::Number] {
                    let c = antrean_core::announce::clips(
                        &format!("{letter}-{n:03}"),
                        "12",
                        &phrase,
                        style,
                    );
                    assert!(
                        voice.missing(c.iter().map(String::as_str)).is_empty(),
                        "{letter}-{n}"
                    );
                }
            }
        }
    }
}
