//! `/t/{tenant}/consents`: "Mijn toestemmingen". A person who has only their phone sees every
//! consent they gave the tenant and withdraws any of them, or asks not to be asked again.
//!
//! The page opens with a code sent to the number, and only when the tenant holds a consent or
//! a suppression for it; otherwise the page goes through the same steps with no code that opens
//! it, so it tells no one whether a number is known. The right code opens a 15-minute session
//! (an HttpOnly, Secure, SameSite=Strict cookie) bound to the number's pseudonym. Every change
//! is a POST with a CSRF value; withdrawals go through the same scripts as the API's.

mod entry;
mod overview;
mod send;

use actix_web::{HttpRequest, cookie::Cookie, web};

use crate::{config::TenantSettings, domain::PageSecret, state::AppState, store::PageSession};

use super::common::{LangQuery, PageError};

const COOKIE: &str = "ov_consents";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(overview::show))
        .route("", web::head().to(overview::show))
        .route("", web::post().to(entry::submit_phone))
        .route("/code/{challenge}", web::get().to(entry::show_code))
        .route("/code/{challenge}", web::head().to(entry::show_code))
        .route("/code/{challenge}", web::post().to(entry::submit_code))
        .route("/withdraw", web::post().to(overview::withdraw))
        .route("/suppress", web::post().to(overview::suppress))
        .route("/sign-out", web::post().to(overview::sign_out));
}

/// The tenant of the path, if it has the page on. An unknown tenant and one that switched the
/// page off look alike.
fn tenant_of(state: &AppState, id: &str, q: &LangQuery) -> Result<std::sync::Arc<TenantSettings>, PageError> {
    state
        .tenants
        .by_id(id)
        .filter(|t| t.self_service.enabled)
        .ok_or_else(|| PageError::invalid(super::common::Lang::hint(q)))
}

fn base_path(tenant: &str) -> String {
    format!("/t/{tenant}/consents")
}

/// What the request's cookie opens.
enum Visitor {
    /// No cookie: the entry form.
    New,
    /// A cookie that no longer opens a session (expired, signed out, or another tenant's).
    Ended,
    Signed(PageSecret, PageSession),
}

async fn visitor(state: &AppState, req: &HttpRequest, tenant: &str) -> Result<Visitor, PageError> {
    let Some(c) = req.cookie(COOKIE) else { return Ok(Visitor::New) };
    let Some(token) = PageSecret::parse(c.value(), state.settings.redis.partitions) else {
        return Ok(Visitor::Ended);
    };
    Ok(match state.store.page_session(&token, tenant).await? {
        Some(s) => Visitor::Signed(token, s),
        None => Visitor::Ended,
    })
}

/// The session cookie: only for this tenant's page, never readable by scripts or sent cross-site.
fn session_cookie(tenant: &str, value: &str, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, value.to_string())
        .path(base_path(tenant))
        .http_only(true)
        .secure(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

/// The CSRF subject of a session's forms.
fn session_csrf(token: &PageSecret) -> String {
    format!("consents-session:{}", token.hash())
}
