//! Server-Sent Events, sans I/O: bytes in any chunking become events and
//! heartbeats (comment lines), following the WHATWG event-stream rules
//! (CR, LF or CRLF line ends; `data:` lines joined; `id:`; `event:`;
//! `retry:`; a leading BOM). Lines and events are capped so that a broken
//! or hostile server cannot make the kiosk grow without bound: whatever
//! bytes arrive, the parser holds about [`MAX_LINE`] + [`MAX_EVENT`] (at
//! most twice that in allocated capacity).
//! Reading only: the central service frames events with its HTTP server,
//! from `events::BoardEvent::encode`.

/// Longest line kept; a longer one drops the event it belongs to.
pub const MAX_LINE: usize = 64 * 1024;

/// Most `data:` bytes of one event (all its `data:` lines together); a
/// larger event is dropped. Board events are one short line of JSON.
pub const MAX_EVENT: usize = 64 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseMessage {
    /// The last event id seen (it persists across events, as in browsers).
    pub id: Option<String>,
    /// `message` when the event named none.
    pub event: String,
    pub data: String,
}

/// What the parser found in the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    Message(SseMessage),
    /// A comment line (`: ping`): proof the stream is alive.
    Comment(String),
    /// `retry:` asked for a reconnection delay in milliseconds.
    Retry(u64),
    /// A line passed [`MAX_LINE`] or an event passed [`MAX_EVENT`]: its
    /// event is dropped. Reported once per broken event; a client may take
    /// it as a sign that the server is broken and reconnect.
    Oversized,
}

