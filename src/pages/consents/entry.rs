//! The way in: the number, then the code sent to it. Both steps look and take the same whether
//! or not the tenant holds anything for the number.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use crate::{
    domain::{Code, Email, PageSecret, PhoneNumber, PhonePolicy},
    metrics::{OutcomeLabels, StageLabels},
    state::AppState,
    store::{ChallengeOutcome, Holder, Limit, NewChallenge, RateDecision, RateSlot, RateSubject},
};

use super::{
    super::common::{Chrome, DonePage, Lang, LangQuery, PageError, html, ip_of, limit_ip, see_other},
    base_path, session_cookie, tenant_of,
};

/// The length of the code that opens the page.
const CODE_LENGTH: u8 = 6;

#[derive(Template)]
#[template(path = "pages/consents_entry.html")]
pub struct EntryPage<'a> {
    pub page: Chrome,
    pub lang_query: &'static str,
    pub action: String,
    pub csrf: String,
    pub phone: &'a str,
    /// The tenant also takes an e-mail address.
    pub email: bool,
    pub error: Option<&'static str>,
    /// A session that ended: say so before asking for the number again.
    pub ended: bool,
}

#[derive(Template)]
#[template(path = "pages/consents_code.html")]
struct CodePage {
    page: Chrome,
    lang_query: &'static str,
    action: String,
    back: String,
    csrf: String,
    length: u8,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PhoneForm {
    csrf: String,
    #[serde(default)]
    phone: String,
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    csrf: String,
    #[serde(default)]
    code: String,
}

pub fn entry_csrf(tenant: &str) -> String {
    format!("consents-entry:{tenant}")
}

fn code_csrf(challenge: &PageSecret) -> String {
    format!("consents-code:{}", challenge.hash())
}

/// The number form, as a response.
pub fn entry_page(
    state: &AppState,
    tenant: &crate::config::TenantSettings,
    lang: &Lang,
    phone: &str,
    error: Option<&'static str>,
    ended: bool,
) -> HttpResponse {
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = EntryPage {
        page: Chrome::tenant(tenant, lang),
        lang_query: lang.query,
        action: base_path(&tenant.id),
        csrf: state.key.csrf_for(&entry_csrf(&tenant.id)),
        phone,
        email: tenant.self_service.email,
        error,
        ended,
    };
    html(status, page.render())
}

/// Counts a code request against the number's and the client's hourly budgets.
async fn limit_codes(
    state: &AppState,
    req: &HttpRequest,
    tenant: &str,
    pseudonym: &str,
    en: bool,
) -> Result<(), PageError> {
    let s = &state.settings.self_service;
    let now = AppState::now_ms();
    let ip = state.key.pseudonym("ip", &ip_of(state, req));
    let number = format!("{tenant}:{pseudonym}");
    let p = state.store.partition_of_number(pseudonym);
    let checks = [
        (RateSlot::Own, "ss-ip", ip.as_str(), s.codes_per_ip_per_hour),
        (RateSlot::Partition(p), "ss-number", number.as_str(), s.codes_per_number_per_hour),
    ];
    for (slot, scope, subject, max) in checks {
        let who = RateSubject { slot, scope, subject };
        let limits = [Limit { max, window_secs: 3600 }];
        if let RateDecision::Limited { retry_after_secs } = state.store.rate_limit(who, &limits, now).await? {
            state.metrics.rate_limited.get_or_create(&OutcomeLabels { outcome: scope }).inc();
            return Err(PageError::RateLimited { en, retry_after_secs });
        }
    }
    Ok(())
}

/// POST the number: a challenge is made, and a code sent when the tenant holds anything for it.
pub async fn submit_phone(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: web::Form<PhoneForm>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let tenant = tenant_of(&state, &path, &q)?;
    let lang = Lang::pick(&q, None);
    if !state.key.csrf_ok(&entry_csrf(&tenant.id), &form.csrf) {
        return Err(PageError::invalid(lang.en));
    }
    let Some((holder, address)) = holder_of(&form.phone, tenant.self_service.email) else {
        let error = match (tenant.self_service.email, lang.en) {
            (false, true) => "Enter a phone number, such as 06 12345678.",
            (false, false) => "Vul een telefoonnummer in, zoals 06 12345678.",
            (true, true) => "Enter a phone number, such as 06 12345678, or an e-mail address.",
            (true, false) => "Vul een telefoonnummer in, zoals 06 12345678, of een e-mailadres.",
        };
        let typed: String = form.phone.chars().take(254).collect();
        return Ok(entry_page(&state, &tenant, &lang, &typed, Some(error), false));
    };
    let pseudonym = match holder {
        Holder::Phone => state.key.pseudonym("phone", &address),
        Holder::Email => state.key.pseudonym("email", &address.to_lowercase()),
    };
    limit_codes(&state, &req, &tenant.id, &pseudonym, lang.en).await?;
    let now = AppState::now_ms();
    let holds = match holder {
        Holder::Phone => state.store.consent_history(&tenant.id, &pseudonym).await?.holds_anything(now),
        Holder::Email => !state.store.email_consent_ids(&tenant.id, &pseudonym).await?.is_empty(),
    };
    let challenge = PageSecret::random(state.store.partition_of_number(&pseudonym));
    let code = Code::random(CODE_LENGTH);
    let mac = code_mac(&state, &challenge, code.expose());
    let s = &state.settings.self_service;
    state
        .store
        .create_challenge(NewChallenge {
            id: &challenge,
            tenant: &tenant.id,
            holder,
            pseudonym: &pseudonym,
            code_mac: holds.then_some(mac.as_str()),
            address: &address,
            attempts: state.settings.verification.max_attempts,
            ttl_ms: (s.code_ttl_seconds * 1000) as i64,
        })
        .await?;
    if holds {
        super::send::spawn(&state, &tenant, holder, address, code.expose().to_string(), lang.en);
    }
    state.metrics.page_sessions.get_or_create(&StageLabels { stage: "started" }).inc();
    Ok(see_other(&format!("{}/code/{}{}", base_path(&tenant.id), challenge.expose(), lang.query)))
}

/// A number, or (when the tenant takes them) an e-mail address: `None` when it is neither.
fn holder_of(input: &str, email: bool) -> Option<(Holder, String)> {
    if email && input.contains('@') {
        return Email::parse(input).ok().map(|e| (Holder::Email, e.as_str().to_string()));
    }
    let any = PhonePolicy { allowed_countries: &[], require_mobile: false };
    PhoneNumber::parse_any_country(input, &any).ok().map(|p| (Holder::Phone, p.e164().to_string()))
}

fn code_mac(state: &AppState, challenge: &PageSecret, code: &str) -> String {
    state.key.pseudonym("consents-page-code", &format!("{}:{code}", challenge.hash()))
}

fn code_page(
    state: &AppState,
    tenant: &crate::config::TenantSettings,
    challenge: &PageSecret,
    lang: &Lang,
    error: Option<String>,
) -> HttpResponse {
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let base = base_path(&tenant.id);
    let page = CodePage {
        page: Chrome::tenant(tenant, lang),
        lang_query: lang.query,
        action: format!("{base}/code/{}", challenge.expose()),
        back: base,
        csrf: state.key.csrf_for(&code_csrf(challenge)),
        length: CODE_LENGTH,
        error,
    };
    html(status, page.render())
}

fn parse_challenge(state: &AppState, raw: &str, q: &LangQuery) -> Result<PageSecret, PageError> {
    PageSecret::parse(raw, state.settings.redis.partitions).ok_or_else(|| PageError::invalid(Lang::hint(q)))
}

/// GET: the code form. Nothing changes.
pub async fn show_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<LangQuery>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let tenant = tenant_of(&state, &path.0, &q)?;
    let challenge = parse_challenge(&state, &path.1, &q)?;
    Ok(code_page(&state, &tenant, &challenge, &Lang::pick(&q, None), None))
}

