//! Managing an endpoint in place: `PATCH /v1/webhook-endpoints/{id}` (address, types,
//! description, enabled; the secret stays) and `POST .../test` (a signed example event).

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    harness::{TestApp, spawn, spawn_with},
    receiver::{Behaviour, Receiver},
};

const PROBLEM: &str = "https://optin-verify.eu/problems/";
const WAIT: Duration = Duration::from_secs(10);

async fn patch(app: &TestApp, key: &str, id: &str, body: &Value) -> (u16, Value) {
    let r = app
        .client
        .patch(app.url(&format!("/v1/webhook-endpoints/{id}")))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_patch_changes_what_it_names_keeps_the_secret_and_re_enabling_resumes_delivery() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    rx.behave("/gone", Behaviour { status: Some(410), ..Default::default() });
    let (ep, secret) = app.endpoint(&rx.url("/gone")).await;
    app.confirmed_by_code().await;
    for i in 0.. {
        if app.get_json(&format!("/v1/webhook-endpoints/{ep}")).await.1["disabled"] == true {
            break;
        }
        assert!(i < 300, "not disabled after 410");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A new address and subscription, re-enabled; the description cleared.
    let (status, v) = patch(
        &app,
        &app.key,
        &ep,
        &json!({"url": rx.url("/back"), "event_types": ["consent.confirmed"], "enabled": true, "description": null}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["url"], rx.url("/back"));
    assert_eq!((v["disabled"].as_bool(), v["disabled_reason"].is_null()), (Some(false), true));
    assert_eq!(v["event_types"], json!(["consent.confirmed"]));
    assert!(v.get("secret").is_none(), "the secret is never shown again");
    rx.trust("/back", &secret);
    let id = app.confirmed_by_code().await;
    let got = rx.wait_for("/back", "consent.confirmed", Some(&id), WAIT).await;
    assert_eq!(got.verified, Some(true), "signed with the same secret as before");
    // Left-out fields stay; `event_types: null` means every type again.
    let (_, v) = patch(&app, &app.key, &ep, &json!({"event_types": null})).await;
    assert!(v["event_types"].is_null());
    assert_eq!(v["url"], rx.url("/back"));
    // Pausing it: no delivery is attempted.
    let (_, v) = patch(&app, &app.key, &ep, &json!({"enabled": false})).await;
    assert_eq!(
        (v["disabled"].as_bool(), v["disabled_reason"].as_str()),
        (Some(true), Some("disabled through the API"))
    );
}

#[tokio::test]
async fn a_bad_patch_changes_nothing() {
    let app = spawn_with(|s| s.webhooks.allow_private_targets = false).await;
    let r = app.post("/v1/webhook-endpoints", &json!({"url": "https://consent.example.nl/hooks"})).await;
    assert_eq!(r.status().as_u16(), 201);
    let ep = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let before = app.get_json(&format!("/v1/webhook-endpoints/{ep}")).await.1;
    for (body, field) in [
        (json!({"url": "http://10.0.0.5/hooks"}), "url"),
        (json!({"url": "http://localhost:8080/"}), "url"),
        (json!({"url": "ftp://consent.example.nl/"}), "url"),
        (json!({"event_types": []}), "event_types"),
        (json!({"event_types": ["consent.maybe"]}), "event_types"),
        (json!({"description": "x".repeat(201)}), "description"),
        (json!({"enabled": "yes"}), "enabled"),
        (json!({"secret": "whsec_x"}), "secret"),
    ] {
        let (status, p) = patch(&app, &app.key, &ep, &body).await;
        assert_eq!(status, 422, "{body}: {p}");
        assert_eq!(p["type"], format!("{PROBLEM}invalid-request"), "{body}: {p}");
        assert!(p.to_string().contains(field), "{body}: {p}");
    }
    // Another tenant's endpoint, and one that does not exist.
    assert_eq!(patch(&app, &app.other_key, &ep, &json!({"enabled": false})).await.0, 404);
    assert_eq!(patch(&app, &app.key, "ep_nope", &json!({"enabled": false})).await.0, 404);
    assert_eq!(app.get_json(&format!("/v1/webhook-endpoints/{ep}")).await.1, before);
}

#[tokio::test]
async fn a_test_event_is_signed_as_standard_webhooks_asks_and_says_what_the_receiver_answered() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    let (ep, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    let r = app.post(&format!("/v1/webhook-endpoints/{ep}/test"), &json!({"event_type": "consent.withdrawn"})).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["delivered"].as_bool(), v["status_code"].as_u64()), (Some(true), Some(200)), "{v}");
    let got = rx.received("/store").pop().expect("the example arrived");
    assert!(got.verifies_with(&secret), "the standardwebhooks crate verifies it");
    assert_eq!(got.webhook_id, v["webhook_id"].as_str().unwrap());
    assert!(got.webhook_id.starts_with("msg_test_"));
    assert_eq!((got.body["type"].as_str(), got.body["test"].as_bool()), (Some("consent.withdrawn"), Some(true)));
    assert_eq!(got.body["data"]["source"], "test");
    // No event was made, and nothing is retried.
    assert_eq!(app.get_json("/v1/events").await.1["data"], json!([]));

    rx.behave("/down", Behaviour { status: Some(503), ..Default::default() });
    let (down, _) = app.endpoint(&rx.url("/down")).await;
    let v: Value = app.post(&format!("/v1/webhook-endpoints/{down}/test"), &json!({})).await.json().await.unwrap();
    assert_eq!((v["delivered"].as_bool(), v["status_code"].as_u64()), (Some(false), Some(503)), "{v}");
    assert_eq!((v["event_type"].as_str(), v["error"].as_str()), (Some("consent.confirmed"), Some("HTTP 503")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.calls("/down"), 1, "a test is sent once");

    let r = app.post(&format!("/v1/webhook-endpoints/{ep}/test"), &json!({"event_type": "consent.maybe"})).await;
    assert_eq!(r.status().as_u16(), 422);
    let r = app.post_as(&app.other_key, &format!("/v1/webhook-endpoints/{ep}/test"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 404);
}
