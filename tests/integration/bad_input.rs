//! Bad input gets a clear problem+json answer with a stable `type`, and Redis is untouched.

use serde_json::{Value, json};

use crate::harness::{TestApp, spawn, start_body};

const BASE: &str = "https://optin-verify.eu/problems/";

/// Sends a request and asserts status, problem type, and that no key appeared or changed.
async fn refused(app: &TestApp, req: reqwest::RequestBuilder, status: u16, kind: &str) -> Value {
    let before = app.keys().await;
    let r = req.send().await.unwrap();
    assert_eq!(r.status().as_u16(), status);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/problem+json"), "content-type {ct}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], format!("{BASE}{kind}"), "{body}");
    assert_eq!(body["status"], status);
    app.assert_keys_unchanged(&before, "Redis changed for a refused request").await;
    body
}

fn start_req(app: &TestApp) -> reqwest::RequestBuilder {
    app.client.post(app.url("/v1/verifications")).bearer_auth(&app.key)
}

fn with(field: &str, value: Value) -> Value {
    let mut b = start_body("code", "sms");
    b[field] = value;
    b
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn().await;
    let req = start_req(&app).header("content-type", "application/json").body("{\"method\":");
    refused(&app, req, 400, "malformed-json").await;
}

#[tokio::test]
async fn unknown_fields_are_named() {
    let app = spawn().await;
    let b = refused(&app, start_req(&app).json(&with("colour", json!("red"))), 422, "invalid-request").await;
    assert_eq!(b["field"], "colour");
    let mut nested = start_body("code", "sms");
    nested["purpose"]["extra"] = json!(1);
    let b = refused(&app, start_req(&app).json(&nested), 422, "invalid-request").await;
    assert_eq!(b["field"], "purpose.extra");
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_named() {
    let app = spawn().await;
    let b = refused(&app, start_req(&app).json(&with("phone", json!(31612345678u64))), 422, "invalid-request").await;
    assert_eq!(b["field"], "phone");
    let b = refused(&app, start_req(&app).json(&with("method", json!("carrier-pigeon"))), 422, "invalid-request").await;
    assert_eq!(b["field"], "method");
    let mut missing = start_body("code", "sms");
    missing.as_object_mut().unwrap().remove("consent_text");
    let b = refused(&app, start_req(&app).json(&missing), 422, "invalid-request").await;
    assert_eq!(b["field"], "consent_text");
    refused(&app, start_req(&app).json(&json!([1, 2])), 422, "invalid-request").await;
}

#[tokio::test]
async fn phone_numbers_are_refused_by_kind() {
    let app = spawn().await;
    refused(&app, start_req(&app).json(&with("phone", json!("+31 6 123"))), 422, "invalid-phone").await;
    refused(&app, start_req(&app).json(&with("phone", json!("hello"))), 422, "invalid-phone").await;
    let b = refused(&app, start_req(&app).json(&with("phone", json!("+31201234567"))), 422, "phone-not-mobile").await;
    assert_eq!(b["field"], "phone");
    refused(&app, start_req(&app).json(&with("phone", json!("+4915123456789"))), 422, "country-not-allowed").await;
    refused(&app, start_req(&app).json(&with("phone", json!("+31900123456"))), 422, "premium-rate-number").await;
    // A landline as `to` is named as `to`; as the phone of an email verification it is fine.
    let b = refused(&app, start_req(&app).json(&with("to", json!("+31201234567"))), 422, "phone-not-mobile").await;
    assert_eq!(b["field"], "to");
    let mut email = start_body("code", "email");
    email["phone"] = json!("020 123 4567");
    email["to"] = json!("iemand@example.nl");
    let v = app.start(&email).await;
    let id = v["id"].as_str().unwrap();
    // Stored in E.164 (in plain text while open; sealed once it ends, see pii_at_rest.rs).
    assert_eq!(app.stored(id).await["ph"], "+31201234567");
}

#[tokio::test]
async fn invalid_email_is_refused() {
    let app = spawn().await;
    let mut b = start_body("code", "email");
    b["to"] = json!("not-an-address");
    let p = refused(&app, start_req(&app).json(&b), 422, "invalid-email").await;
    assert_eq!(p["field"], "to");
    b.as_object_mut().unwrap().remove("to");
    refused(&app, start_req(&app).json(&b), 422, "invalid-request").await;
}

#[tokio::test]
async fn missing_or_wrong_api_key_is_401() {
    let app = spawn().await;
    let body = start_body("code", "sms");
    let r = refused(&app, app.client.post(app.url("/v1/verifications")).json(&body), 401, "unauthorized").await;
    assert!(r["detail"].as_str().unwrap().contains("Bearer"));
    let wrong = app.client.post(app.url("/v1/verifications")).bearer_auth("ovk_nope").json(&body);
    refused(&app, wrong, 401, "unauthorized").await;
    let basic = app.client.post(app.url("/v1/verifications")).basic_auth("acme", Some(&app.key)).json(&body);
    refused(&app, basic, 401, "unauthorized").await;
}

#[tokio::test]
async fn another_tenants_id_is_404_like_an_unknown_id() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    app.outbox_message(&id).await;
    let other =
        |method: reqwest::Method, path: String| app.client.request(method, app.url(&path)).bearer_auth(&app.other_key);
    let code = json!({"code": "123456"});
    for (method, path) in [
        (reqwest::Method::GET, format!("/v1/verifications/{id}")),
        (reqwest::Method::POST, format!("/v1/verifications/{id}/cancel")),
        (reqwest::Method::POST, format!("/v1/verifications/{id}/resend")),
    ] {
        refused(&app, other(method, path), 404, "not-found").await;
    }
    refused(&app, other(reqwest::Method::POST, format!("/v1/verifications/{id}/check")).json(&code), 404, "not-found")
        .await;
    let unknown = "vf_0001aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mine = app.client.get(app.url(&format!("/v1/verifications/{unknown}"))).bearer_auth(&app.key);
    refused(&app, mine, 404, "not-found").await;
    let garbage = app.client.get(app.url("/v1/verifications/nonsense")).bearer_auth(&app.key);
    refused(&app, garbage, 404, "not-found").await;
    assert_eq!(app.status_of(&id).await, "pending");
    assert_eq!(app.stored(&id).await["att"], "0");
}

