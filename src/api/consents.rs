//! `GET /v1/consents?phone=&purpose=&caller=`: may this caller call this number (about this)
//! now? Asked before every dial, so it is one script on the number's partition.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{PhoneNumber, PhonePolicy, VerificationId, mask_phone},
    error::{ApiError, Problem},
    evidence::record_at,
    http::ApiJson,
    state::AppState,
    store::{ConsentRow, ConsentState as Standing},
};

use super::AuthTenant;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsentQuery {
    /// The number to be called, E.164 or Dutch national notation.
    pub phone: String,
    /// One purpose id; without it, every purpose.
    #[serde(default)]
    pub purpose: Option<String>,
    /// One caller, exactly as the start named it (`caller`); without it, every caller.
    #[serde(default)]
    pub caller: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentState {
    /// The number, masked.
    pub phone: String,
    /// True when a consent (for `purpose` and `caller`, when asked) is active: confirmed, not
    /// withdrawn, not expired.
    pub consented: bool,
    /// The newest consent per purpose and caller, active or not, while its record is kept.
    pub consents: Vec<ConsentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub purpose: String,
    /// Who may call on it.
    pub caller: String,
    pub consented: bool,
    /// `active`, `withdrawn` or `expired`: why `consented` is what it is.
    #[schema(example = "active")]
    pub status: String,
    pub verification_id: String,
    pub method: String,
    pub channel: String,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// When it stops counting (`verification.receipt_retention_days` after it was given).
    pub expires_at: Option<DateTime<Utc>>,
    /// The receipt page is `/r/{receipt_id}`.
    pub receipt_id: Option<String>,
}

/// The current consent of a number for this tenant.
#[utoipa::path(
    get, path = "/v1/consents", tag = "consents", operation_id = "get_consents",
    params(ConsentQuery),
    responses(
        (status = 200, body = ConsentState),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn lookup(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    q: web::Query<ConsentQuery>,
) -> Result<HttpResponse, ApiError> {
    // Any number can be looked up: one consented before today's country rules still counts.
    let policy = PhonePolicy { allowed_countries: &[], require_mobile: false };
    let phone = PhoneNumber::parse_any_country(&q.phone, &policy)
        .map_err(|e| ApiError::InvalidPhone { field: "phone", source: e })?;
    let purpose = q.purpose.as_deref().filter(|p| !p.is_empty());
    let caller = q.caller.as_deref().filter(|c| !c.is_empty());
    let pseudonym = state.key.pseudonym("phone", phone.e164());
    let rows = state.store.consents(&tenant.id, &pseudonym, purpose, caller).await?;
    let consents: Vec<ConsentView> = rows.into_iter().map(|r| view_of(&state, r)).collect();
    Ok(HttpResponse::Ok().json(ConsentState {
        phone: mask_phone(phone.e164()),
        consented: consents.iter().any(|c| c.consented),
        consents,
    }))
}

/// What the API shows of one consent row.
fn view_of(state: &AppState, r: ConsentRow) -> ConsentView {
    let receipt_id = r.receipt_id.clone().or_else(|| {
        let id = VerificationId::parse(&r.verification_id, state.settings.redis.partitions)?;
        Some(state.key.receipt_id(&id, &hex::decode(&r.seed_hex).ok()?, &r.optout_token_hash))
    });
    ConsentView {
        consented: r.state == Standing::Active,
        status: r.state.as_str().to_string(),
        caller: r.caller,
        expires_at: r.expires_ms.and_then(record_at),
        purpose: r.purpose,
        verification_id: r.verification_id,
        method: r.method,
        channel: r.channel,
        confirmed_at: r.confirmed_ms.and_then(record_at),
        withdrawn_at: r.withdrawn_ms.and_then(record_at),
        receipt_id,
    }
}

/// The most numbers one bulk lookup takes: a dialing list's page.
pub const MAX_BULK: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkLookup {
    /// 1 to 1,000 numbers, E.164 or Dutch national notation; answered in this order.
    #[schema(example = json!(["+31612345678", "0612345679"]))]
    pub phones: Vec<String>,
    /// One purpose id; without it, every purpose.
    #[serde(default)]
    pub purpose: Option<String>,
    /// One caller, exactly as the start named it; without it, every caller.
    #[serde(default)]
    pub caller: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkLookupResult {
    /// The number's place in `phones`, from 0.
    pub index: usize,
    /// The number, masked; `null` when it is not a phone number.
    pub phone: Option<String>,
    /// True when a consent (for `purpose` and `caller`, when asked) is active.
    pub consented: bool,
    pub consents: Vec<ConsentView>,
    /// Why this entry could not be looked up (`invalid-phone`); the others still are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkLookupAnswer {
    pub results: Vec<BulkLookupResult>,
}

/// The consent of up to 1,000 numbers at once, answered per number in order: a dialing list
/// checked before it is loaded.
#[utoipa::path(
    post, path = "/v1/consents/lookup", tag = "consents", operation_id = "lookup_consents",
    request_body = BulkLookup,
    responses(
        (status = 200, body = BulkLookupAnswer),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn lookup_many(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    ApiJson(body, _): ApiJson<BulkLookup>,
) -> Result<HttpResponse, ApiError> {
    if body.phones.is_empty() || body.phones.len() > MAX_BULK {
        return Err(ApiError::invalid("phones", format!("1 to {MAX_BULK} numbers")));
    }
    let purpose = body.purpose.as_deref().filter(|p| !p.is_empty());
    let caller = body.caller.as_deref().filter(|c| !c.is_empty());
    let policy = PhonePolicy { allowed_countries: &[], require_mobile: false };
    let parsed: Vec<Result<PhoneNumber, ApiError>> = body
        .phones
        .iter()
        .map(|raw| {
            PhoneNumber::parse_any_country(raw, &policy)
                .map_err(|e| ApiError::InvalidPhone { field: "phones", source: e })
        })
        .collect();
    let valid: Vec<(usize, String)> = parsed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().ok().map(|p| (i, state.key.pseudonym("phone", p.e164()))))
        .collect();
    let pseudonyms: Vec<String> = valid.iter().map(|(_, ps)| ps.clone()).collect();
    let mut rows = state.store.consents_many(&tenant.id, &pseudonyms, purpose, caller).await?.into_iter();
    let results = parsed
        .into_iter()
        .enumerate()
        .map(|(index, p)| match p {
            Ok(phone) => {
                let consents: Vec<ConsentView> =
                    rows.next().unwrap_or_default().into_iter().map(|r| view_of(&state, r)).collect();
                BulkLookupResult {
                    index,
                    phone: Some(mask_phone(phone.e164())),
                    consented: consents.iter().any(|c| c.consented),
                    consents,
                    error: None,
                }
            }
            Err(e) => {
                let mut problem = e.problem();
                problem.field = Some(format!("phones[{index}]"));
                BulkLookupResult { index, phone: None, consented: false, consents: Vec::new(), error: Some(problem) }
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(BulkLookupAnswer { results }))
}
