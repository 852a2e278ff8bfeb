//! WhatsApp Cloud API status webhooks, signed with `X-Hub-Signature-256: sha256=<hex>` (HMAC-SHA256
//! of the raw body with the app secret), and Meta's subscription handshake.

use actix_web::{HttpRequest, HttpResponse, web};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct Webhook {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    value: Value,
}

#[derive(Debug, Deserialize)]
struct Value {
    #[serde(default)]
    statuses: Vec<StatusUpdate>,
}

#[derive(Debug, Deserialize)]
struct StatusUpdate {
    #[serde(default)]
    id: Option<String>,
    status: String,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

pub async fn report(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(cfg) = state.settings.channels.whatsapp.as_ref().filter(|w| !w.app_secret.is_empty()) else {
        return HttpResponse::Forbidden().finish();
    };
    let given = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .unwrap_or("");
    let mut mac = Hmac::<Sha256>::new_from_slice(cfg.app_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(&body);
    let expected = hex::encode(mac.finalize().into_bytes());
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return HttpResponse::Forbidden().finish();
    }
    let Ok(hook) = serde_json::from_slice::<Webhook>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    for update in hook.entry.into_iter().flat_map(|e| e.changes).flat_map(|c| c.value.statuses) {
        let Some(vid) = update.biz_opaque_callback_data else { continue };
        let status = match update.status.as_str() {
            "delivered" | "read" => "delivered",
            "failed" => "failed",
            other => other,
        };
        let error = update.errors.first().map(|e| format!("whatsapp {}: {}", e["code"], e["title"]));
        let resp = super::record(&state, "whatsapp", update.id.as_deref(), None, &vid, status, error).await;
        if !resp.status().is_success() {
            return resp;
        }
    }
    HttpResponse::Ok().finish()
}

#[derive(Debug, Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

pub async fn handshake(state: web::Data<AppState>, q: web::Query<Handshake>) -> HttpResponse {
    let expected = state.settings.channels.whatsapp.as_ref().map(|w| w.verify_token.as_str()).unwrap_or("");
    let given = q.verify_token.as_deref().unwrap_or("");
    if q.mode.as_deref() == Some("subscribe")
        && !expected.is_empty()
        && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
    {
        return HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(q.challenge.clone().unwrap_or_default());
    }
    HttpResponse::Forbidden().finish()
}
