//! The board's events (`docs/central-api.md`, "Event stream"), typed, with
//! their one encoder ([`BoardEvent::encode`]: the SSE `event:` name and the
//! `data:` JSON) and their one decoder ([`BoardEvent::parse`]). The central
//! service encodes with it (to send and to store) and the kiosk decodes with
//! it. No I/O: the SSE byte framing is `sse`'s (reading) and the HTTP
//! server's (writing).

use serde::{Deserialize, Serialize};

/// `call` event data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub seq: u64,
    pub number: String,
    pub counter: String,
    #[serde(default)]
    pub service: String,
    pub called_at: String,
    #[serde(default)]
    pub recall: bool,
    /// Called ahead of the ordinary order because a counter confirmed this
    /// check-in as a priority arrival (an addition to `central-api.md`;
    /// absent means `false`, so version 1 readers and writers are unchanged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub priority: bool,
}

/// `done` and `skip` event data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterEvent {
    pub seq: u64,
    pub number: String,
    pub counter: String,
}

/// `checkin` event data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinEvent {
    pub seq: u64,
    pub number: String,
    pub slot: String,
}

/// `notice` event data (`text: null` clears it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeEvent {
    pub seq: u64,
    #[serde(default)]
    pub text: Option<String>,
}

/// `reset` event data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetEvent {
    pub seq: u64,
}

/// One board event of the SSE stream, typed by its `event:` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardEvent {
    Call(CallEvent),
    Done(CounterEvent),
    Skip(CounterEvent),
    Checkin(CheckinEvent),
    Notice(NoticeEvent),
    Reset(ResetEvent),
}

/// An SSE event whose type or data this version cannot read.
#[derive(Debug, thiserror::Error)]
#[error("unreadable `{kind}` event: {reason}")]
pub struct BadEvent {
    pub kind: String,
    pub reason: String,
}

/// An event as it goes on the wire and into the central service's log: the
/// SSE `id:` (its `seq`), the `event:` name and the `data:` JSON (one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub seq: u64,
    pub kind: &'static str,
    pub data: String,
}

impl BoardEvent {
    /// The board `seq` after this event.
    pub fn seq(&self) -> u64 {
        match self {
            BoardEvent::Call(e) => e.seq,
            BoardEvent::Done(e) | BoardEvent::Skip(e) => e.seq,
            BoardEvent::Checkin(e) => e.seq,
            BoardEvent::Notice(e) => e.seq,
            BoardEvent::Reset(e) => e.seq,
        }
    }

    /// The same event numbered `seq` (the central service numbers an event
    /// when it appends it to its log).
    pub fn with_seq(mut self, seq: u64) -> BoardEvent {
        match &mut self {
            BoardEvent::Call(e) => e.seq = seq,
            BoardEvent::Done(e) | BoardEvent::Skip(e) => e.seq = seq,
            BoardEvent::Checkin(e) => e.seq = seq,
            BoardEvent::Notice(e) => e.seq = seq,
            BoardEvent::Reset(e) => e.seq = seq,
        }
        self
    }

    /// The SSE `event:` name.
    pub fn kind(&self) -> &'static str {
        match self {
            BoardEvent::Call(_) => "call",
            BoardEvent::Done(_) => "done",
            BoardEvent::Skip(_) => "skip",
            BoardEvent::Checkin(_) => "checkin",
            BoardEvent::Notice(_) => "notice",
            BoardEvent::Reset(_) => "reset",
        }
    }

    /// The one encoder: `event:` name and `data:` JSON (a single line;
    /// `seq` is in the data as well as in [`EncodedEvent::seq`]).
    pub fn encode(&self) -> EncodedEvent {
        let data = match self {
            BoardEvent::Call(e) => serde_json::to_string(e),
            BoardEvent::Done(e) | BoardEvent::Skip(e) => serde_json::to_string(e),
            BoardEvent::Checkin(e) => serde_json::to_string(e),
            BoardEvent::Notice(e) => serde_json::to_string(e),
            BoardEvent::Reset(e) => serde_json::to_string(e),
        };
        EncodedEvent {
            seq: self.seq(),
            kind: self.kind(),
            // Plain structs of strings, numbers and booleans always serialise.
            data: data.unwrap_or_else(|_| format!("{{\"seq\":{}}}", self.seq())),
        }
    }

    /// The one decoder: an event from its SSE `event:` name and `data:`
    /// JSON. Unknown fields are ignored; an unknown name is an error.
    pub fn parse(kind: &str, data: &str) -> Result<BoardEvent, BadEvent> {
        let bad = |e: serde_json::Error| BadEvent {
            kind: kind.to_string(),
            reason: e.to_string(),
        };
        Ok(match kind {
            "call" => BoardEvent::Call(serde_json::from_str(data).map_err(bad)?),
            "done" => BoardEvent::Done(serde_json::from_str(data).map_err(bad)?),
            "skip" => BoardEvent::Skip(serde_json::from_str(data).map_err(bad)?),
            "checkin" => BoardEvent::Checkin(serde_json::from_str(data).map_err(bad)?),
            "notice" => BoardEvent::Notice(serde_json::from_str(data).map_err(bad)?),
            "reset" => BoardEvent::Reset(serde_json::from_str(data).map_err(bad)?),
            other => {
                return Err(BadEvent {
                    kind: other.to_string(),
                    reason: "unknown event type".into(),
                })
            }
        })
    }
}

