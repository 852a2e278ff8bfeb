//! `POST /v1/withdrawals`: an opt-out the marketer received elsewhere (a phone call, a
//! letter). It reaches every endpoint of the tenant, its calling partners included.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::{PhoneNumber, PhonePolicy, PlainText, VerificationId, mask_phone},
    error::{ApiError, Problem},
    http::ApiJson,
    metrics::SourceLabels,
    state::AppState,
    store::WithdrawOutcome,
};

use super::AuthTenant;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    /// The number that must not be called any more.
    #[schema(example = "+31612345678")]
    pub phone: String,
    /// Where the opt-out came from, e.g. `phone_call`, `letter`, `email`.
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$", example = "phone_call")]
    pub source: PlainText,
    /// The consent it withdraws, when known; it is then marked withdrawn in its evidence.
    /// Without it, every consent of the number is withdrawn (or those of `purpose`).
    #[serde(default)]
    pub verification_id: Option<String>,
    /// Withdraw only the consent for this purpose id.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub purpose: Option<PlainText>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawalAccepted {
    /// The first `consent.withdrawn` event (also the `webhook-id` of its deliveries).
    pub event_id: String,
    /// One event per withdrawn consent; one naming only the number when it had none here.
    pub events: Vec<WithdrawnEvent>,
    pub phone: String,
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawnEvent {
    pub event_id: String,
    /// The consent this event withdraws; `null` for the event about the number alone.
    pub verification_id: Option<String>,
}

/// Register an opt-out received elsewhere; every endpoint is told.
#[utoipa::path(post, path = "/v1/withdrawals", tag = "withdrawals", operation_id = "create_withdrawal", request_body = WithdrawalRequest,
    responses((status = 202, body = WithdrawalAccepted), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    ApiJson(body, _): ApiJson<WithdrawalRequest>,
) -> Result<HttpResponse, ApiError> {
    // A withdrawal is never refused for its country: the number may predate today's rules.
    let policy = PhonePolicy { allowed_countries: &[], require_mobile: false };
    let phone = PhoneNumber::parse_any_country(&body.phone, &policy)
        .map_err(|e| ApiError::InvalidPhone { field: "phone", source: e })?;
    let source = body.source.trim();
    if source.is_empty()
        || source.len() > 64
        || !source.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::invalid("source", "1 to 64 letters, digits, _ or -"));
    }
    if let Some(p) = &body.purpose
        && (p.trim().is_empty() || p.chars().count() > 100)
    {
        return Err(ApiError::invalid("purpose", "1 to 100 characters"));
    }
    let mut event_id = None;
    if let Some(raw) = &body.verification_id {
        let id = VerificationId::parse(raw, state.settings.redis.partitions).ok_or(ApiError::NotFound)?;
        match state.store.get(&id).await? {
            Some(v) if v.tenant == tenant.id => {
                if v.phone != phone.e164() {
                    return Err(ApiError::invalid("phone", "is not the number of that verification"));
                }
                match state.store.withdraw_verification(&id, &tenant.id, source).await? {
                    WithdrawOutcome::Withdrawn(e) => event_id = Some(e),
                    // Its withdrawal already went to every endpoint: do not send a second one.
                    WithdrawOutcome::Already => return Err(ApiError::AlreadyWithdrawn),
                    // Not a consent (yet): the opt-out still goes out for the number below.
                    WithdrawOutcome::NotConfirmed | WithdrawOutcome::Missing => {}
                }
            }
            _ => return Err(ApiError::NotFound),
        }
    }
    let events = match event_id {
        Some(id) => vec![WithdrawnEvent { event_id: id, verification_id: body.verification_id.clone() }],
        None => {
            let pseudonym = state.key.pseudonym("phone", phone.e164());
            let done = state
                .store
                .withdraw_phone(&tenant.id, &pseudonym, phone.e164(), body.purpose.as_deref(), source)
                .await?;
            done.events
                .into_iter()
                .map(|(event_id, verification_id)| WithdrawnEvent { event_id, verification_id })
                .collect()
        }
    };
    let withdrawn = events.iter().filter(|e| e.verification_id.is_some()).count() as u64;
    state.metrics.withdrawals.get_or_create(&SourceLabels { source: "api" }).inc_by(withdrawn);
    state.metrics.suppressions.get_or_create(&SourceLabels { source: "api" }).inc();
    tracing::info!(events = events.len(), tenant = %tenant.id, "withdrawal accepted");
    Ok(HttpResponse::Accepted().json(WithdrawalAccepted {
        event_id: events.first().map(|e| e.event_id.clone()).unwrap_or_default(),
        events,
        phone: mask_phone(phone.e164()),
        source: source.to_string(),
    }))
}
