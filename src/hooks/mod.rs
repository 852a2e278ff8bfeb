//! Delivery reports from providers: `POST /hooks/sms/{cm|twilio}` and `/hooks/whatsapp`.
//! Each report is authenticated the provider's way, then recorded on the verification when it
//! settles the message last sent; a permanent failure moves a pending verification to `failed`
//! (`verification.failed`).

mod cm;
mod twilio;
mod whatsapp;

use crate::{
    domain::{MessageState, VerificationId},
    state::AppState,
    store::{Recorded, Report, attempts},
};
use actix_web::{HttpResponse, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hooks/sms/cm", web::post().to(cm::report))
        .route("/hooks/sms/twilio", web::post().to(twilio::report))
        .route("/hooks/whatsapp", web::post().to(whatsapp::report))
        .route("/hooks/whatsapp", web::get().to(whatsapp::handshake));
}

/// Records one provider report about the message `reference`: the provider's id of one send
/// (Twilio's MessageSid, WhatsApp's message id) or, for CM.com, our reference of one send.
/// `status` is `delivered`, `failed`, or a step on the way (queued, accepted, sent ...), which is
/// acknowledged and not recorded: it decides nothing, and a line for it could be repeated at will.
/// Only the first verdict about the message last sent is recorded (`send_failed.lua`): a report
/// about an earlier send, a second verdict, a duplicate or a replay is acknowledged and changes
/// nothing, and so does a report that names no message.
async fn record(
    state: &AppState,
    provider: &str,
    reference: Option<&str>,
    send_number: Option<u32>,
    vid: &str,
    status: &str,
    error: Option<String>,
) -> HttpResponse {
    let Some(id) = VerificationId::parse(vid, state.settings.redis.partitions) else {
        // Not ours, or long gone: acknowledge so the provider stops retrying.
        return HttpResponse::Ok().finish();
    };
    let delivery = match status {
        "delivered" => MessageState::Delivered,
        "failed" => MessageState::Failed,
        _ => return HttpResponse::Ok().finish(),
    };
    let Some(reference) = reference.filter(|r| !r.is_empty()) else {
        return HttpResponse::Ok().finish();
    };
    let now = AppState::now_ms();
    let line = attempts::encode(now, provider, &format!("report:{status}"), None, error.as_deref());
    let report = Report { provider, reference, send_number };
    match state.store.record_delivery_state(&id, delivery, &[line], now, Some(&report)).await {
        // Before the worker recorded the send it settles: the provider retries a non-2xx answer.
        Ok(Recorded::TooEarly) => {
            tracing::info!(verification = %id, provider, status, "delivery report before its send was recorded");
            HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "5")).finish()
        }
        Ok(recorded) => {
            tracing::info!(verification = %id, provider, status, recorded = ?recorded, "delivery report");
            HttpResponse::Ok().finish()
        }
        // The provider retries a non-2xx answer: nothing is lost while Redis is away.
        Err(e) => {
            tracing::warn!(error = %e, "delivery report not recorded");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
