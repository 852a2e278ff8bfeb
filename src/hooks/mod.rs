//! Delivery reports from providers: `POST /hooks/sms/{cm|twilio}` and `/hooks/whatsapp`.
//! Each report is authenticated the provider's way, then recorded on the verification; a
//! permanent failure moves a pending verification to `failed` (`verification.failed`).

mod cm;
mod twilio;
mod whatsapp;

use crate::{domain::VerificationId, state::AppState, store::attempts};
use actix_web::{HttpResponse, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hooks/sms/cm", web::post().to(cm::report))
        .route("/hooks/sms/twilio", web::post().to(twilio::report))
        .route("/hooks/whatsapp", web::post().to(whatsapp::report))
        .route("/hooks/whatsapp", web::get().to(whatsapp::handshake));
}

/// Records one provider report about the message `reference` (when the provider names it).
/// `status` is `delivered`, `failed` or something to keep only.
async fn record(
    state: &AppState,
    provider: &str,
    reference: Option<&str>,
    vid: &str,
    status: &str,
    error: Option<String>,
) -> HttpResponse {
    let Some(id) = VerificationId::parse(vid, state.settings.redis.partitions) else {
        // Not ours, or long gone: acknowledge so the provider stops retrying.
        return HttpResponse::Ok().finish();
    };
    let delivery = match status {
        "delivered" => "delivered",
        "failed" => "failed",
        _ => "sent",
    };
    let now = AppState::now_ms();
    let line = attempts::encode(now, provider, &format!("report:{status}"), None, error.as_deref());
    match state.store.record_delivery_state(&id, delivery, &[line], now, Some((provider, reference))).await {
        Ok(_) => {
            tracing::info!(verification = %id, provider, status, "delivery report");
            HttpResponse::Ok().finish()
        }
        // The provider retries a non-2xx answer: nothing is lost while Redis is away.
        Err(e) => {
            tracing::warn!(error = %e, "delivery report not recorded");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
