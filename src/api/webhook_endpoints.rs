//! `/v1/webhook-endpoints`: where a tenant's consent stores receive events.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::PlainText,
    error::{ApiError, Problem},
    evidence::record_at,
    http::ApiJson,
    state::AppState,
    store::EndpointRecord,
    webhooks::{EVENT_TYPES, WebhookSecret},
};

use super::AuthTenant;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where events are POSTed; https in production. Free text rule: no control, separator or
    /// bidi characters (a URL parser would drop a CR or LF and keep the rest).
    #[schema(value_type = String, format = "uri", max_length = 2048, example = "https://consent.example.nl/hooks")]
    pub url: PlainText,
    /// Subscribe to these types only; all when absent. `consent.withdrawn` always arrives.
    #[serde(default)]
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub description: Option<PlainText>,
}

/// A webhook event type (`EVENT_TYPES`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // only its schema is used
pub enum EventType {
    #[serde(rename = "consent.confirmed")]
    ConsentConfirmed,
    #[serde(rename = "consent.declined")]
    ConsentDeclined,
    #[serde(rename = "consent.withdrawn")]
    ConsentWithdrawn,
    #[serde(rename = "consent.expired")]
    ConsentExpired,
    #[serde(rename = "verification.expired")]
    VerificationExpired,
    #[serde(rename = "verification.failed")]
    VerificationFailed,
    #[serde(rename = "verification.canceled")]
    VerificationCanceled,
    #[serde(rename = "recording.retention_due")]
    RecordingRetentionDue,
}

/// No `Debug`: it may carry the secret.
#[derive(Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// The last recovery asked for (`POST .../recover`), and how far it got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryView>,
    /// Only in the answer to create: keep it, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryView {
    pub since: Option<DateTime<Utc>>,
    /// Events up to this moment (when it was asked for); later ones are delivered as usual.
    pub until: Option<DateTime<Utc>>,
    /// `running` or `done`.
    pub state: &'static str,
    /// Deliveries queued again so far.
    pub queued: u64,
    /// Events the endpoint had, or that were on their way already, or of types it does not take.
    pub skipped: u64,
    pub finished_at: Option<DateTime<Utc>>,
}

/// No `Debug`: it carries the secret.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    pub id: String,
    pub secret: String,
    /// Until then every delivery carries signatures with the old and the new secret.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

impl EndpointView {
    pub(super) fn of(e: &EndpointRecord, with_secret: bool) -> Self {
        Self {
            id: e.id.clone(),
            url: e.url.clone(),
            event_types: e.event_types.clone(),
            description: e.description.clone(),
            disabled: e.disabled,
            disabled_reason: e.disabled_reason.clone(),
            created_at: record_at(e.created_ms),
            recovery: e.recovery.as_ref().map(|r| RecoveryView {
                since: record_at(r.since_ms),
                until: record_at(r.until_ms),
                state: if r.finished_ms.is_some() { "done" } else { "running" },
                queued: r.queued,
                skipped: r.skipped,
                finished_at: r.finished_ms.and_then(record_at),
            }),
            secret: with_secret.then(|| e.secret.clone()),
        }
    }
}

/// Endpoints must be public in production: no loopback, private, link-local or shared
/// addresses, however they are written. Names are checked again when delivering (DNS).
pub(super) fn check_url(raw: &str, allow_private: bool) -> Result<(), ApiError> {
    let bad = || ApiError::invalid("url", "must be an absolute http(s) URL");
    if raw.len() > 2048 {
        return Err(bad());
    }
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad());
    }
    let host = url.host().ok_or_else(bad)?;
    if allow_private {
        return Ok(());
    }
    let private = match host {
        url::Host::Ipv4(ip) => !crate::webhooks::is_public(std::net::IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => !crate::webhooks::is_public(std::net::IpAddr::V6(ip)),
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") || !d.contains('.'),
    };
    if private {
        return Err(ApiError::invalid("url", "must be a public address"));
    }
    Ok(())
}

