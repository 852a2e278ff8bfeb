//! Reads each partition's send stream in the `senders` group and hands messages to the
//! transport. An entry is acknowledged only after the transport took it: a crash in between
//! means the entry is reclaimed and sent again (at least once).

use std::sync::Arc;

use tokio::{sync::watch, task::JoinHandle};

use sha2::{Digest, Sha256};

use crate::{
    channels::{self, CallInfo, ChannelError, MessageInputs, ProviderAttempt, Transports},
    config::Settings,
    domain::{InitiatedBy, Locale, MessageState, Method, ServerKey, ServerKeys, Status, TokenKind},
    evidence::record_at,
    metrics::{ChannelLabels, Metrics},
    state::Tenants,
    store::{SEND_GROUP, SendJob, Sent, Store, StoreError, StreamEntry},
};

use super::stream_loop::{self, LoopConfig};

/// What a sender task needs.
#[derive(Clone)]
pub struct SenderDeps {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub key: ServerKeys,
    pub tenants: Tenants,
    pub transports: Transports,
    pub metrics: Arc<Metrics>,
    pub pacer: super::Pacer,
}

/// How long a paced campaign message may wait for its turn before it expires unsent.
const QUEUED_FOR_AT_MOST_MS: i64 = 30 * 86_400_000;

/// A consumer name unique to this process.
pub fn consumer_name() -> String {
    format!("{}-{}", std::process::id(), hex::encode(&ServerKey::new_seed()[..4]))
}

