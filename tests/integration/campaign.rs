//! Re-permission campaigns: the batch route, its counts, its idempotency and its limits.

use std::time::Duration;

use optin_verify::config::{HoursSettings, Settings};
use serde_json::{Value, json};

use crate::harness::{TestApp, code_in, spawn_cluster, spawn_with, start_body};

const PROBLEM: &str = "https://optin-verify.eu/problems/";

/// Marketer messages may go out at any hour, so campaign tests never wait for quiet hours.
pub fn always_open(s: &mut Settings) {
    s.tenants[0].send_window = HoursSettings {
        days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| d.to_string()).collect(),
        start: "00:00".into(),
        end: "24:00".into(),
        blocked_dates: vec![],
    };
}

/// A campaign item: the full start body, a marketer start, its own number and reference.
pub fn item(i: usize) -> Value {
    let mut b = start_body("link", "sms");
    b["phone"] = json!(format!("+3162{:07}", i));
    b["initiated_by"] = json!("marketer");
    b["reference"] = json!(format!("crm-{i}"));
    b
}

pub async fn batch(app: &TestApp, items: Vec<Value>, key: Option<&str>) -> (u16, Value) {
    let mut req =
        app.client.post(app.url("/v1/verifications/batch")).bearer_auth(&app.key).json(&json!({"items": items}));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// How many verification records exist under this test's prefix.
pub async fn records(app: &TestApp) -> usize {
    app.keys().await.iter().filter(|k| k.contains(":v:vf_")).count()
}

pub async fn counts_until(app: &TestApp, batch_id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let (status, b) = app.get_json(&format!("/v1/batches/{batch_id}")).await;
        assert_eq!(status, 200, "{b}");
        if done(&b["counts"]) {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("batch {batch_id} never reached the expected counts");
}

#[tokio::test]
async fn a_thousand_items_with_bad_ones_among_them_are_answered_one_by_one_in_order() {
    let app = spawn_with(always_open).await;
    let mut items: Vec<Value> = (0..1000).map(item).collect();
    items[3]["phone"] = json!("+3161234"); // too short
    items[10]["phone"] = json!("+4915123456789"); // Germany: not allowed for this tenant
    items[20]["colour"] = json!("blue"); // unknown field
    items[30] = json!("not an object");
    items[40]["reference"] = json!(7);
    items[50]["purpose"]["id"] = json!(42); // wrong type
    items[60]["initiated_by"] = json!("robot");
    let (status, body) = batch(&app, items, None).await;
    assert_eq!(status, 200, "{body}");
    let results = body["items"].as_array().unwrap();
    assert_eq!(results.len(), 1000);
    assert_eq!(body["accepted"], 993);
    assert_eq!(body["refused"], 7);
    let bad = [
        (3, 422, "invalid-phone", "phone"),
        (10, 422, "country-not-allowed", "phone"),
        (20, 422, "invalid-request", "items[20].colour"),
        (30, 422, "invalid-request", "items[30]"),
        (40, 422, "invalid-request", "items[40].reference"),
        (50, 422, "invalid-request", "items[50].purpose.id"),
        (60, 422, "invalid-request", "items[60].initiated_by"),
    ];
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
        if let Some((_, st, ty, field)) = bad.iter().find(|b| b.0 == i) {
            assert_eq!(r["status"], *st, "{r}");
            assert_eq!(r["error"]["type"], format!("{PROBLEM}{ty}"), "{r}");
            assert_eq!(r["error"]["field"], *field, "{r}");
            assert!(r.get("verification").is_none());
        } else {
            assert_eq!(r["status"], 201, "{r}");
            assert_eq!(r["reference"], format!("crm-{i}"));
            assert_eq!(r["verification"]["status"], "pending");
            assert!(r["verification"]["id"].as_str().unwrap().starts_with("vf_"));
        }
    }
    // Exactly the good items exist in Redis.
    assert_eq!(records(&app).await, 993);
    // Every verification counts in its batch; the console transport sends them all.
    let id = body["id"].as_str().unwrap();
    let b = counts_until(&app, id, |c| c["sent"] == 993).await;
    assert_eq!(b["items"], 1000);
    assert_eq!(b["accepted"], 993);
    assert_eq!(b["counts"]["queued"], 0);
}

#[tokio::test]
async fn batch_counts_follow_every_verification_as_it_moves() {
    let app = spawn_with(always_open).await;
    let mut items: Vec<Value> = (0..4).map(item).collect();
    for it in &mut items {
        it["method"] = json!("code");
    }
    let (_, body) = batch(&app, items, None).await;
    let id = body["id"].as_str().unwrap().to_string();
    let vids: Vec<String> =
        body["items"].as_array().unwrap().iter().map(|r| r["verification"]["id"].as_str().unwrap().into()).collect();
    counts_until(&app, &id, |c| c["sent"] == 4).await;
    // Confirm one, cancel one, fail one with wrong codes.
    let code = code_in(app.outbox_message(&vids[0]).await["text"].as_str().unwrap(), 6);
    let r: Value =
        app.post(&format!("/v1/verifications/{}/check", vids[0]), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
    assert_eq!(app.post(&format!("/v1/verifications/{}/cancel", vids[1]), &json!({})).await.status().as_u16(), 200);
    let good = code_in(app.outbox_message(&vids[2]).await["text"].as_str().unwrap(), 6);
    let wrong = crate::harness::wrong(&good);
    for _ in 0..5 {
        app.post(&format!("/v1/verifications/{}/check", vids[2]), &json!({"code": wrong})).await;
    }
    let b = counts_until(&app, &id, |c| c["confirmed"] == 1).await;
    let c = &b["counts"];
    assert_eq!(
        (c["sent"].clone(), c["confirmed"].clone(), c["canceled"].clone(), c["failed"].clone()),
        (json!(1), json!(1), json!(1), json!(1)),
        "{b}"
    );
    assert_eq!(c["queued"], 0);
    assert_eq!(c["declined"], 0);
    // Another tenant sees no such batch; a malformed id is the same 404.
    let r = app.client.get(app.url(&format!("/v1/batches/{id}"))).bearer_auth(&app.other_key).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["type"], format!("{PROBLEM}not-found"));
    assert_eq!(app.get_json("/v1/batches/bt_nope").await.0, 404);
}

#[tokio::test]
async fn a_retried_batch_with_its_key_returns_the_same_verifications_and_counts_once() {
    let app = spawn_with(|s| {
        always_open(s);
        s.limits.tenant_per_minute = 30;
    })
    .await;
    let items: Vec<Value> = (0..20).map(item).collect();
    let (s1, first) = batch(&app, items.clone(), Some("campaign-2026-11-a")).await;
    let (s2, again) = batch(&app, items.clone(), Some("campaign-2026-11-a")).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["id"], again["id"]);
    let ids = |b: &Value| -> Vec<Value> {
        b["items"].as_array().unwrap().iter().map(|r| r["verification"]["id"].clone()).collect()
    };
    assert_eq!(ids(&first), ids(&again));
    assert_eq!(again["accepted"], 20);
    assert_eq!(records(&app).await, 20);
    // The replay used none of the tenant's budget (30 a minute): ten more still fit.
    let mut plain: Vec<Value> = (100..110).map(item).collect();
    for it in &mut plain {
        it.as_object_mut().unwrap().remove("initiated_by");
    }
    let (_, more) = batch(&app, plain, None).await;
    assert_eq!(more["accepted"], 10, "{more}");
    // A batch is a campaign: an item that does not say otherwise is marketer-initiated.
    assert_eq!(more["items"][0]["verification"]["initiated_by"], "marketer");
    // The same key with a changed item refuses that item, and only it.
    let mut changed = items;
    changed[5]["purpose"]["text"] = json!("Iets anders");
    let (_, third) = batch(&app, changed, Some("campaign-2026-11-a")).await;
    assert_eq!(third["items"][5]["error"]["type"], format!("{PROBLEM}idempotency-key-reused"));
    assert_eq!(third["items"][4]["verification"]["id"], first["items"][4]["verification"]["id"]);
    assert_eq!(records(&app).await, 30);
}

