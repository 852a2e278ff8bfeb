//! An example consent store: receives optin-verify webhooks, checks them, and keeps a record.
//!
//! ```sh
//! WEBHOOK_SECRET=whsec_... OPTIN_BASE_URL=http://127.0.0.1:8080 \
//!   cargo run --example consent_store            # listens on 127.0.0.1:9000
//! ```
//! Register `http://127.0.0.1:9000/webhooks` with `POST /v1/webhook-endpoints` first; the
//! answer holds the secret.
//!
//! What an integrator must do, in order:
//! 1. Verify the Standard Webhooks signature over the raw body (any library of the spec works;
//!    this uses `standardwebhooks`). It also refuses timestamps more than 5 minutes off.
//! 2. Deduplicate on `webhook-id`: delivery is at least once, so the same event may arrive
//!    twice. Here a set in memory; in production a unique key in your database, written in the
//!    same transaction as the consent record.
//! 3. For `consent.confirmed`, verify the `receipt` (a compact JWS, EdDSA) against the keys
//!    at `/.well-known/jwks.json`, and keep it: it is the proof.
//! 4. Answer 2xx quickly. Any other answer is retried; `410 Gone` disables the endpoint.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde_json::Value;

struct Store {
    webhook: standardwebhooks::Webhook,
    jwks_url: String,
    seen: Mutex<HashSet<String>>,
    http: reqwest::Client,
}

fn header_map(req: &HttpRequest) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in req.headers() {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(k.as_str().as_bytes()), http::HeaderValue::from_bytes(v.as_bytes()))
        {
            h.insert(name, value);
        }
    }
    h
}

/// Checks a receipt with the service's published keys only.
async fn verify_receipt(store: &Store, receipt: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(receipt).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("receipt has no kid")?;
    // Fetched per receipt for clarity; cache it, and refetch only for an unknown kid.
    let set: JwkSet = store
        .http
        .get(&store.jwks_url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let jwk = set.find(&kid).ok_or("unknown kid")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    Ok(jsonwebtoken::decode::<Value>(receipt, &key, &validation).map_err(|e| e.to_string())?.claims)
}

async fn receive(req: HttpRequest, body: web::Bytes, store: web::Data<Arc<Store>>) -> HttpResponse {
    if store.webhook.verify(&body, &header_map(&req)).is_err() {
        return HttpResponse::Unauthorized().finish();
    }
    let id = req.headers().get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if !store.seen.lock().expect("lock").insert(id.clone()) {
        return HttpResponse::NoContent().finish(); // a redelivery: already handled
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let kind = event["type"].as_str().unwrap_or("");
    let verification = event["data"]["verification_id"].as_str().unwrap_or("-");
    match kind {
        "consent.confirmed" => {
            let receipt = event["data"]["receipt"].as_str().unwrap_or("");
            match verify_receipt(&store, receipt).await {
                Ok(claims) => println!(
                    "{id} consent.confirmed {verification}: receipt {} valid, consent text sha256 {}",
                    claims["jti"], claims["evidence"]["notice"]["consent_text_sha256"]
                ),
                Err(e) => {
                    // Keep the event, flag the proof: do not call on an unproven consent.
                    println!("{id} consent.confirmed {verification}: RECEIPT INVALID ({e})");
                }
            }
        }
        "consent.withdrawn" => println!("{id} consent.withdrawn {verification}: stop calling this number now"),
        other => println!("{id} {other} {verification}"),
    }
    HttpResponse::NoContent().finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let secret = std::env::var("WEBHOOK_SECRET").expect("set WEBHOOK_SECRET to the endpoint's whsec_ secret");
    let base = std::env::var("OPTIN_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let bind = std::env::var("STORE_BIND").unwrap_or_else(|_| "127.0.0.1:9000".into());
    let store = Arc::new(Store {
        webhook: standardwebhooks::Webhook::new(&secret).expect("a whsec_ secret"),
        jwks_url: format!("{base}/.well-known/jwks.json"),
        seen: Mutex::new(HashSet::new()),
        http: reqwest::Client::new(),
    });
    println!("consent store listening on http://{bind}/webhooks");
    let data = web::Data::new(store);
    HttpServer::new(move || App::new().app_data(data.clone()).route("/webhooks", web::post().to(receive)))
        .bind(bind)?
        .run()
        .await
}
