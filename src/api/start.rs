//! One start, shared by `POST /v1/verifications` and each item of a batch: the tenant's and
//! the destination's limits, the suppression rule, the record, and the one create script.

use sha2::{Digest, Sha256};

use crate::{
    config::TenantSettings,
    domain::{Channel, ServerKey, TokenKind, VerificationId},
    error::ApiError,
    metrics::{OutcomeLabels, StartLabels},
    state::AppState,
    store::{
        CallPlan, CreateOutcome, Limit, NewVerification, RateDecision, RateSlot, RateSubject, RateWindows,
        VerificationRecord,
    },
};

use super::{start_request::StartRequest, view::VerificationView};

/// How a start's id is chosen. Either way it lies in the partition of the number, beside the
/// number's consents, so one script can check suppression and keep the consent index.
pub enum IdFrom<'a> {
    Random,
    /// Derived from an idempotency key (and a batch index): a retry names the same id.
    Key(&'a str),
}

/// What a start did: the verification, and whether it already existed (a replay).
pub struct Started {
    pub view: VerificationView,
    pub replayed: bool,
}

/// Counts one use against `limits`; a full window is a 429 with `Retry-After`.
async fn limit(
    state: &AppState,
    scope: &'static str,
    slot: RateSlot,
    subject: &str,
    limits: &[Limit],
) -> Result<(), ApiError> {
    let who = RateSubject { slot, scope, subject };
    let decision = state.store.rate_limit(who, limits, AppState::now_ms()).await?;
    decided(state, scope, decision)
}

fn decided(state: &AppState, scope: &'static str, decision: RateDecision) -> Result<(), ApiError> {
    match decision {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after_secs } => Err(limited(state, scope, retry_after_secs)),
    }
}

fn limited(state: &AppState, scope: &'static str, retry_after_secs: u64) -> ApiError {
    state.metrics.rate_limited.get_or_create(&OutcomeLabels { outcome: scope }).inc();
    ApiError::RateLimited { scope, retry_after_secs }
}

/// The sends to one destination (start and resend) that are allowed, under a pseudonym: no PII
/// in key names. Each tenant has limits of its own, so one tenant's traffic never refuses (nor
/// shows in) another's start; a higher cap over all tenants together stops SMS pumping through
/// many tenants. Both sets of counters live in the destination's partition (for a phone number,
/// beside its verifications), so one script counts them.
struct Destination {
    slot: RateSlot,
    tenant_subject: String,
    any_subject: String,
}

impl Destination {
    fn of(state: &AppState, tenant: &str, channel: Channel, to: &str) -> Self {
        let slot = match channel {
            Channel::Email => RateSlot::Partition(state.store.partition_of_number(&state.key.pseudonym("dest", to))),
            Channel::Sms | Channel::Whatsapp => {
                RateSlot::Partition(state.store.partition_of_number(&state.key.pseudonym("phone", to)))
            }
        };
        let dest = state.key.pseudonym("dest", to);
        Self { slot, tenant_subject: format!("{tenant}:{dest}"), any_subject: format!("*:{dest}") }
    }

    /// The tenant's counters and the all-tenant ones for the current windows.
    fn windows(&self, state: &AppState, now_ms: i64) -> RateWindows {
        let l = &state.settings.limits;
        let own = [
            Limit { max: l.destination_per_10m, window_secs: 600 },
            Limit { max: l.destination_per_day, window_secs: 86_400 },
        ];
        let any = [
            Limit { max: l.destination_all_tenants_per_10m, window_secs: 600 },
            Limit { max: l.destination_all_tenants_per_day, window_secs: 86_400 },
        ];
        let who = |subject| RateSubject { slot: self.slot, scope: "destination", subject };
        let store = &state.store;
        store.rate_windows(who(&self.tenant_subject), &own, now_ms).and(store.rate_windows(
            who(&self.any_subject),
            &any,
            now_ms,
        ))
    }

    /// Counts one send, or none when a window is full.
    async fn limit(&self, state: &AppState) -> Result<(), ApiError> {
        let now = AppState::now_ms();
        let decision = state.store.count(&self.windows(state, now), now).await?;
        decided(state, "destination", decision)
    }
}

/// Counts a send to `to` on `channel` (a resend) against the destination's limits.
pub async fn limit_destination(state: &AppState, tenant: &str, channel: Channel, to: &str) -> Result<(), ApiError> {
    Destination::of(state, tenant, channel, to).limit(state).await
}

async fn limit_tenant(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    let limits = [Limit { max: state.settings.limits.tenant_per_minute, window_secs: 60 }];
    limit(state, "tenant", RateSlot::Own, tenant, &limits).await
}

