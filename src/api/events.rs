//! `/v1/events`: what was sent to the tenant's endpoints, every attempt, and replay.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use futures_util::future::try_join_all;

use crate::{
    domain::{Partition, WebhookState},
    error::{ApiError, Problem},
    evidence::record_at,
    state::AppState,
    store::{EventPageQuery, StoredMessage, parse_event_id},
    webhooks::EVENT_TYPES,
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
    /// Pass as `cursor` for the next page; `null` when this page is the last.
    pub next_cursor: Option<String>,
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
    /// `next_cursor` of the page before; leave it out for the first page.
    pub cursor: Option<String>,
    /// Events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Events before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(value_type = Option<super::webhook_endpoints::EventType>)]
    pub event_type: Option<String>,
    /// `desc` (newest first, the default) or `asc` (oldest first: catching up after downtime).
    #[param(value_type = Option<String>, pattern = "^(asc|desc)$")]
    pub order: Option<String>,
}

/// Where a page ended: its last event's time and id, opaque to the client.
fn encode_cursor(at_ms: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at_ms}:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (at, id) = raw.split_once(':')?;
    Some((at.parse().ok()?, id.to_string()))
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

/// The most candidate pages one request reads when a type filter leaves pages empty: the
/// answer then ends early, with a cursor that continues where the reading stopped.
const MAX_SCANS: usize = 20;

/// The tenant's events, newest first (or oldest first), a page at a time. Every event still
/// kept can be reached by following `next_cursor` until it is `null`; the order is by time,
/// then id, and the same event never appears on two pages.
#[utoipa::path(get, path = "/v1/events", tag = "webhooks", operation_id = "list_events", params(ListQuery),
    responses((status = 200, body = EventList), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 200"));
    }
    let ascending = match q.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(ApiError::invalid("order", "asc or desc")),
    };
    if let Some(t) = &q.event_type
        && !EVENT_TYPES.contains(&t.as_str())
    {
        return Err(ApiError::invalid("type", format!("unknown event type {t:?}")));
    }
    let after = match &q.cursor {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| ApiError::invalid("cursor", "not a cursor this route gave"))?),
        None => None,
    };
    let mut page = EventPageQuery {
        since_ms: q.since.map(|t| t.timestamp_millis()),
        until_ms: q.until.map(|t| t.timestamp_millis()),
        ascending,
        after,
        limit,
        partition: None,
    };
    let partitions = state.settings.redis.partitions;
    let mut data = Vec::new();
    let mut next = None;
    for _ in 0..MAX_SCANS {
        let ids = state.store.tenant_event_page(&tenant.id, &page).await?;
        let full = ids.len() == page.limit;
        let messages = try_join_all(ids.iter().map(|(id, _)| async {
            match parse_event_id(id, partitions) {
                Some(p) => state.store.message(p, id).await,
                None => Ok(None),
            }
        }))
        .await?;
        for ((id, at), m) in ids.iter().zip(messages) {
            let Some(m) = m else { continue };
            if q.event_type.as_ref().is_none_or(|t| *t == m.event_type) && data.len() < limit {
                data.push(view(id, m, false));
            }
            next = Some((*at, id.clone()));
            if data.len() == limit {
                break;
            }
        }
        if !full || data.len() == limit {
            // A short read means nothing is left; a full page may have more behind it.
            if !full && data.len() < limit {
                next = None;
            }
            break;
        }
        page.after = next.clone();
    }
    Ok(HttpResponse::Ok().json(EventList { data, next_cursor: next.map(|(at, id)| encode_cursor(at, &id)) }))
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
