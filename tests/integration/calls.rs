//! ACM method 3: an announced, recorded verification call.

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use optin_verify::config::{HoursSettings, Settings};
use serde_json::{Value, json};

use crate::{
    harness::{TestApp, fresh_phone, link_in, spawn_with, start_body},
    receiver::Receiver,
};

const CALLER: &str = "+31201234567";

/// Calls allowed around the clock, so tests can use windows starting in seconds.
fn any_time(s: &mut Settings) {
    s.tenants[0].calling_hours = HoursSettings {
        days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| d.to_string()).collect(),
        start: "00:00".into(),
        end: "24:00".into(),
        blocked_dates: vec![],
    };
}

/// A send window that stays closed for the next month: marketer messages wait.
pub fn closed_send_window() -> HoursSettings {
    HoursSettings {
        days: vec!["mon".into()],
        start: "00:00".into(),
        end: "00:01".into(),
        blocked_dates: (0..30).map(|d| (Utc::now() + Span::days(d)).format("%Y-%m-%d").to_string()).collect(),
    }
}

fn call_body(start: chrono::DateTime<Utc>, end: chrono::DateTime<Utc>, caller: &str) -> Value {
    let mut b = start_body("call", "sms");
    b["phone"] = json!(fresh_phone());
    b["call"] = json!({"window_start": start, "window_end": end, "caller_number": caller});
    b
}

async fn refused(app: &TestApp, body: &Value, kind: &str) {
    let before = app.keys().await;
    let r = app.post("/v1/verifications", body).await;
    assert_eq!(r.status().as_u16(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], format!("https://optin-verify.eu/problems/{kind}"), "{p}");
    app.assert_keys_unchanged(&before, "a refused call start wrote to Redis").await;
}

