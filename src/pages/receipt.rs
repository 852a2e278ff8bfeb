//! `/r/{receipt_id}`: what the person agreed to, when, and a way to withdraw. The receipt id
//! is derived from the verification's seed under the server key, so it cannot be guessed.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;

use crate::{
    domain::{LinkToken, Status, TokenKind, mask_phone},
    evidence::record_at,
    state::AppState,
};

use super::common::{Chrome, Lang, LangQuery, PageError, html, human_time, limit_ip};

#[derive(Template)]
#[template(path = "pages/receipt.html")]
struct ReceiptPage<'a> {
    page: Chrome,
    lang_query: &'static str,
    caller: &'a str,
    purpose: &'a str,
    phone_masked: String,
    confirmed_at: String,
    withdrawn_at: Option<String>,
    by_code: bool,
    receipt_id: &'a str,
    consent_version: &'a str,
    consent_text: &'a str,
    optout_token: String,
    csrf: String,
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let invalid = || PageError::invalid(Lang::hint(&q));
    let raw = path.strip_prefix("rcpt_").ok_or_else(invalid)?;
    let token = LinkToken::parse(raw, state.settings.redis.partitions).ok_or_else(invalid)?;
    let v = state.store.get(token.verification_id()).await?.ok_or_else(invalid)?;
    if v.status != Status::Confirmed || !state.key.receipt_id_ok(&v.id, &v.seed(), &path) {
        return Err(invalid());
    }
    let lang = Lang::pick(&q, Some(v.locale));
    let tenant = state.tenants.by_id(&v.tenant).ok_or_else(invalid)?;
    let ctx = &v.context;
    // The opt-out token the person was sent: made under the verification's own key.
    let Some(origin) = state.key.origin(&v.id, &v.seed(), &v.optout_token_hash) else {
        return Err(invalid());
    };
    let optout = origin.token_for(TokenKind::OptOut, &v.id, &v.seed());
    let page = ReceiptPage {
        page: Chrome::tenant(&tenant, &lang),
        lang_query: lang.query,
        caller: &ctx.caller,
        purpose: &ctx.purpose.text,
        phone_masked: mask_phone(&v.phone),
        confirmed_at: human_time(v.finished_ms.and_then(record_at)),
        withdrawn_at: v.withdrawn_ms.map(|ms| human_time(record_at(ms))),
        by_code: v.confirm_source.as_deref() != Some("link"),
        receipt_id: &path,
        consent_version: &ctx.consent_text.version,
        consent_text: &ctx.consent_text.text,
        csrf: state.key.csrf_for(&optout.hash()),
        optout_token: optout.expose().to_string(),
    };
    Ok(html(StatusCode::OK, page.render()))
}
