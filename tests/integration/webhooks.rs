//! Consent stores: signed Standard Webhooks, receipts, retries, dead letters, isolation.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    harness::{TestApp, code_in, fresh_phone, spawn, spawn_with, start_body},
    receiver::{Behaviour, Receiver},
};

const WAIT: Duration = Duration::from_secs(10);

async fn jwks(app: &TestApp) -> JwkSet {
    app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap()
}

/// Checks a receipt with nothing but the JWKS and a standard JOSE library.
fn verify_receipt(set: &JwkSet, receipt: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(receipt)?;
    let jwk = set.find(header.kid.as_deref().unwrap_or("")).expect("kid in JWKS");
    let mut v = Validation::new(Algorithm::EdDSA);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    Ok(jsonwebtoken::decode::<Value>(receipt, &DecodingKey::from_jwk(jwk)?, &v)?.claims)
}

#[tokio::test]
async fn confirmed_consent_arrives_signed_with_a_receipt_that_verifies_from_the_jwks() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    let (_, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    let id = app.confirmed_by_code().await;
    let got = rx.wait_for("/store", "consent.confirmed", Some(&id), WAIT).await;
    assert_eq!(got.verified, Some(true), "signature did not verify with standardwebhooks");
    assert!(got.webhook_id.starts_with("evt_"));
    assert!(got.body["timestamp"].is_string());
    let data = &got.body["data"];
    assert_eq!(data["method"], "code");
    assert_eq!(data["metadata"]["crm_id"], "123");
    assert_eq!(data["evidence"]["legal_basis"], "Telecommunicatiewet art. 11.7 jo. AVG art. 6(1)(a)");
    assert_eq!(data["evidence"]["controller"]["kvk"], "12345678");

    let claims = verify_receipt(&jwks(&app).await, data["receipt"].as_str().unwrap()).expect("receipt verifies");
    let text = "Ja, Acme Energie mag mij bellen over energiecontracten.";
    assert_eq!(claims["evidence"]["notice"]["consent_text_sha256"], hex::encode(Sha256::digest(text)));
    assert_eq!(claims["jti"], data["receipt_id"]);
    assert_eq!(claims["evidence"], data["evidence"]);

    // GET returns the same record and receipt.
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["receipt"], data["receipt"]);
    assert_eq!(v["evidence"], data["evidence"]);
    // The send attempts live in the record itself, kept as long as it (400 days), and every
    // shared text it refers to (the consent text, say) at least as long.
    assert_eq!(v["delivery"]["attempts"][0]["outcome"], "accepted", "{v}");
    let mut c = app.redis().await;
    let (keys, p) = (app.store_keys(), app.vid(&id).partition());
    let vkey = keys.verification(&app.vid(&id));
    let record_ttl: i64 = redis::cmd("PTTL").arg(&vkey).query_async(&mut c).await.unwrap();
    assert!(record_ttl > 399 * 86_400_000, "{record_ttl}");
    let fields: std::collections::HashMap<String, String> =
        redis::cmd("HGETALL").arg(&vkey).query_async(&mut c).await.unwrap();
    let blobs: Vec<&String> = fields.iter().filter(|(k, _)| k.ends_with('@')).map(|(_, v)| v).collect();
    assert!(!blobs.is_empty(), "the notice text is kept once, outside the record");
    for b in blobs {
        let bkey = keys.blob(p, b);
        let ttl: i64 = redis::cmd("PTTL").arg(&bkey).query_async(&mut c).await.unwrap();
        assert!(ttl >= record_ttl - 60_000, "blob {b} lives {ttl} ms, the record {record_ttl} ms");
        // Named by its text's SHA-1 as Redis's own Lua spells it, whoever spilled it (the create
        // script is handed the digests; the others take them in Lua), so a text is kept once.
        let text: String = redis::cmd("GET").arg(&bkey).query_async(&mut c).await.unwrap();
        let sha: String = redis::cmd("EVAL")
            .arg("return redis.sha1hex(ARGV[1])")
            .arg(0)
            .arg(&text)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(&sha, b);
    }
    let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg(&vkey).query_async(&mut c).await.unwrap();
    assert_eq!(encoding, "listpack", "every value of the record stays within 64 bytes");
}

#[tokio::test]
async fn a_receipt_whose_payload_was_changed_is_rejected() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let app = spawn().await;
    let id = app.confirmed_by_code().await;
    let mut receipt = Value::Null;
    for _ in 0..200 {
        receipt = app.get_json(&format!("/v1/verifications/{id}")).await.1["receipt"].clone();
        if receipt.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let receipt = receipt.as_str().expect("receipt appears").to_string();
    let set = jwks(&app).await;
    assert!(verify_receipt(&set, &receipt).is_ok());
    let parts: Vec<&str> = receipt.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["evidence"]["subject"]["phone"] = json!("+31699999999");
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
    assert!(verify_receipt(&set, &forged).is_err(), "a changed payload must not verify");
}

