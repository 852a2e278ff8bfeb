//! The loop every stream consumer runs: read a batch (new entries, or now and then the ones a
//! dead consumer left), hand it over, repeat until told to stop.

use std::{future::Future, sync::Arc, time::Duration};

use redis::streams::StreamId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::{
    config::Settings,
    domain::Partition,
    store::{Conn, Store, StoreError, StreamReader},
};

#[derive(Debug, Clone, Copy)]
pub struct LoopConfig {
    pub batch: usize,
    /// Below the Redis response timeout, or the blocking read itself times out.
    pub block_ms: u64,
    /// An entry unacknowledged this long belongs to a dead consumer.
    pub reclaim_idle_ms: u64,
}

impl LoopConfig {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            batch: s.worker.batch,
            block_ms: (s.redis.timeout_ms / 2).clamp(10, 1000),
            reclaim_idle_ms: s.worker.reclaim_idle_ms,
        }
    }
}

/// One reader per partition, each on a connection of its own (blocking reads would stall a
/// shared one), all in `group` under this process's consumer name.
pub async fn open_readers(
    store: &Store,
    s: &Settings,
    group: &'static str,
    stream_of: impl Fn(Partition) -> String,
) -> Result<Vec<(Partition, StreamReader)>, StoreError> {
    let consumer = super::consumer_name();
    let mut readers = Vec::new();
    for p in store.keys().all_partitions() {
        let conn = Conn::connect(&s.redis.url, s.redis.cluster, Duration::from_millis(s.redis.timeout_ms)).await?;
        readers.push((p, store.stream_reader(stream_of(p), group, &consumer, conn).await?));
    }
    Ok(readers)
}

/// Whether a loop should stop: told to, or its application is gone (the sender dropped, as
/// when a test's runtime ends; `changed()` then returns at once, and a loop waiting on it
/// would spin).
pub fn stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

pub async fn run<Fut>(
    reader: StreamReader,
    cfg: LoopConfig,
    stop: watch::Receiver<bool>,
    what: &'static str,
    mut handle: impl FnMut(Vec<StreamId>) -> Fut,
) where
    Fut: Future<Output = ()>,
{
    run_gated(reader, cfg, stop, what, None, |entries| handle(entries.into_iter().map(|(e, _)| e).collect())).await
}

/// Like [`run`], but reads only as many entries as `gate` has permits free, each entry handed
/// over with its permit. An entry is then never read before it can start: it cannot sit in
/// memory waiting for a slot while its idle time runs out and another reader reclaims it.
pub async fn run_gated<Fut>(
    mut reader: StreamReader,
    cfg: LoopConfig,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
    gate: Option<Arc<Semaphore>>,
    mut handle: impl FnMut(Vec<(StreamId, Option<OwnedSemaphorePermit>)>) -> Fut,
) where
    Fut: Future<Output = ()>,
{
    let reclaim_every = Duration::from_millis(cfg.reclaim_idle_ms.clamp(100, 5000));
    let mut last_reclaim = tokio::time::Instant::now() - reclaim_every;
    while !stopped(&stop) {
        let reclaim = (last_reclaim.elapsed() >= reclaim_every).then_some(cfg.reclaim_idle_ms);
        if reclaim.is_some() {
            last_reclaim = tokio::time::Instant::now();
        }
        let mut permits = Vec::new();
        if let Some(gate) = &gate {
            let first = tokio::select! {
                p = gate.clone().acquire_owned() => p.ok(),
                _ = stop.changed() => None,
            };
            permits.extend(first);
            while permits.len() < cfg.batch
                && let Ok(p) = gate.clone().try_acquire_owned()
            {
                permits.push(p);
            }
            if permits.is_empty() {
                continue;
            }
        }
        let count = if gate.is_some() { permits.len() } else { cfg.batch };
        let read = tokio::select! {
            r = reader.read(count, cfg.block_ms, reclaim) => r,
            _ = stop.changed() => Ok(Vec::new()),
        };
        match read {
            Ok(entries) if entries.is_empty() => {}
            Ok(entries) => {
                let mut permits = permits.into_iter();
                handle(entries.into_iter().map(|e| (e, permits.next())).collect()).await
            }
            Err(e) => {
                tracing::warn!(stream = what, error = %e, "stream read failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_stops_when_told_or_when_its_application_is_gone() {
        let (tx, rx) = watch::channel(false);
        assert!(!stopped(&rx));
        tx.send(true).unwrap();
        assert!(stopped(&rx));
        let (tx, rx) = watch::channel(false);
        drop(tx);
        assert!(stopped(&rx), "a dropped sender must stop the loop, or `changed()` spins it");
    }
}
