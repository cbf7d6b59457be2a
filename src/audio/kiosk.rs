//! The kiosk's spoken help: says each scan's result ("Nomor antrean Anda
//! B 15. Silakan ambil tiket.", or a short reason) on a thread of its own,
//! through a sink. What to say is `antrean_core::announce::kiosk_clips`;
//! which scan says what is decided where the scan reports are (`app`).

use std::sync::mpsc::Receiver;

use antrean_core::announce::Announcement;

use super::{assemble, AudioSink, Voice};

/// Says what arrives, one after another; a backlog collapses to the
/// newest (an older result is no longer on the screen). Ends when the
/// channel closes.
pub fn spawn_kiosk_voice(
    said: Receiver<Announcement>,
    voice: Voice,
    volume: u8,
    mut sink: Box<dyn AudioSink>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kiosk-voice".into())
        .spawn(move || {
            while let Ok(mut next) = said.recv() {
                while let Ok(newer) = said.try_recv() {
                    next = newer;
                }
                let missing = voice.missing(next.clips.iter().map(String::as_str));
                if !missing.is_empty() {
                    tracing::warn!(
                        ?missing,
                        "kiosk voice clips missing; regenerate them with scripts/make-voice"
                    );
                }
                let samples = assemble(&voice, &next.clips, volume);
                sink.play(&next, &samples);
            }
        })
}
