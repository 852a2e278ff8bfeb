//! Delivery reports are matched to one send. A report about an earlier send, a second verdict on
//! a send, a duplicate or a replay changes nothing: not the state, and not the attempt log, which
//! only grows (security findings B and E). Checked on the record as stored in Redis.

use std::collections::HashMap;

use hmac::Mac;
use optin_verify::channels::sms::twilio_signature;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{
    harness::{TestApp, fresh_phone, spawn_with, start_body},
    providers::{bodies, cm, cm_accepted, sms_app, start_sms, twilio, verification, whatsapp},
};

type Stored = HashMap<String, String>;

/// The attempt lines as stored: `a1` to `a<na>`.
fn lines(h: &Stored) -> Vec<String> {
    let n: usize = h.get("na").and_then(|n| n.parse().ok()).unwrap_or(0);
    (1..=n).map(|i| h.get(&format!("a{i}")).cloned().unwrap_or_default()).collect()
}

/// The outcome of each stored line: `accepted`, `report:delivered` ...
fn outcomes(h: &Stored) -> Vec<String> {
    lines(h).iter().map(|l| l.split('|').nth(2).unwrap_or_default().to_string()).collect()
}

fn state(h: &Stored) -> (&str, &str) {
    (h["st"].as_str(), h["dlv"].as_str())
}

