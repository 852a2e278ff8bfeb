//! `/c/{token}`: the confirm page and its two buttons.

use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use subtle::ConstantTimeEq;

use crate::{
    domain::{LinkToken, Status, mask_phone},
    metrics::OutcomeLabels,
    state::AppState,
    store::{LinkAnswer, VerificationRecord},
};

use super::{
    common::{Chrome, CsrfForm, Lang, LangQuery, PageError, declined_page, ip_of, limit_ip, see_other, user_agent},
    receipt,
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/confirm.html")]
struct ConfirmPage<'a> {
    page: Chrome,
    lang_query: &'static str,
    caller: &'a str,
    caller_number: Option<String>,
    purpose: &'a str,
    phone_masked: String,
    consent_version: &'a str,
    consent_text: &'a str,
    privacy_url: Option<&'a str>,
    token: &'a str,
    csrf: String,
}

/// The verification behind a token, if the token is its confirm token and it is still open.
async fn open_verification(
    state: &AppState,
    raw: &str,
    q: &LangQuery,
) -> Result<(LinkToken, VerificationRecord), PageError> {
    let token = LinkToken::parse(raw, state.settings.redis.partitions).ok_or(PageError::invalid(Lang::hint(q)))?;
    let v = state.store.get(token.verification_id()).await?.ok_or(PageError::invalid(Lang::hint(q)))?;
    let matches: bool = v.confirm_token_hash.as_bytes().ct_eq(token.hash().as_bytes()).into();
    let open = v.status == Status::Pending && AppState::now_ms() < v.expires_ms;
    if !matches || !open {
        return Err(PageError::invalid(Lang::pick(q, Some(v.locale)).en));
    }
    Ok((token, v))
}

/// GET and HEAD: shows the page, changes nothing.
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let (token, v) = open_verification(&state, &path, &q).await?;
    let lang = Lang::pick(&q, Some(v.locale));
    let tenant = state.tenants.by_id(&v.tenant).ok_or(PageError::invalid(lang.en))?;
    let ctx = &v.context;
    let page = ConfirmPage {
        page: Chrome::tenant(&tenant, &lang),
        lang_query: lang.query,
        caller: &ctx.caller,
        caller_number: super::common::calling_from(&tenant, &v),
        purpose: &ctx.purpose.text,
        phone_masked: mask_phone(&v.phone),
        consent_version: &ctx.consent_text.version,
        consent_text: &ctx.consent_text.text,
        privacy_url: ctx.privacy_statement.as_ref().map(|p| p.url.as_str()),
        token: token.expose(),
        csrf: state.key.csrf_for(&token.hash()),
    };
    Ok(page.respond_to(&req).map_into_boxed_body())
}

pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    answer(state, req, path, q, form, Status::Confirmed).await
}

pub async fn decline(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    answer(state, req, path, q, form, Status::Declined).await
}

async fn answer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: web::Form<CsrfForm>,
    choice: Status,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let (token, v) = open_verification(&state, &path, &q).await?;
    let lang = Lang::pick(&q, Some(v.locale));
    if !state.key.csrf_ok(&token.hash(), &form.csrf) {
        return Err(PageError::invalid(lang.en));
    }
    let outcome = state
        .store
        .answer_link(&v.id, &token.hash(), choice, AppState::now_ms(), &ip_of(&state, &req), &user_agent(&req))
        .await?;
    let LinkAnswer::Done(status) = outcome else {
        return Err(PageError::invalid(lang.en));
    };
    state.metrics.page_answers.get_or_create(&OutcomeLabels { outcome: status.as_str() }).inc();
    if status == Status::Confirmed {
        return Ok(see_other(&receipt::after_confirming(&state, &v, &lang)));
    }
    let tenant = state.tenants.by_id(&v.tenant).ok_or(PageError::invalid(lang.en))?;
    Ok(declined_page(Chrome::tenant(&tenant, &lang)))
}
