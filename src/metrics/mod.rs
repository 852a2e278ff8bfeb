//! Prometheus metrics. Labels are closed vocabularies (method, channel, provider, outcome,
//! route pattern, Redis command): never a number, address, id, URL or code.

mod redis;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
        info::Info,
    },
    registry::Registry,
};
use std::sync::atomic::AtomicU64;

pub use redis::{RedisLabels, observe_gate_wait, observe_redis};

/// Where a withdrawal or a suppression came from: `api`, `page` (a message's own links) or
/// `self_service` (the consents page).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: &'static str,
}

/// A consents-page session: `started` (a number entered), `verified` (the right code).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StartLabels {
    pub method: &'static str,
    pub channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: &'static str,
    pub result: &'static str,
}

/// A verification that left `pending`: confirmed, declined, expired, failed or canceled.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FinishedLabels {
    pub method: &'static str,
    pub channel: &'static str,
    pub outcome: &'static str,
}

/// One try at one provider: `accepted`, `transient` or `permanent`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub channel: &'static str,
    pub provider: &'static str,
    pub outcome: &'static str,
}

/// `route` is the matched pattern (`/v1/verifications/{id}`), or `unmatched`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    pub route: String,
    pub status: u16,
}

/// A Redis master, by `host:port`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    pub node: String,
}

/// One of `send`, `held`, `retry`, `dead`, `deliver`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: &'static str,
}

type Hist<L> = Family<L, Histogram, fn() -> Histogram>;

/// Transport and webhook round trips: 5 ms to about 40 s.
fn network_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Request handling: 0.5 ms to about 8 s.
fn http_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// What verifications end as; the started counter is the denominator of a conversion rate.
pub const FINISHED_OUTCOMES: [&str; 5] = ["confirmed", "declined", "expired", "failed", "canceled"];
pub const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "retrying", "dead"];
pub const WITHDRAWAL_SOURCES: [&str; 3] = ["api", "page", "self_service"];
pub const QUEUES: [&str; 5] = ["send", "held", "retry", "dead", "deliver"];

