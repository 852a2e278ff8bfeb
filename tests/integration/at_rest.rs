//! Webhook endpoint secrets at rest: sealed in Redis, opened only with the server key, old
//! plain-text records sealed on first read, and rotation with the server key.

use std::{collections::HashMap, time::Duration};

use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::{
    harness::{TestApp, spawn_with},
    receiver::Receiver,
};

const OLD_KEY: &str = "test-server-key-0123456789abcdef0123456789";
const NEW_KEY: &str = "rotated-server-key-abcdef0123456789abcdef01";

/// The tenant's endpoint hash exactly as Redis holds it.
async fn raw_endpoints(app: &TestApp) -> HashMap<String, String> {
    app.redis().await.hgetall(app.store_keys().endpoints("acme")).await.unwrap()
}

/// A secret and its key material in every form it could be leaked in.
fn leaks(raw: &HashMap<String, String>, secret: &str) -> bool {
    let body = secret.trim_start_matches("whsec_");
    raw.values().any(|v| v.contains(secret) || v.contains(body))
}

/// Confirms one verification and says whether its webhook verified with `secret`.
async fn delivery_verifies(app: &TestApp, rx: &Receiver, secret: &str) -> bool {
    rx.trust("/store", secret);
    let id = app.confirmed_by_code().await;
    rx.wait_for("/store", "consent.confirmed", Some(&id), Duration::from_secs(10)).await.verified == Some(true)
}

#[tokio::test]
async fn redis_holds_no_plain_endpoint_secret_and_deliveries_still_verify() {
    let app = spawn_with(|_| {}).await;
    let rx = Receiver::start().await;
    let (ep, first) = app.endpoint(&rx.url("/store")).await;
    let r = app.post(&format!("/v1/webhook-endpoints/{ep}/rotate-secret"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 200);
    let second = r.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_string();
    let raw = raw_endpoints(&app).await;
    assert_eq!(raw.len(), 1);
    assert!(!leaks(&raw, &first), "the previous secret is in Redis: {raw:?}");
    assert!(!leaks(&raw, &second), "the current secret is in Redis: {raw:?}");
    let stored: Value = serde_json::from_str(&raw[&ep]).unwrap();
    assert!(stored["secret"].as_str().unwrap().starts_with("sealed:v1:"));
    assert!(stored["previous_secret"].as_str().unwrap().starts_with("sealed:v1:"));
    assert!(delivery_verifies(&app, &rx, &second).await);
}

#[tokio::test]
async fn a_plain_text_record_from_before_encryption_is_sealed_on_first_read() {
    let app = spawn_with(|_| {}).await;
    let rx = Receiver::start().await;
    let (ep, secret) = app.endpoint(&rx.url("/store")).await;
    // Write the record back the way earlier versions stored it.
    let key = app.store_keys().endpoints("acme");
    let mut stored: Value = serde_json::from_str(&raw_endpoints(&app).await[&ep]).unwrap();
    stored["secret"] = json!(secret);
    let _: () = app.redis().await.hset(&key, &ep, stored.to_string()).await.unwrap();
    assert!(leaks(&raw_endpoints(&app).await, &secret), "control: the plain record is in place");
    let (status, _) = app.get_json("/v1/webhook-endpoints").await;
    assert_eq!(status, 200);
    assert!(!leaks(&raw_endpoints(&app).await, &secret), "the read sealed it");
    assert!(delivery_verifies(&app, &rx, &secret).await, "the secret survived the migration");
}

#[tokio::test]
async fn a_server_key_rotation_reseals_endpoint_secrets_under_the_new_key() {
    let before = spawn_with(|_| {}).await;
    let (ep, secret) = before.endpoint("https://store.example/hook").await;
    let sealed_before = raw_endpoints(&before).await[&ep].clone();
    let prefix = before.prefix.clone();
    let after = spawn_with(|s| {
        s.redis.key_prefix = prefix.clone();
        s.secrets.server_key = NEW_KEY.into();
        s.secrets.previous_server_keys = vec![OLD_KEY.into()];
    })
    .await;
    let (status, list) = after.get_json("/v1/webhook-endpoints").await;
    assert_eq!(status, 200, "{list}");
    let sealed_after = raw_endpoints(&after).await[&ep].clone();
    assert_ne!(sealed_before, sealed_after, "sealed again under the new key");
    assert!(!leaks(&raw_endpoints(&after).await, &secret));
    // Once resealed, the new key alone opens it: the old key can be dropped (it stays on as
    // the pseudonym key only, which names numbers and opens nothing).
    let only_new = spawn_with(|s| {
        s.redis.key_prefix = prefix;
        s.secrets.server_key = NEW_KEY.into();
        s.secrets.pseudonym_key = OLD_KEY.into();
    })
    .await;
    assert_eq!(only_new.get_json("/v1/webhook-endpoints").await.0, 200);
}
