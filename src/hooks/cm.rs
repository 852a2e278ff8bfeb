//! CM.com status reports (JSON variant): `{"messages":{"msg":{"reference","to","status":{"code",
//! "errorCode","errorDescription"}}}}`. Codes: 0 accepted, 1 rejected, 2 delivered, 3 failed.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::{
    channels::sms::{cm_send_of, cm_verification_of},
    state::AppState,
};

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Report {
    messages: Messages,
}

#[derive(Debug, Deserialize)]
struct Messages {
    msg: Msg,
}

#[derive(Debug, Deserialize)]
struct Msg {
    #[serde(default)]
    reference: String,
    status: Status,
}

#[derive(Debug, Deserialize)]
struct Status {
    code: String,
    #[serde(rename = "errorCode", default)]
    error_code: Option<String>,
    #[serde(rename = "errorDescription", default)]
    error_description: Option<String>,
}

pub async fn report(state: web::Data<AppState>, q: web::Query<TokenQuery>, body: web::Bytes) -> HttpResponse {
    let expected = state.settings.channels.sms.as_ref().map(|s| s.callback_token.as_str()).unwrap_or("");
    let given = q.token.as_deref().unwrap_or("");
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return HttpResponse::Forbidden().finish();
    }
    let Ok(r) = serde_json::from_slice::<Report>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let m = r.messages.msg;
    let status = match m.status.code.as_str() {
        "2" => "delivered",
        "1" | "3" => "failed",
        _ => "accepted",
    };
    let error = m.status.error_code.map(|c| format!("{c}: {}", m.status.error_description.unwrap_or_default()));
    // CM echoes our reference, which names the verification and the send (`cm_reference`).
    let Some(vid) = cm_verification_of(&m.reference) else {
        // Not a reference of ours: acknowledge so CM stops retrying.
        return HttpResponse::Ok().finish();
    };
    super::record(&state, "cm", Some(m.reference.as_str()), cm_send_of(&m.reference), &vid, status, error).await
}
