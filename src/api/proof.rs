//! `GET /v1/consents/proof?phone=&purpose=`: the proof a company must hand over on request,
//! as one bundle that checks out offline (JSON), or the same bundle as a printable page.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use askama::Template;
use futures_util::future::try_join_all;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    domain::{PhoneNumber, PhonePolicy, Status, VerificationId},
    error::{ApiError, Problem},
    evidence::{
        proof::{self, ConsentProof, ProofBundle},
        record_at,
    },
    state::AppState,
    store::VerificationRecord,
};

use super::AuthTenant;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    /// The number, E.164 or Dutch national notation.
    pub phone: String,
    /// One purpose id; without it, every purpose.
    #[serde(default)]
    pub purpose: Option<String>,
    /// `json` (the default) or `html`, the printable page; `Accept: text/html` also asks for it.
    #[serde(default)]
    pub format: Option<String>,
    /// The printable page's language: `nl` (the default) or `en`.
    #[serde(default)]
    pub lang: Option<String>,
}

/// Everything about a number's consents with this tenant, with the keys to check it.
#[utoipa::path(
    get, path = "/v1/consents/proof", tag = "consents", operation_id = "get_consent_proof",
    params(ProofQuery),
    responses(
        (status = 200, body = ProofBundle, description = "The bundle; `text/html` for the printable page"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    req: HttpRequest,
    q: web::Query<ProofQuery>,
) -> Result<HttpResponse, ApiError> {
    let html = match q.format.as_deref() {
        None | Some("") => wants_html(&req),
        Some("json") => false,
        Some("html") => true,
        Some(_) => return Err(ApiError::invalid("format", "json or html")),
    };
    let en = match q.lang.as_deref() {
        None | Some("") | Some("nl") => false,
        Some("en") => true,
        Some(_) => return Err(ApiError::invalid("lang", "nl or en")),
    };
    // As the lookup: a number consented before today's country rules still has its proof.
    let policy = PhonePolicy { allowed_countries: &[], require_mobile: false };
    let phone = PhoneNumber::parse_any_country(&q.phone, &policy)
        .map_err(|e| ApiError::InvalidPhone { field: "phone", source: e })?;
    let purpose = q.purpose.as_deref().filter(|p| !p.is_empty());
    let pseudonym = state.key.pseudonym("phone", phone.e164());
    let history = state.store.consent_history(&tenant.id, &pseudonym).await?;
    let partitions = state.settings.redis.partitions;
    let ids: Vec<VerificationId> = history
        .purposes
        .iter()
        .filter(|(p, _)| purpose.is_none_or(|want| want == p))
        .flat_map(|(_, ids)| ids.iter().filter_map(|id| VerificationId::parse(id, partitions)))
        .collect();
    let records = try_join_all(ids.iter().map(|id| state.store.get(id))).await?;
    let mut consents: Vec<&VerificationRecord> = records
        .iter()
        .flatten()
        .filter(|v| v.tenant == tenant.id && v.status == Status::Confirmed && v.phone == phone.e164())
        .collect();
    consents.sort_by_key(|v| std::cmp::Reverse(v.finished_ms));
    let now = AppState::now_ms();
    let bundle = ProofBundle {
        format: proof::FORMAT,
        generated_at: chrono::Utc::now(),
        tenant: tenant.id.clone(),
        phone: phone.e164().to_string(),
        purpose: purpose.map(str::to_string),
        suppressed_until: history.suppressed_until_ms.filter(|u| *u > now).and_then(record_at),
        consents: consents.iter().map(|v| consent(&state, v, now)).collect(),
        current_kid: state.signer.kid().to_string(),
        jwks: state.signer.jwks(),
        how_to_verify: proof::HOW_TO_VERIFY,
    };
    tracing::info!(tenant = %tenant.id, consents = bundle.consents.len(), "proof bundle served");
    if html {
        let page = super::proof_page::ProofPage::new(&bundle, &tenant, en);
        return match page.render() {
            Ok(body) => Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(body)),
            Err(e) => Err(ApiError::Internal(Box::new(e))),
        };
    }
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(bundle))
}

fn consent(state: &AppState, v: &VerificationRecord, now: i64) -> ConsentProof {
    proof::consent_proof(v, &state.signer, v.receipt_id(&state.key), now)
}

/// A browser asks for HTML before JSON; an API client sends `application/json` or `*/*`.
fn wants_html(req: &HttpRequest) -> bool {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let pos = |m: &str| accept.find(m);
    match (pos("text/html"), pos("application/json")) {
        (Some(h), Some(j)) => h < j,
        (Some(_), None) => true,
        _ => false,
    }
}
