//! Counters and gauges for `/metrics` (Prometheus/OpenMetrics text): scans
//! by outcome, tickets printed, print latency, outbox depth, reconnects,
//! and every attempt of every retrying task by result (so a loop that
//! retries too often shows up without a debugger). Cheap atomics; every
//! owner updates its own figures.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabel {
    /// The retrying task: `outbox`, `checkin_now`, `manifest`, `health`,
    /// `board`, `events`, `scanner_open`, `printer_check`.
    pub task: String,
    /// `ok`, or what went wrong (`unreachable`, `timeout`, `server`, ...).
    pub result: String,
}

/// The kiosk's metrics.
pub struct Metrics {
    registry: Registry,
    pub scans: Family<OutcomeLabel, Counter>,
    pub tickets: Family<KindLabel, Counter>,
    pub print_seconds: Histogram,
    pub outbox_depth: Gauge,
    pub reconnects: Family<KindLabel, Counter>,
    pub printer_ok: Gauge,
    pub attempts: Family<AttemptLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("antrean");
        let scans = Family::<OutcomeLabel, Counter>::default();
        let tickets = Family::<KindLabel, Counter>::default();
        let print_seconds =
            Histogram::new([0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        let outbox_depth = Gauge::default();
        let reconnects = Family::<KindLabel, Counter>::default();
        let printer_ok = Gauge::default();
        let attempts = Family::<AttemptLabel, Counter>::default();
        registry.register("scans", "Scans by outcome", scans.clone());
        registry.register(
            "tickets_printed",
            "Tickets printed (kind: first, reprint, resumed)",
            tickets.clone(),
        );
        registry.register(
            "print_seconds",
            "Time from scan to the last ticket byte written",
            print_seconds.clone(),
        );
        registry.register(
            "outbox_depth",
            "Check-ins not yet acknowledged by the central service",
            outbox_depth.clone(),
        );
        registry.register(
            "central_reconnects",
            "Reconnections to the central service (kind: events)",
            reconnects.clone(),
        );
        registry.register(
            "printer_ok",
            "1 when the printer can print",
            printer_ok.clone(),
        );
        registry.register(
            "attempts",
            "Attempts of each retrying task (central service requests, device reopens) by result",
            attempts.clone(),
        );
        printer_ok.set(1);
        Metrics {
            attempts,
            registry,
            scans,
            tickets,
            print_seconds,
            outbox_depth,
            reconnects,
            printer_ok,
        }
    }

    pub fn scan(&self, outcome: &str) {
        self.scans
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn ticket(&self, kind: &str) {
        self.tickets
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }

    pub fn reconnect(&self, kind: &str) {
        self.reconnects
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Counts one attempt of a retrying task.
    pub fn attempt(&self, task: &str, result: &str) {
        self.attempts
            .get_or_create(&AttemptLabel {
                task: task.to_string(),
                result: result.to_string(),
            })
            .inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_label() {
        let m = Metrics::new();
        m.scan("accept");
        m.scan("accept");
        m.scan("too_early");
        m.ticket("first");
        m.print_seconds.observe(0.012);
        m.outbox_depth.set(3);
        m.attempt("outbox", "unreachable");
        m.attempt("outbox", "unreachable");
        let text = m.render();
        assert!(
            text.contains("antrean_attempts_total{task=\"outbox\",result=\"unreachable\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("antrean_scans_total{outcome=\"accept\"} 2"),
            "{text}"
        );
        assert!(text.contains("antrean_scans_total{outcome=\"too_early\"} 1"));
        assert!(text.contains("antrean_tickets_printed_total{kind=\"first\"} 1"));
        assert!(text.contains("antrean_outbox_depth 3"));
        assert!(text.contains("antrean_print_seconds_count 1"));
    }
}