/// Validates, limits and creates one verification. `body_hash` is the SHA-256 of the request
/// (or batch item) that an idempotency key names, so a different body under it is refused.
pub async fn start_one(
    state: &AppState,
    tenant: &TenantSettings,
    body: StartRequest,
    body_bytes: &[u8],
    id_from: IdFrom<'_>,
    batch: Option<&str>,
) -> Result<Started, ApiError> {
    let cfg = &state.settings.verification;
    let valid = body.validate(
        tenant,
        cfg.code_ttl_seconds,
        cfg.link_ttl_seconds,
        &state.settings.calls,
        &state.settings.http.public_base_url,
        tenant.evidence.required(state.settings.mode == crate::config::Mode::Production),
    )?;
    if !crate::channels::Transports::available(&state.settings, valid.channel) {
        return Err(ApiError::invalid("channel", "this channel is not configured on this service"));
    }
    let pseudonym = state.key.pseudonym("phone", valid.phone.e164());
    let partition = state.store.partition_of_number(&pseudonym);
    let partitions = state.settings.redis.partitions;
    let (id, body_hash) = match id_from {
        IdFrom::Key(k) => (
            state.key.idempotent_id(&tenant.id, k, partitions).with_partition(partition),
            Some(hex::encode(Sha256::digest(body_bytes))),
        ),
        IdFrom::Random => (VerificationId::random(partitions).with_partition(partition), None),
    };
    if body_hash.is_some()
        && let Some(existing) = state.store.get(&id).await?
    {
        return replay(state, &existing, body_hash.as_deref(), tenant);
    }
    limit_tenant(state, &tenant.id).await?;
    // The destination's counters are counted by the create script when they share its slot
    // (the number itself is the destination): one round trip less per start.
    let dest = Destination::of(state, &tenant.id, valid.channel, &valid.to);
    let counted = match dest.slot {
        RateSlot::Partition(p) if p == partition => Some(dest.windows(state, AppState::now_ms())),
        _ => {
            dest.limit(state).await?;
            None
        }
    };

    let now = AppState::now_ms();
    let seed = ServerKey::new_seed();
    let code = state.key.code_for(&id, &seed, cfg.code_length);
    // An address's consents can open the consents page by e-mail.
    let email_pseudonym =
        (valid.channel == Channel::Email).then(|| state.key.pseudonym("email", &valid.to.to_lowercase()));
    let new = NewVerification {
        email_pseudonym,
        code_mac: state.key.code_mac(&id, &code),
        confirm_token_hash: state.key.token_for(TokenKind::Confirm, &id, &seed).hash(),
        optout_token_hash: state.key.token_for(TokenKind::OptOut, &id, &seed).hash(),
        seed_hex: hex::encode(seed),
        id,
        tenant: tenant.id.clone(),
        method: valid.method,
        channel: valid.channel,
        phone: valid.phone.e164().to_string(),
        to: valid.to,
        code_length: cfg.code_length,
        max_attempts: cfg.max_attempts,
        created_ms: now,
        expires_ms: now + (valid.ttl_seconds as i64) * 1000,
        locale: valid.locale,
        initiated_by: valid.initiated_by,
        context: valid.context,
        pseudonym,
        batch: batch.map(str::to_string),
        body_hash,
        call: valid.call.map(|c| CallPlan { start_ms: c.start_ms, end_ms: c.end_ms, caller_number: c.caller_number }),
        reask: valid.reask,
    };
    match state.store.create(&new, counted.as_ref()).await? {
        CreateOutcome::Created => {
            let labels = StartLabels { method: new.method.as_str(), channel: new.channel.as_str() };
            state.metrics.started.get_or_create(&labels).inc();
            tracing::info!(verification = %new.id, method = new.method.as_str(), channel = new.channel.as_str(), "verification started");
            let v = VerificationRecord::from(&new);
            Ok(Started { view: view(state, &v), replayed: false })
        }
        CreateOutcome::Exists { .. } => {
            // Lost a race with the same idempotency key: answer as the winner did.
            let existing = state.store.get(&new.id).await?.ok_or(ApiError::NotFound)?;
            replay(state, &existing, new.body_hash.as_deref(), tenant)
        }
        CreateOutcome::Suppressed => Err(ApiError::Suppressed),
        CreateOutcome::AlreadyConsented { verification_id } => Err(ApiError::AlreadyConsented { verification_id }),
        CreateOutcome::Limited { retry_after_secs } => Err(limited(state, "destination", retry_after_secs)),
    }
}

fn replay(
    state: &AppState,
    existing: &VerificationRecord,
    body_hash: Option<&str>,
    tenant: &TenantSettings,
) -> Result<Started, ApiError> {
    if existing.tenant != tenant.id || existing.body_hash.as_deref() != body_hash {
        return Err(ApiError::IdempotencyKeyReused);
    }
    Ok(Started { view: view(state, existing), replayed: true })
}

/// A start's answer, with the hosted code page's URL for a code verification.
fn view(state: &AppState, v: &VerificationRecord) -> VerificationView {
    VerificationView::build(v, &state.key, &state.signer).with_code_page(
        v,
        &state.key,
        &state.settings.http.public_base_url,
    )
}
