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
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::InvalidRequest { field: field.into(), detail: detail.into() }
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed-json",
            Self::InvalidRequest { .. } => "invalid-request",
            Self::InvalidPhone { source, .. } => match source {
                PhoneError::Invalid => "invalid-phone",
                PhoneError::CountryNotAllowed => "country-not-allowed",
                PhoneError::NotMobile => "phone-not-mobile",
                PhoneError::Premium => "premium-rate-number",
            },
            Self::InvalidEmail { .. } => "invalid-email",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not-found",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::RateLimited { .. } => "rate-limited",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::IdempotencyInProgress => "idempotency-key-in-use",
            Self::CallRule { rule, .. } => rule,
            Self::NotPending { .. } => "verification-not-pending",
            Self::AlreadyWithdrawn => "already-withdrawn",
            Self::AlreadyConsented { .. } => "already-consented",
            Self::EvidenceRequired { .. } => "evidence-required",
            Self::PreTickedConsent => "pre-ticked-consent",
            Self::DuplicateInBatch { .. } => "duplicate-in-batch",
            Self::Suppressed => "number-suppressed",
            Self::Unavailable(_) => "service-unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "Malformed JSON",
            Self::InvalidRequest { .. } => "Invalid request",
            Self::InvalidPhone { .. } => "Phone number refused",
            Self::InvalidEmail { .. } => "Invalid email address",
            Self::Unauthorized => "Unauthorized",
            Self::NotFound => "Not found",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::RateLimited { .. } => "Too many requests",
            Self::IdempotencyKeyReused => "Idempotency-Key reused",
            Self::IdempotencyInProgress => "Idempotency-Key in use",
            Self::CallRule { .. } => "Call verification rule broken",
            Self::NotPending { .. } => "Verification not pending",
            Self::AlreadyWithdrawn => "Already withdrawn",
            Self::AlreadyConsented { .. } => "Already consented",
            Self::EvidenceRequired { .. } => "Evidence required",
            Self::PreTickedConsent => "Pre-ticked consent",
            Self::DuplicateInBatch { .. } => "Duplicate in batch",
            Self::Suppressed => "Number cannot be asked now",
            Self::Unavailable(_) => "Service unavailable",
            Self::Internal(_) => "Internal error",
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
            StoreError::Corrupt(msg) => Self::Internal(msg),
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
        match self {
            Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::InvalidRequest { .. }
            | Self::InvalidPhone { .. }
            | Self::InvalidEmail { .. }
            | Self::IdempotencyKeyReused
            | Self::Suppressed
            | Self::EvidenceRequired { .. }
            | Self::PreTickedConsent
            | Self::CallRule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotPending { .. }
            | Self::AlreadyWithdrawn
            | Self::IdempotencyInProgress
            | Self::AlreadyConsented { .. }
            | Self::DuplicateInBatch { .. } => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
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
    /// The problem+json body of this error (logged here when it hides a cause).
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            Self::Internal(cause) => {
                tracing::error!(cause = %cause, "internal error");
                "internal error".to_string()
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                self.to_string()
            }
            other => other.to_string(),
        };
        Problem {
            type_: format!("{PROBLEM_BASE}{}", self.slug()),
            title: self.title().to_string(),
            status: status.as_u16(),
            detail,
            field: self.field().map(str::to_string),
        }
    }
}
