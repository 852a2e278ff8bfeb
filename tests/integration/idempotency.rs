//! `Idempotency-Key` on the POSTs that act on existing things.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{TestApp, code_in, spawn, start_body, wrong};

async fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client.post(app.url(path)).bearer_auth(&app.key).header("idempotency-key", key).json(body).send().await.unwrap()
}

#[tokio::test]
async fn a_retried_check_is_answered_again_without_counting_again() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    let path = format!("/v1/verifications/{id}/check");
    let bad = json!({"code": wrong(&code)});
    let first = post_with_key(&app, &path, "chk-1", &bad).await;
    assert_eq!(first.status().as_u16(), 200);
    let first: Value = first.json().await.unwrap();
    let again = post_with_key(&app, &path, "chk-1", &bad).await;
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(app.stored(&id).await["att"], "1", "the replay counted no attempt");
    // The same key with another request is refused and changes nothing.
    let other = post_with_key(&app, &path, "chk-1", &json!({"code": code})).await;
    assert_eq!(other.status().as_u16(), 422);
    let p: Value = other.json().await.unwrap();
    assert_eq!(p["type"], "https://optin-verify.eu/problems/idempotency-key-reused");
    assert_eq!(app.status_of(&id).await, "pending");
}

#[tokio::test]
async fn a_retried_cancel_and_withdrawal_emit_one_event() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let r = post_with_key(&app, &format!("/v1/verifications/{id}/cancel"), "cxl-9", &json!({})).await;
        assert_eq!(r.status().as_u16(), 200, "a replay answers like the first time, not 409");
    }
    assert_eq!(app.events_for(&id).await, vec!["verification.canceled"]);
    let w = json!({"phone": "+31612345678", "source": "phone_call"});
    let a: Value = post_with_key(&app, "/v1/withdrawals", "wd-1", &w).await.json().await.unwrap();
    let b: Value = post_with_key(&app, "/v1/withdrawals", "wd-1", &w).await.json().await.unwrap();
    assert_eq!(a["event_id"], b["event_id"], "one withdrawal event");
}

#[tokio::test]
async fn a_key_still_in_use_answers_409() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let path = format!("/v1/verifications/{id}/resend");
    // What a first request that is still running leaves behind.
    let body = br#"{}"#;
    let mut h = Sha256::new();
    h.update(format!("POST {path}\n").as_bytes());
    h.update(body);
    let request_hash = hex::encode(h.finalize());
    let key = app.store_keys().idempotency("acme", &hex::encode(Sha256::digest(b"rs-1")));
    let mut c = app.redis().await;
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("req")
        .arg(&request_hash)
        .arg("st")
        .arg("running")
        .query_async(&mut c)
        .await
        .unwrap();
    let r = post_with_key(&app, &path, "rs-1", &json!({})).await;
    assert_eq!(r.status().as_u16(), 409);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "https://optin-verify.eu/problems/idempotency-key-in-use");
}

#[tokio::test]
async fn a_kept_answer_that_carries_a_webhook_secret_holds_it_sealed() {
    let app = spawn().await;
    let body = json!({"url": "https://store.example/hooks", "description": "consent store"});
    let created = post_with_key(&app, "/v1/webhook-endpoints", "ep-create-1", &body).await;
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let rotated =
        post_with_key(&app, &format!("/v1/webhook-endpoints/{id}/rotate-secret"), "ep-rotate-1", &json!({})).await;
    assert_eq!(rotated.status().as_u16(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);

    // No secret, nor the part after its prefix, in any key or value.
    let dump = app.dump().await;
    assert!(dump.iter().any(|(k, _)| k.contains(":idem:")), "the answers are kept: {dump:?}");
    for s in [&secret, &new_secret] {
        let bare = s.trim_start_matches("whsec_");
        assert!(!dump.iter().any(|(_, v)| v.contains(bare)), "a secret is readable in Redis");
    }
    assert!(!dump.iter().any(|(_, v)| v.contains("whsec_")), "a secret is readable in Redis");

    // The replays still answer the secrets, opened.
    let again: Value = post_with_key(&app, "/v1/webhook-endpoints", "ep-create-1", &body).await.json().await.unwrap();
    assert_eq!(again["secret"], secret.as_str());
    let again =
        post_with_key(&app, &format!("/v1/webhook-endpoints/{id}/rotate-secret"), "ep-rotate-1", &json!({})).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["secret"], new_secret.as_str());
}
