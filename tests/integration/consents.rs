//! One number's consent state: the lookup before every call, the withdrawal that covers every
//! consent of the number, the suppression of campaigns afterwards, and the keys a record
//! leaves behind when its retention ends.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    campaign::always_open,
    harness::{TestApp, code_in, csrf_in, fresh_phone, hash_tag, link_in, spawn_cluster, spawn_with, start_body},
    receiver::Receiver,
};

const PROBLEM: &str = "https://optin-verify.eu/problems/";

/// Confirms a code verification of `phone` for purpose `purpose`; returns its id.
async fn consent(app: &TestApp, key: &str, phone: &str, purpose: &str) -> String {
    let mut body = start_body("code", "sms");
    body["phone"] = json!(phone);
    body["purpose"]["id"] = json!(purpose);
    let r = app.post_as(key, "/v1/verifications", &body).await;
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    let r = app.post_as(key, &format!("/v1/verifications/{id}/check"), &json!({"code": code})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "confirmed");
    id
}

async fn lookup(app: &TestApp, key: &str, query: &str) -> (u16, Value) {
    let r = app.client.get(app.url(&format!("/v1/consents?{query}"))).bearer_auth(key).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn q(phone: &str) -> String {
    format!("phone={}", phone.replace('+', "%2B"))
}

/// Runs the lookup checks for a fresh number, and returns that number.
async fn lookup_flow(app: &TestApp) -> String {
    let phone = fresh_phone();
    let energy = consent(app, &app.key, &phone, "energy-offers").await;
    let insurance = consent(app, &app.key, &phone, "insurance").await;
    let (status, all) = lookup(app, &app.key, &q(&phone)).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["consented"], true);
    let mut purposes: Vec<&str> =
        all["consents"].as_array().unwrap().iter().map(|c| c["purpose"].as_str().unwrap()).collect();
    purposes.sort();
    assert_eq!(purposes, ["energy-offers", "insurance"]);
    let (_, one) = lookup(app, &app.key, &format!("{}&purpose=energy-offers", q(&phone))).await;
    let c = &one["consents"][0];
    assert_eq!(one["consents"].as_array().unwrap().len(), 1);
    assert_eq!(
        (c["verification_id"].as_str(), c["method"].as_str(), c["channel"].as_str()),
        (Some(energy.as_str()), Some("code"), Some("sms"))
    );
    assert!(c["confirmed_at"].is_string());
    assert!(c["withdrawn_at"].is_null());
    assert!(c["receipt_id"].as_str().unwrap().starts_with("rcpt_"));
    // National notation finds the same number; an unknown purpose finds nothing.
    let national = format!("0{}", &phone[3..]);
    assert_eq!(lookup(app, &app.key, &format!("phone={national}")).await.1["consents"].as_array().unwrap().len(), 2);
    let (_, none) = lookup(app, &app.key, &format!("{}&purpose=lottery", q(&phone))).await;
    assert_eq!((none["consented"].clone(), none["consents"].as_array().unwrap().len()), (json!(false), 0));
    // Another tenant asking about the same number sees none of this.
    let (_, theirs) = lookup(app, &app.other_key, &q(&phone)).await;
    assert_eq!(theirs["consented"], false);
    assert!(theirs["consents"].as_array().unwrap().is_empty());
    // Bad input: a malformed number, a missing one, an unknown parameter.
    for (query, ty) in
        [("phone=12", "invalid-phone"), ("purpose=x", "invalid-request"), ("phone=0612345678&x=1", "invalid-request")]
    {
        let (status, p) = lookup(app, &app.key, query).await;
        assert_eq!((status, p["type"].as_str().unwrap()), (422, format!("{PROBLEM}{ty}").as_str()), "{query}");
    }
    let _ = insurance;
    phone
}