/// A subscription names known types, at least one (leaving it out means every type).
pub(super) fn check_event_types(types: &[String]) -> Result<(), ApiError> {
    if types.is_empty() {
        return Err(ApiError::invalid("event_types", "leave it out to receive every type"));
    }
    if let Some(bad) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        return Err(ApiError::invalid("event_types", format!("unknown event type {bad:?}")));
    }
    Ok(())
}

pub(super) fn check_description(d: &str) -> Result<(), ApiError> {
    if d.chars().count() > 200 {
        return Err(ApiError::invalid("description", "at most 200 characters"));
    }
    Ok(())
}

fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Create an endpoint; the answer holds its `whsec_` secret.
#[utoipa::path(
    post, path = "/v1/webhook-endpoints", tag = "webhooks", operation_id = "create_webhook_endpoint",
    request_body = CreateEndpoint,
    responses((status = 201, body = EndpointView), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    ApiJson(body, _): ApiJson<CreateEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let cfg = &state.settings.webhooks;
    check_url(&body.url, cfg.allow_private_targets)?;
    if let Some(types) = &body.event_types {
        check_event_types(types)?;
    }
    if let Some(d) = &body.description {
        check_description(d)?;
    }
    let record = EndpointRecord {
        id: format!("ep_{}", hex::encode(&crate::domain::ServerKey::new_seed()[..12])),
        url: body.url.into_string(),
        event_types: body.event_types,
        description: body.description.map(PlainText::into_string),
        secret: WebhookSecret::generate().expose().to_string(),
        previous_secret: None,
        previous_until_ms: None,
        disabled: false,
        disabled_reason: None,
        created_ms: AppState::now_ms(),
        recovery: None,
    };
    if !state.store.endpoint_create(&tenant.id, &record, cfg.max_endpoints_per_tenant).await? {
        return Err(ApiError::invalid("url", format!("at most {} endpoints per tenant", cfg.max_endpoints_per_tenant)));
    }
    tracing::info!(endpoint = %record.id, tenant = %tenant.id, "webhook endpoint created");
    Ok(HttpResponse::Created().json(EndpointView::of(&record, true)))
}

/// The tenant's endpoints, without secrets.
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", operation_id = "list_webhook_endpoints",
    responses((status = 200, body = Vec<EndpointView>)), security(("api_key" = [])))]
pub async fn list(state: web::Data<AppState>, AuthTenant(tenant): AuthTenant) -> Result<HttpResponse, ApiError> {
    let list: Vec<EndpointView> =
        state.store.endpoints(&tenant.id).await?.iter().map(|e| EndpointView::of(e, false)).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// One endpoint, without its secret.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", operation_id = "get_webhook_endpoint", params(("id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = state.store.endpoint(&tenant.id, &path).await?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(EndpointView::of(&e, false)))
}

/// Delete an endpoint; its pending deliveries are dropped.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", operation_id = "delete_webhook_endpoint", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.store.endpoint_delete(&tenant.id, &path).await? {
        return Err(not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// New secret; the old one keeps signing for `webhooks.rotation_overlap_seconds`.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks",
    operation_id = "rotate_webhook_endpoint_secret", params(("id" = String, Path)),
    responses((status = 200, body = RotatedSecret), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let fresh = WebhookSecret::generate().expose().to_string();
    let until = AppState::now_ms() + (state.settings.webhooks.rotation_overlap_seconds as i64) * 1000;
    let e = state
        .store
        .endpoint_update(&tenant.id, &path, |e| {
            e.previous_secret = Some(std::mem::replace(&mut e.secret, fresh.clone()));
            e.previous_until_ms = Some(until);
        })
        .await?
        .done()
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(RotatedSecret {
        id: e.id,
        secret: e.secret,
        previous_secret_valid_until: e.previous_until_ms.and_then(record_at),
    }))
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        for bad in
            ["http://127.0.0.1/x", "https://localhost/x", "http://10.0.0.5/", "http://[::1]:8080/", "http://intranet/"]
        {
            assert!(check_url(bad, false).is_err(), "{bad}");
            assert!(check_url(bad, true).is_ok(), "{bad}");
        }
        assert!(check_url("https://consent.example.nl/hooks", false).is_ok());
        assert!(check_url("ftp://example.nl/", true).is_err());
        assert!(check_url("https://", true).is_err());
    }
}
