//! The marketer API and the operations endpoints. Handlers change state and enqueue work;
//! they never send.

mod auth;
mod batch_items;
mod batches;
mod call_outcome;
mod call_rules;
mod consents;
mod events;
mod openapi;
mod ops;
mod proof;
mod proof_page;
mod start;
mod start_request;
mod verifications;
mod view;
mod webhook_endpoint_edit;
mod webhook_endpoints;
mod withdrawals;

use actix_web::web;

pub use auth::AuthTenant;
pub use openapi::{ApiDoc, document, served};
pub use start_request::StartRequest;
pub use view::{CheckResponse, VerificationView};

use crate::{domain::PlainText, error::ApiError};

/// The one free-text rule ([`PlainText`]) for a text kept as a `String`: a 422 naming `field`.
pub(crate) fn plain_text(field: &str, value: &str) -> Result<(), ApiError> {
    PlainText::check(value).map_err(|e| ApiError::invalid(field, e.to_string()))
}

/// Marketer routes under `/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // The hottest route first: the router tries dynamic paths in order, each with a regex.
    cfg.route("/v1/verifications/{id}/check", web::post().to(verifications::check))
        .route("/v1/verifications", web::post().to(verifications::start))
        .route("/v1/verifications/batch", web::post().to(batches::create))
        .route("/v1/batches/{id}", web::get().to(batches::get))
        .route("/v1/batches/{id}/items", web::get().to(batch_items::list))
        .route("/v1/consents/proof", web::get().to(proof::get))
        .route("/v1/consents/lookup", web::post().to(consents::lookup_many))
        .route("/v1/consents", web::get().to(consents::lookup))
        .route("/v1/verifications/{id}", web::get().to(verifications::get))
        .route("/v1/verifications/{id}/resend", web::post().to(verifications::resend))
        .route("/v1/verifications/{id}/cancel", web::post().to(verifications::cancel))
        .route("/v1/verifications/{id}/call-outcome", web::post().to(call_outcome::report))
        .route("/v1/webhook-endpoints", web::post().to(webhook_endpoints::create))
        .route("/v1/webhook-endpoints", web::get().to(webhook_endpoints::list))
        .route("/v1/webhook-endpoints/{id}", web::get().to(webhook_endpoints::get))
        .route("/v1/webhook-endpoints/{id}", web::delete().to(webhook_endpoints::delete))
        .route("/v1/webhook-endpoints/{id}", web::patch().to(webhook_endpoint_edit::update))
        .route("/v1/webhook-endpoints/{id}/test", web::post().to(webhook_endpoint_edit::test))
        .route("/v1/webhook-endpoints/{id}/recover", web::post().to(webhook_endpoint_edit::recover))
        .route("/v1/webhook-endpoints/{id}/rotate-secret", web::post().to(webhook_endpoints::rotate_secret))
        .route("/v1/events", web::get().to(events::list))
        .route("/v1/events/{id}", web::get().to(events::get))
        .route("/v1/events/{id}/deliveries", web::get().to(events::deliveries))
        .route("/v1/events/{id}/redeliver", web::post().to(events::redeliver))
        .route("/v1/withdrawals", web::post().to(withdrawals::create));
}

/// Health, metrics, the OpenAPI document and, in dev, the outbox.
pub fn ops_routes(cfg: &mut web::ServiceConfig, dev_outbox: bool) {
    cfg.route("/health/live", web::get().to(ops::live))
        .route("/health/ready", web::get().to(ops::ready))
        .route("/metrics", web::get().to(ops::metrics))
        .route("/openapi.json", web::get().to(ops::openapi))
        .route("/.well-known/jwks.json", web::get().to(ops::jwks));
    if dev_outbox {
        cfg.route("/dev/outbox", web::get().to(ops::outbox));
    }
}
