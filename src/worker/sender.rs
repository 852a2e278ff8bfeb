//! Reads each partition's send stream in the `senders` group and hands messages to the
//! transport. An entry is acknowledged only after the transport took it: a crash in between
//! means the entry is reclaimed and sent again (at least once).

use std::{sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    channels::{self, MessageInputs, Notifier},
    config::Settings,
    domain::{Context, Partition, ServerKey, Status, TokenKind},
    metrics::{ChannelLabels, Metrics},
    state::Tenants,
    store::{Conn, SendJob, SendQueue, Store, StoreError},
};

/// What a sender task needs.
#[derive(Clone)]
pub struct SenderDeps {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub key: ServerKey,
    pub tenants: Tenants,
    pub notifier: Arc<dyn Notifier>,
    pub metrics: Arc<Metrics>,
}

/// Starts one task per partition. They stop after their current batch once `stop` flips.
pub async fn spawn_senders(
    deps: SenderDeps,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, StoreError> {
    let consumer = format!(
        "{}-{}",
        std::process::id(),
        hex::encode(&ServerKey::new_seed()[..4])
    );
    let timeout = Duration::from_millis(deps.settings.redis.timeout_ms);
    let mut handles = Vec::new();
    for p in deps.store.keys().all_partitions() {
        let conn = Conn::connect(
            &deps.settings.redis.url,
            deps.settings.redis.cluster,
            timeout,
        )
        .await?;
        let queue = deps.store.send_queue(p, &consumer, conn).await?;
        handles.push(tokio::spawn(run_partition(
            deps.clone(),
            p,
            queue,
            stop.clone(),
        )));
    }
    Ok(handles)
}

async fn run_partition(
    deps: SenderDeps,
    p: Partition,
    mut queue: SendQueue,
    mut stop: watch::Receiver<bool>,
) {
    let batch = deps.settings.worker.batch;
    let idle = deps.settings.worker.reclaim_idle_ms;
    // Block for less than the response timeout, or the read itself would time out.
    let block_ms = (deps.settings.redis.timeout_ms / 2).clamp(10, 1000);
    let mut last_reclaim = tokio::time::Instant::now() - Duration::from_secs(3600);
    while !*stop.borrow() {
        let jobs = if last_reclaim.elapsed() >= Duration::from_millis(idle.min(5000)) {
            last_reclaim = tokio::time::Instant::now();
            queue.reclaim(batch, idle).await
        } else {
            tokio::select! {
                r = queue.read_new(batch, block_ms) => r,
                _ = stop.changed() => Ok(Vec::new()),
            }
        };
        match jobs {
            Ok(jobs) => {
                for job in jobs {
                    if let Err(e) = handle(&deps, &mut queue, &job).await {
                        // Left unacknowledged: reclaimed and retried after `reclaim_idle_ms`.
                        tracing::warn!(partition = p.0, verification = %job.verification_id, error = %e, "send failed; will retry");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(partition = p.0, error = %e, "send queue read failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Channel(#[from] channels::ChannelError),
}

async fn handle(deps: &SenderDeps, queue: &mut SendQueue, job: &SendJob) -> Result<(), SendError> {
    let Some(v) = deps.store.get(&job.verification_id).await? else {
        queue.ack(&job.entry_id).await?;
        return Ok(());
    };
    let tenant = deps.tenants.by_id(&v.tenant);
    let context: Option<Context> = serde_json::from_str(&v.context_json).ok();
    let (Some(tenant), Some(context)) = (tenant, context) else {
        tracing::error!(verification = %v.id, "verification has no tenant or context; dropping its message");
        queue.ack(&job.entry_id).await?;
        return Ok(());
    };
    if v.status != Status::Pending {
        queue.ack(&job.entry_id).await?;
        return Ok(());
    }
    let seed = v.seed();
    let code = deps.key.code_for(&v.id, &seed, v.code_length);
    let base = &deps.settings.http.public_base_url;
    let confirm_url = format!(
        "{base}/c/{}",
        deps.key
            .token_for(TokenKind::Confirm, &v.id, &seed)
            .expose()
    );
    let optout_url = format!(
        "{base}/o/{}",
        deps.key.token_for(TokenKind::OptOut, &v.id, &seed).expose()
    );
    let now = chrono::Utc::now().timestamp_millis();
    let message = channels::render(&MessageInputs {
        verification_id: v.id.as_str(),
        method: v.method,
        channel: v.channel,
        locale: v.locale,
        to: &v.to,
        phone: &v.phone,
        brand: &tenant.name,
        context: &context,
        code: &code,
        confirm_url: &confirm_url,
        optout_url: &optout_url,
        valid_minutes: ((v.expires_ms - now).max(0) + 59_999) / 60_000,
    })?;
    let result = deps.notifier.send(&message).await;
    let labels = ChannelLabels {
        channel: v.channel.as_str(),
        result: if result.is_ok() { "ok" } else { "error" },
    };
    deps.metrics.sent.get_or_create(&labels).inc();
    result?;
    deps.store.mark_sent(&v.id, now, "sent").await?;
    queue.ack(&job.entry_id).await?;
    Ok(())
}