impl EncodedEvent {
    /// [`BoardEvent::parse`] of this encoding.
    pub fn decode(&self) -> Result<BoardEvent, BadEvent> {
        BoardEvent::parse(self.kind, &self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<BoardEvent> {
        vec![
            BoardEvent::Call(CallEvent {
                seq: 7,
                number: "B-015".into(),
                counter: "3".into(),
                service: "KTP-EL".into(),
                called_at: "2024-05-08T09:40:00+07:00".into(),
                recall: true,
                priority: false,
            }),
            BoardEvent::Call(CallEvent {
                seq: 8,
                number: "B-016".into(),
                counter: "2".into(),
                service: "KTP-EL".into(),
                called_at: "2024-05-08T09:41:00+07:00".into(),
                recall: false,
                priority: true,
            }),
            BoardEvent::Done(CounterEvent {
                seq: 8,
                number: "B-015".into(),
                counter: "3".into(),
            }),
            BoardEvent::Skip(CounterEvent {
                seq: 9,
                number: "B-016".into(),
                counter: "1".into(),
            }),
            BoardEvent::Checkin(CheckinEvent {
                seq: 10,
                number: "A-001".into(),
                slot: "08:00-09:00".into(),
            }),
            BoardEvent::Notice(NoticeEvent {
                seq: 11,
                text: Some("Istirahat \"siang\"\nsebentar".into()),
            }),
            BoardEvent::Notice(NoticeEvent {
                seq: 12,
                text: None,
            }),
            BoardEvent::Reset(ResetEvent { seq: 13 }),
        ]
    }

    #[test]
    fn every_event_round_trips_through_the_one_encoder_and_decoder() {
        for e in every_kind() {
            let wire = e.encode();
            assert_eq!(wire.seq, e.seq());
            assert_eq!(wire.kind, e.kind());
            assert!(!wire.data.contains('\n'), "one data: line: {}", wire.data);
            assert_eq!(wire.decode().unwrap(), e, "{wire:?}");
            assert_eq!(
                e.clone().with_seq(99).encode().decode().unwrap().seq(),
                99,
                "{e:?}"
            );
        }
    }

    #[test]
    fn the_encoding_is_the_contracts() {
        // (event, the data: JSON of docs/central-api.md)
        let cases = [
            (
                every_kind()[0].clone(),
                "call",
                r#"{"seq":7,"number":"B-015","counter":"3","service":"KTP-EL","called_at":"2024-05-08T09:40:00+07:00","recall":true}"#,
            ),
            (
                every_kind()[1].clone(),
                "call",
                r#"{"seq":8,"number":"B-016","counter":"2","service":"KTP-EL","called_at":"2024-05-08T09:41:00+07:00","recall":false,"priority":true}"#,
            ),
            (
                every_kind()[2].clone(),
                "done",
                r#"{"seq":8,"number":"B-015","counter":"3"}"#,
            ),
            (
                every_kind()[6].clone(),
                "notice",
                r#"{"seq":12,"text":null}"#,
            ),
            (every_kind()[7].clone(), "reset", r#"{"seq":13}"#),
        ];
        for (event, kind, data) in cases {
            let wire = event.encode();
            assert_eq!((wire.kind, wire.data.as_str()), (kind, data));
        }
    }

    #[test]
    fn the_decoder_ignores_unknown_fields_and_refuses_unknown_kinds() {
        let e = BoardEvent::parse(
            "call",
            r#"{"seq":7,"number":"B-015","counter":"3","called_at":"2024-05-08T09:40:00+07:00","extra":1}"#,
        )
        .unwrap();
        assert_eq!(e.seq(), 7);
        assert_eq!(e.kind(), "call");
        assert!(matches!(&e, BoardEvent::Call(c) if !c.recall && c.service.is_empty()));
        let n = BoardEvent::parse("notice", r#"{"seq":8}"#).unwrap();
        assert_eq!(n, BoardEvent::Notice(NoticeEvent { seq: 8, text: None }));
        for (kind, data) in [
            ("teleport", "{}"),
            ("done", "{not json"),
            ("call", r#"{"seq":1}"#),
            ("reset", r#"{"seq":"one"}"#),
        ] {
            let e = BoardEvent::parse(kind, data).unwrap_err();
            assert_eq!(e.kind, kind);
        }
    }
}
