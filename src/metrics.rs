//! Prometheus counters. Labels are closed vocabularies: never a number, address or code.

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, info::Info},
    registry::Registry,
};

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

pub struct Metrics {
    registry: Registry,
    pub started: Family<StartLabels, Counter>,
    pub checks: Family<OutcomeLabels, Counter>,
    pub page_answers: Family<OutcomeLabels, Counter>,
    pub rate_limited: Family<OutcomeLabels, Counter>,
    pub sent: Family<ChannelLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("optin_verify");
        // Always present, so a scrape of an idle instance is never empty.
        registry.register("build", "Build information", Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]));
        let started = Family::<StartLabels, Counter>::default();
        let checks = Family::<OutcomeLabels, Counter>::default();
        let page_answers = Family::<OutcomeLabels, Counter>::default();
        let rate_limited = Family::<OutcomeLabels, Counter>::default();
        let sent = Family::<ChannelLabels, Counter>::default();
        registry.register("verifications_started", "Verifications started", started.clone());
        registry.register("checks", "Code checks by outcome", checks.clone());
        registry.register("page_answers", "Answers on the consumer pages", page_answers.clone());
        registry.register("rate_limited", "Requests refused by a rate limit, by scope", rate_limited.clone());
        registry.register("messages_sent", "Messages handed to a transport", sent.clone());
        Self { registry, started, checks, page_answers, rate_limited, sent }
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