#[tokio::test]
async fn the_lookup_answers_per_purpose_and_never_shows_another_tenant() {
    let app = spawn_with(|_| {}).await;
    let phone = lookup_flow(&app).await;
    // The index is keyed by a pseudonym: no key name holds the number's digits. (Not just
    // "316": a stream id's millisecond timestamp may contain that by chance.)
    let keys = app.keys().await;
    assert!(keys.iter().any(|k| k.contains(":cs:acme:")));
    let digits = &phone[3..];
    assert!(keys.iter().all(|k| !k.contains(digits)), "{digits} in {keys:?}");
}

#[tokio::test]
async fn cluster_lookup_answers_per_purpose() {
    let app = spawn_cluster().await;
    lookup_flow(&app).await;
}

async fn withdraw_all_flow(app: &TestApp, rx: &Receiver) {
    let phone = fresh_phone();
    let a = consent(app, &app.key, &phone, "energy-offers").await;
    let b = consent(app, &app.key, &phone, "insurance").await;
    let c = consent(app, &app.key, &phone, "lottery").await;
    // Only one purpose first.
    let r = app.post("/v1/withdrawals", &json!({"phone": phone, "source": "phone_call", "purpose": "lottery"})).await;
    assert_eq!(r.status().as_u16(), 202);
    let one: Value = r.json().await.unwrap();
    assert_eq!(one["events"].as_array().unwrap().len(), 1);
    assert_eq!(one["events"][0]["verification_id"], c.as_str());
    // Then the whole number: the two left, one event each.
    let r = app.post("/v1/withdrawals", &json!({"phone": phone, "source": "letter"})).await;
    let all: Value = r.json().await.unwrap();
    let mut withdrawn: Vec<&str> =
        all["events"].as_array().unwrap().iter().map(|e| e["verification_id"].as_str().unwrap()).collect();
    withdrawn.sort();
    let mut expected = [a.as_str(), b.as_str()];
    expected.sort();
    assert_eq!(withdrawn, expected);
    for id in [&a, &b, &c] {
        let got = rx.wait_for("/store", "consent.withdrawn", Some(id), Duration::from_secs(10)).await;
        assert_eq!(got.verified, Some(true));
        let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
        assert!(v["evidence"]["withdrawal"]["withdrawn_at"].is_string(), "{v}");
        // The receipt stays what was signed at confirmation.
        assert!(v["receipt"].is_string());
    }
    let (_, state) = lookup(app, &app.key, &q(&phone)).await;
    assert_eq!(state["consented"], false);
    assert!(
        state["consents"].as_array().unwrap().iter().all(|c| c["withdrawn_at"].is_string() && c["consented"] == false)
    );
    // The receipt page says so too.
    let receipt = state["consents"][0]["receipt_id"].as_str().unwrap();
    let page = app.client.get(app.url(&format!("/r/{receipt}?lang=en"))).send().await.unwrap().text().await.unwrap();
    assert!(page.to_lowercase().contains("withdrawn"), "{page}");
}