#[tokio::test]
async fn each_item_counts_against_the_tenant_and_destination_limits() {
    let app = spawn_with(|s| {
        always_open(s);
        s.limits.tenant_per_minute = 8;
    })
    .await;
    let mut items: Vec<Value> = (0..10).map(item).collect();
    // Six starts to one number (each for its own purpose, so none is a duplicate): the
    // destination allows five per 10 minutes.
    for (i, it) in items.iter_mut().take(6).enumerate() {
        it["phone"] = json!("+31612000001");
        it["purpose"]["id"] = json!(format!("purpose-{i}"));
    }
    let (_, body) = batch(&app, items, None).await;
    let results = body["items"].as_array().unwrap();
    // Items 0-4 pass; 5 is the sixth to its number; 6 and 7 use the tenant's last two of
    // eight (item 5 counted too); 8 and 9 find the tenant's minute used up.
    let status: Vec<u64> = results.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(status, [201, 201, 201, 201, 201, 429, 201, 201, 429, 429], "{body}");
    for (i, scope) in [(5, "destination"), (8, "tenant"), (9, "tenant")] {
        assert_eq!(results[i]["error"]["type"], format!("{PROBLEM}rate-limited"));
        assert!(results[i]["error"]["detail"].as_str().unwrap().contains(scope), "{}", results[i]);
    }
    assert_eq!(body["accepted"], 7);
    assert_eq!(records(&app).await, 7);
}