/// Resends and waits until the second message was handed to its provider.
async fn resend(app: &TestApp, id: &str) {
    let r = app.post(&format!("/v1/verifications/{id}/resend"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 202);
    verification(app, id, |v| v["delivery"]["sends"] == 2).await;
}

async fn cm_report(app: &TestApp, reference: &str, code: &str) -> u16 {
    let body = json!({"messages": {"msg": {"received": "2026-11-27T10:00:00", "to": "0031612345678",
        "reference": reference, "status": {"code": code, "errorCode": "", "errorDescription": ""},
        "operator": "20408"}}});
    let url = app.url("/hooks/sms/cm?token=cm-callback-secret");
    app.client.post(url).json(&body).send().await.unwrap().status().as_u16()
}

fn twilio_form(sid: &str, status: &str) -> Vec<(String, String)> {
    [("MessageSid", sid), ("MessageStatus", status), ("AccountSid", "AC123")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Posts a correctly signed Twilio status callback.
async fn twilio_report(app: &TestApp, id: &str, sid: &str, status: &str) -> u16 {
    let url = format!("{}/hooks/sms/twilio?vid={id}", app.base);
    let params = twilio_form(sid, status);
    let sig = twilio_signature("twilio-token", &url, &params);
    let r = app.client.post(&url).header("X-Twilio-Signature", sig.as_str()).form(&params);
    r.send().await.unwrap().status().as_u16()
}

/// Posts a correctly signed WhatsApp status webhook.
async fn whatsapp_report(app: &TestApp, vid: &str, wamid: &str, status: &str) -> u16 {
    let errors =
        if status == "failed" { json!([{"code": 131026, "title": "Message undeliverable"}]) } else { json!([]) };
    let hook = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "statuses": [{"id": wamid, "status": status,
        "timestamp": "1764230400", "recipient_id": "31612345678", "biz_opaque_callback_data": vid,
        "errors": errors}]}}]}]})
    .to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"wa-app-secret").unwrap();
    mac.update(hook.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let r = app.client.post(app.url("/hooks/whatsapp")).header("X-Hub-Signature-256", sig.as_str()).body(hook);
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn cm_reports_about_an_earlier_send_or_a_settled_one_change_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1.0/message")).respond_with(cm_accepted("x")).mount(&server).await;
    let app = sms_app(vec![cm(&server.uri())], 2).await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    verification(&app, &id, |v| v["delivery"]["sends"] == 1).await;
    resend(&app, &id).await;
    let refs: Vec<String> = bodies(&server.received_requests().await.unwrap())
        .iter()
        .map(|b| b["messages"]["msg"][0]["reference"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refs.len(), 2);
    let sent = app.stored(&id).await;
    assert_eq!(state(&sent), ("pending", "sent"));
    assert_eq!(outcomes(&sent), ["accepted", "accepted"]);

    // A "failed" report about the first send, late or replayed, while the resent message may
    // well have arrived: nothing changes.
    assert_eq!(cm_report(&app, &refs[0], "3").await, 200);
    assert_eq!(app.stored(&id).await, sent, "a report about an earlier send changed the record");
    assert!(app.events_for(&id).await.is_empty());

    // Each send has its own reference, and the record names the latest.
    assert_ne!(refs[0], refs[1]);
    assert_eq!(sent.get("pref"), Some(&refs[1]));
    assert_eq!(sent["ns"], "2");

    // The first verdict on the latest send counts, once.
    assert_eq!(cm_report(&app, &refs[1], "2").await, 200);
    let settled = app.stored(&id).await;
    assert_eq!(state(&settled), ("pending", "delivered"));
    assert_eq!(outcomes(&settled), ["accepted", "accepted", "report:delivered"]);
    assert_eq!(lines(&settled)[..2], lines(&sent)[..]);
    // Then nothing moves it: the same report again, a failure after delivery, the old send's.
    for (reference, code) in [(&refs[1], "2"), (&refs[1], "3"), (&refs[0], "3"), (&refs[0], "2")] {
        assert_eq!(cm_report(&app, reference, code).await, 200);
        assert_eq!(app.stored(&id).await, settled, "report {code} about {reference} changed the record");
    }
    assert!(app.events_for(&id).await.is_empty());
}

#[tokio::test]
async fn a_cm_report_that_overtakes_its_send_is_refused_until_the_send_is_recorded() {
    let server = MockServer::start().await;
    // CM takes the message, but answers late: its report can come before its answer.
    let slow = cm_accepted("x").set_delay(std::time::Duration::from_millis(1500));
    Mock::given(method("POST")).and(path("/v1.0/message")).respond_with(slow).mount(&server).await;
    let app = sms_app(vec![cm(&server.uri())], 5).await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.received_requests().await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "nothing reached CM");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let reference = optin_verify::channels::sms::cm_reference(&id, 1);
    let before = app.stored(&id).await;
    assert!(!before.contains_key("ns"), "{before:?}");
    // CM retries a report answered with a 5xx: nothing is lost, and nothing is recorded yet.
    assert_eq!(cm_report(&app, &reference, "2").await, 503);
    assert_eq!(app.stored(&id).await, before);
    // A report naming a later send still is no report of ours to keep.
    assert_eq!(cm_report(&app, &optin_verify::channels::sms::cm_reference(&id, 2), "3").await, 200);
    assert_eq!(app.stored(&id).await, before);

    verification(&app, &id, |v| v["delivery"]["sends"] == 1).await;
    assert_eq!(cm_report(&app, &reference, "2").await, 200);
    let settled = app.stored(&id).await;
    assert_eq!(state(&settled), ("pending", "delivered"));
    assert_eq!(outcomes(&settled), ["accepted", "report:delivered"]);
}

#[tokio::test]
async fn twilio_reports_about_an_earlier_send_or_a_settled_one_change_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM2"})))
        .mount(&server)
        .await;
    let app = sms_app(vec![twilio(&server.uri())], 2).await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    verification(&app, &id, |v| v["delivery"]["sends"] == 1).await;
    resend(&app, &id).await;
    let sent = app.stored(&id).await;
    assert_eq!(sent.get("pref").map(String::as_str), Some("SM2"));
    assert_eq!(state(&sent), ("pending", "sent"));
    assert_eq!(outcomes(&sent), ["accepted", "accepted"]);

    assert_eq!(twilio_report(&app, &id, "SM1", "undelivered").await, 200);
    assert_eq!(app.stored(&id).await, sent, "a report about an earlier send changed the record");

    assert_eq!(twilio_report(&app, &id, "SM2", "delivered").await, 200);
    let settled = app.stored(&id).await;
    assert_eq!(state(&settled), ("pending", "delivered"));
    assert_eq!(outcomes(&settled), ["accepted", "accepted", "report:delivered"]);
    for (sid, status) in [("SM2", "delivered"), ("SM2", "undelivered"), ("SM2", "failed"), ("SM1", "failed")] {
        assert_eq!(twilio_report(&app, &id, sid, status).await, 200);
        assert_eq!(app.stored(&id).await, settled, "report {status} about {sid} changed the record");
    }
    assert!(app.events_for(&id).await.is_empty());
}

