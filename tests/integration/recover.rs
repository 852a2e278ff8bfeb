//! `POST /v1/webhook-endpoints/{id}/recover`: after an outage, every event the endpoint missed
//! arrives once more, with its own `webhook-id`, and nothing it already had.

use std::{collections::HashMap, time::Duration};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use crate::{
    harness::{TestApp, fresh_phone, spawn_with, standalone_db},
    receiver::{Behaviour, Receiver},
};

const PROBLEM: &str = "https://optin-verify.eu/problems/";

/// `n` opt-outs for numbers with no consent here: one `consent.withdrawn` each.
async fn withdrawals(app: &TestApp, n: usize) {
    stream::iter(0..n)
        .for_each_concurrent(32, |_| async {
            let r = app.post("/v1/withdrawals", &json!({"phone": fresh_phone(), "source": "letter"})).await;
            assert_eq!(r.status().as_u16(), 202);
        })
        .await;
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(120), "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_recovery_sends_each_missed_event_once_more_and_nothing_the_receiver_had() {
    // A failed delivery is retried only after an hour: what the outage left is for the recovery.
    let app = spawn_with(|s| {
        s.webhooks.retry_schedule_seconds = vec![0, 3600];
        s.redis.url = standalone_db(3);
    })
    .await;
    let rx = Receiver::start().await;
    let (ep, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    withdrawals(&app, 100).await;
    until("the first 100 arrived", async || rx.received("/store").len() == 100).await;

    rx.behave("/store", Behaviour { status: Some(503), ..Default::default() });
    withdrawals(&app, 5000).await;
    until("every delivery during the outage was tried once", async || rx.calls("/store") >= 5100).await;
    assert_eq!(rx.received("/store").len(), 100);

    rx.behave("/store", Behaviour::default());
    let r = app.post(&format!("/v1/webhook-endpoints/{ep}/recover"), &json!({"since": since})).await;
    assert_eq!(r.status().as_u16(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["recovery"]["state"], "running", "{v}");
    until("the recovery finished", async || {
        app.get_json(&format!("/v1/webhook-endpoints/{ep}")).await.1["recovery"]["state"] == "done"
    })
    .await;
    until("every missed event arrived", async || rx.received("/store").len() >= 5100).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.received("/store");
    let mut times: HashMap<&str, usize> = HashMap::new();
    for r in &got {
        *times.entry(r.webhook_id.as_str()).or_default() += 1;
        assert_eq!(r.verified, Some(true));
    }
    assert_eq!(got.len(), 5100, "no event arrived twice");
    assert_eq!(times.len(), 5100);
    assert!(times.values().all(|n| *n == 1));
    let (_, e) = app.get_json(&format!("/v1/webhook-endpoints/{ep}")).await;
    assert_eq!((e["recovery"]["queued"].as_u64(), e["recovery"]["skipped"].as_u64()), (Some(5000), Some(100)), "{e}");

    // The same `since` again changes nothing and sends nothing.
    let r = app.post(&format!("/v1/webhook-endpoints/{ep}/recover"), &json!({"since": since})).await;
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["recovery"], e["recovery"]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(rx.received("/store").len(), 5100);
}

#[tokio::test]
async fn a_bad_recovery_is_refused() {
    let app = spawn_with(|_| {}).await;
    let rx = Receiver::start().await;
    let (ep, _) = app.endpoint(&rx.url("/x")).await;
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    for (body, field) in [
        (json!({"since": future}), "since"),
        (json!({"since": "yesterday"}), "since"),
        (json!({}), "since"),
        (json!({"since": chrono::Utc::now(), "colour": "red"}), "colour"),
    ] {
        let r = app.post(&format!("/v1/webhook-endpoints/{ep}/recover"), &body).await;
        assert_eq!(r.status().as_u16(), 422, "{body}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["type"], format!("{PROBLEM}invalid-request"), "{p}");
        assert!(p.to_string().contains(field), "{body}: {p}");
    }
    let since = json!({"since": chrono::Utc::now() - chrono::Duration::minutes(5)});
    let r = app.post_as(&app.other_key, &format!("/v1/webhook-endpoints/{ep}/recover"), &since).await;
    assert_eq!(r.status().as_u16(), 404);
    let r = app
        .client
        .patch(app.url(&format!("/v1/webhook-endpoints/{ep}")))
        .bearer_auth(&app.key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = app.post(&format!("/v1/webhook-endpoints/{ep}/recover"), &since).await;
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "enabled");
    assert!(app.get_json(&format!("/v1/webhook-endpoints/{ep}")).await.1.get("recovery").is_none());
}
