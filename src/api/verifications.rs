//! `/v1/verifications`: start, read, check, resend, cancel.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::{
    domain::{Code, Status, TokenKind, VerificationId},
    error::{ApiError, Problem},
    http::ApiJson,
    metrics::{OutcomeLabels, StartLabels},
    state::AppState,
    store::CallPlan,
    store::{
        CheckOutcome, CheckSource, CreateOutcome, Limit, NewVerification, RateDecision, SimpleOutcome,
        VerificationRecord,
    },
};

use super::{
    AuthTenant,
    start_request::StartRequest,
    view::{CheckResponse, VerificationView},
};

type State = web::Data<AppState>;

/// `{code}` as the person typed it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub code: String,
}

fn parse_id(state: &AppState, raw: &str) -> Result<VerificationId, ApiError> {
    VerificationId::parse(raw, state.settings.redis.partitions).ok_or(ApiError::NotFound)
}

/// Another tenant's verification is indistinguishable from a missing one.
async fn load_own(state: &AppState, id: &VerificationId, tenant: &str) -> Result<VerificationRecord, ApiError> {
    match state.store.get(id).await? {
        Some(v) if v.tenant == tenant => Ok(v),
        _ => Err(ApiError::NotFound),
    }
}

/// Counts one use against `limits`; a full window is a 429 with `Retry-After`.
async fn limit(state: &AppState, scope: &'static str, subject: &str, limits: &[Limit]) -> Result<(), ApiError> {
    match state.store.rate_limit(scope, subject, limits, AppState::now_ms()).await? {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after_secs } => {
            state.metrics.rate_limited.get_or_create(&OutcomeLabels { outcome: scope }).inc();
            Err(ApiError::RateLimited { scope, retry_after_secs })
        }
    }
}

/// Sends to one destination (start and resend), under a pseudonym: no PII in key names.
async fn limit_destination(state: &AppState, to: &str) -> Result<(), ApiError> {
    let l = &state.settings.limits;
    let limits = [
        Limit { max: l.destination_per_10m, window_secs: 600 },
        Limit { max: l.destination_per_day, window_secs: 86_400 },
    ];
    limit(state, "destination", &state.key.pseudonym("dest", to), &limits).await
}

async fn limit_tenant(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    limit(state, "tenant", tenant, &[Limit { max: state.settings.limits.tenant_per_minute, window_secs: 60 }]).await
}

/// Start and GET answers carry the hosted code page's URL.
fn with_code_page(state: &AppState, v: &VerificationRecord, view: VerificationView) -> VerificationView {
    view.with_code_page(v, &state.key, &state.settings.http.public_base_url)
}

fn created(view: VerificationView, replayed: bool) -> HttpResponse {
    let mut r = HttpResponse::Created();
    if replayed {
        r.insert_header(("Idempotent-Replayed", "true"));
    }
    r.json(view)
}

