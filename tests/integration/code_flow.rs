//! ACM method 2: a code by SMS, checked through the API.

use serde_json::json;

use crate::harness::{code_in, link_in, spawn, start_body, wrong};

#[tokio::test]
async fn code_sms_arrives_in_outbox_with_code_and_optout_link() {
    let app = spawn().await;
    let v = app.start(&start_body("code", "sms")).await;
    assert_eq!(v["status"], "pending");
    assert_eq!(v["method"], "code");
    assert_eq!(v["channel"], "sms");
    assert_eq!(v["to"], "+31 6** *** *78");
    assert!(v["expires_at"].is_string());
    let id = v["id"].as_str().unwrap();
    let m = app.outbox_message(id).await;
    assert_eq!(m["channel"], "sms");
    assert_eq!(m["to"], "+31612345678");
    let text = m["text"].as_str().unwrap();
    assert_eq!(code_in(text, 6).len(), 6);
    assert!(link_in(text, "o").len() > 40, "opt-out link in: {text}");
    // The code is stored only as an HMAC: no field holds it in clear.
    let code = code_in(text, 6);
    let stored = app.stored(id).await;
    assert!(stored.values().all(|v| !v.contains(&code)), "code stored in clear");
    assert_eq!(stored["cm"].len(), 43, "HMAC-SHA256, base64url");
    // The worker recorded the send.
    let (_, after) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(after["delivery"]["state"], "sent");
    assert_eq!(after["delivery"]["sends"], 1);
}

#[tokio::test]
async fn five_wrong_codes_fail_for_good_even_with_the_right_code_after() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    let path = format!("/v1/verifications/{id}/check");
    for remaining in [4, 3, 2, 1] {
        let r = app.post(&path, &json!({"code": wrong(&code)})).await;
        assert_eq!(r.status().as_u16(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body, json!({"status": "pending", "attempts_remaining": remaining}));
    }
    let body: serde_json::Value = app.post(&path, &json!({"code": wrong(&code)})).await.json().await.unwrap();
    assert_eq!(body, json!({"status": "failed", "attempts_remaining": 0}));
    let body: serde_json::Value = app.post(&path, &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(body["status"], "failed");
    assert_eq!(app.status_of(&id).await, "failed");
    assert_eq!(app.events_for(&id).await, vec!["verification.failed"]);
    assert_eq!(app.stored(&id).await["att"], "5");
}

#[tokio::test]
async fn right_code_confirms_and_evidence_is_shown() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    let path = format!("/v1/verifications/{id}/check");
    let body: serde_json::Value = app.post(&path, &json!({"code": wrong(&code)})).await.json().await.unwrap();
    assert_eq!(body["attempts_remaining"], 4);
    let body: serde_json::Value = app.post(&path, &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(body, json!({"status": "confirmed", "attempts_remaining": 3}));

    let (status, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "confirmed");
    let ev = &v["evidence"];
    assert_eq!(ev["collection"]["url"], "https://example.nl/offerte");
    assert_eq!(ev["collection"]["ip"], "203.0.113.7");
    assert_eq!(ev["collection"]["checkbox_default"], "unchecked");
    assert_eq!(ev["verification"]["source"], "api");
    assert_eq!(ev["verification"]["attempts"], 2);
    assert!(ev["verification"]["confirmed_at"].is_string());
    assert_eq!(ev["subject"]["phone"], "+31612345678");
    assert_eq!(ev["controller"]["name"], "Acme Energie B.V.");
    assert_eq!(ev["notice"]["consent_text_version"], "2026-03");
    assert_eq!(ev["notice"]["consent_text_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["metadata"]["crm_id"], "123");

    // A second right code changes nothing and writes no second event.
    let again: serde_json::Value = app.post(&path, &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(again["status"], "confirmed");
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed"]);
}

#[tokio::test]
async fn whatsapp_code_works_like_sms() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "whatsapp")).await["id"].as_str().unwrap().to_string();
    let m = app.outbox_message(&id).await;
    assert_eq!(m["channel"], "whatsapp");
    let code = code_in(m["text"].as_str().unwrap(), 6);
    let body: serde_json::Value =
        app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(body["status"], "confirmed");
}