pub struct Metrics {
    registry: Registry,
    pub started: Family<StartLabels, Counter>,
    pub finished: Family<FinishedLabels, Counter>,
    pub checks: Family<OutcomeLabels, Counter>,
    pub page_answers: Family<OutcomeLabels, Counter>,
    pub rate_limited: Family<OutcomeLabels, Counter>,
    pub page_sessions: Family<StageLabels, Counter>,
    pub withdrawals: Family<SourceLabels, Counter>,
    pub suppressions: Family<SourceLabels, Counter>,
    pub sent: Family<ChannelLabels, Counter>,
    pub provider_send: Hist<ProviderLabels>,
    pub webhook_delivery: Hist<OutcomeLabels>,
    pub webhook_deferred: Counter,
    pub http: Hist<HttpLabels>,
    pub queue_depth: Family<QueueLabels, Gauge>,
    pub queue_oldest: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    pub ready: Gauge,
    pub redis_used: Family<NodeLabels, Gauge>,
    pub redis_max: Family<NodeLabels, Gauge>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("optin_verify");
        // Always present, so a scrape of an idle instance is never empty.
        r.register("build", "Build information", Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]));
        let m = Self {
            started: Family::default(),
            finished: Family::default(),
            checks: Family::default(),
            page_answers: Family::default(),
            rate_limited: Family::default(),
            page_sessions: Family::default(),
            withdrawals: Family::default(),
            suppressions: Family::default(),
            sent: Family::default(),
            provider_send: Family::new_with_constructor(network_histogram),
            webhook_delivery: Family::new_with_constructor(network_histogram),
            webhook_deferred: Counter::default(),
            http: Family::new_with_constructor(http_histogram),
            queue_depth: Family::default(),
            queue_oldest: Family::default(),
            ready: Gauge::default(),
            redis_used: Family::default(),
            redis_max: Family::default(),
            registry: Registry::default(),
        };
        r.register("verifications_started", "Verifications started", m.started.clone());
        r.register(
            "verifications_finished",
            "Verifications that left pending, by method, channel and outcome",
            m.finished.clone(),
        );
        r.register("checks", "Code checks by outcome", m.checks.clone());
        r.register("page_answers", "Answers on the consumer pages", m.page_answers.clone());
        r.register("rate_limited", "Requests refused by a rate limit, by scope", m.rate_limited.clone());
        r.register("self_service_sessions", "Consents-page sessions, by stage", m.page_sessions.clone());
        r.register("withdrawals", "Consents withdrawn, by where the withdrawal came from", m.withdrawals.clone());
        r.register("suppressions", "Suppressions set or lifted, by source", m.suppressions.clone());
        r.register("messages_sent", "Messages handed to a transport", m.sent.clone());
        r.register(
            "provider_send_duration_seconds",
            "One attempt at one SMS, WhatsApp or email provider, by outcome",
            m.provider_send.clone(),
        );
        r.register(
            "webhook_delivery_duration_seconds",
            "One webhook delivery attempt; outcome is delivered, retrying or dead",
            m.webhook_delivery.clone(),
        );
        r.register(
            "webhook_deliveries_deferred",
            "Webhook deliveries put back for a second, no attempt made, because their endpoint's lane was full",
            m.webhook_deferred.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP requests by method, matched route pattern and status",
            m.http.clone(),
        );
        r.register("queue_depth", "Entries waiting, summed over partitions (sampled at scrape)", m.queue_depth.clone());
        r.register(
            "queue_oldest_age_seconds",
            "Streams (send, deliver) and dead letters: age of the oldest entry; held and retry: how far past \
             its due time the earliest entry is (0 when none is due)",
            m.queue_oldest.clone(),
        );
        r.register("ready", "1 when Redis answered the last scrape's readiness ping, else 0", m.ready.clone());
        r.register(
            "redis_memory_used_bytes",
            "Memory each Redis master uses (INFO used_memory, sampled at scrape)",
            m.redis_used.clone(),
        );
        r.register(
            "redis_memory_max_bytes",
            "Each Redis master's maxmemory; 0 is no limit (sampled at scrape)",
            m.redis_max.clone(),
        );
        r.register("redis_command_duration_seconds", "Redis commands by name and outcome", redis::family());
        r.register(
            "redis_gate_wait_seconds",
            "Time background work waited for a place under webhooks.redis_in_flight",
            redis::gate_wait(),
        );
        let m = Self { registry: r, ..m };
        m.preset();
        m
    }

    /// Series with closed label sets exist from the start, so that rates and alert rules see
    /// a zero instead of no data.
    fn preset(&self) {
        use crate::domain::{Channel, Method};
        for method in [Method::Link, Method::Code, Method::Call] {
            for channel in [Channel::Sms, Channel::Whatsapp, Channel::Email] {
                let (method, channel) = (method.as_str(), channel.as_str());
                let _ = self.started.get_or_create(&StartLabels { method, channel });
                for outcome in FINISHED_OUTCOMES {
                    let _ = self.finished.get_or_create(&FinishedLabels { method, channel, outcome });
                }
            }
        }
        for outcome in WEBHOOK_OUTCOMES {
            let _ = self.webhook_delivery.get_or_create(&OutcomeLabels { outcome });
        }
        for stage in ["started", "verified"] {
            let _ = self.page_sessions.get_or_create(&StageLabels { stage });
        }
        for source in WITHDRAWAL_SOURCES {
            let _ = self.withdrawals.get_or_create(&SourceLabels { source });
            let _ = self.suppressions.get_or_create(&SourceLabels { source });
        }
        for queue in QUEUES {
            let _ = self.queue_depth.get_or_create(&QueueLabels { queue });
            let _ = self.queue_oldest.get_or_create(&QueueLabels { queue });
        }
        redis::preset();
    }

    /// A provider attempt, with the latency the transport measured.
    pub fn provider_attempt(&self, channel: &'static str, provider: &'static str, outcome: &'static str, ms: u64) {
        self.provider_send.get_or_create(&ProviderLabels { channel, provider, outcome }).observe(ms as f64 / 1000.0);
    }

    /// The outcome a webhook event type stands for, if it ends a verification.
    pub fn finished_outcome(event_type: &str) -> Option<&'static str> {
        match event_type {
            "consent.confirmed" => Some("confirmed"),
            "consent.declined" => Some("declined"),
            "verification.expired" => Some("expired"),
            "verification.failed" => Some("failed"),
            "verification.canceled" => Some("canceled"),
            _ => None,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_series_are_exposed_before_anything_happens() {
        let text = Metrics::new().render();
        for needle in [
            "optin_verify_verifications_finished_total{method=\"code\",channel=\"sms\",outcome=\"confirmed\"} 0",
            "optin_verify_verifications_started_total{method=\"link\",channel=\"email\"} 0",
            "optin_verify_webhook_delivery_duration_seconds_count{outcome=\"dead\"} 0",
            "optin_verify_webhook_deliveries_deferred_total 0",
            "optin_verify_queue_depth{queue=\"dead\"} 0",
            "optin_verify_queue_oldest_age_seconds{queue=\"send\"} 0.0",
            "optin_verify_ready 0",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn event_types_map_to_outcomes() {
        assert_eq!(Metrics::finished_outcome("consent.confirmed"), Some("confirmed"));
        assert_eq!(Metrics::finished_outcome("verification.failed"), Some("failed"));
        assert_eq!(Metrics::finished_outcome("consent.withdrawn"), None);
    }
}
