//! Per-partition ticks: release due webhook retries and messages held for quiet hours, emit
//! recording-retention reminders, and expire verifications whose deadline passed. Redis key expiry is silent, so expiry is driven here, one atomic transition each;
//! several workers may sweep the same partition and each verification still expires once.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use crate::{domain::Partition, store::StoreError};

use super::WebhookDeps;

const BATCH: usize = 200;

pub fn spawn_schedulers(deps: WebhookDeps, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    deps.store
        .keys()
        .all_partitions()
        .map(|p| {
            let deps = deps.clone();
            let mut stop = stop.clone();
            tokio::spawn(async move {
                let tick = Duration::from_millis(deps.settings.worker.tick_ms.max(10));
                while !crate::worker::stream_loop::stopped(&stop) {
                    if let Err(e) = run_once(&deps, p).await {
                        tracing::warn!(partition = p.0, error = %e, "scheduler tick failed");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(tick) => {}
                        _ = stop.changed() => {}
                    }
                }
            })
        })
        .collect()
}

async fn run_once(deps: &WebhookDeps, p: Partition) -> Result<(), StoreError> {
    let now = chrono::Utc::now().timestamp_millis();
    while deps.store.release_due_retries(p, now, BATCH).await? == BATCH {}
    while deps.store.release_held(p, now, BATCH).await? == BATCH {}
    deps.store.retention_reminders_due(p, now, BATCH).await?;
    while deps.store.sweep(p, now, BATCH).await? == BATCH {}
    Ok(())
}
