//! Reads each partition's events stream (group `dispatch`) and turns every event into a
//! stored message with one delivery per subscribed endpoint. For `consent.confirmed` it also
//! signs the receipt. The fan-out script acknowledges the event in the same step.

use std::collections::HashMap;

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    domain::{Partition, Status, VerificationId},
    evidence,
    metrics::FinishedLabels,
    store::{DISPATCH_GROUP, EndpointRecord, EventEntry, Fanout, StoreError, event_id, to_event},
    worker::stream_loop::{self, LoopConfig},
};

use super::{WebhookDeps, payload};

#[derive(Debug, thiserror::Error)]
enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("receipt: {0}")]
    Receipt(#[from] serde_json::Error),
}

pub async fn spawn_dispatchers(
    deps: WebhookDeps,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, StoreError> {
    let cfg = LoopConfig::from_settings(&deps.settings);
    let keys = deps.store.keys().clone();
    let readers = stream_loop::open_readers(&deps.store, &deps.settings, DISPATCH_GROUP, |p| keys.events(p)).await?;
    let handles = readers
        .into_iter()
        .map(|(p, reader)| {
            let (deps, stop) = (deps.clone(), stop.clone());
            tokio::spawn(async move {
                stream_loop::run(reader, cfg, stop, "events", |entries| {
                    let deps = deps.clone();
                    async move { dispatch_batch(&deps, p, entries.into_iter().filter_map(to_event).collect()).await }
                })
                .await;
            })
        })
        .collect();
    Ok(handles)
}

/// Dispatches a batch of one partition's events side by side (webhooks promise no order).
/// Each tenant's endpoints are read once per batch, after the batch was read: an endpoint
/// created before an event was written is always among them.
async fn dispatch_batch(deps: &WebhookDeps, p: Partition, events: Vec<EventEntry>) {
    let mut endpoints: HashMap<&str, Vec<EndpointRecord>> = HashMap::new();
    for e in &events {
        if endpoints.contains_key(e.tenant.as_str()) {
            continue;
        }
        match deps.store.endpoints(&e.tenant).await {
            Ok(list) => {
                endpoints.insert(&e.tenant, list);
            }
            // Its events stay unacknowledged: reclaimed and dispatched again.
            Err(err) => tracing::warn!(partition = p.0, error = %err, "reading endpoints failed; will retry"),
        }
    }
    let work = events.iter().filter_map(|e| endpoints.get(e.tenant.as_str()).map(|list| (e, list))).map(
        |(e, list)| async move {
            if let Err(err) = dispatch(deps, p, e, list).await {
                // Left unacknowledged: reclaimed and dispatched again.
                tracing::warn!(partition = p.0, error = %err, "dispatch failed; will retry");
            }
        },
    );
    futures_util::future::join_all(work).await;
}

async fn dispatch(
    deps: &WebhookDeps,
    p: Partition,
    e: &EventEntry,
    endpoints: &[EndpointRecord],
) -> Result<(), DispatchError> {
    let store = &deps.store;
    let eid = event_id(p, &e.entry_id);
    let endpoint_ids: Vec<String> =
        endpoints.iter().filter(|ep| ep.wants(&e.event_type)).map(|ep| ep.id.clone()).collect();
    let tenant = deps.tenants.by_id(&e.tenant);
    let partitions = deps.settings.redis.partitions;
    let verification = match VerificationId::parse(&e.verification_id, partitions) {
        Some(id) => store.get(&id).await?,
        None => None,
    };
    let (body, seal, vkey, sealed_contact) = match (&verification, &tenant) {
        (Some(v), Some(_)) => {
            // A redelivered confirmation keeps the receipt it was first sealed with; a first one
            // is sealed now, and the seal kept with the fan-out.
            let (receipt, new_seal) = match (&v.seal, e.event_type == "consent.confirmed") {
                (_, false) => (None, None),
                (Some(seal), true) => {
                    (evidence::receipt(v, &deps.signer).map(|jws| (seal.receipt_id.clone(), jws)), None)
                }
                (None, true) => {
                    let receipt_id = deps.server_key.receipt_id(&v.id, &v.seed(), &v.optout_token_hash);
                    let (jws, seal) = evidence::issue(v, &deps.signer, &receipt_id)?;
                    (Some((receipt_id, jws)), Some(seal))
                }
            };
            let body = payload::verification_body(e, v, receipt.as_ref().map(|(id, jws)| (id.as_str(), jws.as_str())));
            // Its end is this event: from now on the record keeps the number sealed.
            let sealed_contact = (v.status != Status::Pending).then(|| store.sealed_contact(v));
            (body, new_seal, store.keys().verification(&v.id), sealed_contact)
        }
        // A withdrawal posted for a number with no verification here.
        _ if e.verification_id.is_empty() => {
            (payload::withdrawal_body(e, store.event_phone(e).as_deref()), None, store.keys().placeholder(p), None)
        }
        // Its tenant was removed: say what is known, and still seal the number of a record that
        // outlives its open period.
        (Some(v), None) => {
            let sealed_contact = (v.status != Status::Pending).then(|| store.sealed_contact(v));
            (payload::bare_body(e), None, store.keys().verification(&v.id), sealed_contact)
        }
        // The verification is gone (trimmed): say what is known.
        _ => (payload::bare_body(e), None, store.keys().placeholder(p), None),
    };
    let body = serde_json::to_string(&body)?;
    store
        .fanout(&Fanout {
            partition: p,
            entry_id: &e.entry_id,
            event_id: &eid,
            event_type: &e.event_type,
            tenant: &e.tenant,
            at_ms: e.at_ms,
            body: &body,
            seal: seal.as_ref(),
            verification_key: vkey,
            sealed_contact,
            endpoint_ids,
        })
        .await?;
    count_finished(deps, e, verification.as_ref());
    Ok(())
}

/// Every verification end passes here once (its event), whichever process made the move.
fn count_finished(deps: &WebhookDeps, e: &EventEntry, v: Option<&crate::store::VerificationRecord>) {
    if let (Some(outcome), Some(v)) = (crate::metrics::Metrics::finished_outcome(&e.event_type), v) {
        let labels = FinishedLabels { method: v.method.as_str(), channel: v.channel.as_str(), outcome };
        deps.metrics.finished.get_or_create(&labels).inc();
    }
}
