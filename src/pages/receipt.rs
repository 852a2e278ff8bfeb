//! `/r/{receipt_id}`: what the person agreed to, when, and how to check it. The receipt id is
//! derived from the verification's seed under the server key, so it cannot be guessed.
//!
//! The receipt id is also the signed receipt's `jti`: every consent store and every caller of
//! `GET /v1/consents` holds it. On its own it therefore shows the receipt and changes nothing.
//! The withdraw button appears only for whoever also brings the opt-out token of the person's
//! own message (`?t=`): the redirect after confirming carries it, the API never returns it and
//! no webhook holds it. The button posts to `/o/{that token}`, the page that withdraws.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::{
    domain::{Controller, LinkToken, Status, TokenKind, mask_phone},
    evidence::record_at,
    state::AppState,
    store::VerificationRecord,
};

use super::common::{Chrome, Lang, LangQuery, PageError, html, human_time, limit_ip};

#[derive(Template)]
#[template(path = "pages/receipt.html")]
struct ReceiptPage<'a> {
    page: Chrome,
    lang_query: &'static str,
    caller: &'a str,
    caller_number: Option<String>,
    /// Who is responsible, as recorded when the person was asked.
    controller: &'a Controller,
    purpose: &'a str,
    phone_masked: String,
    confirmed_at: String,
    withdrawn_at: Option<String>,
    expires_at: Option<String>,
    expired: bool,
    /// `code`, `link` or `call`: how the person confirmed.
    how: &'static str,
    /// The form's box was pre-ticked: the confirmation page is what consent rests on.
    pre_ticked: bool,
    receipt_id: &'a str,
    consent_version: &'a str,
    consent_text: &'a str,
    /// The person's own opt-out token, when they brought it: only then the withdraw form.
    optout_token: Option<String>,
    csrf: String,
}

/// `?t=`: the opt-out token of the person's own message.
#[derive(Debug, Deserialize)]
pub struct OwnToken {
    t: Option<String>,
}

/// Where the person goes after confirming: their receipt, with the opt-out token of their own
/// message so that the page can offer to withdraw. Should the key the verification was made
/// under be gone from configuration, the receipt alone.
pub fn after_confirming(state: &AppState, v: &VerificationRecord, lang: &Lang) -> String {
    let seed = v.seed();
    let receipt = state.key.receipt_id(&v.id, &seed, &v.optout_token_hash);
    match state.key.origin(&v.id, &seed, &v.optout_token_hash) {
        Some(origin) => {
            let optout = origin.token_for(TokenKind::OptOut, &v.id, &seed);
            let lang_param = lang.query.strip_prefix('?').map(|q| format!("&{q}")).unwrap_or_default();
            format!("/r/{receipt}?t={}{lang_param}", optout.expose())
        }
        None => format!("/r/{receipt}{}", lang.query),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    own: web::Query<OwnToken>,
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
    // The opt-out token the person was sent, if they brought it: nothing derives it from the
    // receipt id. A wrong one shows the receipt without the form, as no token does.
    let optout = own
        .t
        .as_deref()
        .and_then(|raw| LinkToken::parse(raw, state.settings.redis.partitions))
        .filter(|t| bool::from(v.optout_token_hash.as_bytes().ct_eq(t.hash().as_bytes())));
    let page = ReceiptPage {
        page: Chrome::tenant(&tenant, &lang),
        lang_query: lang.query,
        caller: &ctx.caller,
        caller_number: super::common::calling_from(&tenant, &v),
        controller: &ctx.controller,
        purpose: &ctx.purpose.text,
        phone_masked: mask_phone(&v.phone),
        confirmed_at: human_time(v.finished_ms.and_then(record_at)),
        withdrawn_at: v.withdrawn_ms.map(|ms| human_time(record_at(ms))),
        expires_at: v.consent_expires_ms.map(|ms| human_time(record_at(ms))),
        expired: v.consent_expires_ms.is_some_and(|ms| ms <= AppState::now_ms()),
        how: v.confirmed_how(),
        pre_ticked: v.active_act.as_deref() == Some("confirmation_page"),
        receipt_id: &path,
        consent_version: &ctx.consent_text.version,
        consent_text: &ctx.consent_text.text,
        csrf: optout.as_ref().map(|t| state.key.csrf_for(&t.hash())).unwrap_or_default(),
        optout_token: optout.map(|t| t.expose().to_string()),
    };
    Ok(html(StatusCode::OK, page.render()))
}
