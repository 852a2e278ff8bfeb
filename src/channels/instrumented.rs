//! A transport wrapper that records every provider attempt of a send (latency and outcome,
//! per provider) into the metrics. The transports measure; this only reports.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::metrics::Metrics;

use super::{Message, Notifier, SendReport};

pub struct Instrumented {
    pub inner: Arc<dyn Notifier>,
    pub channel: &'static str,
    pub metrics: Arc<Metrics>,
}

impl Notifier for Instrumented {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, SendReport> {
        Box::pin(async move {
            let report = self.inner.send(message).await;
            for a in &report.attempts {
                self.metrics.provider_attempt(self.channel, a.provider, a.outcome, a.latency_ms);
            }
            report
        })
    }
}