#[tokio::test]
async fn huge_bodies_are_413() {
    let app = spawn().await;
    let mut b = start_body("code", "sms");
    b["metadata"] = json!({"blob": "x".repeat(200_000)});
    refused(&app, start_req(&app).json(&b), 413, "payload-too-large").await;
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let app = spawn().await;
    let req = start_req(&app).header("content-type", "text/plain").body(start_body("code", "sms").to_string());
    refused(&app, req, 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn malformed_codes_are_refused_without_counting() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    app.outbox_message(&id).await;
    let path = app.url(&format!("/v1/verifications/{id}/check"));
    for bad in
        [json!({"code": "12ab56"}), json!({"code": "123"}), json!({"code": 123456}), json!({"code": "123456", "x": 1})]
    {
        refused(&app, app.client.post(&path).bearer_auth(&app.key).json(&bad), 422, "invalid-request").await;
    }
    assert_eq!(app.stored(&id).await["att"], "0");
}

#[tokio::test]
async fn too_many_sends_to_one_destination_is_429_with_retry_after() {
    let app = spawn().await;
    for _ in 0..5 {
        let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
        app.outbox_message(&id).await;
    }
    let before = app.keys().await;
    let r = start_req(&app).json(&start_body("link", "sms")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], format!("{BASE}rate-limited"));
    // The refused start wrote no verification (counters already existed).
    let after = app.keys().await;
    assert_eq!(after.len(), before.len());
    assert!(after.iter().filter(|k| k.contains(":v:")).count() == 5);
}

#[tokio::test]
async fn out_of_range_values_are_refused() {
    let app = spawn().await;
    refused(&app, start_req(&app).json(&with("expires_in_seconds", json!(5))), 422, "invalid-request").await;
    let b = refused(&app, start_req(&app).json(&with("caller", json!(""))), 422, "invalid-request").await;
    assert_eq!(b["field"], "caller");
    let mut bad_url = start_body("code", "sms");
    bad_url["privacy_statement"]["url"] = json!("javascript:alert(1)");
    let b = refused(&app, start_req(&app).json(&bad_url), 422, "invalid-request").await;
    assert_eq!(b["field"], "privacy_statement.url");
    let mut bad_ip = start_body("code", "sms");
    bad_ip["collection"]["ip"] = json!("999.1.1.1");
    refused(&app, start_req(&app).json(&bad_ip), 422, "invalid-request").await;
}

#[tokio::test]
async fn idempotency_key_reuse_with_another_body_is_422() {
    let app = spawn().await;
    let first =
        start_req(&app).header("idempotency-key", "order-77").json(&start_body("code", "sms")).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let id = first.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    app.outbox_message(&id).await;
    let req = start_req(&app).header("idempotency-key", "order-77").json(&start_body("link", "sms"));
    refused(&app, req, 422, "idempotency-key-reused").await;
}

/// Free texts reach email subjects and SMS: CR, LF and other control characters are refused,
/// and the problem names the field.
#[tokio::test]
async fn control_characters_in_free_texts_are_422_naming_the_field() {
    let app = spawn().await;
    let b = refused(&app, start_req(&app).json(&with("caller", json!("Acme\nBcc: x@y"))), 422, "invalid-request").await;
    assert_eq!(b["field"], "caller");
    let cases = [
        ("purpose", "id", "p\r1"),
        ("purpose", "text", "Aanbiedingen\r\nSubject: x"),
        ("consent_text", "version", "1\u{0}"),
        ("consent_text", "text", "Ja\nmaar dan anders"),
        ("consent_text", "text", "Ja\u{1b}[31m"),
    ];
    for (outer, inner, value) in cases {
        let mut body = start_body("code", "sms");
        body[outer][inner] = json!(value);
        let b = refused(&app, start_req(&app).json(&body), 422, "invalid-request").await;
        assert_eq!(b["field"], format!("{outer}.{inner}"), "{value:?}");
    }
}
