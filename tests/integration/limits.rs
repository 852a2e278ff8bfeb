//! A destination's send limit is one set of counters, whichever way a send reaches it: as a
//! start's `phone` (counted by the create script itself), as another start's `to`, or as a
//! resend. Each tenant has its own, under a higher cap over all tenants together. And a sent
//! message leaves nothing behind in its send stream.

use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::harness::{TestApp, fresh_phone, hash_tag, spawn, spawn_with, start_body};

const PROBLEM: &str = "https://optin-verify.eu/problems/rate-limited";

fn to_number(phone: &str, to: Option<&str>) -> Value {
    let mut b = start_body("code", "sms");
    b["phone"] = json!(phone);
    if let Some(to) = to {
        b["to"] = json!(to);
    }
    b
}

/// The destination counters' keys and values.
async fn destination_counters(app: &TestApp) -> Vec<(String, String)> {
    let mut c = app.redis().await;
    let mut out = Vec::new();
    for k in app.keys().await.into_iter().filter(|k| k.contains(":rl:destination:")) {
        let v: String = c.get(&k).await.unwrap();
        out.push((k, v));
    }
    out.sort();
    out
}

async fn refused_as_limited(app: &TestApp, path: &str, body: &Value) {
    let before = app.keys().await;
    let r = app.post(path, body).await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["type"], PROBLEM, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("destination"), "{b}");
    app.assert_keys_unchanged(&before, "a refused send changed Redis").await;
}

#[tokio::test]
async fn a_number_has_one_limit_whether_it_is_the_phone_the_to_or_a_resend() {
    let app = spawn().await;
    let x = "+31612000101";
    // Two starts with X as the phone: the create script counts them.
    let first = app.start(&to_number(x, None)).await["id"].as_str().unwrap().to_string();
    app.start(&to_number(x, None)).await;
    // Two starts for other numbers whose messages go to X: counted by the rate-limit script.
    app.start(&to_number("+31612000202", Some(x))).await;
    app.start(&to_number("+31612000303", Some(x))).await;
    // A resend to X: the fifth send of the ten minutes.
    let r = app.post(&format!("/v1/verifications/{first}/resend"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap());

    // Four counters (ten minutes and a day, for this tenant and for all tenants together), in
    // X's partition, beside X's verifications.
    let counters = destination_counters(&app).await;
    assert_eq!(counters.len(), 4, "{counters:?}");
    assert_eq!(counters.iter().filter(|(k, _)| k.contains(":rl:destination:acme:")).count(), 2, "{counters:?}");
    let partition = app.store_keys().verification(&app.vid(&first));
    for (k, v) in &counters {
        assert_eq!(hash_tag(k), hash_tag(&partition), "{k} is not in the verification's slot");
        assert!(!k.contains("612000101"), "a key name holds the number: {k}");
        assert_eq!(v, "5", "{k}");
        // Set once, by the first use of the window: each counter ends with its window.
        let ttl: i64 = redis::cmd("PTTL").arg(k).query_async(&mut app.redis().await).await.unwrap();
        assert!(ttl > 0 && ttl <= 86_400_000, "{k}: {ttl}");
    }

    // A sixth send to X is refused every way, and counts nothing.
    refused_as_limited(&app, "/v1/verifications", &to_number(x, None)).await;
    refused_as_limited(&app, "/v1/verifications", &to_number("+31612000404", Some(x))).await;
    refused_as_limited(&app, &format!("/v1/verifications/{first}/resend"), &json!({})).await;
    assert_eq!(destination_counters(&app).await, counters);
    // Another number is not affected.
    app.start(&to_number("+31612000505", None)).await;
}

#[tokio::test]
async fn a_sent_message_is_recorded_and_its_stream_entry_is_gone_in_the_same_step() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    app.outbox_message(&id).await;
    // The outbox comes first; the record of the send follows it.
    let mut stored = app.stored(&id).await;
    for _ in 0..100 {
        if stored.get("dlv").map(String::as_str) == Some("sent") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        stored = app.stored(&id).await;
    }
    assert_eq!(stored["dlv"], "sent");
    assert_eq!(stored["ns"], "1");
    assert_eq!(stored["na"], "1");
    assert!(stored["a1"].contains("|console|"), "{}", stored["a1"]);
    assert_eq!(stored["prov"], "console");
    assert!(stored.contains_key("sent"));

    let stream = app.store_keys().send_stream(app.vid(&id).partition());
    let mut c = app.redis().await;
    let len: u64 = c.xlen(&stream).await.unwrap();
    assert_eq!(len, 0, "the sent entry is still in {stream}");
    let pending: redis::streams::StreamPendingReply = c.xpending(&stream, "senders").await.unwrap();
    assert_eq!(pending.count(), 0);
}

#[tokio::test]
async fn one_tenants_sends_to_a_number_neither_refuse_nor_show_in_another_tenants_start() {
    let app = spawn().await;
    let x = fresh_phone();
    // Tenant `other` uses up its own limit on X.
    for _ in 0..5 {
        assert_eq!(app.post_as(&app.other_key, "/v1/verifications", &to_number(&x, None)).await.status().as_u16(), 201);
    }
    assert_eq!(app.post_as(&app.other_key, "/v1/verifications", &to_number(&x, None)).await.status().as_u16(), 429);
    // Acme's consumer start to X goes through, with a counter of its own at 1.
    let r = app.post("/v1/verifications", &to_number(&x, None)).await;
    assert_eq!(r.status().as_u16(), 201);
    let counters = destination_counters(&app).await;
    let of = |who: &str| {
        counters
            .iter()
            .filter(|(k, _)| k.contains(&format!(":rl:destination:{who}:")))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(of("acme"), ["1", "1"], "{counters:?}");
    assert_eq!(of("other"), ["5", "5"], "{counters:?}");
    assert_eq!(of("*"), ["6", "6"], "{counters:?}");
}

#[tokio::test]
async fn the_cap_over_all_tenants_stops_pumping_through_many_tenants() {
    let app = spawn_with(|s| s.limits.destination_all_tenants_per_10m = 7).await;
    let x = fresh_phone();
    for _ in 0..5 {
        assert_eq!(app.post_as(&app.other_key, "/v1/verifications", &to_number(&x, None)).await.status().as_u16(), 201);
    }
    app.start(&to_number(&x, None)).await;
    app.start(&to_number(&x, None)).await;
    // The eighth send to X in ten minutes, over both tenants: refused, counting nothing.
    refused_as_limited(&app, "/v1/verifications", &to_number(&x, None)).await;
}