#[tokio::test]
async fn whatsapp_reports_about_an_earlier_send_or_a_settled_one_change_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.A"}]})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.B"}]})))
        .mount(&server)
        .await;
    let base = server.uri();
    let app = spawn_with(move |s| s.channels.whatsapp = Some(whatsapp(&base))).await;
    let mut body = start_body("code", "whatsapp");
    body["phone"] = json!(fresh_phone());
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    verification(&app, &id, |v| v["delivery"]["sends"] == 1).await;
    resend(&app, &id).await;
    let sent = app.stored(&id).await;
    assert_eq!(sent.get("pref").map(String::as_str), Some("wamid.B"));
    assert_eq!(state(&sent), ("pending", "sent"));
    assert_eq!(outcomes(&sent), ["accepted", "accepted"]);

    assert_eq!(whatsapp_report(&app, &id, "wamid.A", "failed").await, 200);
    assert_eq!(app.stored(&id).await, sent, "a report about an earlier send changed the record");

    assert_eq!(whatsapp_report(&app, &id, "wamid.B", "delivered").await, 200);
    let settled = app.stored(&id).await;
    assert_eq!(state(&settled), ("pending", "delivered"));
    assert_eq!(outcomes(&settled), ["accepted", "accepted", "report:delivered"]);
    for (wamid, status) in [("wamid.B", "read"), ("wamid.B", "delivered"), ("wamid.B", "failed"), ("wamid.A", "failed")]
    {
        assert_eq!(whatsapp_report(&app, &id, wamid, status).await, 200);
        assert_eq!(app.stored(&id).await, settled, "report {status} about {wamid} changed the record");
    }
    assert!(app.events_for(&id).await.is_empty());
}

/// 25 replays of one signed report must neither add attempt lines nor replace the ones kept.
#[tokio::test]
async fn a_replayed_signed_report_adds_no_attempt_line_and_replaces_none() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1"})))
        .mount(&server)
        .await;
    let app = sms_app(vec![twilio(&server.uri())], 2).await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    verification(&app, &id, |v| v["delivery"]["sends"] == 1).await;
    let sent = app.stored(&id).await;
    assert_eq!(outcomes(&sent), ["accepted"]);

    // One signed report, posted once and then replayed byte for byte.
    let url = format!("{}/hooks/sms/twilio?vid={id}", app.base);
    let params = twilio_form("SM1", "delivered");
    let sig = twilio_signature("twilio-token", &url, &params);
    let r = app.client.post(&url).header("X-Twilio-Signature", sig.as_str()).form(&params).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let first = app.stored(&id).await;
    assert_eq!(state(&first), ("pending", "delivered"));
    assert_eq!(outcomes(&first), ["accepted", "report:delivered"]);
    assert_eq!(lines(&first)[0], lines(&sent)[0], "the send's own line");
    assert_eq!(first["na"], "2");
    for _ in 0..25 {
        let r = app.client.post(&url).header("X-Twilio-Signature", sig.as_str()).form(&params).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let replayed = app.stored(&id).await;
    assert_eq!(lines(&replayed), lines(&first));
    assert_eq!(replayed, first);

    // And an old, signed failure report, replayed as often: nothing either.
    let params = twilio_form("SM1", "undelivered");
    let sig = twilio_signature("twilio-token", &url, &params);
    for _ in 0..25 {
        let r = app.client.post(&url).header("X-Twilio-Signature", sig.as_str()).form(&params).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    assert_eq!(app.stored(&id).await, first);
    assert!(app.events_for(&id).await.is_empty());
}
