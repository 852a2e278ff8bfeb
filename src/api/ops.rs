//! Liveness, readiness, metrics, the OpenAPI document and the dev outbox.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::OpenApi;

use crate::{error::ApiError, state::AppState};

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "operations", responses((status = 200)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Redis answers.
#[utoipa::path(get, path = "/health/ready", tag = "operations", responses((status = 200), (status = 503)))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.ping().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok"})))
}

/// The public keys that verify receipts.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations", responses((status = 200)))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(state.signer.jwks())
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::ApiDoc::openapi())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    to: Option<String>,
}

/// Dev mode only: messages the console transport "sent", newest first.
#[utoipa::path(
    get, path = "/dev/outbox", tag = "operations",
    params(("to" = Option<String>, Query, description = "Only messages to this destination (E.164 or email)")),
    responses((status = 200, body = Vec<crate::store::OutboxMessage>))
)]
pub async fn outbox(state: web::Data<AppState>, q: web::Query<OutboxQuery>) -> Result<HttpResponse, ApiError> {
    let list = state.store.outbox_list(q.to.as_deref()).await?;
    Ok(HttpResponse::Ok().json(list))
}
