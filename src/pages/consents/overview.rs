//! The signed-in page: every consent the person gave the tenant, grouped by purpose, newest
//! first, and the forms that withdraw them or keep campaigns away.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use futures_util::future::try_join_all;
use serde::Deserialize;

use crate::{
    config::TenantSettings,
    domain::{Channel, PageSecret, Status, VerificationId, mask_email, mask_phone},
    evidence::{proof::status_of, record_at},
    metrics::SourceLabels,
    state::AppState,
    store::{Holder, PageSession, VerificationRecord, WithdrawOutcome},
};

use super::{
    super::common::{Chrome, Lang, LangQuery, PageError, html, human_time, limit_ip, see_other},
    Visitor, base_path,
    entry::entry_page,
    session_cookie, session_csrf, tenant_of, visitor,
};

/// Where the page's own withdrawals come from, in the evidence and the events.
const SOURCE: &str = "self_service";

pub struct Row {
    pub verification_id: String,
    pub caller: String,
    pub text: String,
    pub version: String,
    pub how: &'static str,
    pub channel: &'static str,
    pub confirmed_at: String,
    pub withdrawn_at: Option<String>,
    pub expires_at: Option<String>,
    /// `active`, `withdrawn` or `expired`.
    pub status: &'static str,
    pub receipt_url: String,
}

pub struct Group {
    pub purpose: String,
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "pages/consents.html")]
struct OverviewPage {
    page: Chrome,
    lang_query: &'static str,
    base: String,
    csrf: String,
    phone_masked: String,
    groups: Vec<Group>,
    any_active: bool,
    suppressed_until: Option<String>,
    /// The notice after a change (`withdrawn`, ...); empty for none.
    done: &'static str,
}

#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    lang: Option<String>,
    done: Option<String>,
}

/// GET: the consents of a signed-in person, or the number form. Nothing changes.
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<OverviewQuery>,
) -> Result<HttpResponse, PageError> {
    let lq = LangQuery { lang: q.lang.clone() };
    limit_ip(&state, &req, Lang::hint(&lq)).await?;
    let tenant = tenant_of(&state, &path, &lq)?;
    let lang = Lang::pick(&lq, None);
    match visitor(&state, &req, &tenant.id).await? {
        Visitor::New => Ok(entry_page(&state, &tenant, &lang, "", None, false)),
        Visitor::Ended => {
            let mut resp = entry_page(&state, &tenant, &lang, "", None, true);
            let _ = resp.add_cookie(&session_cookie(&tenant.id, "", 0));
            Ok(resp)
        }
        Visitor::Signed(token, session) => {
            let done = q.done.as_deref().and_then(|d| DONE.iter().find(|k| **k == d).copied());
            overview(&state, &tenant, &lang, &token, &session, done).await
        }
    }
}

/// The notices a redirect after a change may ask for.
const DONE: [&str; 4] = ["withdrawn", "withdrawn_all", "suppressed", "unsuppressed"];

/// Whether a consent is the session holder's: given for their number, or confirmed through
/// their e-mail address.
fn owns(session: &PageSession, v: &VerificationRecord) -> bool {
    v.tenant == session.tenant
        && v.status == Status::Confirmed
        && match session.holder {
            Holder::Phone => v.pseudonym == session.pseudonym,
            Holder::Email => v.channel == Channel::Email && v.to.eq_ignore_ascii_case(&session.address),
        }
}