/// A call verification whose window opens in 2 s; returns (id, announcement text).
async fn announced(app: &TestApp) -> (String, String) {
    let now = Utc::now();
    let v = app.start(&call_body(now + Span::seconds(2), now + Span::minutes(30), CALLER)).await;
    assert_eq!(v["method"], "call");
    let id = v["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    (id, text)
}

fn outcome(kind: &str) -> Value {
    json!({
        "outcome": kind, "called_at": Utc::now(), "caller_number": CALLER, "agent_id": "agent-7",
        "recording": {"uri": "s3://recordings/2026/11/call-1.wav", "sha256": "ab".repeat(32), "duration_seconds": 95}
    })
}

async fn report(app: &TestApp, id: &str, body: &Value) -> (u16, Value) {
    let r = app.post(&format!("/v1/verifications/{id}/call-outcome"), body).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn every_start_rule_has_its_own_refusal() {
    let app = spawn_with(|_| {}).await; // default calling hours: working days 09:00-20:00
    let now = Utc::now();
    let t = |h: i64| now + Span::hours(h);
    refused(&app, &call_body(t(-2), t(-1), CALLER), "call-window-in-past").await;
    refused(&app, &call_body(t(24), t(24) + Span::minutes(10), CALLER), "call-window-too-short").await;
    refused(&app, &call_body(t(24), t(29), CALLER), "call-window-too-long").await;
    refused(&app, &call_body(t(24 * 15), t(24 * 15) + Span::hours(1), CALLER), "call-window-too-far-ahead").await;
    // 03:00-04:00 Dutch time is outside the default calling hours whatever the day.
    let night =
        (now + Span::days(2)).with_timezone(&chrono_tz::Europe::Amsterdam).date_naive().and_hms_opt(3, 0, 0).unwrap();
    let night = night.and_local_timezone(chrono_tz::Europe::Amsterdam).unwrap().with_timezone(&Utc);
    refused(&app, &call_body(night, night + Span::hours(1), CALLER), "call-window-outside-calling-hours").await;
    refused(&app, &call_body(t(24), t(25), "+31101234567"), "caller-number-not-registered").await;
    let mut no_window = start_body("call", "sms");
    no_window["phone"] = json!(fresh_phone());
    refused(&app, &no_window, "invalid-request").await;
}

#[tokio::test]
async fn happy_path_to_a_webhook_whose_receipt_verifies() {
    let app = spawn_with(any_time).await;
    let rx = Receiver::start().await;
    let (_, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    let (id, text) = announced(&app).await;
    assert!(text.contains(CALLER) && text.contains("opgenomen") && text.contains("alleen om te controleren"));
    assert!(text.contains("/o/"), "a don't-call-me link");
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert!(v["call"]["announced_at"].is_string());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, v) = report(&app, &id, &outcome("confirmed")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "confirmed");
    let call = &v["evidence"]["verification"]["call"];
    assert_eq!(call["caller_number"], CALLER);
    assert_eq!(call["agent_id"], "agent-7");
    assert_eq!(call["announcement"]["channel"], "sms");
    assert_eq!(call["announcement"]["text_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(call["recording"]["sha256"], "ab".repeat(32));
    let called: chrono::DateTime<Utc> = call["called_at"].as_str().unwrap().parse().unwrap();
    let retain: chrono::DateTime<Utc> = call["recording"]["retain_until"].as_str().unwrap().parse().unwrap();
    assert_eq!(retain, called.checked_add_months(chrono::Months::new(12)).unwrap());

    let got = rx.wait_for("/store", "consent.confirmed", Some(&id), Duration::from_secs(10)).await;
    assert_eq!(got.verified, Some(true));
    assert_eq!(got.body["data"]["method"], "call");
    let jwks: jsonwebtoken::jwk::JwkSet =
        app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let receipt = got.body["data"]["receipt"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(receipt).unwrap().kid.unwrap();
    let mut val = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    val.required_spec_claims.clear();
    val.validate_exp = false;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let claims = jsonwebtoken::decode::<Value>(receipt, &key, &val).unwrap().claims;
    assert_eq!(claims["evidence"]["verification"]["call"]["recording"]["uri"], "s3://recordings/2026/11/call-1.wav");
}

#[tokio::test]
async fn the_proof_of_a_call_names_its_recording_and_checks_out_offline() {
    let app = spawn_with(any_time).await;
    let (id, _) = announced(&app).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, v) = report(&app, &id, &outcome("confirmed")).await;
    assert_eq!(status, 200, "{v}");
    let phone = v["evidence"]["subject"]["phone"].as_str().unwrap().replace('+', "%2B");
    crate::proof::signed(&app, &[&id]).await;
    let (status, bundle) = app.get_json(&format!("/v1/consents/proof?phone={phone}")).await;
    assert_eq!(status, 200, "{bundle}");
    let c = &bundle["consents"][0];
    assert_eq!(c["verification_id"], id.as_str());
    let call = &c["evidence"]["verification"]["call"];
    assert_eq!(call["recording"]["uri"], "s3://recordings/2026/11/call-1.wav");
    assert_eq!(call["recording"]["sha256"], "ab".repeat(32));
    assert_eq!(call["agent_id"], "agent-7");
    assert!(!c["delivery"]["attempts"].as_array().unwrap().is_empty(), "the announcement's send");
    let (code, out) = crate::proof::cli(&["verify-proof", &crate::proof::file("call", &bundle)]);
    assert_eq!(code, 0, "{out}");
    let mut moved = bundle.clone();
    moved["consents"][0]["evidence"]["verification"]["call"]["recording"]["uri"] = json!("s3://elsewhere.wav");
    let (code, out) = crate::proof::cli(&["verify-proof", &crate::proof::file("call-moved", &moved)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("evidence.verification.call.recording.uri differs"), "{out}");
}

#[tokio::test]
async fn outcome_rules_refuse_and_leave_it_pending() {
    let app = spawn_with(any_time).await;
    let (id, _) = announced(&app).await;
    // Before the window opens.
    let (s, p) = report(&app, &id, &outcome("confirmed")).await;
    assert_eq!((s, p["type"].as_str().unwrap()), (422, "https://optin-verify.eu/problems/called-outside-window"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut wrong_caller = outcome("confirmed");
    wrong_caller["caller_number"] = json!("+31301234567");
    let (s, p) = report(&app, &id, &wrong_caller).await;
    assert_eq!((s, p["type"].as_str().unwrap()), (422, "https://optin-verify.eu/problems/caller-number-mismatch"));
    let mut no_recording = outcome("confirmed");
    no_recording.as_object_mut().unwrap().remove("recording");
    let (s, p) = report(&app, &id, &no_recording).await;
    assert_eq!((s, p["type"].as_str().unwrap()), (422, "https://optin-verify.eu/problems/recording-required"));
    let mut future = outcome("confirmed");
    future["called_at"] = json!(Utc::now() + Span::minutes(10));
    let (s, p) = report(&app, &id, &future).await;
    assert_eq!((s, p["type"].as_str().unwrap()), (422, "https://optin-verify.eu/problems/called-at-in-future"));
    let mut bad_hash = outcome("confirmed");
    bad_hash["recording"]["sha256"] = json!("xyz");
    let (s, p) = report(&app, &id, &bad_hash).await;
    assert_eq!((s, p["field"].as_str().unwrap()), (422, "recording.sha256"));
    assert_eq!(app.status_of(&id).await, "pending");
    assert!(app.events_for(&id).await.is_empty());
    // Another tenant's id, and a verification that is not a call.
    let other = app.client.post(app.url(&format!("/v1/verifications/{id}/call-outcome"))).bearer_auth(&app.other_key);
    assert_eq!(other.json(&outcome("confirmed")).send().await.unwrap().status().as_u16(), 404);
    let code_id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let (s, p) = report(&app, &code_id, &outcome("confirmed")).await;
    assert_eq!((s, p["type"].as_str().unwrap()), (422, "https://optin-verify.eu/problems/not-a-call-verification"));
}

#[tokio::test]
async fn a_call_before_the_announcement_went_out_is_refused() {
    // Marketer campaigns wait for the send window: this one is closed all week.
    let app = spawn_with(|s| {
        any_time(s);
        s.tenants[0].send_window = closed_send_window();
    })
    .await;
    let now = Utc::now();
    let mut body = call_body(now + Span::seconds(1), now + Span::minutes(30), CALLER);
    body["initiated_by"] = json!("marketer");
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["delivery"]["state"], "held", "quiet hours hold the announcement");
    assert_eq!(app.outbox_count(&id).await, 0);
    let (s, p) = report(&app, &id, &outcome("confirmed")).await;
    assert_eq!((s, p["type"].as_str().unwrap()), (422, "https://optin-verify.eu/problems/called-before-announcement"));
    assert_eq!(app.status_of(&id).await, "pending");
}

#[tokio::test]
async fn a_person_who_says_no_on_the_call_is_declined_and_campaigns_keep_away() {
    let app = spawn_with(any_time).await;
    let now = Utc::now();
    let body = call_body(now + Span::seconds(2), now + Span::minutes(30), CALLER);
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    app.outbox_message(&id).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, v) = report(&app, &id, &outcome("declined")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "declined");
    assert_eq!(app.events_for(&id).await, vec!["consent.declined"]);
    // As after a "not me": a campaign does not ask the number again for a while.
    let mut campaign = start_body("code", "sms");
    campaign["phone"] = body["phone"].clone();
    campaign["initiated_by"] = json!("marketer");
    campaign.as_object_mut().unwrap().remove("collection");
    let r = app.post("/v1/verifications", &campaign).await;
    assert_eq!(r.status().as_u16(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "https://optin-verify.eu/problems/number-suppressed", "{p}");
}

#[tokio::test]
async fn declining_through_the_announcement_link_blocks_the_outcome() {
    let app = spawn_with(any_time).await;
    let (id, text) = announced(&app).await;
    let optout = link_in(&text, "o");
    let page = app.client.get(app.url(&optout)).send().await.unwrap().text().await.unwrap();
    let r = app.client.post(app.url(&optout)).form(&[("csrf", crate::harness::csrf_in(&page))]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.status_of(&id).await, "declined");
    assert_eq!(app.events_for(&id).await, vec!["consent.declined"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, p) = report(&app, &id, &outcome("confirmed")).await;
    assert_eq!((s, p["type"].as_str().unwrap()), (409, "https://optin-verify.eu/problems/verification-not-pending"));
    assert_eq!(app.status_of(&id).await, "declined");
}

#[tokio::test]
async fn unreachable_reschedules_up_to_the_limit_then_fails() {
    let app = spawn_with(any_time).await;
    let (id, _) = announced(&app).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for round in 1..=2u32 {
        // Without a new window there is nothing to announce.
        let (s, p) = report(&app, &id, &outcome("unreachable")).await;
        assert_eq!((s, p["type"].as_str().unwrap()), (422, "https://optin-verify.eu/problems/new-window-required"));
        let now = Utc::now();
        let mut body = outcome("unreachable");
        body["new_window"] = json!({"window_start": now + Span::seconds(2), "window_end": now + Span::minutes(30)});
        let (s, v) = report(&app, &id, &body).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "pending");
        assert_eq!(v["call"]["reschedules"], round);
        // A new announcement goes out for the new window.
        for _ in 0..100 {
            if app.outbox_count(&id).await == round as usize + 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(app.outbox_count(&id).await, round as usize + 1);
        tokio::time::sleep(Duration::from_millis(2100)).await;
    }
    let (s, v) = report(&app, &id, &outcome("unreachable")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "failed");
    assert_eq!(app.events_for(&id).await, vec!["verification.failed"]);
}

#[tokio::test]
async fn a_retention_reminder_is_emitted_before_retain_until() {
    // A reminder lead longer than the retention makes it due at once.
    let app = spawn_with(|s| {
        any_time(s);
        s.calls.retention_reminder_days = 400;
    })
    .await;
    let rx = Receiver::start().await;
    app.endpoint(&rx.url("/dpo")).await;
    let (id, _) = announced(&app).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, _) = report(&app, &id, &outcome("confirmed")).await;
    assert_eq!(s, 200);
    let got = rx.wait_for("/dpo", "recording.retention_due", Some(&id), Duration::from_secs(10)).await;
    assert_eq!(got.body["data"]["recording"]["uri"], "s3://recordings/2026/11/call-1.wav");
    let documented = crate::payload_docs::documented("recording.retention_due", false);
    assert_eq!(crate::payload_docs::sent(&got.body), documented, "as docs/WEBHOOKS.md says");
    assert!(got.body["data"]["retain_until"].is_string());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed", "recording.retention_due"], "exactly once");
}

#[tokio::test]
async fn quiet_hours_hold_marketer_messages_and_start_the_clock_at_release() {
    let app = spawn_with(|s| {
        s.tenants[0].send_window = closed_send_window();
    })
    .await;
    let mut campaign = start_body("code", "sms");
    campaign["initiated_by"] = json!("marketer");
    campaign["phone"] = json!(fresh_phone());
    let held = app.start(&campaign).await["id"].as_str().unwrap().to_string();
    let mut waiting = start_body("code", "sms");
    waiting["phone"] = json!(fresh_phone());
    let sent = app.start(&waiting).await["id"].as_str().unwrap().to_string();
    app.outbox_message(&sent).await; // a consumer-initiated message is never held
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, v) = app.get_json(&format!("/v1/verifications/{held}")).await;
    assert_eq!(v["delivery"]["state"], "held");
    assert_eq!(app.outbox_count(&held).await, 0);
    let exp: chrono::DateTime<Utc> = v["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(exp > Utc::now() + Span::days(1), "it cannot expire while it waits");
    // The window opens: release it as the scheduler would at that moment.
    let mut c = app.redis().await;
    let _: () = redis::cmd("ZADD")
        .arg(app.store_keys().held(app.vid(&held).partition()))
        .arg(Utc::now().timestamp_millis())
        .arg(format!("{held}|held-initial"))
        .query_async(&mut c)
        .await
        .unwrap();
    app.outbox_message(&held).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, v) = app.get_json(&format!("/v1/verifications/{held}")).await;
    assert_eq!(v["delivery"]["state"], "sent");
    let exp: chrono::DateTime<Utc> = v["expires_at"].as_str().unwrap().parse().unwrap();
    let left = exp - Utc::now();
    assert!(left > Span::minutes(9) && left <= Span::minutes(10), "the 10-minute clock starts at sending: {left}");
}
