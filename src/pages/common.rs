//! What every page shares: language, the neutral error page, per-IP limits, evidence inputs.

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode};
use askama::Template;
use serde::Deserialize;

use crate::{
    domain::Locale,
    http::client_ip,
    state::AppState,
    store::{Limit, RateDecision},
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

    pub fn code(&self) -> &'static str {
        if self.en { "en" } else { "nl" }
    }
}

#[derive(Template)]
#[template(path = "pages/invalid.html")]
struct InvalidPage {
    lang: &'static str,
    brand: &'static str,
    en: bool,
}

#[derive(Template)]
#[template(path = "pages/done.html")]
pub struct DonePage<'a> {
    pub lang: &'static str,
    pub brand: &'a str,
    pub heading: &'a str,
    pub body: &'a str,
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

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::NOT_FOUND,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (en, heading, body) = match self {
            Self::Invalid { en } => {
                let page = InvalidPage { lang: if *en { "en" } else { "nl" }, brand: brand(*en), en: *en };
                return html(self.status_code(), page.render());
            }
            Self::RateLimited { en, .. } if *en => (true, "Too many requests", "Please wait a minute and try again."),
            Self::RateLimited { .. } => (false, "Te veel verzoeken", "Wacht een minuut en probeer het opnieuw."),
            Self::Unavailable { en: true } => (true, "Temporarily unavailable", "Please try again in a moment."),
            Self::Unavailable { .. } => (false, "Tijdelijk niet beschikbaar", "Probeer het over een moment opnieuw."),
        };
        let page = DonePage { lang: if en { "en" } else { "nl" }, brand: brand(en), heading, body };
        let mut resp = html(self.status_code(), page.render());
        if let Self::RateLimited { retry_after_secs, .. } = self
            && let Ok(v) = retry_after_secs.to_string().parse()
        {
            resp.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

fn brand(en: bool) -> &'static str {
    if en { "Verification" } else { "Verificatie" }
}

/// Counts one page request against the client's per-minute budget.
pub async fn limit_ip(state: &AppState, req: &HttpRequest, en: bool) -> Result<(), PageError> {
    let ip = ip_of(state, req);
    let subject = state.key.pseudonym("ip", &ip);
    let limits = [Limit { max: state.settings.limits.page_ip_per_minute, window_secs: 60 }];
    match state.store.rate_limit("ip", &subject, &limits, AppState::now_ms()).await? {
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

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}