/// The person's confirmed consents with this tenant, newest first, and until when their
/// number (for an address: every number of its consents) may not be asked again.
async fn consents_of(
    state: &AppState,
    session: &PageSession,
) -> Result<(Vec<VerificationRecord>, Option<i64>), PageError> {
    let now = AppState::now_ms();
    let (ids, suppressed) = match session.holder {
        Holder::Phone => {
            let history = state.store.consent_history(&session.tenant, &session.pseudonym).await?;
            let ids: Vec<String> = history.purposes.into_iter().flat_map(|(_, ids)| ids).collect();
            (ids, history.suppressed_until_ms.filter(|u| *u > now))
        }
        Holder::Email => (state.store.email_consent_ids(&session.tenant, &session.pseudonym).await?, None),
    };
    let partitions = state.settings.redis.partitions;
    let ids: Vec<VerificationId> = ids.iter().filter_map(|id| VerificationId::parse(id, partitions)).collect();
    let mut records: Vec<VerificationRecord> = try_join_all(ids.iter().map(|id| state.store.get(id)))
        .await?
        .into_iter()
        .flatten()
        .filter(|v| owns(session, v))
        .collect();
    records.sort_by_key(|v| std::cmp::Reverse(v.finished_ms));
    let suppressed = match session.holder {
        Holder::Phone => suppressed,
        // Suppressed while every number is: the earliest end.
        Holder::Email => {
            let mut ends = Vec::new();
            for ps in numbers_of(&records) {
                ends.push(
                    state.store.consent_history(&session.tenant, &ps).await?.suppressed_until_ms.filter(|u| *u > now),
                );
            }
            if ends.is_empty() || ends.iter().any(Option::is_none) { None } else { ends.into_iter().flatten().min() }
        }
    };
    Ok((records, suppressed))
}

/// The pseudonyms of the numbers these consents were given for, each once.
fn numbers_of(records: &[VerificationRecord]) -> Vec<String> {
    let mut out: Vec<String> = records.iter().map(|v| v.pseudonym.clone()).collect();
    out.sort();
    out.dedup();
    out
}

fn row(state: &AppState, v: &VerificationRecord, now: i64) -> Row {
    Row {
        verification_id: v.id.to_string(),
        caller: v.context.caller.clone(),
        text: v.context.consent_text.text.clone(),
        version: v.context.consent_text.version.clone(),
        how: v.confirmed_how(),
        channel: v.channel.as_str(),
        confirmed_at: human_time(v.finished_ms.and_then(record_at)),
        withdrawn_at: v.withdrawn_ms.map(|ms| human_time(record_at(ms))),
        expires_at: v.consent_expires_ms.map(|ms| human_time(record_at(ms))),
        status: status_of(v, now),
        receipt_url: format!("/r/{}", v.receipt_id(&state.key)),
    }
}

