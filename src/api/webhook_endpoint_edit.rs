//! Changing an endpoint in place (`PATCH`), and checking a receiver with a signed example
//! event (`POST .../test`). The secret never changes here: rotation has its own route.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::PlainText,
    error::{ApiError, Problem},
    http::ApiJson,
    state::AppState,
    store::Recovery,
    webhooks::{EVENT_TYPES, example_body},
};

use super::{
    AuthTenant,
    webhook_endpoints::{EndpointView, check_description, check_event_types, check_url},
};

/// A field that may be left out (unchanged), `null` (cleared) or given.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    /// A new address, checked as on create (public, http(s)).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2048)]
    pub url: Option<PlainText>,
    /// New subscriptions; `null` subscribes to every type. Left out: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, nullable = true)]
    pub event_types: Option<Option<Vec<String>>>,
    /// `null` clears it. Left out: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = true, max_length = 200)]
    pub description: Option<Option<PlainText>>,
    /// `true` re-enables an endpoint that was disabled (after a `410 Gone`): delivery resumes
    /// with the next event. `false` pauses it.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Change an endpoint's address, subscriptions, description or whether it receives events.
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", operation_id = "update_webhook_endpoint",
    params(("id" = String, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
    ApiJson(body, _): ApiJson<UpdateEndpoint>,
) -> Result<HttpResponse, ApiError> {
    if let Some(url) = &body.url {
        check_url(url, state.settings.webhooks.allow_private_targets)?;
    }
    if let Some(Some(types)) = &body.event_types {
        check_event_types(types)?;
    }
    if let Some(Some(d)) = &body.description {
        check_description(d)?;
    }
    let e = state
        .store
        .endpoint_update(&tenant.id, &path, |e| {
            if let Some(url) = &body.url {
                e.url = url.to_string();
            }
            if let Some(types) = &body.event_types {
                e.event_types = types.clone();
            }
            if let Some(d) = &body.description {
                e.description = d.as_ref().map(|d| d.to_string());
            }
            match body.enabled {
                Some(true) => {
                    e.disabled = false;
                    e.disabled_reason = None;
                }
                Some(false) => {
                    e.disabled = true;
                    e.disabled_reason = Some("disabled through the API".into());
                }
                None => {}
            }
        })
        .await?
        .done()
        .ok_or(ApiError::NotFound)?;
    tracing::info!(endpoint = %e.id, tenant = %tenant.id, "webhook endpoint updated");
    Ok(HttpResponse::Ok().json(EndpointView::of(&e, false)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    /// Send again every event since this moment (RFC 3339) that the endpoint does not have.
    pub since: chrono::DateTime<chrono::Utc>,
}

/// Send the endpoint again every event since `since` that it does not have (by its state, not
/// by guessing): after an outage, say. It runs in the background, a slice at a time beside new
/// deliveries; `recovery` on the endpoint shows its progress. The same `since` again changes
/// nothing; another one starts over from there. Each event keeps its `webhook-id`.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/recover", tag = "webhooks", operation_id = "recover_webhook_endpoint",
    params(("id" = String, Path)), request_body = RecoverRequest,
    responses((status = 202, body = EndpointView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn recover(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
    ApiJson(body, _): ApiJson<RecoverRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = AppState::now_ms();
    let since_ms = body.since.timestamp_millis();
    if since_ms >= now {
        return Err(ApiError::invalid("since", "must lie in the past"));
    }
    let e = state.store.endpoint(&tenant.id, &path).await?.ok_or(ApiError::NotFound)?;
    if e.disabled {
        return Err(ApiError::invalid("enabled", "re-enable the endpoint first (PATCH with \"enabled\": true)"));
    }
    let fresh =
        Recovery { since_ms, until_ms: now, partition: 0, after: None, queued: 0, skipped: 0, finished_ms: None };
    let e = state
        .store
        .endpoint_update(&tenant.id, &path, |x| {
            if x.recovery.as_ref().is_none_or(|r| r.since_ms != since_ms) {
                x.recovery = Some(fresh.clone());
            }
        })
        .await?
        .done()
        .ok_or(ApiError::NotFound)?;
    tracing::info!(endpoint = %e.id, tenant = %tenant.id, "webhook endpoint recovery asked for");
    Ok(HttpResponse::Accepted().json(EndpointView::of(&e, false)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestEvent {
    /// The type of the example event; `consent.confirmed` when left out.
    #[serde(default)]
    #[schema(value_type = Option<super::webhook_endpoints::EventType>)]
    pub event_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestDelivery {
    /// The example's `webhook-id` (`msg_test_...`): no event of that id exists.
    pub webhook_id: String,
    pub event_type: String,
    /// The receiver answered 2xx.
    pub delivered: bool,
    pub status_code: Option<u16>,
    /// Why not, when it was not delivered (`HTTP 500`, `timeout`, ...).
    pub error: Option<String>,
    pub latency_ms: u64,
}

/// Send one signed example event (marked `"test": true`) to the endpoint now, and say what it
/// answered. Nothing is recorded or retried, and the endpoint's state does not change.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/test", tag = "webhooks", operation_id = "test_webhook_endpoint",
    params(("id" = String, Path)), request_body = TestEvent,
    responses((status = 200, body = TestDelivery), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn test(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
    ApiJson(body, _): ApiJson<TestEvent>,
) -> Result<HttpResponse, ApiError> {
    let event_type = body.event_type.unwrap_or_else(|| "consent.confirmed".into());
    if !EVENT_TYPES.contains(&event_type.as_str()) {
        return Err(ApiError::invalid("event_type", format!("unknown event type {event_type:?}")));
    }
    let e = state.store.endpoint(&tenant.id, &path).await?.ok_or(ApiError::NotFound)?;
    let http = crate::webhooks::client(&state.settings.webhooks).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let webhook_id = format!("msg_test_{}", hex::encode(&crate::domain::ServerKey::new_seed()[..12]));
    let body = serde_json::to_vec(&example_body(&event_type, chrono::Utc::now())).unwrap_or_default();
    let started = std::time::Instant::now();
    let (status_code, error) = match crate::webhooks::signed_post(&http, &e, &webhook_id, &body).send().await {
        Ok(r) => {
            (Some(r.status().as_u16()), (!r.status().is_success()).then(|| format!("HTTP {}", r.status().as_u16())))
        }
        Err(err) => (None, Some(if err.is_timeout() { "timeout" } else { "connection failed" }.to_string())),
    };
    tracing::info!(endpoint = %e.id, tenant = %tenant.id, status = ?status_code, "webhook endpoint tested");
    Ok(HttpResponse::Ok().json(TestDelivery {
        webhook_id,
        event_type,
        delivered: error.is_none(),
        status_code,
        error,
        latency_ms: started.elapsed().as_millis() as u64,
    }))
}