#[tokio::test]
async fn batch_bodies_that_break_the_rules_change_nothing() {
    let app = spawn_with(always_open).await;
    let post = |body: String| {
        app.client
            .post(app.url("/v1/verifications/batch"))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "malformed-json"),
        (json!({"items": "all"}).to_string(), 422, "invalid-request"),
        (json!({"items": [], }).to_string(), 422, "invalid-request"),
        (json!({"items": [item(1)], "extra": 1}).to_string(), 422, "invalid-request"),
        (json!({"items": (0..1001).map(|_| json!({})).collect::<Vec<_>>()}).to_string(), 422, "invalid-request"),
        (format!("{{\"items\": [\"{}\"]}}", "x".repeat(2_200_000)), 413, "payload-too-large"),
    ];
    for (body, status, ty) in cases {
        let r = post(body).await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.json::<Value>().await.unwrap()["type"], format!("{PROBLEM}{ty}"));
    }
    // A thousand full items fit the batch route's own limit (the others keep 64 KiB).
    let big: Vec<Value> = (0..1000)
        .map(|i| {
            let mut b = item(i);
            b["consent_text"]["text"] = json!("Ja, ".repeat(150));
            b
        })
        .collect();
    let size = serde_json::to_vec(&json!({"items": big})).unwrap().len();
    assert!(size > 1_000_000, "{size}");
    let r = app
        .client
        .post(app.url("/v1/verifications"))
        .bearer_auth(&app.key)
        .json(&json!({"x": "y".repeat(70_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // Without a key: 401, and nothing was written by any of these.
    let r =
        app.client.post(app.url("/v1/verifications/batch")).json(&json!({"items": [item(1)]})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(records(&app).await, 0);
    let (status, body) = batch(&app, big, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["accepted"], 1000);
}

#[tokio::test]
async fn cluster_batch_spreads_over_masters_and_counts_add_up() {
    let app = spawn_cluster().await;
    let items: Vec<Value> = (0..40)
        .map(|i| {
            let mut b = item(i);
            b["initiated_by"] = json!("consumer");
            b
        })
        .collect();
    let (status, body) = batch(&app, items.clone(), Some("cluster-batch")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 40);
    let (_, again) = batch(&app, items, Some("cluster-batch")).await;
    assert_eq!(again["items"][39]["verification"]["id"], body["items"][39]["verification"]["id"]);
    let b = counts_until(&app, body["id"].as_str().unwrap(), |c| c["sent"] == 40).await;
    assert_eq!(b["accepted"], 40);
}
