//! Reads each partition's events stream (group `dispatch`) and turns every event into a
//! stored message with one delivery per subscribed endpoint. For `consent.confirmed` it also
//! signs the receipt. The fan-out script acknowledges the event in the same step.

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    domain::{Context, Partition, VerificationId},
    evidence,
    store::{DISPATCH_GROUP, EventEntry, Fanout, StoreError, event_id, to_event},
    worker::stream_loop::{self, LoopConfig},
};

use super::{
    WebhookDeps,
    payload::{self, ReceiptClaims},
};

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
                    async move {
                        for event in entries.into_iter().filter_map(to_event) {
                            if let Err(e) = dispatch(&deps, p, &event).await {
                                // Left unacknowledged: reclaimed and dispatched again.
                                tracing::warn!(partition = p.0, error = %e, "dispatch failed; will retry");
                            }
                        }
                    }
                })
                .await;
            })
        })
        .collect();
    Ok(handles)
}

async fn dispatch(deps: &WebhookDeps, p: Partition, e: &EventEntry) -> Result<(), DispatchError> {
    let store = &deps.store;
    let eid = event_id(p, &e.entry_id);
    let endpoint_ids: Vec<String> =
        store.endpoints(&e.tenant).await?.into_iter().filter(|ep| ep.wants(&e.event_type)).map(|ep| ep.id).collect();
    let tenant = deps.tenants.by_id(&e.tenant);
    let partitions = deps.settings.redis.partitions;
    let verification = match VerificationId::parse(&e.verification_id, partitions) {
        Some(id) => store.get(&id).await?,
        None => None,
    };
    let (body, receipt, vkey) = match (&verification, &tenant) {
        (Some(v), Some(tenant)) => {
            let receipt = if e.event_type == "consent.confirmed" {
                match serde_json::from_str::<Context>(&v.context_json) {
                    Ok(ctx) => {
                        let record = evidence::build(v, &ctx, tenant);
                        let claims = ReceiptClaims {
                            iss: &deps.settings.http.public_base_url,
                            iat: e.at_ms / 1000,
                            jti: deps.server_key.receipt_id(&v.id, &v.seed(), &v.optout_token_hash),
                            evidence: &record,
                        };
                        Some((claims.jti.clone(), deps.signer.sign(&claims)?))
                    }
                    Err(_) => {
                        tracing::error!(verification = %v.id, "stored context unreadable: confirmed without a receipt");
                        None
                    }
                }
            } else {
                None
            };
            let body =
                payload::verification_body(e, v, tenant, receipt.as_ref().map(|(i, r)| (i.as_str(), r.as_str())));
            (body, receipt.map(|(_, r)| r), store.keys().verification(&v.id))
        }
        // A withdrawal posted for a number with no verification here.
        _ if e.verification_id.is_empty() => (payload::withdrawal_body(e), None, store.keys().placeholder(p)),
        // The verification is gone (trimmed, or its tenant removed): say what is known.
        _ => (payload::bare_body(e), None, store.keys().placeholder(p)),
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
            receipt: receipt.as_deref(),
            attempts_key: match VerificationId::parse(&e.verification_id, partitions) {
                Some(id) => store.keys().send_attempts(&id),
                None => store.keys().placeholder(p),
            },
            verification_key: vkey,
            endpoint_ids,
        })
        .await?;
    Ok(())
}
