//! Reading the service's event streams as the kiosk does: the core's SSE
//! parser, then the core's one decoder (`BoardEvent::parse`).

use antrean_core::events::BoardEvent;
use antrean_core::sse::{SseItem, SseParser};

use super::wait::LIMIT;

/// Reads SSE events from a response until `n` messages arrived: (`id:`,
/// the decoded event). `parser` carries over between calls.
pub async fn read_events(
    resp: &mut reqwest::Response,
    parser: &mut SseParser,
    n: usize,
) -> Vec<(Option<String>, BoardEvent)> {
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(LIMIT, resp.chunk())
            .await
            .expect("events arrive")
            .unwrap()
            .expect("stream open");
        for item in parser.push(&chunk) {
            if let SseItem::Message(m) = item {
                out.push((m.id.clone(), BoardEvent::parse(&m.event, &m.data).unwrap()));
            }
        }
    }
    out
}

/// The first `n` events of a fresh stream: (`id:`, event name); the `id:`
/// is checked to be the event's `seq`.
pub async fn ids_and_kinds(resp: &mut reqwest::Response, n: usize) -> Vec<(u64, String)> {
    read_events(resp, &mut SseParser::new(), n)
        .await
        .into_iter()
        .map(|(id, e)| {
            let id: u64 = id.expect("an id").parse().unwrap();
            assert_eq!(id, e.seq(), "id: is the seq");
            (id, e.kind().to_string())
        })
        .collect()
}
