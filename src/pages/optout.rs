//! `/o/{token}`: "not me" for a pending verification, and withdrawal of the number's consents
//! with this tenant: for the verification's purpose, or for every purpose ("alles van
//! {brand}"). It acts on the number, not only on the link's own verification, so that what the
//! page says is true: a second consent for the same purpose is withdrawn with the first.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use subtle::ConstantTimeEq;

use crate::{
    domain::{LinkToken, Status, mask_phone},
    metrics::{OutcomeLabels, SourceLabels},
    state::AppState,
    store::{ConsentState, OptOutOutcome, OptOutScope, VerificationRecord},
};

use super::{
    common::{Chrome, DonePage, Lang, LangQuery, PageError, html, ip_of, limit_ip, user_agent},
    optout_form::OptOutForm,
};

#[derive(Template)]
#[template(path = "pages/optout.html")]
struct OptOutPage<'a> {
    page: Chrome,
    lang_query: &'static str,
    phone_masked: String,
    purpose: &'a str,
    pending: bool,
    /// An active consent for this purpose (this verification's or another's).
    active_here: bool,
    /// Active consents for other purposes: offered with "everything from {brand}".
    active_elsewhere: usize,
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

/// The number's active consents with this tenant: (for this verification's purpose, for others).
async fn active(state: &AppState, v: &VerificationRecord) -> Result<(bool, usize), PageError> {
    if v.pseudonym.is_empty() {
        let expired = v.consent_expires_ms.is_some_and(|x| x <= AppState::now_ms());
        return Ok((v.status == Status::Confirmed && v.withdrawn_ms.is_none() && !expired, 0));
    }
    let rows = state.store.consents(&v.tenant, &v.pseudonym, None, None).await?;
    let live = rows.iter().filter(|r| r.state == ConsentState::Active);
    let (here, elsewhere): (Vec<_>, Vec<_>) = live.partition(|r| r.purpose == v.context.purpose.id);
    let mut purposes: Vec<&str> = elsewhere.iter().map(|r| r.purpose.as_str()).collect();
    purposes.dedup();
    Ok((!here.is_empty(), purposes.len()))
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
    let pending = v.status == Status::Pending;
    let (active_here, active_elsewhere) = active(&state, &v).await?;
    let page = chrome(&state, &v, &lang);
    if !(pending || active_here || active_elsewhere > 0) {
        let body = if lang.en {
            format!("{} holds no consent to call {}.", page.brand, mask_phone(&v.phone))
        } else {
            format!("{} heeft geen toestemming om {} te bellen.", page.brand, mask_phone(&v.phone))
        };
        let heading =
            if lang.en { "There is no consent to withdraw" } else { "Er is geen toestemming om in te trekken" };
        return Ok(done(page, heading, &body));
    }
    let page = OptOutPage {
        page,
        lang_query: lang.query,
        phone_masked: mask_phone(&v.phone),
        purpose: &v.context.purpose.text,
        pending,
        active_here,
        active_elsewhere,
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
    let scope = form.scope();
    let client = (ip_of(&state, &req), user_agent(&req));
    let outcome = state.store.opt_out(&v.id, &token.hash(), AppState::now_ms(), (&client.0, &client.1), scope).await?;
    let label = match outcome {
        OptOutOutcome::Declined { .. } => "opt_out_declined",
        OptOutOutcome::Withdrawn(_) => "withdrawn",
        OptOutOutcome::AlreadyDone => "opt_out_noop",
        OptOutOutcome::Invalid => return Err(PageError::invalid(lang.en)),
    };
    state.metrics.page_answers.get_or_create(&OutcomeLabels { outcome: label }).inc();
    let withdrawn = match outcome {
        OptOutOutcome::Withdrawn(n) | OptOutOutcome::Declined { withdrawn: n } => n,
        _ => 0,
    };
    state.metrics.withdrawals.get_or_create(&SourceLabels { source: "page" }).inc_by(u64::from(withdrawn));
    let page = chrome(&state, &v, &lang);
    let (heading, body) = done_words(&page, &v.context.purpose.text, scope, &outcome, lang.en);
    Ok(done(page, heading, &body))
}

/// What the page says was done: exactly that, no more.
fn done_words(page: &Chrome, purpose: &str, scope: OptOutScope, o: &OptOutOutcome, en: bool) -> (&'static str, String) {
    let brand = &page.brand;
    let withdrew = matches!(o, OptOutOutcome::Withdrawn(_) | OptOutOutcome::Declined { withdrawn: 1.. });
    match (scope, withdrew, matches!(o, OptOutOutcome::Declined { .. }), en) {
        (OptOutScope::All, true, _, true) => {
            ("All your consents are withdrawn", format!("{brand} no longer holds any consent to call you."))
        }
        (OptOutScope::All, true, _, false) => {
            ("Al uw toestemmingen zijn ingetrokken", format!("{brand} heeft geen toestemming meer om u te bellen."))
        }
        (OptOutScope::Purpose, true, _, true) => {
            ("Your consent is withdrawn", format!("{brand} will no longer call you about: {purpose}."))
        }
        (OptOutScope::Purpose, true, _, false) => {
            ("Uw toestemming is ingetrokken", format!("{brand} belt u niet meer over: {purpose}."))
        }
        (_, false, true, true) => {
            ("Understood: you will not be called", format!("We have recorded that you do not consent to: {purpose}."))
        }
        (_, false, true, false) => (
            "Duidelijk: u wordt niet gebeld",
            format!("We hebben vastgelegd dat u geen toestemming geeft voor: {purpose}."),
        ),
        (_, false, false, true) => ("Nothing left to withdraw", format!("{brand} held no consent here to withdraw.")),
        (_, false, false, false) => {
            ("Niets meer in te trekken", format!("{brand} had hier geen toestemming meer om in te trekken."))
        }
    }
}
