//! Delivery reports from providers: `POST /hooks/sms/{cm|twilio}` and `/hooks/whatsapp`.
//! Each report is authenticated the provider's way, then recorded on the verification; a
//! permanent failure moves a pending verification to `failed` (`verification.failed`).

mod cm;
mod twilio;
mod whatsapp;

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::{domain::VerificationId, state::AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hooks/sms/cm", web::post().to(cm::report))
        .route("/hooks/sms/twilio", web::post().to(twilio::report))
        .route("/hooks/whatsapp", web::post().to(whatsapp::report))
        .route("/hooks/whatsapp", web::get().to(whatsapp::handshake));
}

#[derive(Serialize)]
struct ReportAttempt<'a> {
    provider: &'a str,
    at: String,
    outcome: String,
    error: Option<String>,
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
    let attempt = ReportAttempt {
        provider,
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        outcome: format!("report:{status}"),
        error,
    };
    let json = serde_json::to_string(&attempt).unwrap_or_default();
    match state
        .store
        .record_delivery_state(&id, delivery, &[json], AppState::now_ms(), Some((provider, reference)))
        .await
    {
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