#[tokio::test]
async fn our_signatures_verify_with_an_independent_implementation() {
    use optin_verify::webhooks::{WebhookSecret, signature_header};
    let secret = WebhookSecret::generate();
    let body = br#"{"type":"consent.confirmed","data":{}}"#;
    let ts = chrono::Utc::now().timestamp();
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", "evt_0001_1-0".parse().unwrap());
    headers.insert("webhook-timestamp", ts.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature_header(&[&secret], "evt_0001_1-0", ts, body).parse().unwrap());
    let wh = standardwebhooks::Webhook::new(secret.expose()).unwrap();
    assert!(wh.verify(body, &headers).is_ok());
    assert!(wh.verify(br#"{"type":"tampered"}"#, &headers).is_err());
}

#[tokio::test]
async fn failures_are_retried_on_schedule_and_every_attempt_is_logged() {
    let app = spawn_with(|s| s.webhooks.retry_schedule_seconds = vec![0, 1, 1, 1]).await;
    let rx = Receiver::start().await;
    rx.behave("/flaky", Behaviour { fail_first: 2, ..Default::default() });
    let (ep, secret) = app.endpoint(&rx.url("/flaky")).await;
    rx.trust("/flaky", &secret);
    let id = app.confirmed_by_code().await;
    let got = rx.wait_for("/flaky", "consent.confirmed", Some(&id), WAIT).await;
    assert_eq!(got.verified, Some(true));
    let (_, list) = app.get_json("/v1/events").await;
    let event = list["data"].as_array().unwrap().iter().find(|e| e["id"] == got.webhook_id.as_str()).unwrap().clone();
    assert_eq!(event["type"], "consent.confirmed");
    assert_eq!(event["deliveries"][0]["endpoint_id"], ep.as_str());
    assert_eq!(event["deliveries"][0]["state"], "delivered");
    assert_eq!(event["deliveries"][0]["attempts"], 3);
    let (status, log) = app.get_json(&format!("/v1/events/{}/deliveries", got.webhook_id)).await;
    assert_eq!(status, 200);
    let codes: Vec<Value> = log["data"].as_array().unwrap().iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(codes, vec![json!(200), json!(500), json!(500)], "newest first");
    let attempts: Vec<Value> = log["data"].as_array().unwrap().iter().map(|a| a["attempt"].clone()).collect();
    assert_eq!(attempts, vec![json!(3), json!(2), json!(1)]);
    assert!(log["data"][0]["latency_ms"].is_u64());
    assert_eq!(log["data"][1]["error"], "HTTP 500");
    // Every retry carried the same webhook-id.
    assert_eq!(rx.calls("/flaky"), 3);
}

#[tokio::test]
async fn exhausted_deliveries_go_to_dead_letter_and_can_be_redelivered() {
    let app = spawn_with(|s| s.webhooks.retry_schedule_seconds = vec![0, 1]).await;
    let rx = Receiver::start().await;
    rx.behave("/down", Behaviour { status: Some(503), ..Default::default() });
    let (_, secret) = app.endpoint(&rx.url("/down")).await;
    rx.trust("/down", &secret);
    let id = app.confirmed_by_code().await;
    let mut event_id = String::new();
    for _ in 0..300 {
        let (_, list) = app.get_json("/v1/events").await;
        if let Some(e) = list["data"].as_array().unwrap().iter().find(|e| e["deliveries"][0]["state"] == "dead") {
            event_id = e["id"].as_str().unwrap().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!event_id.is_empty(), "never reached dead-letter");
    assert_eq!(rx.calls("/down"), 2);
    rx.behave("/down", Behaviour::default());
    let r = app.post(&format!("/v1/events/{event_id}/redeliver"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["queued"], 1);
    let got = rx.wait_for("/down", "consent.confirmed", Some(&id), WAIT).await;
    assert_eq!(got.webhook_id, event_id, "redelivery keeps the webhook-id");
    assert_eq!(got.verified, Some(true));
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    rx.behave("/gone", Behaviour { status: Some(410), ..Default::default() });
    let (ep, _) = app.endpoint(&rx.url("/gone")).await;
    app.confirmed_by_code().await;
    for _ in 0..300 {
        let (_, e) = app.get_json(&format!("/v1/webhook-endpoints/{ep}")).await;
        if e["disabled"] == true {
            assert_eq!(e["disabled_reason"], "endpoint answered 410 Gone");
            assert!(e.get("secret").is_none());
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("endpoint was not disabled after 410");
}

#[tokio::test]
async fn an_endpoint_never_receives_another_tenants_events() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    app.endpoint(&rx.url("/acme")).await;
    let (_, other_secret) = app.endpoint_as(&app.other_key, &rx.url("/other"), None).await;
    rx.trust("/other", &other_secret);
    let id = app.confirmed_by_code().await;
    rx.wait_for("/acme", "consent.confirmed", Some(&id), WAIT).await;
    // The other tenant's own event arrives at its endpoint, nothing of acme's does.
    let mut body = start_body("code", "sms");
    body["phone"] = json!(fresh_phone());
    let r = app.post_as(&app.other_key, "/v1/verifications", &body).await;
    let other_id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let cancel = app.client.post(app.url(&format!("/v1/verifications/{other_id}/cancel"))).bearer_auth(&app.other_key);
    assert_eq!(cancel.send().await.unwrap().status().as_u16(), 200);
    rx.wait_for("/other", "verification.canceled", Some(&other_id), WAIT).await;
    assert!(rx.received("/other").iter().all(|r| r.body["data"]["verification_id"] != id.as_str()));
    assert!(rx.received("/acme").iter().all(|r| r.body["data"]["verification_id"] != other_id.as_str()));
    // Nor can the other tenant read acme's events.
    let (_, list) = app.get_json("/v1/events").await;
    let acme_event = list["data"][0]["id"].as_str().unwrap().to_string();
    for path in [format!("/v1/events/{acme_event}"), format!("/v1/events/{acme_event}/deliveries")] {
        let r = app.client.get(app.url(&path)).bearer_auth(&app.other_key).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404);
    }
}

#[tokio::test]
async fn decline_cancel_and_failure_each_emit_their_event() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    app.endpoint(&rx.url("/all")).await;
    let mut body = start_body("code", "sms");
    body["phone"] = json!(fresh_phone());
    let failing = app.start(&body).await["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&failing).await["text"].as_str().unwrap(), 6);
    let wrong: String = code.chars().map(|c| if c == '9' { '1' } else { '9' }).collect();
    for _ in 0..5 {
        app.post(&format!("/v1/verifications/{failing}/check"), &json!({"code": wrong})).await;
    }
    rx.wait_for("/all", "verification.failed", Some(&failing), WAIT).await;
    body["phone"] = json!(fresh_phone());
    let canceled = app.start(&body).await["id"].as_str().unwrap().to_string();
    app.post(&format!("/v1/verifications/{canceled}/cancel"), &json!({})).await;
    rx.wait_for("/all", "verification.canceled", Some(&canceled), WAIT).await;
}

#[tokio::test]
async fn expiry_is_driven_by_the_sweeper_and_happens_once_with_two_workers() {
    let app = spawn().await;
    let prefix = app.prefix.clone();
    let second = spawn_with(move |s| s.redis.key_prefix = prefix).await;
    assert_eq!(second.prefix, app.prefix);
    let rx = Receiver::start().await;
    app.endpoint(&rx.url("/exp")).await;
    let id = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    app.outbox_message(&id).await;
    // Move the deadline into the past, as time would.
    let mut c = app.redis().await;
    let (keys, p) = (app.store_keys(), app.vid(&id).partition());
    let past = chrono::Utc::now().timestamp_millis() - 1000;
    let _: () = redis::cmd("HSET")
        .arg(keys.verification(&app.vid(&id)))
        .arg("exp")
        .arg(past)
        .query_async(&mut c)
        .await
        .unwrap();
    // Its deadline entry goes into the 10-second bucket of the new deadline.
    let bucket = (past + 9_999) / 10_000;
    let _: () = redis::cmd("RPUSH").arg(keys.deadline_bucket(p, bucket)).arg(&id).query_async(&mut c).await.unwrap();
    let _: () =
        redis::cmd("ZADD").arg(keys.deadlines(p)).arg(bucket * 10_000).arg(bucket).query_async(&mut c).await.unwrap();
    rx.wait_for("/exp", "verification.expired", Some(&id), WAIT).await;
    assert_eq!(app.status_of(&id).await, "expired");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.events_for(&id).await, vec!["verification.expired"]);
    let expired = rx.received("/exp").iter().filter(|r| r.body["type"] == "verification.expired").count();
    assert_eq!(expired, 1);
}

#[tokio::test]
async fn withdrawals_reach_every_endpoint_within_seconds() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    app.endpoint(&rx.url("/crm")).await;
    // A calling partner that subscribed to confirmations only still gets withdrawals.
    app.endpoint_as(&app.key, &rx.url("/partner"), Some(vec!["consent.confirmed"])).await;
    let started = tokio::time::Instant::now();
    let r = app.post("/v1/withdrawals", &json!({"phone": "+31 6 1234 5678", "source": "phone_call"})).await;
    assert_eq!(r.status().as_u16(), 202);
    let accepted: Value = r.json().await.unwrap();
    assert_eq!(accepted["phone"], "+31 6** *** *78");
    for path in ["/crm", "/partner"] {
        let got = rx.wait_for(path, "consent.withdrawn", None, WAIT).await;
        assert_eq!(got.body["data"]["phone"], "+31612345678");
        assert_eq!(got.body["data"]["source"], "phone_call");
        assert_eq!(got.webhook_id, accepted["event_id"].as_str().unwrap());
    }
    assert!(started.elapsed() < Duration::from_secs(2), "withdrawal took {:?}", started.elapsed());

    // Withdrawing a confirmed consent by id marks its evidence.
    let id = app.confirmed_by_code().await;
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    let phone = v["evidence"]["subject"]["phone"].clone();
    let r = app.post("/v1/withdrawals", &json!({"phone": phone, "source": "letter", "verification_id": id})).await;
    assert_eq!(r.status().as_u16(), 202);
    let got = rx.wait_for("/partner", "consent.withdrawn", Some(&id), WAIT).await;
    assert_eq!(got.body["data"]["verification_id"], id.as_str());
    assert_eq!(got.body["data"]["source"], "letter");
    // A second withdrawal of the same consent sends nothing new.
    let again = app.post("/v1/withdrawals", &json!({"phone": phone, "source": "letter", "verification_id": id})).await;
    assert_eq!(again.status().as_u16(), 409);
    let p: Value = again.json().await.unwrap();
    assert_eq!(p["type"], "https://optin-verify.eu/problems/already-withdrawn");
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert!(v["evidence"]["withdrawal"]["withdrawn_at"].is_string());
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_for_the_overlap() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    let (ep, old) = app.endpoint(&rx.url("/rot")).await;
    let r = app.post(&format!("/v1/webhook-endpoints/{ep}/rotate-secret"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 200);
    let rotated: Value = r.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_valid_until"].is_string());
    let id = app.confirmed_by_code().await;
    let got = rx.wait_for("/rot", "consent.confirmed", Some(&id), WAIT).await;
    assert_eq!(got.signature.split(' ').count(), 2, "both signatures during the overlap");
    // A receiver that knows only one of the two secrets accepts the delivery.
    assert!(got.verifies_with(&old));
    assert!(got.verifies_with(&new));
    assert!(!got.verifies_with(optin_verify::webhooks::WebhookSecret::generate().expose()));
}

#[tokio::test]
async fn endpoint_api_refuses_bad_input_and_other_tenants() {
    let app = spawn().await;
    for (body, field) in [
        (json!({"url": "ftp://x.nl/"}), "url"),
        (json!({"url": "https://x.nl/", "event_types": ["consent.exploded"]}), "event_types"),
        (json!({"url": "https://x.nl/", "colour": 1}), "colour"),
        (json!({"url": 7}), "url"),
    ] {
        let r = app.post("/v1/webhook-endpoints", &body).await;
        assert_eq!(r.status().as_u16(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["type"], "https://optin-verify.eu/problems/invalid-request");
        assert_eq!(p["field"], field);
    }
    let (ep, _) = app.endpoint("https://consent.example.nl/hooks").await;
    let list = app.client.get(app.url("/v1/webhook-endpoints")).bearer_auth(&app.other_key).send().await.unwrap();
    assert_eq!(list.json::<Value>().await.unwrap(), json!([]));
    for req in [
        app.client.get(app.url(&format!("/v1/webhook-endpoints/{ep}"))),
        app.client.delete(app.url(&format!("/v1/webhook-endpoints/{ep}"))),
        app.client.post(app.url(&format!("/v1/webhook-endpoints/{ep}/rotate-secret"))),
    ] {
        assert_eq!(req.bearer_auth(&app.other_key).send().await.unwrap().status().as_u16(), 404);
    }
    let del =
        app.client.delete(app.url(&format!("/v1/webhook-endpoints/{ep}"))).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(del.status().as_u16(), 204);
    let (status, _) = app.get_json(&format!("/v1/webhook-endpoints/{ep}")).await;
    assert_eq!(status, 404);
}
