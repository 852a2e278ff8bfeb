//! Twilio status callbacks: a form POST signed with `X-Twilio-Signature` over our own URL.

use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use crate::{channels::sms::twilio_signature, config::SmsProviderKind, state::AppState};

pub async fn report(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    // Twilio signs the URL it called: ours, as published, with the query it was given.
    let url = format!("{}{}", state.settings.http.public_base_url, req.uri());
    let given = req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let tokens =
        state.settings.channels.sms.iter().flat_map(|s| &s.providers).filter(|p| p.kind == SmsProviderKind::Twilio);
    let signed = tokens
        .into_iter()
        .any(|p| bool::from(twilio_signature(&p.auth_token, &url, &params).as_bytes().ct_eq(given.as_bytes())));
    if !signed {
        return HttpResponse::Forbidden().finish();
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let vid = req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("vid="))).unwrap_or("");
    let sid = get("MessageSid");
    let status = match get("MessageStatus").as_deref() {
        Some("delivered") => "delivered",
        Some("failed") | Some("undelivered") => "failed",
        Some(other) => return super::record(&state, "twilio", sid.as_deref(), None, vid, other, None).await,
        None => return HttpResponse::BadRequest().finish(),
    };
    let error = get("ErrorCode").map(|c| format!("twilio {c}"));
    super::record(&state, "twilio", sid.as_deref(), None, vid, status, error).await
}