#[tokio::test]
async fn a_withdrawal_by_number_marks_every_consent_and_tells_every_endpoint() {
    let app = spawn_with(|_| {}).await;
    let rx = Receiver::start().await;
    let (_, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    withdraw_all_flow(&app, &rx).await;
}

#[tokio::test]
async fn cluster_withdrawal_by_number_marks_every_consent() {
    let app = spawn_cluster().await;
    let rx = Receiver::start().await;
    let (_, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    withdraw_all_flow(&app, &rx).await;
}

fn marketer(phone: &str) -> Value {
    let mut b = start_body("link", "sms");
    b["phone"] = json!(phone);
    b["initiated_by"] = json!("marketer");
    b
}

#[tokio::test]
async fn after_a_decline_campaigns_may_not_ask_again_but_the_person_may() {
    let app = spawn_with(always_open).await;
    let phone = fresh_phone();
    let id = app.start(&marketer(&phone)).await["id"].as_str().unwrap().to_string();
    let link = link_in(app.outbox_message(&id).await["text"].as_str().unwrap(), "c");
    let page = app.client.get(app.url(&link)).send().await.unwrap().text().await.unwrap();
    let r =
        app.client.post(app.url(&format!("{link}/decline"))).form(&[("csrf", csrf_in(&page))]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.status_of(&id).await, "declined");
    let before = crate::campaign::records(&app).await;
    let r = app.post("/v1/verifications", &marketer(&phone)).await;
    assert_eq!(r.status().as_u16(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], format!("{PROBLEM}number-suppressed"));
    assert_eq!(p["field"], "phone");
    assert_eq!(p["detail"], "this number cannot be asked for consent now");
    assert_eq!(crate::campaign::records(&app).await, before, "a refused start writes no record");
    // In a batch, the same.
    let (_, b) = crate::campaign::batch(&app, vec![marketer(&phone)], None).await;
    assert_eq!(b["items"][0]["error"]["type"], format!("{PROBLEM}number-suppressed"));
    // The person asking again themselves is not a campaign.
    let mut own = marketer(&phone);
    own["initiated_by"] = json!("consumer");
    assert_eq!(app.post("/v1/verifications", &own).await.status().as_u16(), 201);
    // Another tenant's campaigns are not affected by this tenant's decline.
    let r = app.post_as(&app.other_key, "/v1/verifications", &marketer(&phone)).await;
    assert_ne!(r.status().as_u16(), 422);
}

#[tokio::test]
async fn after_a_withdrawal_or_a_not_me_campaigns_are_refused_too() {
    let app = spawn_with(always_open).await;
    // A withdrawal by number, even with no consent here.
    let phone = fresh_phone();
    assert_eq!(app.post("/v1/withdrawals", &json!({"phone": phone, "source": "letter"})).await.status().as_u16(), 202);
    let r = app.post("/v1/verifications", &marketer(&phone)).await;
    assert_eq!(r.json::<Value>().await.unwrap()["type"], format!("{PROBLEM}number-suppressed"));
    // "Not me" from the opt-out link of a pending campaign message.
    let phone = fresh_phone();
    let id = app.start(&marketer(&phone)).await["id"].as_str().unwrap().to_string();
    let optout = link_in(app.outbox_message(&id).await["text"].as_str().unwrap(), "o");
    let page = app.client.get(app.url(&optout)).send().await.unwrap().text().await.unwrap();
    let r = app.client.post(app.url(&optout)).form(&[("csrf", csrf_in(&page))]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = app.post("/v1/verifications", &marketer(&phone)).await;
    assert_eq!(r.status().as_u16(), 422);
}

#[tokio::test]
async fn with_suppression_off_a_campaign_may_ask_again() {
    let app = spawn_with(|s| {
        always_open(s);
        s.verification.suppression_days = 0;
    })
    .await;
    let phone = fresh_phone();
    assert_eq!(app.post("/v1/withdrawals", &json!({"phone": phone, "source": "letter"})).await.status().as_u16(), 202);
    assert_eq!(app.post("/v1/verifications", &marketer(&phone)).await.status().as_u16(), 201);
}

#[tokio::test]
async fn when_retention_ends_no_key_of_the_verification_is_left() {
    // Retention of zero days: the record ends the moment it is final.
    let app = spawn_with(|s| {
        s.verification.retention_days = 0;
        s.verification.receipt_retention_days = 0;
        s.verification.suppression_days = 0;
    })
    .await;
    let id = app.confirmed_by_code().await;
    let partition = hash_tag(&app.store_keys().events(app.vid(&id).partition())).to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let keys = app.keys().await;
    let mut c = app.redis().await;
    for k in &keys {
        assert!(!k.contains(&id), "{k} is left");
        assert!(!k.contains(":cs:") && !k.contains(":bc:"), "{k} is left");
        // A shared text (the consent text, a user agent) ends with the last record that uses
        // it: never later than the code's validity (600 s) after this one.
        if k.contains(":b:") {
            let ttl: i64 = redis::cmd("PTTL").arg(k).query_async(&mut c).await.unwrap();
            assert!((0..=600_000).contains(&ttl), "{k} lives {ttl} ms");
            continue;
        }
        // What remains are the partition's queues; none of them names the verification.
        let kind: String = redis::cmd("TYPE").arg(k).query_async(&mut c).await.unwrap();
        if kind == "zset" {
            let members: Vec<String> = redis::cmd("ZRANGE").arg(k).arg(0).arg(-1).query_async(&mut c).await.unwrap();
            assert!(members.iter().all(|m| !m.contains(&id)), "{k} still lists it");
        }
    }
    assert!(keys.iter().any(|k| hash_tag(k) == partition), "the partition's streams remain: {keys:?}");
}

#[tokio::test]
async fn older_consents_for_the_same_purpose_are_withdrawn_too_and_any_purpose_id_works() {
    let app = spawn_with(|_| {}).await;
    let phone = fresh_phone();
    let january = consent(&app, &app.key, &phone, "energy-offers").await;
    let july = consent(&app, &app.key, &phone, "energy-offers").await;
    // A purpose id that looks like the index's own marker is just a purpose.
    let odd = consent(&app, &app.key, &phone, "!").await;
    let (_, state) = lookup(&app, &app.key, &format!("{}&purpose=energy-offers", q(&phone))).await;
    assert_eq!(state["consents"].as_array().unwrap().len(), 1);
    assert_eq!(state["consents"][0]["verification_id"], july.as_str(), "the newest consent answers");
    let (_, odd_state) = lookup(&app, &app.key, &format!("{}&purpose=%21", q(&phone))).await;
    assert_eq!(odd_state["consents"][0]["verification_id"], odd.as_str());
    let r = app.post("/v1/withdrawals", &json!({"phone": phone, "source": "letter"})).await;
    let body: Value = r.json().await.unwrap();
    let mut withdrawn: Vec<&str> =
        body["events"].as_array().unwrap().iter().map(|e| e["verification_id"].as_str().unwrap()).collect();
    withdrawn.sort();
    let mut expected = [january.as_str(), july.as_str(), odd.as_str()];
    expected.sort();
    assert_eq!(withdrawn, expected, "every consent of the number, the older one included");
    let (_, v) = app.get_json(&format!("/v1/verifications/{january}")).await;
    assert!(v["evidence"]["withdrawal"]["withdrawn_at"].is_string());
    // Campaigns are refused afterwards (the `!` purpose did not disturb suppression).
    assert_eq!(app.post("/v1/verifications", &marketer(&phone)).await.status().as_u16(), 422);
}

#[tokio::test]
async fn a_queued_campaign_message_is_not_sent_once_the_number_opted_out() {
    let app = spawn_with(|s| s.tenants[0].send_window = crate::calls::closed_send_window()).await;
    let phone = fresh_phone();
    let id = app.start(&marketer(&phone)).await["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        if app.get_json(&format!("/v1/verifications/{id}")).await.1["delivery"]["state"] == "held" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The person opts out by phone while the campaign message waits for the send window.
    assert_eq!(
        app.post("/v1/withdrawals", &json!({"phone": phone, "source": "phone_call"})).await.status().as_u16(),
        202
    );
    // The window opens: the message comes due, and is dropped instead of sent.
    let mut c = app.redis().await;
    let _: () = redis::cmd("ZADD")
        .arg(app.store_keys().held(app.vid(&id).partition()))
        .arg(chrono::Utc::now().timestamp_millis())
        .arg(format!("{id}|held-initial"))
        .query_async(&mut c)
        .await
        .unwrap();
    for _ in 0..200 {
        if app.status_of(&id).await == "canceled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.status_of(&id).await, "canceled");
    assert_eq!(app.outbox_count(&id).await, 0, "nothing was sent to the number");
    assert_eq!(app.events_for(&id).await, vec!["verification.canceled"]);
}
