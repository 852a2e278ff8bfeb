//! The recoverer: carries out the `recover` each endpoint was asked for, a slice at a time, so
//! a large recovery interleaves with new deliveries instead of queueing ahead of them all.
//! Progress is kept on the endpoint (compare-and-set), so another worker, or this one after a
//! restart, goes on where it stopped; a message this recovery queued is never queued twice.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    domain::Partition,
    store::{EndpointRecord, EventPageQuery, RecoverOne, Recovery, StoreError},
};

use super::WebhookDeps;

/// Events one endpoint's recovery reads per tick (four ticks a second by default).
const SLICE: usize = 500;

pub fn spawn_recoverer(deps: WebhookDeps, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let tick = Duration::from_millis(deps.settings.worker.tick_ms.max(10));
        while !crate::worker::stream_loop::stopped(&stop) {
            if let Err(e) = run_once(&deps).await {
                tracing::warn!(error = %e, "recovery tick failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

async fn run_once(deps: &WebhookDeps) -> Result<(), StoreError> {
    for tenant in deps.tenants.ids() {
        for e in deps.store.endpoints(&tenant).await? {
            if let Some(r) = e.recovery.as_ref().filter(|r| r.finished_ms.is_none()) {
                step(deps, &tenant, &e, r.clone()).await?;
            }
        }
    }
    Ok(())
}

/// Advances one recovery by a slice and saves where it got.
async fn step(deps: &WebhookDeps, tenant: &str, e: &EndpointRecord, mut r: Recovery) -> Result<(), StoreError> {
    let partitions = deps.store.keys().partitions();
    let tag = r.since_ms.to_string();
    let types = e.event_types.as_ref().map(|t| t.join(",")).unwrap_or_default();
    let mut budget = SLICE;
    while budget > 0 && r.partition < partitions {
        let p = Partition(r.partition);
        let q = EventPageQuery {
            since_ms: Some(r.since_ms),
            until_ms: Some(r.until_ms),
            ascending: true,
            after: r.after.clone(),
            limit: budget.min(200),
            partition: Some(p),
        };
        let page = deps.store.tenant_event_page(tenant, &q).await?;
        for (id, at) in &page {
            match deps.store.recover_one(p, id, &e.id, &tag, &types).await? {
                RecoverOne::Queued => r.queued += 1,
                RecoverOne::Had | RecoverOne::Skipped | RecoverOne::Gone => r.skipped += 1,
            }
            r.after = Some((*at, id.clone()));
        }
        budget -= page.len();
        if page.len() < q.limit {
            r.partition += 1;
            r.after = None;
        }
    }
    if r.partition >= partitions {
        r.finished_ms = Some(chrono::Utc::now().timestamp_millis());
        tracing::info!(endpoint = %e.id, queued = r.queued, skipped = r.skipped, "endpoint recovery done");
    }
    // Only onto the same recovery: one asked for meanwhile starts over on its own.
    deps.store
        .endpoint_update(tenant, &e.id, |x| {
            if x.recovery.as_ref().is_some_and(|cur| cur.since_ms == r.since_ms && cur.until_ms == r.until_ms) {
                x.recovery = Some(r.clone());
            }
        })
        .await?;
    Ok(())
}
