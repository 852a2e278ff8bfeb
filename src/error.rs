//! `ApiError`: every way an API request fails, mapped to RFC 9457 problem+json with a stable
//! `type`. A 5xx never shows internals; the cause chain goes to the log instead.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{domain::PhoneError, store::StoreError};

/// Base of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://optin-verify.eu/problems/";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{detail}")]
    InvalidRequest { field: String, detail: String },
    #[error("{source}")]
    InvalidPhone { field: &'static str, source: PhoneError },
    #[error("not a valid email address")]
    InvalidEmail { field: &'static str },
    #[error("a valid API key is required: Authorization: Bearer <key>")]
    Unauthorized,
    #[error("no such resource")]
    NotFound,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("too many requests for this {scope}; retry after {retry_after_secs} s")]
    RateLimited { scope: &'static str, retry_after_secs: u64 },
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still running; retry shortly")]
    IdempotencyInProgress,
    #[error("{detail}")]
    CallRule { rule: &'static str, field: &'static str, detail: String },
    /// A campaign start to a number that declined or withdrew recently. Says no more than that.
    #[error("this number cannot be asked for consent now")]
    Suppressed,
    /// A campaign start for a purpose and caller this number already consented to.
    #[error(
        "this number already has an active consent for this purpose and caller ({verification_id}); nothing was sent. Send \"reask\": true to ask again"
    )]
    AlreadyConsented { verification_id: String },
    /// The same number, purpose and caller as an earlier item of the same batch.
    #[error("the same number, purpose and caller as items[{first}]; nothing was sent")]
    DuplicateInBatch { first: usize },
    /// A consumer-initiated code start without evidence the tenant's policy requires.
    #[error("this tenant's evidence policy requires {field} for a consumer-initiated code verification")]
    EvidenceRequired { field: &'static str },
    /// A pre-ticked box is not consent, and for a code the form is where consent is given.
    #[error(
        "collection.checkbox_default is \"checked\": a pre-ticked box is not consent. Use method link, whose confirmation page is the person's own act, or an unticked box"
    )]
    PreTickedConsent,
    #[error("this consent was already withdrawn; every endpoint has been told")]
    AlreadyWithdrawn,
    #[error("the verification is {status}, not pending")]
    NotPending { status: &'static str },
    #[error("the service cannot reach its store; retry shortly")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::InvalidRequest { field: field.into(), detail: detail.into() }
    }

    /// Status, problem `type` slug and title: one arm per variant, so a new variant is one arm.
    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::MalformedJson(_) => (S::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            Self::InvalidRequest { .. } => (S::UNPROCESSABLE_ENTITY, "invalid-request", "Invalid request"),
            Self::InvalidPhone { source, .. } => (
                S::UNPROCESSABLE_ENTITY,
                match source {
                    PhoneError::Invalid => "invalid-phone",
                    PhoneError::CountryNotAllowed => "country-not-allowed",
                    PhoneError::NotMobile => "phone-not-mobile",
                    PhoneError::Premium => "premium-rate-number",
                },
                "Phone number refused",
            ),
            Self::InvalidEmail { .. } => (S::UNPROCESSABLE_ENTITY, "invalid-email", "Invalid email address"),
            Self::Unauthorized => (S::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::NotFound => (S::NOT_FOUND, "not-found", "Not found"),
            Self::PayloadTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType => {
                (S::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            Self::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            Self::IdempotencyKeyReused => (S::UNPROCESSABLE_ENTITY, "idempotency-key-reused", "Idempotency-Key reused"),
            Self::IdempotencyInProgress => (S::CONFLICT, "idempotency-key-in-use", "Idempotency-Key in use"),
            Self::CallRule { rule, .. } => (S::UNPROCESSABLE_ENTITY, rule, "Call verification rule broken"),
            Self::Suppressed => (S::UNPROCESSABLE_ENTITY, "number-suppressed", "Number cannot be asked now"),
            Self::AlreadyConsented { .. } => (S::CONFLICT, "already-consented", "Already consented"),
            Self::DuplicateInBatch { .. } => (S::CONFLICT, "duplicate-in-batch", "Duplicate in batch"),
            Self::EvidenceRequired { .. } => (S::UNPROCESSABLE_ENTITY, "evidence-required", "Evidence required"),
            Self::PreTickedConsent => (S::UNPROCESSABLE_ENTITY, "pre-ticked-consent", "Pre-ticked consent"),
            Self::AlreadyWithdrawn => (S::CONFLICT, "already-withdrawn", "Already withdrawn"),
            Self::NotPending { .. } => (S::CONFLICT, "verification-not-pending", "Verification not pending"),
            Self::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "service-unavailable", "Service unavailable"),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { field, .. } => Some(field),
            Self::InvalidPhone { field, .. } | Self::InvalidEmail { field } | Self::CallRule { field, .. } => {
                Some(field)
            }
            Self::Suppressed | Self::AlreadyConsented { .. } | Self::DuplicateInBatch { .. } => Some("phone"),
            Self::EvidenceRequired { field } => Some(field),
            Self::PreTickedConsent => Some("collection.checkbox_default"),
            _ => None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(e),
            StoreError::UnexpectedReply { .. } | StoreError::Corrupt(_) | StoreError::Unreadable { .. } => {
                Self::internal(e)
            }
        }
    }
}

/// RFC 9457 body. `field` names the offending request field where there is one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().0
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let status = self.status_code();
        let body = self.problem();
        let mut resp = HttpResponse::build(status);
        resp.content_type("application/problem+json");
        match self {
            Self::RateLimited { retry_after_secs, .. } => {
                resp.insert_header(("Retry-After", retry_after_secs.to_string()));
            }
            Self::Unavailable(_) => {
                resp.insert_header(("Retry-After", "1"));
            }
            Self::Unauthorized => {
                resp.insert_header(("WWW-Authenticate", "Bearer"));
            }
            _ => {}
        }
        resp.json(body)
    }
}

impl ApiError {
    /// Logs what the answer hides: an internal error's cause chain, a store that is away.
    /// Called once per answered error (`error_response`, and a batch item's answer).
    pub fn log(&self) {
        match self {
            Self::Internal(cause) => {
                let chain = std::iter::successors(Some(cause.as_ref() as &dyn std::error::Error), |e| e.source())
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(": ");
                tracing::error!(cause = %chain, "internal error");
            }
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "store unavailable"),
            _ => {}
        }
    }

    /// The problem+json body of this error. A 5xx says nothing of its cause.
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.kind();
        let detail = match self {
            Self::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        Problem {
            type_: format!("{PROBLEM_BASE}{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            field: self.field().map(str::to_string),
        }
    }

    /// An internal error that keeps its cause (logged, never shown).
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_keeps_its_cause_and_shows_none_of_it() {
        let cause = std::io::Error::other("redis said something private");
        let e = ApiError::internal(cause);
        let p = e.problem();
        assert_eq!(
            (p.status, p.type_.as_str(), p.detail.as_str()),
            (500, "https://optin-verify.eu/problems/internal", "internal error")
        );
        let source = std::error::Error::source(&e).expect("the cause is kept");
        assert_eq!(source.to_string(), "redis said something private");
    }

    #[test]
    fn a_store_error_becomes_internal_or_unavailable_with_its_cause() {
        let corrupt: ApiError = StoreError::Corrupt("field st missing".into()).into();
        assert_eq!(corrupt.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(std::error::Error::source(&corrupt).unwrap().to_string().contains("field st missing"));
        let p = ApiError::AlreadyConsented { verification_id: "vf_1".into() }.problem();
        assert_eq!((p.status, p.field.as_deref()), (409, Some("phone")));
    }
}