pub async fn submit_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<LangQuery>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let tenant = tenant_of(&state, &path.0, &q)?;
    let challenge = parse_challenge(&state, &path.1, &q)?;
    let lang = Lang::pick(&q, None);
    if !state.key.csrf_ok(&code_csrf(&challenge), &form.csrf) {
        return Err(PageError::invalid(lang.en));
    }
    let Ok(code) = Code::parse(&form.code, CODE_LENGTH) else {
        let msg = if lang.en { "Enter the 6 digits of your code." } else { "Vul de 6 cijfers van uw code in." };
        return Ok(code_page(&state, &tenant, &challenge, &lang, Some(msg.into())));
    };
    let session = PageSecret::random(challenge.partition());
    let mac = code_mac(&state, &challenge, code.expose());
    let minutes = state.settings.self_service.session_minutes;
    let ttl_ms = (minutes * 60_000) as i64;
    match state.store.answer_challenge(&challenge, &session, &tenant.id, &mac, ttl_ms).await? {
        ChallengeOutcome::Opened => {
            state.metrics.page_sessions.get_or_create(&StageLabels { stage: "verified" }).inc();
            let mut resp = see_other(&format!("{}{}", base_path(&tenant.id), lang.query));
            let cookie = session_cookie(&tenant.id, session.expose(), (minutes * 60) as i64);
            resp.add_cookie(&cookie).map_err(|_| PageError::Unavailable { en: lang.en })?;
            Ok(resp)
        }
        ChallengeOutcome::Wrong { attempts_left } => {
            let msg = if lang.en {
                format!("That code is not right. {attempts_left} attempt(s) left.")
            } else {
                format!("Deze code klopt niet. Nog {attempts_left} poging(en).")
            };
            Ok(code_page(&state, &tenant, &challenge, &lang, Some(msg)))
        }
        ChallengeOutcome::Closed => {
            let (heading, body) = if lang.en {
                ("Too many wrong codes", "This code is closed. Enter your number again for a new one.")
            } else {
                ("Te vaak een verkeerde code", "Deze code is gesloten. Vul uw nummer opnieuw in voor een nieuwe.")
            };
            Ok(html(StatusCode::OK, DonePage { page: Chrome::tenant(&tenant, &lang), heading, body }.render()))
        }
        ChallengeOutcome::Missing => Err(PageError::invalid(lang.en)),
    }
}