/// Start a verification and queue its message.
#[utoipa::path(
    post, path = "/v1/verifications", tag = "verifications",
    request_body = StartRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the same verification")),
    responses(
        (status = 201, body = VerificationView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn start(
    state: State,
    req: HttpRequest,
    AuthTenant(tenant): AuthTenant,
    ApiJson(body, raw): ApiJson<StartRequest>,
) -> Result<HttpResponse, ApiError> {
    let cfg = &state.settings.verification;
    let valid = body.validate(&tenant, cfg.code_ttl_seconds, cfg.link_ttl_seconds, &state.settings.calls)?;
    if !crate::channels::Transports::available(&state.settings, valid.channel) {
        return Err(ApiError::invalid("channel", "this channel is not configured on this service"));
    }
    let idem = crate::http::idempotency::idempotency_key(&req)?;
    let partitions = state.settings.redis.partitions;
    let (id, body_hash) = match &idem {
        Some(k) => (state.key.idempotent_id(&tenant.id, k, partitions), Some(hex::encode(Sha256::digest(&raw)))),
        None => (VerificationId::random(partitions), None),
    };
    if body_hash.is_some()
        && let Some(existing) = state.store.get(&id).await?
    {
        return replay(&existing, body_hash.as_deref(), &tenant, &state);
    }
    limit_tenant(&state, &tenant.id).await?;
    limit_destination(&state, &valid.to).await?;

    let now = AppState::now_ms();
    let seed = crate::domain::ServerKey::new_seed();
    let code = state.key.code_for(&id, &seed, cfg.code_length);
    let new = NewVerification {
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
        context_json: serde_json::to_string(&valid.context).map_err(|e| ApiError::Internal(e.to_string()))?,
        body_hash,
        call: valid.call.map(|c| CallPlan { start_ms: c.start_ms, end_ms: c.end_ms, caller_number: c.caller_number }),
    };
    match state.store.create(&new).await? {
        CreateOutcome::Created => {
            let labels = StartLabels { method: new.method.as_str(), channel: new.channel.as_str() };
            state.metrics.started.get_or_create(&labels).inc();
            tracing::info!(verification = %new.id, method = new.method.as_str(), channel = new.channel.as_str(), "verification started");
            let v = VerificationRecord::from(&new);
            Ok(created(with_code_page(&state, &v, VerificationView::build(&v, &tenant, &state.key)), false))
        }
        CreateOutcome::Exists { .. } => {
            // Lost a race with the same Idempotency-Key: answer as the winner did.
            let existing = state.store.get(&new.id).await?.ok_or(ApiError::NotFound)?;
            replay(&existing, new.body_hash.as_deref(), &tenant, &state)
        }
    }
}

fn replay(
    existing: &VerificationRecord,
    body_hash: Option<&str>,
    tenant: &crate::config::TenantSettings,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    if existing.tenant != tenant.id || existing.body_hash.as_deref() != body_hash {
        return Err(ApiError::IdempotencyKeyReused);
    }
    Ok(created(with_code_page(state, existing, VerificationView::build(existing, tenant, &state.key)), true))
}

/// Status, attempts, delivery, and the evidence once confirmed.
#[utoipa::path(
    get, path = "/v1/verifications/{id}", tag = "verifications",
    params(("id" = String, Path)),
    responses((status = 200, body = VerificationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = []))
)]
pub async fn get(
    state: State,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&state, &path)?;
    let v = load_own(&state, &id, &tenant.id).await?;
    let mut view = with_code_page(&state, &v, VerificationView::build(&v, &tenant, &state.key));
    view.delivery.attempts =
        state.store.send_attempts(&id).await?.iter().filter_map(|a| serde_json::from_str(a).ok()).collect();
    Ok(HttpResponse::Ok().json(view))
}

/// Check a code. After the attempt limit the verification is `failed` for good.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/check", tag = "verifications",
    params(("id" = String, Path)),
    request_body = CheckRequest,
    responses(
        (status = 200, body = CheckResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn check(
    state: State,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
    ApiJson(body, _): ApiJson<CheckRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&state, &path)?;
    // The verification's own length may predate a config change: accept any valid length and
    // let the HMAC decide (a wrong length is simply a wrong code).
    let code = Code::parse_any(&body.code).map_err(|e| ApiError::invalid("code", e.to_string()))?;
    let macs = state.key.code_macs(&id, &code);
    let (status, attempts_remaining) =
        match state.store.check(&id, &tenant.id, &macs, AppState::now_ms(), CheckSource::API).await? {
            CheckOutcome::Missing => return Err(ApiError::NotFound),
            CheckOutcome::Counted { status, attempts_remaining }
            | CheckOutcome::Final { status, attempts_remaining } => (status, attempts_remaining),
        };
    let outcome = match status {
        Status::Confirmed => "confirmed",
        Status::Pending => "wrong_code",
        _ => "refused",
    };
    state.metrics.checks.get_or_create(&OutcomeLabels { outcome }).inc();
    Ok(HttpResponse::Ok().json(CheckResponse { status, attempts_remaining }))
}

/// Send the same code or link again, within the expiry window.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/resend", tag = "verifications",
    params(("id" = String, Path)),
    responses(
        (status = 202, body = VerificationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn resend(
    state: State,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&state, &path)?;
    let v = load_own(&state, &id, &tenant.id).await?;
    if v.status != Status::Pending {
        return Err(ApiError::NotPending { status: v.status.as_str() });
    }
    limit_destination(&state, &v.to).await?;
    match state.store.resend(&id, &tenant.id, AppState::now_ms()).await? {
        SimpleOutcome::Missing => Err(ApiError::NotFound),
        SimpleOutcome::Final(s) => Err(ApiError::NotPending { status: s.as_str() }),
        SimpleOutcome::Done => {
            let v = load_own(&state, &id, &tenant.id).await?;
            Ok(HttpResponse::Accepted().json(VerificationView::build(&v, &tenant, &state.key)))
        }
    }
}

/// Cancel a pending verification.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/cancel", tag = "verifications",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = VerificationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn cancel(
    state: State,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&state, &path)?;
    match state.store.cancel(&id, &tenant.id, AppState::now_ms()).await? {
        SimpleOutcome::Missing => Err(ApiError::NotFound),
        SimpleOutcome::Final(s) => Err(ApiError::NotPending { status: s.as_str() }),
        SimpleOutcome::Done => {
            let v = load_own(&state, &id, &tenant.id).await?;
            Ok(HttpResponse::Ok().json(VerificationView::build(&v, &tenant, &state.key)))
        }
    }
}