/// The parser state.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The line being read is over [`MAX_LINE`]: skip to its end.
    overlong: bool,
    /// The current event is broken (an overlong line): drop it.
    poisoned: bool,
    /// A CR ended the last line: a following LF belongs to it.
    after_cr: bool,
    started: bool,
    /// The first bytes, until we know whether they are a BOM.
    head: Vec<u8>,
    last_id: Option<String>,
    event: Option<String>,
    /// The event's `data:` lines joined with `\n`.
    data: String,
    /// At least one `data:` line arrived (an empty one counts).
    has_data: bool,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Feeds bytes; returns what they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
        let mut out = Vec::new();
        if self.started {
            self.feed(bytes, &mut out);
            return out;
        }
        // A UTF-8 BOM may open the stream, possibly split across chunks.
        self.head.extend_from_slice(bytes);
        if self.head.len() < BOM.len() && BOM.starts_with(&self.head) {
            return out;
        }
        self.started = true;
        let head = std::mem::take(&mut self.head);
        let rest = head.strip_prefix(&BOM[..]).unwrap_or(&head);
        self.feed(rest, &mut out);
        out
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseItem>) {
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(out);
                }
                b'\n' => self.end_line(out),
                _ if self.overlong => {}
                _ => {
                    if self.line.len() >= MAX_LINE {
                        self.overlong = true;
                        self.line = Vec::new();
                        self.poison(out);
                    } else {
                        self.line.push(b);
                    }
                }
            }
        }
    }

    fn end_line(&mut self, out: &mut Vec<SseItem>) {
        if std::mem::take(&mut self.overlong) {
            return;
        }
        let line = std::mem::take(&mut self.line);
        let line = String::from_utf8_lossy(&line).into_owned();
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            out.push(SseItem::Comment(comment.trim_start().to_string()));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" if self.poisoned => {}
            "data" => {
                let joined = self.data.len() + usize::from(self.has_data) + value.len();
                if joined > MAX_EVENT {
                    self.poison(out);
                } else {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    out.push(SseItem::Retry(ms));
                }
            }
            _ => {}
        }
    }

    /// The current event is broken: drop what it holds, say so once.
    fn poison(&mut self, out: &mut Vec<SseItem>) {
        if !self.poisoned {
            out.push(SseItem::Oversized);
        }
        self.poisoned = true;
        self.data = String::new();
        self.has_data = false;
    }

    /// Bytes held for unfinished lines and events (bounded by the caps).
    pub fn buffered(&self) -> usize {
        self.line.capacity() + self.data.capacity() + self.head.len()
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        let event = self.event.take();
        let data = std::mem::take(&mut self.data);
        let has_data = std::mem::take(&mut self.has_data);
        if std::mem::take(&mut self.poisoned) || !has_data {
            return;
        }
        out.push(SseItem::Message(SseMessage {
            id: self.last_id.clone(),
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".into()),
            data,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: Option<&str>, event: &str, data: &str) -> SseItem {
        SseItem::Message(SseMessage {
            id: id.map(str::to_string),
            event: event.into(),
            data: data.into(),
        })
    }

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseItem> {
        let mut p = SseParser::new();
        chunks.iter().flat_map(|c| p.push(c)).collect()
    }

    const STREAM: &[u8] = b"\xEF\xBB\xBF: ping\r\nid: 7\r\nevent: call\r\ndata: {\"seq\":7}\r\n\r\nid: 8\nevent: done\ndata: a\ndata: b\n\ndata: plain\r\rretry: 3000\n: x\n\n";

    fn expected() -> Vec<SseItem> {
        vec![
            SseItem::Comment("ping".into()),
            msg(Some("7"), "call", "{\"seq\":7}"),
            msg(Some("8"), "done", "a\nb"),
            msg(Some("8"), "message", "plain"),
            SseItem::Retry(3000),
            SseItem::Comment("x".into()),
        ]
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        assert_eq!(parse_all(&[STREAM]), expected());
        for cut in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(cut);
            assert_eq!(parse_all(&[a, b]), expected(), "split at {cut}");
        }
        let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
        assert_eq!(parse_all(&bytes), expected(), "byte by byte");
    }

    #[test]
    fn table_of_edge_cases() {
        let cases: Vec<(&[u8], Vec<SseItem>)> = vec![
            (b"data\n\n", vec![msg(None, "message", "")]),
            (b"data:\n\n", vec![msg(None, "message", "")]),
            (b"event: x\n\n", vec![]),
            (b"data:no-space\n\n", vec![msg(None, "message", "no-space")]),
            (
                b"id: 1\ndata: a\n\ndata: b\n\n",
                vec![
                    msg(Some("1"), "message", "a"),
                    msg(Some("1"), "message", "b"),
                ],
            ),
            (
                b"unknown: field\ndata: x\n\n",
                vec![msg(None, "message", "x")],
            ),
            (b"retry: soon\n", vec![]),
            (b"data: unfinished", vec![]),
        ];
        for (bytes, expect) in cases {
            assert_eq!(
                parse_all(&[bytes]),
                expect,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn an_overlong_line_drops_only_its_event() {
        let mut big = b"data: ".to_vec();
        big.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        big.extend_from_slice(b"\n\ndata: next\n\n");
        assert_eq!(
            parse_all(&[&big]),
            vec![SseItem::Oversized, msg(None, "message", "next")]
        );
    }

    #[test]
    fn endless_input_stays_within_the_caps() {
        // (what the server repeats forever, what it sends after)
        let cases: Vec<(&[u8], &str)> = vec![
            (b"x", "an endless line"),
            (
                b"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
                "endless data: lines",
            ),
            (b"data\n", "endless empty data: lines"),
            (b"event: call\n", "endless event: lines"),
        ];
        for (unit, what) in cases {
            let mut p = SseParser::new();
            let mut items = Vec::new();
            let chunk: Vec<u8> = unit.iter().copied().cycle().take(64 * 1024).collect();
            // 64 MiB in total, far beyond every cap.
            for _ in 0..1024 {
                items.extend(p.push(&chunk));
                assert!(
                    p.buffered() <= 2 * (MAX_LINE + MAX_EVENT),
                    "{what}: {} bytes held",
                    p.buffered()
                );
            }
            let oversized = items.iter().filter(|i| **i == SseItem::Oversized).count();
            let messages = items
                .iter()
                .filter(|i| matches!(i, SseItem::Message(_)))
                .count();
            assert_eq!(messages, 0, "{what}");
            if what != "endless event: lines" {
                assert_eq!(oversized, 1, "{what}: reported once");
            }
            // The stream recovers at the next event boundary.
            let after = p.push(b"\n\nid: 9\nevent: done\ndata: ok\n\n");
            assert_eq!(
                after.last(),
                Some(&msg(Some("9"), "done", "ok")),
                "{what}: {after:?}"
            );
        }
    }

    #[test]
    fn an_event_of_exactly_the_cap_is_kept() {
        // The longest line that fits, then a line that makes the joined data
        // exactly MAX_EVENT bytes long; one byte more drops the event.
        let first = "y".repeat(MAX_LINE - "data: ".len());
        let rest = "z".repeat(MAX_EVENT - first.len() - 1);
        let wire = format!("data: {first}\ndata: {rest}\n\n");
        assert_eq!(
            parse_all(&[wire.as_bytes()]),
            vec![msg(None, "message", &format!("{first}\n{rest}"))]
        );
        let wire = format!("data: {first}\ndata: {rest}z\n\ndata: next\n\n");
        assert_eq!(
            parse_all(&[wire.as_bytes()]),
            vec![SseItem::Oversized, msg(None, "message", "next")]
        );
    }
}
