//! `/o/{token}`: "not me" for a pending verification, withdrawal for a confirmed consent.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use subtle::ConstantTimeEq;

use crate::{
    domain::{LinkToken, Status, mask_phone},
    metrics::OutcomeLabels,
    state::AppState,
    store::{OptOutOutcome, VerificationRecord},
};

use super::{
    common::{Chrome, DonePage, Lang, LangQuery, PageError, declined_page, html, ip_of, limit_ip, user_agent},
    optout_form::OptOutForm,
};

#[derive(Template)]
#[template(path = "pages/optout.html")]
struct OptOutPage<'a> {
    page: Chrome,
    lang_query: &'static str,
    phone_masked: String,
    confirmed: bool,
    token: &'a str,
    csrf: String,
}

async fn load(state: &AppState, raw: &str, q: &LangQuery) -> Result<(LinkToken, VerificationRecord), PageError> {
    let token = LinkToken::parse(raw, state.settings.redis.partitions).ok_or(PageError::invalid(Lang::hint(q)))?;
    let v = state.store.get(token.verification_id()).await?.ok_or(PageError::invalid(Lang::hint(q)))?;
    let matches: bool = v.optout_token_hash.as_bytes().ct_eq(token.hash().as_bytes()).into();
    if !matches {
        return Err(PageError::invalid(Lang::hint(q)));
    }
    Ok((token, v))
}

fn chrome(state: &AppState, v: &VerificationRecord, lang: &Lang) -> Chrome {
    state.tenants.by_id(&v.tenant).map_or_else(|| Chrome::neutral(lang.en), |t| Chrome::tenant(&t, lang))
}

fn done(page: Chrome, heading: &str, body: &str) -> HttpResponse {
    html(StatusCode::OK, DonePage { page, heading, body }.render())
}

/// GET and HEAD: shows the choice, changes nothing.
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let (token, v) = load(&state, &path, &q).await?;
    let lang = Lang::pick(&q, Some(v.locale));
    let confirmed = v.status == Status::Confirmed && v.withdrawn_ms.is_none();
    if !(confirmed || v.status == Status::Pending) {
        let (heading, body) = if lang.en {
            ("You will not be called", "There is no consent on record for this request.")
        } else {
            ("U wordt niet gebeld", "Er staat voor dit verzoek geen toestemming geregistreerd.")
        };
        return Ok(done(chrome(&state, &v, &lang), heading, body));
    }
    let page = OptOutPage {
        page: chrome(&state, &v, &lang),
        lang_query: lang.query,
        phone_masked: mask_phone(&v.phone),
        confirmed,
        token: token.expose(),
        csrf: state.key.csrf_for(&token.hash()),
    };
    Ok(html(StatusCode::OK, page.render()))
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: OptOutForm,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let (token, v) = load(&state, &path, &q).await?;
    let lang = Lang::pick(&q, Some(v.locale));
    let one_click = form.is_one_click();
    let csrf_ok = form.csrf.as_deref().is_some_and(|c| state.key.csrf_ok(&token.hash(), c));
    if !(one_click || csrf_ok) {
        return Err(PageError::invalid(lang.en));
    }
    let outcome =
        state.store.opt_out(&v.id, &token.hash(), AppState::now_ms(), &ip_of(&state, &req), &user_agent(&req)).await?;
    let label = match outcome {
        OptOutOutcome::Declined => "opt_out_declined",
        OptOutOutcome::Withdrawn => "withdrawn",
        OptOutOutcome::AlreadyDone => "opt_out_noop",
        OptOutOutcome::Invalid => return Err(PageError::invalid(lang.en)),
    };
    state.metrics.page_answers.get_or_create(&OutcomeLabels { outcome: label }).inc();
    if outcome != OptOutOutcome::Withdrawn {
        return Ok(declined_page(chrome(&state, &v, &lang)));
    }
    let (heading, body) = if lang.en {
        ("Your consent is withdrawn", "You will not be called about this any more.")
    } else {
        ("Uw toestemming is ingetrokken", "U wordt hier niet meer over gebeld.")
    };
    Ok(done(chrome(&state, &v, &lang), heading, body))
}
