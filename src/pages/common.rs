//! What every page shares: the page chrome (language, brand), the neutral error page, per-IP
//! limits, and the evidence inputs (client IP, user agent).

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{
    config::TenantSettings,
    domain::Locale,
    http::client_ip,
    state::AppState,
    store::{Limit, RateDecision, RateSlot, RateSubject},
};

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// `?lang=` wins over the verification's locale.
pub struct Lang {
    pub en: bool,
    /// Carried into form actions so a POST answers in the same language.
    pub query: &'static str,
}

impl Lang {
    pub fn pick(q: &LangQuery, locale: Option<Locale>) -> Self {
        match q.lang.as_deref() {
            Some("en") => Self { en: true, query: "?lang=en" },
            Some("nl") => Self { en: false, query: "?lang=nl" },
            _ => Self { en: locale == Some(Locale::En), query: "" },
        }
    }

    pub fn hint(q: &LangQuery) -> bool {
        q.lang.as_deref() == Some("en")
    }
}

/// The number that will call: an announced call's own, or the tenant's first registered one.
pub fn calling_from(tenant: &TenantSettings, v: &crate::store::VerificationRecord) -> Option<String> {
    v.call.as_ref().map(|c| c.caller_number.clone()).or_else(|| tenant.caller_numbers.first().cloned())
}

/// What the base template needs: language, brand and the tenant's look.
pub struct Chrome {
    pub lang: &'static str,
    pub en: bool,
    pub brand: String,
    pub css: Option<String>,
    pub logo: Option<String>,
}

impl Chrome {
    /// Pages that cannot name a tenant (a bad link) stay neutral.
    pub fn neutral(en: bool) -> Self {
        let brand = if en { "Verification" } else { "Verificatie" };
        Self { lang: if en { "en" } else { "nl" }, en, brand: brand.into(), css: None, logo: None }
    }

    pub fn tenant(t: &TenantSettings, lang: &Lang) -> Self {
        Self {
            lang: if lang.en { "en" } else { "nl" },
            en: lang.en,
            brand: t.branding.display_name.clone().unwrap_or_else(|| t.name.clone()),
            css: t.branding.accent_color.as_ref().map(|_| format!("/static/t/{}.css", t.id)),
            logo: t.branding.logo_url.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/invalid.html")]
struct InvalidPage {
    page: Chrome,
}

#[derive(Template)]
#[template(path = "pages/done.html")]
pub struct DonePage<'a> {
    pub page: Chrome,
    pub heading: &'a str,
    pub body: &'a str,
}

/// The page after "no / this wasn't me", wherever the person said it.
pub fn declined_page(page: Chrome) -> HttpResponse {
    let (heading, body) = if page.en {
        ("Understood: you will not be called", "We have recorded that you do not give consent.")
    } else {
        ("Duidelijk: u wordt niet gebeld", "We hebben vastgelegd dat u geen toestemming geeft.")
    };
    html(StatusCode::OK, DonePage { page, heading, body }.render())
}

/// Everything that ends a page request early. A bad, used or expired token all look alike.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("link not valid")]
    Invalid { en: bool },
    #[error("too many requests")]
    RateLimited { en: bool, retry_after_secs: u64 },
    #[error("temporarily unavailable")]
    Unavailable { en: bool },
    /// A POST body that is neither of the forms a page takes.
    #[error("unsupported form body")]
    UnsupportedBody,
}

impl PageError {
    pub fn invalid(en: bool) -> Self {
        Self::Invalid { en }
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::warn!(error = %e, "page could not reach the store");
        Self::Unavailable { en: false }
    }
}

pub fn html(status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(b) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(b),
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// `303 See Other` after a POST that changed something: a reload does not post again.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location)).finish()
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::NOT_FOUND,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedBody => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (en, heading, body) = match self {
            Self::Invalid { en } => {
                return html(self.status_code(), InvalidPage { page: Chrome::neutral(*en) }.render());
            }
            Self::RateLimited { en: true, .. } => (true, "Too many requests", "Please wait a minute and try again."),
            Self::RateLimited { .. } => (false, "Te veel verzoeken", "Wacht een minuut en probeer het opnieuw."),
            Self::Unavailable { en: true } => (true, "Temporarily unavailable", "Please try again in a moment."),
            Self::Unavailable { .. } => (false, "Tijdelijk niet beschikbaar", "Probeer het over een moment opnieuw."),
            Self::UnsupportedBody => (false, "Formulier niet begrepen", "Gebruik de knop op de pagina."),
        };
        let mut resp = html(self.status_code(), DonePage { page: Chrome::neutral(en), heading, body }.render());
        if let Self::RateLimited { retry_after_secs, .. } = self
            && let Ok(v) = retry_after_secs.to_string().parse()
        {
            resp.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Counts one page request against the client's per-minute budget.
pub async fn limit_ip(state: &AppState, req: &HttpRequest, en: bool) -> Result<(), PageError> {
    let ip = ip_of(state, req);
    let subject = state.key.pseudonym("ip", &ip);
    let limits = [Limit { max: state.settings.limits.page_ip_per_minute, window_secs: 60 }];
    let who = RateSubject { slot: RateSlot::Own, scope: "ip", subject: &subject };
    match state.store.rate_limit(who, &limits, AppState::now_ms()).await? {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after_secs } => Err(PageError::RateLimited { en, retry_after_secs }),
    }
}

pub fn ip_of(state: &AppState, req: &HttpRequest) -> String {
    client_ip(req, &state.settings.http.trusted_proxies).map(|ip| ip.to_string()).unwrap_or_default()
}

pub fn user_agent(req: &HttpRequest) -> String {
    let ua = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
    ua.chars().take(512).collect()
}

/// A time as people read it on the page: Dutch local time is what the person lived through.
pub fn human_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.with_timezone(&chrono_tz::Europe::Amsterdam).format("%d-%m-%Y %H:%M (%Z)").to_string())
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}