/// Starts one task per partition. They stop after their current batch once `stop` flips.
pub async fn spawn_senders(deps: SenderDeps, stop: watch::Receiver<bool>) -> Result<Vec<JoinHandle<()>>, StoreError> {
    let mut cfg = LoopConfig::from_settings(&deps.settings);
    // Never reclaim a send that a live worker may still be trying: every provider, every
    // attempt, every timeout and backoff, plus a margin.
    if let Some(sms) = &deps.settings.channels.sms {
        let tries = u64::from(sms.attempts_per_provider.max(1)) * sms.providers.len() as u64;
        let worst = tries * (sms.timeout_seconds * 1000 + sms.backoff_ms * 4) + 5000;
        cfg.reclaim_idle_ms = cfg.reclaim_idle_ms.max(worst);
    }
    let keys = deps.store.keys().clone();
    let readers = stream_loop::open_readers(&deps.store, &deps.settings, SEND_GROUP, |p| keys.send_stream(p)).await?;
    let partitions = deps.settings.redis.partitions;
    let handles = readers
        .into_iter()
        .map(|(p, reader)| {
            let (deps, stop, stream) = (deps.clone(), stop.clone(), keys.send_stream(p));
            tokio::spawn(async move {
                stream_loop::run(reader, cfg, stop, "send", |entries| {
                    let (deps, stream) = (deps.clone(), stream.clone());
                    async move {
                        // The batch is sent concurrently: one slow message must not keep the
                        // others waiting long enough to be reclaimed by another worker.
                        let jobs: Vec<SendJob> =
                            entries.into_iter().filter_map(|e| SendJob::from_entry(e, partitions)).collect();
                        futures_util::future::join_all(jobs.iter().map(|job| async {
                            if let Err(e) = handle(&deps, &stream, job).await {
                                // Left unacknowledged: reclaimed and retried after `reclaim_idle_ms`.
                                // Provider texts can quote the number: log the class only.
                                tracing::warn!(verification = %job.verification_id, error = e.loggable(), "send failed; will retry");
                            }
                        }))
                        .await;
                    }
                })
                .await;
            })
        })
        .collect();
    Ok(handles)
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Channel(#[from] channels::ChannelError),
    /// Made under a server key this instance does not have (mid-rotation): left for one that has.
    #[error("verification made under a server key this instance does not know")]
    UnknownKey,
}

impl SendError {
    /// Store errors are ours; channel errors may quote the destination, so only their class.
    fn loggable(&self) -> String {
        match self {
            Self::Store(e) => e.to_string(),
            Self::UnknownKey => self.to_string(),
            Self::Channel(e) => format!("{} provider failure (details in delivery.attempts)", e.kind()),
        }
    }
}

async fn handle(deps: &SenderDeps, stream: &str, job: &SendJob) -> Result<(), SendError> {
    let ack = || deps.store.ack(stream, SEND_GROUP, &job.entry_id);
    let Some(v) = deps.store.get(&job.verification_id).await? else {
        return Ok(ack().await?);
    };
    let tenant = deps.tenants.by_id(&v.tenant);
    let context = &v.context;
    let Some(tenant) = tenant else {
        tracing::error!(verification = %v.id, "verification has no tenant; dropping its message");
        return Ok(ack().await?);
    };
    if v.status != Status::Pending {
        return Ok(ack().await?);
    }
    let now_utc = chrono::Utc::now();
    // A campaign message to a number that declined or withdrew since it was queued is not sent:
    // its verification is canceled (`verification.canceled`).
    if v.initiated_by == InitiatedBy::Marketer && v.suppressed_until_ms.is_some_and(|u| u > now_utc.timestamp_millis())
    {
        deps.store.cancel(&v.id, &v.tenant, now_utc.timestamp_millis()).await?;
        tracing::info!(verification = %v.id, "campaign message not sent: the number opted out meanwhile");
        return Ok(ack().await?);
    }
    // Quiet hours: a campaign message waits for the tenant's send window; a consumer who is
    // waiting for the message right now is never held.
    // A released message (`held-*`) was timed to the window's opening: it goes out now, unless
    // it then waited for its pacing turn, which may end after the window closed again.
    let kind = job.kind.trim_start_matches("held-");
    if v.initiated_by == InitiatedBy::Marketer
        && (job.paced || !job.kind.starts_with("held-"))
        && let Ok(window) = tenant.send_window.hours()
        && !window.contains(now_utc)
    {
        // A window that never opens within a year is misconfigured: look again tomorrow.
        let opens = window.next_open(now_utc).unwrap_or(now_utc + chrono::Duration::days(1));
        let release = opens.timestamp_millis();
        let expiry = (v.call.is_none() && kind == "initial").then(|| release + v.ttl_ms.max(0));
        deps.store.hold_send(&v.id, &job.entry_id, kind, release, expiry).await?;
        tracing::info!(verification = %v.id, release_at = %opens, "message held for quiet hours");
        return Ok(());
    }
    // Pacing: a campaign message waits for a token of its provider account (unless it was
    // released with one); a person waiting on a form takes one at once.
    if deps.pacer.account(v.channel).is_some() {
        match v.initiated_by {
            InitiatedBy::Marketer if !job.paced => {
                let now = chrono::Utc::now().timestamp_millis();
                // It cannot expire while it waits for its turn: its clock starts when it is sent.
                let expiry = (v.call.is_none() && kind == "initial").then(|| now + QUEUED_FOR_AT_MOST_MS);
                deps.store.to_campaign(&v.id, &job.entry_id, &job.kind, v.channel.as_str(), now, expiry).await?;
                return Ok(());
            }
            InitiatedBy::Consumer => deps.pacer.take_for_consumer(v.channel).await?,
            InitiatedBy::Marketer => {}
        }
    }
    let seed = v.seed();
    // The key the verification was made under: a resend after a rotation repeats its code and links.
    let key = deps.key.origin(&v.id, &seed, &v.optout_token_hash).ok_or(SendError::UnknownKey)?;
    let code = key.code_for(&v.id, &seed, v.code_length);
    let base = &deps.settings.http.public_base_url;
    let confirm_token = key.token_for(TokenKind::Confirm, &v.id, &seed);
    let confirm_url = format!("{base}/c/{}", confirm_token.expose());
    let optout_url = format!("{base}/o/{}", key.token_for(TokenKind::OptOut, &v.id, &seed).expose());
    let code_page_url = match v.method {
        Method::Code => format!("{base}/v/{}", key.token_for(TokenKind::CodePage, &v.id, &seed).expose()),
        _ => String::new(),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let message = channels::render(&MessageInputs {
        verification_id: v.id.as_str(),
        // Read before the send; two sends in flight at once (a resend while the first is still
        // being tried) share it, and a reclaimed send repeats it: each is still this send.
        send_number: v.sends.saturating_add(1),
        method: v.method,
        channel: v.channel,
        locale: v.locale,
        to: &v.to,
        phone: &v.phone,
        brand: &tenant.name,
        context,
        code: &code,
        confirm_url: &confirm_url,
        confirm_token: confirm_token.expose(),
        code_page_url: &code_page_url,
        optout_url: &optout_url,
        reply_to: tenant.email_reply_to.as_deref(),
        texts: match v.locale {
            Locale::Nl => tenant.messages.nl.as_ref(),
            Locale::En => tenant.messages.en.as_ref(),
        },
        valid_minutes: ((v.expires_ms - now).max(0) + 59_999) / 60_000,
        caller_number: tenant.caller_numbers.first().map(String::as_str),
        call: v.call.as_ref().and_then(|c| {
            Some(CallInfo { caller_number: &c.caller_number, start: record_at(c.start_ms)?, end: record_at(c.end_ms)? })
        }),
    })?;
    let Some(transport) = deps.transports.for_channel(v.channel) else {
        // The API refuses such starts; one from an older configuration cannot be sent.
        deps.store.record_delivery_state(&v.id, MessageState::Failed, &[], now, None).await?;
        return Ok(ack().await?);
    };
    let report = transport.send(&message).await;
    let attempts: Vec<String> = report.attempts.iter().map(ProviderAttempt::line).collect();
    let ok = if report.result.is_ok() { "ok" } else { "error" };
    deps.metrics.sent.get_or_create(&ChannelLabels { channel: v.channel.as_str(), result: ok }).inc();
    let receipt = match report.result {
        Ok(r) => r,
        Err(ChannelError::Permanent(_)) => {
            tracing::warn!(verification = %v.id, provider = report.attempts.last().map_or("", |a| a.provider), "message refused for good; verification failed");
            deps.store.record_delivery_state(&v.id, MessageState::Failed, &attempts, now, None).await?;
            return Ok(ack().await?);
        }
        Err(e) => {
            deps.store.record_delivery_state(&v.id, MessageState::Retrying, &attempts, now, None).await?;
            return Err(e.into());
        }
    };
    let announcement = v.call.as_ref().map(|_| hex::encode(Sha256::digest(message.text.as_bytes())));
    // A message held for quiet hours, or paced, starts its expiry clock now (calls keep their
    // window).
    let waited = job.kind.starts_with("held-") || job.paced;
    let new_expiry = (waited && kind == "initial" && v.call.is_none()).then(|| now + v.ttl_ms);
    let sent = Sent {
        now_ms: now,
        announcement_sha256: announcement.as_deref(),
        new_expiry_ms: new_expiry,
        provider: receipt.provider,
        reference: receipt.reference.as_deref(),
        attempts: &attempts,
    };
    let entry = StreamEntry { stream, group: SEND_GROUP, id: &job.entry_id };
    Ok(deps.store.mark_sent(&v.id, &sent, &entry).await?)
}
