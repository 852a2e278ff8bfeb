//! `/v/{token}`: the hosted code-entry page. Codes typed here count against the same attempt
//! limit as `POST /v1/verifications/{id}/check`: it is the same script.
//!
//! The page is reached by an unguessable token, not by the verification id: ids travel in
//! webhooks, CRMs and partners' logs, and whoever knows one must not be able to spend its
//! attempts. The token is derived from the verification's seed and checked by deriving it
//! again (under every configured server key), so Redis stores nothing for it. An id in the old
//! `/v/{id}` form is not a token: it gets the same "not valid" page as any bad link.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use crate::{
    domain::{Channel, Code, LinkToken, Method, Status, TokenKind, mask_email, mask_phone},
    metrics::OutcomeLabels,
    state::AppState,
    store::{CheckOutcome, CheckSource, VerificationRecord},
};

use super::{
    common::{Chrome, DonePage, Lang, LangQuery, PageError, html, ip_of, limit_ip, see_other, user_agent},
    receipt,
};

#[derive(Template)]
#[template(path = "pages/code.html")]
struct CodePage<'a> {
    page: Chrome,
    lang_query: &'static str,
    token: &'a str,
    caller: &'a str,
    caller_number: Option<String>,
    purpose: &'a str,
    consent_text: &'a str,
    phone_masked: String,
    to_masked: String,
    length: u8,
    csrf: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    csrf: String,
    #[serde(default)]
    code: String,
}

fn csrf_subject(token: &LinkToken) -> String {
    format!("code-page:{}", token.hash())
}

/// The verification behind a code-page token, if the token is right and the code still open.
async fn open(state: &AppState, raw: &str, q: &LangQuery) -> Result<(LinkToken, VerificationRecord), PageError> {
    let invalid = || PageError::invalid(Lang::hint(q));
    let token = LinkToken::parse(raw, state.settings.redis.partitions).ok_or_else(invalid)?;
    let v = state.store.get(token.verification_id()).await?.ok_or_else(invalid)?;
    let genuine = state.key.token_ok(TokenKind::CodePage, &v.id, &v.seed(), &token);
    // Only code verifications have a code page: a link or call verification must not be
    // failable by someone typing wrong codes here.
    if !genuine || v.method != Method::Code || v.status != Status::Pending || AppState::now_ms() >= v.expires_ms {
        return Err(PageError::invalid(Lang::pick(q, Some(v.locale)).en));
    }
    Ok((token, v))
}

fn render(
    state: &AppState,
    token: &LinkToken,
    v: &VerificationRecord,
    lang: &Lang,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let tenant = state.tenants.by_id(&v.tenant).ok_or(PageError::invalid(lang.en))?;
    let ctx = &v.context;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = CodePage {
        page: Chrome::tenant(&tenant, lang),
        lang_query: lang.query,
        token: token.expose(),
        caller: &ctx.caller,
        caller_number: super::common::calling_from(&tenant, v),
        purpose: &ctx.purpose.text,
        consent_text: &ctx.consent_text.text,
        phone_masked: mask_phone(&v.phone),
        to_masked: if v.channel == Channel::Email { mask_email(&v.to) } else { mask_phone(&v.to) },
        length: v.code_length,
        csrf: state.key.csrf_for(&csrf_subject(token)),
        error,
    };
    Ok(html(status, page.render()))
}

/// GET and HEAD: the form, nothing changes.
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let (token, v) = open(&state, &path, &q).await?;
    render(&state, &token, &v, &Lang::pick(&q, Some(v.locale)), None)
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let (token, v) = open(&state, &path, &q).await?;
    let lang = Lang::pick(&q, Some(v.locale));
    if !state.key.csrf_ok(&csrf_subject(&token), &form.csrf) {
        return Err(PageError::invalid(lang.en));
    }
    let Ok(code) = Code::parse(&form.code, v.code_length) else {
        let msg = if lang.en {
            format!("Enter the {} digits of your code.", v.code_length)
        } else {
            format!("Vul de {} cijfers van uw code in.", v.code_length)
        };
        return render(&state, &token, &v, &lang, Some(msg));
    };
    let (ip, ua) = (ip_of(&state, &req), user_agent(&req));
    let via = CheckSource { source: "page", ip: &ip, user_agent: &ua };
    let macs = state.key.code_macs(&v.id, &code);
    let (status, remaining) = match state.store.check(&v.id, &v.tenant, &macs, AppState::now_ms(), via).await? {
        CheckOutcome::Missing => return Err(PageError::invalid(lang.en)),
        CheckOutcome::Counted { status, attempts_remaining } | CheckOutcome::Final { status, attempts_remaining } => {
            (status, attempts_remaining)
        }
    };
    state
        .metrics
        .checks
        .get_or_create(&OutcomeLabels { outcome: if status == Status::Confirmed { "confirmed" } else { "page" } })
        .inc();
    match status {
        Status::Confirmed => Ok(see_other(&receipt::after_confirming(&state, &v, &lang))),
        Status::Pending => {
            let msg = if lang.en {
                format!("That code is not right. {remaining} attempt(s) left.")
            } else {
                format!("Deze code klopt niet. Nog {remaining} poging(en).")
            };
            render(&state, &token, &v, &lang, Some(msg))
        }
        Status::Failed => {
            let tenant = state.tenants.by_id(&v.tenant).ok_or(PageError::invalid(lang.en))?;
            let (heading, body) = if lang.en {
                ("Too many wrong codes", "This request is closed. You will not be called on the strength of it.")
            } else {
                ("Te vaak een verkeerde code", "Dit verzoek is gesloten. U wordt er niet op gebeld.")
            };
            Ok(html(StatusCode::OK, DonePage { page: Chrome::tenant(&tenant, &lang), heading, body }.render()))
        }
        _ => Err(PageError::invalid(lang.en)),
    }
}
