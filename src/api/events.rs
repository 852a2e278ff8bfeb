//! `/v1/events`: what was sent to the tenant's endpoints, every attempt, and replay.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{Partition, WebhookState},
    error::{ApiError, Problem},
    evidence::record_at,
    state::AppState,
    store::{StoredMessage, parse_event_id},
};

use super::AuthTenant;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryState {
    pub endpoint_id: String,
    pub state: WebhookState,
    pub attempts: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: Option<DateTime<Utc>>,
    pub deliveries: Vec<DeliveryState>,
    /// The body as delivered; only on `GET /v1/events/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub data: Vec<EventView>,
}

/// One delivery attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub endpoint_id: String,
    pub attempt: u32,
    pub at: String,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub outcome: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptList {
    pub data: Vec<AttemptView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redelivery {
    pub id: String,
    pub queued: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

fn view(id: &str, m: StoredMessage, with_payload: bool) -> EventView {
    EventView {
        id: id.to_string(),
        event_type: m.event_type,
        created_at: record_at(m.at_ms),
        deliveries: m
            .deliveries
            .into_iter()
            .map(|(endpoint_id, state, attempts)| DeliveryState { endpoint_id, state, attempts })
            .collect(),
        payload: with_payload.then(|| serde_json::from_str(&m.body).unwrap_or(serde_json::Value::Null)),
    }
}

/// The message behind an event id, if it is this tenant's.
async fn own(state: &AppState, tenant: &str, id: &str) -> Result<(Partition, StoredMessage), ApiError> {
    let p = parse_event_id(id, state.settings.redis.partitions).ok_or(ApiError::NotFound)?;
    match state.store.message(p, id).await? {
        Some(m) if m.tenant == tenant => Ok((p, m)),
        _ => Err(ApiError::NotFound),
    }
}

/// The newest events, newest first.
#[utoipa::path(get, path = "/v1/events", tag = "webhooks", operation_id = "list_events", params(ListQuery),
    responses((status = 200, body = EventList)), security(("api_key" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 200"));
    }
    let mut data = Vec::new();
    for (id, _) in state.store.tenant_event_ids(&tenant.id, limit).await? {
        if let Some(p) = parse_event_id(&id, state.settings.redis.partitions)
            && let Some(m) = state.store.message(p, &id).await?
        {
            data.push(view(&id, m, false));
        }
    }
    Ok(HttpResponse::Ok().json(EventList { data }))
}

/// One event with the payload as delivered.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "webhooks", operation_id = "get_event", params(("id" = String, Path)),
    responses((status = 200, body = EventView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (_, m) = own(&state, &tenant.id, &path).await?;
    Ok(HttpResponse::Ok().json(view(&path, m, true)))
}

/// Every attempt, newest first: status code, latency and error.
#[utoipa::path(get, path = "/v1/events/{id}/deliveries", tag = "webhooks", operation_id = "list_event_deliveries", params(("id" = String, Path)),
    responses((status = 200, body = AttemptList), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn deliveries(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (p, _) = own(&state, &tenant.id, &path).await?;
    let data = state
        .store
        .attempt_log(p, &path)
        .await?
        .iter()
        .filter_map(|j| serde_json::from_str::<AttemptView>(j).ok())
        .collect();
    Ok(HttpResponse::Ok().json(AttemptList { data }))
}

/// Send the event again to every endpoint it went to, on a fresh retry schedule.
#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "webhooks", operation_id = "redeliver_event", params(("id" = String, Path)),
    responses((status = 202, body = Redelivery), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn redeliver(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (p, _) = own(&state, &tenant.id, &path).await?;
    let queued = state.store.redeliver(p, &path).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Accepted().json(Redelivery { id: path.into_inner(), queued }))
}