async fn overview(
    state: &AppState,
    tenant: &TenantSettings,
    lang: &Lang,
    token: &PageSecret,
    session: &PageSession,
    done: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    let (records, suppressed) = consents_of(state, session).await?;
    let now = AppState::now_ms();
    let mut groups: Vec<Group> = Vec::new();
    for v in &records {
        let purpose = &v.context.purpose;
        let r = row(state, v, now);
        match groups.iter_mut().find(|g| g.purpose == purpose.text) {
            Some(g) => g.rows.push(r),
            None => groups.push(Group { purpose: purpose.text.clone(), rows: vec![r] }),
        }
    }
    let page = OverviewPage {
        page: Chrome::tenant(tenant, lang),
        lang_query: lang.query,
        base: base_path(&tenant.id),
        csrf: state.key.csrf_for(&session_csrf(token)),
        phone_masked: match session.holder {
            Holder::Phone => mask_phone(&session.address),
            Holder::Email => mask_email(&session.address),
        },
        any_active: groups.iter().flat_map(|g| &g.rows).any(|r| r.status == "active"),
        groups,
        suppressed_until: suppressed.map(|u| human_time(record_at(u))),
        done: done.unwrap_or(""),
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// A POST from a signed-in page: the session and a right CSRF value, or nothing happens.
async fn signed(
    state: &AppState,
    req: &HttpRequest,
    tenant: &str,
    csrf: &str,
    q: &LangQuery,
) -> Result<(PageSecret, PageSession), PageError> {
    match visitor(state, req, tenant).await? {
        Visitor::Signed(token, session) if state.key.csrf_ok(&session_csrf(&token), csrf) => Ok((token, session)),
        _ => Err(PageError::invalid(Lang::hint(q))),
    }
}

fn back(tenant: &str, done: &str, lang: &Lang) -> HttpResponse {
    let lang_param = lang.query.strip_prefix('?').map(|q| format!("&{q}")).unwrap_or_default();
    see_other(&format!("{}?done={done}{lang_param}", base_path(tenant)))
}

#[derive(Debug, Deserialize)]
pub struct WithdrawForm {
    csrf: String,
    /// One consent's id, or `all`.
    verification_id: String,
}

pub async fn withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: web::Form<WithdrawForm>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let tenant = tenant_of(&state, &path, &q)?;
    let lang = Lang::pick(&q, None);
    let (_, session) = signed(&state, &req, &tenant.id, &form.csrf, &q).await?;
    let counter = state.metrics.withdrawals.get_or_create(&SourceLabels { source: SOURCE }).clone();
    if form.verification_id == "all" {
        match session.holder {
            Holder::Phone => {
                let done =
                    state.store.withdraw_phone(&tenant.id, &session.pseudonym, &session.address, None, SOURCE).await?;
                counter.inc_by(done.events.iter().filter(|(_, vid)| vid.is_some()).count() as u64);
            }
            // An address's consents may be for several numbers: each is withdrawn on its own.
            Holder::Email => {
                let (records, _) = consents_of(&state, &session).await?;
                for v in records.iter().filter(|v| v.withdrawn_ms.is_none()) {
                    if let WithdrawOutcome::Withdrawn(_) =
                        state.store.withdraw_verification(&v.id, &tenant.id, SOURCE).await?
                    {
                        counter.inc();
                    }
                }
            }
        }
        tracing::info!(tenant = %tenant.id, "consents withdrawn on the consents page");
        return Ok(back(&tenant.id, "withdrawn_all", &lang));
    }
    let invalid = || PageError::invalid(lang.en);
    let id = VerificationId::parse(&form.verification_id, state.settings.redis.partitions).ok_or_else(invalid)?;
    // Only a consent of this person with this tenant: an id from elsewhere changes nothing.
    let v = state.store.get(&id).await?.ok_or_else(invalid)?;
    if v.tenant != tenant.id || !owns(&session, &v) {
        return Err(invalid());
    }
    match state.store.withdraw_verification(&id, &tenant.id, SOURCE).await? {
        WithdrawOutcome::Withdrawn(_) => {
            counter.inc();
        }
        WithdrawOutcome::Already | WithdrawOutcome::NotConfirmed | WithdrawOutcome::Missing => {}
    }
    tracing::info!(tenant = %tenant.id, verification = %id, "consent withdrawn on the consents page");
    Ok(back(&tenant.id, "withdrawn", &lang))
}

#[derive(Debug, Deserialize)]
pub struct SuppressForm {
    csrf: String,
    /// `on`: don't ask me again; `off`: undo it.
    action: String,
}

pub async fn suppress(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: web::Form<SuppressForm>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let tenant = tenant_of(&state, &path, &q)?;
    let lang = Lang::pick(&q, None);
    let (_, session) = signed(&state, &req, &tenant.id, &form.csrf, &q).await?;
    let until = match form.action.as_str() {
        "on" => Some(AppState::now_ms() + (state.settings.self_service.suppression_days * 86_400_000) as i64),
        "off" => None,
        _ => return Err(PageError::invalid(lang.en)),
    };
    let numbers = match session.holder {
        Holder::Phone => vec![session.pseudonym.clone()],
        Holder::Email => numbers_of(&consents_of(&state, &session).await?.0),
    };
    for ps in &numbers {
        state.store.set_suppression(&tenant.id, ps, until).await?;
    }
    state.metrics.suppressions.get_or_create(&SourceLabels { source: SOURCE }).inc();
    tracing::info!(tenant = %tenant.id, on = until.is_some(), "suppression set on the consents page");
    Ok(back(&tenant.id, if until.is_some() { "suppressed" } else { "unsuppressed" }, &lang))
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
    form: web::Form<SignOutForm>,
) -> Result<HttpResponse, PageError> {
    limit_ip(&state, &req, Lang::hint(&q)).await?;
    let tenant = tenant_of(&state, &path, &q)?;
    let lang = Lang::pick(&q, None);
    let (token, _) = signed(&state, &req, &tenant.id, &form.csrf, &q).await?;
    state.store.end_page_session(&token).await?;
    let mut resp = see_other(&format!("{}{}", base_path(&tenant.id), lang.query));
    let _ = resp.add_cookie(&session_cookie(&tenant.id, "", 0));
    Ok(resp)
}
