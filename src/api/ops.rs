//! Liveness, readiness, metrics, the OpenAPI document and the dev outbox.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    error::ApiError,
    metrics::{NodeLabels, QueueLabels},
    state::AppState,
};

/// `{"status": "ok"}`.
#[derive(serde::Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: String,
}

/// `{"status": "ok", "version": "0.1.0"}`: ready, and which release answers.
#[derive(serde::Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ok")]
    status: String,
    /// The crate version of the running binary.
    #[schema(example = "0.1.0")]
    version: String,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "operations", operation_id = "get_liveness",
    responses((status = 200, body = Health)), security(()))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Redis answers.
#[utoipa::path(get, path = "/health/ready", tag = "operations", operation_id = "get_readiness",
    responses((status = 200, body = Readiness)), security(()))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.ping().await?;
    Ok(HttpResponse::Ok().json(Readiness { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() }))
}

/// The public keys that verify receipts.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations", operation_id = "get_jwks",
    responses((status = 200, description = "A JSON Web Key Set (RFC 7517) of Ed25519 keys", body = Object)), security(()))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(state.signer.jwks())
}

/// Prometheus text. Queue gauges, Redis memory and readiness are sampled from Redis now, so they are true
/// whichever instance is scraped; when Redis does not answer they keep their last value.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let m = &state.metrics;
    m.ready.set(i64::from(state.store.ping().await.is_ok()));
    match state.store.queue_stats(AppState::now_ms()).await {
        Ok(stats) => {
            for (queue, stat) in stats {
                let labels = QueueLabels { queue };
                m.queue_depth.get_or_create(&labels).set(stat.depth as i64);
                m.queue_oldest.get_or_create(&labels).set(stat.oldest_age_secs);
            }
        }
        Err(e) => tracing::warn!(error = %e, "queue stats unavailable for this scrape"),
    }
    match state.store.redis_nodes().await {
        Ok(redis) => {
            // A node gone after a failover must not keep its last value (and its alert).
            m.redis_used.clear();
            m.redis_max.clear();
            for n in redis.nodes {
                let labels = NodeLabels { node: n.node };
                m.redis_used.get_or_create(&labels).set(i64::try_from(n.used_memory).unwrap_or(i64::MAX));
                m.redis_max.get_or_create(&labels).set(i64::try_from(n.maxmemory).unwrap_or(i64::MAX));
            }
        }
        Err(e) => tracing::warn!(error = %e, "Redis memory unavailable for this scrape"),
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}

pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(super::served(&state.settings.http.public_base_url))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    to: Option<String>,
}

/// Dev mode only: messages the console transport "sent", newest first.
#[utoipa::path(
    get, path = "/dev/outbox", tag = "operations", operation_id = "list_dev_outbox", security(()),
    params(("to" = Option<String>, Query, description = "Only messages to this destination (E.164 or email)")),
    responses((status = 200, body = Vec<crate::store::OutboxMessage>))
)]
pub async fn outbox(state: web::Data<AppState>, q: web::Query<OutboxQuery>) -> Result<HttpResponse, ApiError> {
    let list = state.store.outbox_list(q.to.as_deref()).await?;
    Ok(HttpResponse::Ok().json(list))
}
