//! `/v1/verifications`: start, read, check, resend, cancel.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    domain::{Code, Status, VerificationId},
    error::{ApiError, Problem},
    http::ApiJson,
    metrics::OutcomeLabels,
    state::AppState,
    store::{CheckOutcome, CheckSource, SimpleOutcome, VerificationRecord, attempts},
};

use super::{
    AuthTenant,
    start::{IdFrom, limit_destination, start_one},
    start_request::StartRequest,
    view::{CheckResponse, VerificationView},
};

type State = web::Data<AppState>;

/// `{code}` as the person typed it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// 4 to 10 digits; spaces and dashes between them are ignored.
    #[schema(example = "123456", min_length = 4, max_length = 40, pattern = "^[0-9 -]+$")]
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
    post, path = "/v1/verifications", tag = "verifications", operation_id = "start_verification",
    request_body = StartRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the same verification")),
    responses(
        (status = 201, body = VerificationView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
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
    let idem = crate::http::idempotency::idempotency_key(&req)?;
    let id_from = idem.as_deref().map_or(IdFrom::Random, IdFrom::Key);
    let started = start_one(&state, &tenant, body, &raw, id_from, None).await?;
    Ok(created(started.view, started.replayed))
}

/// Status, attempts, delivery, and the evidence once confirmed.
#[utoipa::path(
    get, path = "/v1/verifications/{id}", tag = "verifications", operation_id = "get_verification",
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
    let mut view = with_code_page(&state, &v, VerificationView::build(&v, &state.key, &state.signer));
    view.delivery.attempts = v
        .attempt_lines
        .iter()
        .filter_map(|l| attempts::decode(l))
        .filter_map(|a| serde_json::to_value(a).ok())
        .collect();
    Ok(HttpResponse::Ok().json(view))
}

/// Check a code. After the attempt limit the verification is `failed` for good.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/check", tag = "verifications", operation_id = "check_verification",
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
    post, path = "/v1/verifications/{id}/resend", tag = "verifications", operation_id = "resend_verification",
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
    limit_destination(&state, &v.tenant, v.channel, &v.to).await?;
    match state.store.resend(&id, &tenant.id, AppState::now_ms()).await? {
        SimpleOutcome::Missing => Err(ApiError::NotFound),
        SimpleOutcome::Final(s) => Err(ApiError::NotPending { status: s.as_str() }),
        SimpleOutcome::Done => {
            let v = load_own(&state, &id, &tenant.id).await?;
            Ok(HttpResponse::Accepted().json(VerificationView::build(&v, &state.key, &state.signer)))
        }
    }
}

/// Cancel a pending verification.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/cancel", tag = "verifications", operation_id = "cancel_verification",
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
            Ok(HttpResponse::Ok().json(VerificationView::build(&v, &state.key, &state.signer)))
        }
    }
}
