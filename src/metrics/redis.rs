//! Redis command latency. The connection type records into one process-wide family, because
//! the store is built before (and without) the registry; every registry exposes the same family.

use std::{
    sync::LazyLock,
    time::{Duration, Instant},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
};

/// `command` is the Redis command name (`EVALSHA`, `XREADGROUP` ...) or `pipeline`; `outcome`
/// is `ok`, `error_reply` (Redis answered with an error, e.g. NOSCRIPT before a script load)
/// or `failed` (no answer: connection lost, timeout, cluster down).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RedisLabels {
    pub command: String,
    pub outcome: &'static str,
}

type RedisFamily = Family<RedisLabels, Histogram, fn() -> Histogram>;

/// 50 µs to about 1.6 s. Blocking reads (`XREADGROUP ... BLOCK`) wait by design; dashboards
/// leave them out.
fn histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

static FAMILY: LazyLock<RedisFamily> = LazyLock::new(|| Family::new_with_constructor(histogram));

/// How long background work waited for a place under `webhooks.redis_in_flight` before its
/// command went out: when this grows while Redis is idle, the gate is what holds a backlog.
static GATE_WAIT: LazyLock<Histogram> = LazyLock::new(histogram);

pub(super) fn family() -> RedisFamily {
    FAMILY.clone()
}

pub(super) fn gate_wait() -> Histogram {
    GATE_WAIT.clone()
}

/// Records one wait for a place in a Redis gate.
pub fn observe_gate_wait(waited: Duration) {
    GATE_WAIT.observe(waited.as_secs_f64());
}

pub(super) fn preset() {
    for outcome in ["ok", "error_reply", "failed"] {
        let _ = FAMILY.get_or_create(&RedisLabels { command: "EVALSHA".into(), outcome });
    }
}

/// Keeps the label bounded whatever the caller passes: a short upper-case word, or `other`.
fn command_label(name: &[u8]) -> String {
    let ok = !name.is_empty() && name.len() <= 20 && name.iter().all(u8::is_ascii_alphabetic);
    if ok { String::from_utf8_lossy(name).to_ascii_uppercase() } else { "other".into() }
}

/// Records one command (or pipeline) that started at `started`.
pub fn observe_redis(command: &[u8], started: Instant, error: Option<&redis::RedisError>) {
    let outcome = match error {
        None => "ok",
        Some(e) if is_reply_error(e) => "error_reply",
        Some(_) => "failed",
    };
    let elapsed: Duration = started.elapsed();
    FAMILY.get_or_create(&RedisLabels { command: command_label(command), outcome }).observe(elapsed.as_secs_f64());
}

/// Redis answered, with an error (NOSCRIPT, BUSYGROUP ...): the connection itself is fine.
fn is_reply_error(e: &redis::RedisError) -> bool {
    let answered = matches!(e.kind(), redis::ErrorKind::Server(_) | redis::ErrorKind::Extension);
    answered && !e.is_cluster_error() && !e.is_timeout() && !e.is_connection_dropped()
}

#[cfg(test)]
mod tests {
    use super::command_label;

    #[test]
    fn command_labels_stay_bounded() {
        assert_eq!(command_label(b"evalsha"), "EVALSHA");
        assert_eq!(command_label(b"+31612345678"), "other");
        assert_eq!(command_label(b""), "other");
        assert_eq!(command_label(&[b'A'; 40]), "other");
    }
}
