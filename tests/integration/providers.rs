//! SMS and WhatsApp against local servers that check the exact request each real provider
//! expects and answer as it does: success, 4xx, 5xx and timeouts; failover; delivery reports.

use std::time::Duration;

use optin_verify::{
    channels::{
        gsm,
        sms::{cm_reference, twilio_signature},
    },
    config::{SmsProviderKind, SmsProviderSettings, SmsSettings, TemplateRef, WhatsAppSettings},
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{basic_auth, body_partial_json, body_string_contains, header, method, path},
};

use crate::harness::{TestApp, code_in, fresh_phone, spawn_with, start_body};

const CM_TOKEN: &str = "00000000-0000-0000-0000-000000000001";

pub(crate) fn cm(base: &str) -> SmsProviderSettings {
    SmsProviderSettings {
        kind: SmsProviderKind::Cm,
        base_url: Some(base.into()),
        product_token: CM_TOKEN.into(),
        account_sid: String::new(),
        auth_token: String::new(),
        rate_per_second: 0,
    }
}

pub(crate) fn twilio(base: &str) -> SmsProviderSettings {
    SmsProviderSettings {
        kind: SmsProviderKind::Twilio,
        base_url: Some(base.into()),
        product_token: String::new(),
        account_sid: "AC123".into(),
        auth_token: "twilio-token".into(),
        rate_per_second: 0,
    }
}

fn sms_settings(providers: Vec<SmsProviderSettings>, attempts: u32, timeout: u64) -> SmsSettings {
    SmsSettings {
        sender: "Acme".into(),
        providers,
        attempts_per_provider: attempts,
        backoff_ms: 10,
        timeout_seconds: timeout,
        callback_token: "cm-callback-secret".into(),
    }
}

pub(crate) async fn sms_app(providers: Vec<SmsProviderSettings>, timeout: u64) -> TestApp {
    spawn_with(move |s| {
        s.channels.sms = Some(sms_settings(providers, 2, timeout));
        s.worker.reclaim_idle_ms = 60_000;
    })
    .await
}

pub(crate) fn cm_accepted(reference: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "details": "Created 1 message(s)", "errorCode": 0,
        "messages": [{"to": "0031612345678", "status": "Accepted", "reference": reference, "parts": 1,
                      "messageDetails": null, "messageErrorCode": 0}]
    }))
}

pub(crate) async fn start_sms(app: &TestApp, method_: &str, phone: &str) -> String {
    let mut body = start_body(method_, "sms");
    body["phone"] = json!(phone);
    app.start(&body).await["id"].as_str().unwrap().to_string()
}

pub(crate) async fn verification(app: &TestApp, id: &str, until: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
        if until(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("verification {id} never reached the expected state");
}

pub(crate) fn bodies(reqs: &[wiremock::Request]) -> Vec<Value> {
    reqs.iter().filter_map(|r| serde_json::from_slice(&r.body).ok()).collect()
}

#[tokio::test]
async fn cm_gets_the_request_it_documents_and_the_code_arrives() {
    let server = MockServer::start().await;
    let app = sms_app(vec![cm(&server.uri())], 2).await;
    let phone = fresh_phone();
    Mock::given(method("POST"))
        .and(path("/v1.0/message"))
        .and(header("X-CM-PRODUCTTOKEN", CM_TOKEN))
        .and(body_partial_json(json!({"messages": {
            "authentication": {"producttoken": CM_TOKEN},
            "msg": [{"allowedChannels": ["SMS"], "from": "Acme",
                     "to": [{"number": format!("00{}", &phone[1..])}],
                     "body": {"type": "auto"},
                     "minimumNumberOfMessageParts": 1, "maximumNumberOfMessageParts": 2}]}})))
        .respond_with(cm_accepted("x"))
        .expect(1)
        .mount(&server)
        .await;
    let id = start_sms(&app, "code", &phone).await;
    let v = verification(&app, &id, |v| v["delivery"]["state"] == "sent").await;
    assert_eq!(v["delivery"]["provider"], "cm");
    // Ours for the first send: it names the verification and the send.
    let reference = cm_reference(&id, 1);
    assert_eq!(v["delivery"]["provider_reference"], reference.as_str());
    let sent = bodies(&server.received_requests().await.unwrap());
    let msg = &sent[0]["messages"]["msg"][0];
    assert_eq!(msg["reference"], reference.as_str());
    let text = msg["body"]["content"].as_str().unwrap();
    assert!(gsm::segments(text).1 <= 2);
    let code = code_in(text, 6);
    let r: Value =
        app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
}

#[tokio::test]
async fn an_invalid_number_fails_at_once_without_retry_or_failover() {
    let cm_server = MockServer::start().await;
    let twilio_server = MockServer::start().await;
    let app = sms_app(vec![cm(&cm_server.uri()), twilio(&twilio_server.uri())], 2).await;
    Mock::given(method("POST"))
        .and(path("/v1.0/message"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "details": "Created 0 message(s)", "errorCode": 201,
            "messages": [{"to": "0031612345678", "status": "Rejected", "reference": "x", "parts": 0,
                          "messageDetails": "Gsm '0031612345678' is not a number.", "messageErrorCode": 303}]})))
        .expect(1)
        .mount(&cm_server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&twilio_server).await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    let v = verification(&app, &id, |v| v["status"] == "failed").await;
    assert_eq!(v["delivery"]["state"], "failed");
    assert_eq!(v["delivery"]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(v["delivery"]["attempts"][0]["outcome"], "permanent");
    assert_eq!(app.events_for(&id).await, vec!["verification.failed"]);
}

#[tokio::test]
async fn server_errors_and_timeouts_retry_then_fail_over_to_twilio() {
    let cm_server = MockServer::start().await;
    let twilio_server = MockServer::start().await;
    let app = sms_app(vec![cm(&cm_server.uri()), twilio(&twilio_server.uri())], 1).await;
    // First a 503, then a hang longer than the 1 s timeout.
    Mock::given(method("POST"))
        .and(path("/v1.0/message"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&cm_server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/message"))
        .respond_with(cm_accepted("x").set_delay(Duration::from_secs(3)))
        .mount(&cm_server)
        .await;
    let phone = fresh_phone();
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .and(basic_auth("AC123", "twilio-token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains(format!("To=%2B{}", &phone[1..])))
        .and(body_string_contains("From=Acme"))
        .and(body_string_contains("StatusCallback="))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": phone, "from": "Acme",
            "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01", "error_code": null})))
        .expect(1)
        .mount(&twilio_server)
        .await;
    let id = start_sms(&app, "link", &phone).await;
    let v = verification(&app, &id, |v| v["delivery"]["state"] == "sent").await;
    assert_eq!(v["delivery"]["provider"], "twilio");
    assert_eq!(v["delivery"]["provider_reference"], "SM0123456789abcdef0123456789abcdef");
    let outcomes: Vec<(String, String)> = v["delivery"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["provider"].as_str().unwrap().into(), a["outcome"].as_str().unwrap().into()))
        .collect();
    let expected: Vec<(String, String)> = [("cm", "transient"), ("cm", "transient"), ("twilio", "accepted")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(outcomes, expected);
    assert!(v["delivery"]["attempts"][1]["error"].as_str().unwrap().contains("timeout"));
}

#[tokio::test]
async fn twilio_refusing_the_number_is_permanent() {
    let server = MockServer::start().await;
    let app = sms_app(vec![twilio(&server.uri())], 2).await;
    let phone = fresh_phone();
    let national = format!("0{}", &phone[3..]);
    // As Twilio words it: the message quotes the number it refused.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211, "message": format!("The 'To' number {phone} ({national}) is not a valid phone number."),
            "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})))
        .expect(1)
        .mount(&server)
        .await;
    let id = start_sms(&app, "code", &phone).await;
    let v = verification(&app, &id, |v| v["status"] == "failed").await;
    assert_eq!(
        v["delivery"]["attempts"][0]["error"],
        "twilio 21211 (HTTP 400 Bad Request): The 'To' number [number] ([number]) is not a valid phone number."
    );
    // Neither the answer nor anything kept in Redis repeats the number.
    app.settle().await;
    let digits = &phone[3..];
    assert!(!v.to_string().contains(digits), "{v}");
    let leaked: Vec<_> = app.dump().await.into_iter().filter(|(_, t)| t.contains(digits)).collect();
    assert!(leaked.is_empty(), "{leaked:#?}");
}

#[tokio::test]
async fn delivery_reports_update_the_verification_and_a_failure_fails_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(cm_accepted("x")).mount(&server).await;
    let app = sms_app(vec![cm(&server.uri())], 2).await;
    let delivered = start_sms(&app, "code", &fresh_phone()).await;
    let failed = start_sms(&app, "code", &fresh_phone()).await;
    for id in [&delivered, &failed] {
        verification(&app, id, |v| v["delivery"]["state"] == "sent").await;
    }
    let report = |reference: &str, code: &str| {
        json!({"messages": {"msg": {"received": "2026-11-27T10:00:00", "to": "0031612345678", "reference": reference,
               "status": {"code": code, "errorCode": "", "errorDescription": ""}, "operator": "20408"}}})
    };
    let hook = |token: &str| app.url(&format!("/hooks/sms/cm?token={token}"));
    let (d_ref, f_ref) = (cm_reference(&delivered, 1), cm_reference(&failed, 1));
    let r = app.client.post(hook("wrong")).json(&report(d_ref.as_str(), "2")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = app.client.post(hook("cm-callback-secret")).json(&report(d_ref.as_str(), "2")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = app.client.post(hook("cm-callback-secret")).json(&report(f_ref.as_str(), "3")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = app.get_json(&format!("/v1/verifications/{delivered}")).await;
    assert_eq!((v["status"].as_str(), v["delivery"]["state"].as_str()), (Some("pending"), Some("delivered")));
    let (_, v) = app.get_json(&format!("/v1/verifications/{failed}")).await;
    assert_eq!((v["status"].as_str(), v["delivery"]["state"].as_str()), (Some("failed"), Some("failed")));
    assert_eq!(app.events_for(&failed).await, vec!["verification.failed"]);
}

#[tokio::test]
async fn twilio_status_callbacks_must_carry_a_valid_signature() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1"})))
        .mount(&server)
        .await;
    let app = sms_app(vec![twilio(&server.uri())], 2).await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    verification(&app, &id, |v| v["delivery"]["state"] == "sent").await;
    let url = format!("{}/hooks/sms/twilio?vid={id}", app.base);
    let params: Vec<(String, String)> =
        [("MessageSid", "SM1"), ("MessageStatus", "delivered"), ("AccountSid", "AC123")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let forged = app.client.post(&url).header("X-Twilio-Signature", "AAAA").form(&params).send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let sig = twilio_signature("twilio-token", &url, &params);
    let r = app.client.post(&url).header("X-Twilio-Signature", sig).form(&params).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["delivery"]["state"], "delivered");
    // A late report about another message, or a stale one, changes nothing.
    for (sid, status) in [("SM-other", "failed"), ("SM1", "sent"), ("SM1", "undelivered")] {
        let params: Vec<(String, String)> = [("MessageSid", sid), ("MessageStatus", status)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = twilio_signature("twilio-token", &url, &params);
        let r = app.client.post(&url).header("X-Twilio-Signature", sig).form(&params).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!((v["status"].as_str(), v["delivery"]["state"].as_str()), (Some("pending"), Some("delivered")));
    assert!(app.events_for(&id).await.is_empty());
}

pub(crate) fn whatsapp(base: &str) -> WhatsAppSettings {
    let langs =
        |nl: &str| [("nl".to_string(), nl.to_string()), ("en".to_string(), "en_GB".to_string())].into_iter().collect();
    WhatsAppSettings {
        base_url: base.into(),
        api_version: "v21.0".into(),
        phone_number_id: "1098765".into(),
        access_token: "wa-token".into(),
        app_secret: "wa-app-secret".into(),
        verify_token: "wa-verify".into(),
        code_template: TemplateRef { name: "auth_code".into(), languages: langs("nl") },
        link_template: TemplateRef { name: "consent_link".into(), languages: langs("nl") },
        timeout_seconds: 2,
        rate_per_second: 0,
    }
}

#[tokio::test]
async fn whatsapp_sends_approved_templates_and_reads_signed_status_webhooks() {
    let server = MockServer::start().await;
    let base = server.uri();
    let app = spawn_with(move |s| s.channels.whatsapp = Some(whatsapp(&base))).await;
    let phone = fresh_phone();
    Mock::given(method("POST"))
        .and(path("/v21.0/1098765/messages"))
        .and(header("authorization", "Bearer wa-token"))
        .and(body_partial_json(json!({"messaging_product": "whatsapp", "to": &phone[1..], "type": "template",
            "template": {"language": {"code": "nl"}}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messaging_product": "whatsapp",
            "contacts": [{"input": &phone[1..], "wa_id": &phone[1..]}],
            "messages": [{"id": "wamid.HBgLMzE2MTIzNDU2NzgVAgARGBI", "message_status": "accepted"}]})))
        .expect(2)
        .mount(&server)
        .await;
    let mut body = start_body("code", "whatsapp");
    body["phone"] = json!(phone);
    let code_id = app.start(&body).await["id"].as_str().unwrap().to_string();
    body["method"] = json!("link");
    let link_id = app.start(&body).await["id"].as_str().unwrap().to_string();
    for id in [&code_id, &link_id] {
        verification(&app, id, |v| v["delivery"]["state"] == "sent").await;
    }
    let sent = bodies(&server.received_requests().await.unwrap());
    let by_vid = |vid: &str| sent.iter().find(|b| b["biz_opaque_callback_data"] == vid).unwrap().clone();
    let code_req = by_vid(&code_id);
    assert_eq!(code_req["template"]["name"], "auth_code");
    let code = code_req["template"]["components"][0]["parameters"][0]["text"].as_str().unwrap().to_string();
    assert_eq!(code_req["template"]["components"][1]["sub_type"], "url");
    assert_eq!(code_req["template"]["components"][1]["parameters"][0]["text"], code.as_str(), "copy-code button");
    let link_req = by_vid(&link_id);
    assert_eq!(link_req["template"]["name"], "consent_link");
    let suffix = link_req["template"]["components"][1]["parameters"][0]["text"].as_str().unwrap();
    assert_eq!(app.client.get(app.url(&format!("/c/{suffix}"))).send().await.unwrap().status().as_u16(), 200);
    let r: Value =
        app.post(&format!("/v1/verifications/{code_id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");

    // A signed status webhook: the link message failed for good.
    let hook = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "statuses": [{"id": "wamid.HBgLMzE2MTIzNDU2NzgVAgARGBI", "status": "failed",
        "timestamp": "1764230400", "recipient_id": &phone[1..], "biz_opaque_callback_data": link_id,
        "errors": [{"code": 131026, "title": "Message undeliverable"}]}]}}]}]})
    .to_string();
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"wa-app-secret").unwrap();
    mac.update(hook.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let forged = app
        .client
        .post(app.url("/hooks/whatsapp"))
        .header("X-Hub-Signature-256", "sha256=00")
        .body(hook.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let r =
        app.client.post(app.url("/hooks/whatsapp")).header("X-Hub-Signature-256", sig).body(hook).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.status_of(&link_id).await, "failed");
    let challenge = app
        .client
        .get(app.url("/hooks/whatsapp?hub.mode=subscribe&hub.verify_token=wa-verify&hub.challenge=42"))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status().as_u16(), 200);
    assert_eq!(challenge.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(challenge.text().await.unwrap(), "42");
}

#[tokio::test]
async fn whatsapp_undeliverable_is_permanent() {
    let server = MockServer::start().await;
    let base = server.uri();
    let app = spawn_with(move |s| s.channels.whatsapp = Some(whatsapp(&base))).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#131026) Message undeliverable", "type": "OAuthException", "code": 131026,
            "error_data": {"messaging_product": "whatsapp", "details": "Message undeliverable"},
            "fbtrace_id": "AI5Ob2z72R0JAUB5zOF-nao"}})))
        .expect(1)
        .mount(&server)
        .await;
    let mut body = start_body("code", "whatsapp");
    body["phone"] = json!(fresh_phone());
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    verification(&app, &id, |v| v["status"] == "failed").await;
}

#[tokio::test]
async fn tenant_texts_replace_ours_and_long_purposes_stay_within_two_segments() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(cm_accepted("x")).mount(&server).await;
    let base = server.uri();
    let app = spawn_with(move |s| {
        s.channels.sms = Some(sms_settings(vec![cm(&base)], 1, 2));
        s.tenants[0].messages.nl = Some(optin_verify::config::LocaleTexts {
            sms_code: Some("{brand}: jouw code is {code}. Geen interesse? {optout}".into()),
            ..Default::default()
        });
    })
    .await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    let mut long = start_body("link", "sms");
    long["phone"] = json!(fresh_phone());
    long["purpose"]["text"] = json!(
        "Telefonische aanbiedingen over energiecontracten, zonnepanelen, warmtepompen, laadpalen, isolatie en alle andere duurzame producten die wij nu en in de toekomst aanbieden aan onze klanten in heel Nederland"
    );
    let link_id = app.start(&long).await["id"].as_str().unwrap().to_string();
    for v in [&id, &link_id] {
        verification(&app, v, |x| x["delivery"]["state"] == "sent").await;
    }
    let sent = bodies(&server.received_requests().await.unwrap());
    let text_of = |vid: &str| {
        sent.iter().find(|b| b["messages"]["msg"][0]["reference"] == cm_reference(vid, 1).as_str()).unwrap()["messages"]
            ["msg"][0]["body"]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(text_of(&id).starts_with("Acme Energie B.V.: jouw code is "));
    let link_text = text_of(&link_id);
    assert!(gsm::segments(&link_text).1 <= 2, "{} segments: {link_text}", gsm::segments(&link_text).1);
    assert!(link_text.contains("/c/") && link_text.contains("/o/"));
}

#[tokio::test]
async fn a_send_that_failed_everywhere_is_retried_later_not_lost() {
    let server = MockServer::start().await;
    // Down for the first two tries, then back.
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(502)).up_to_n_times(2).mount(&server).await;
    Mock::given(method("POST")).respond_with(cm_accepted("x")).mount(&server).await;
    let base = server.uri();
    let app = spawn_with(move |s| {
        s.channels.sms = Some(sms_settings(vec![cm(&base)], 2, 1));
        // Raised by the worker to cover the slowest possible send (here about 7 s).
        s.worker.reclaim_idle_ms = 500;
    })
    .await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    let v = verification(&app, &id, |v| v["delivery"]["state"] == "retrying").await;
    assert_eq!(v["status"], "pending");
    let v = verification(&app, &id, |v| v["delivery"]["state"] == "sent").await;
    let outcomes: Vec<&str> =
        v["delivery"]["attempts"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, vec!["transient", "transient", "accepted"]);
}

#[tokio::test]
async fn twilio_server_errors_and_timeouts_are_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"code": 20500, "message": "Internal Server Error", "status": 500})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM9"})).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let app = sms_app(vec![twilio(&server.uri())], 1).await;
    let id = start_sms(&app, "code", &fresh_phone()).await;
    let v = verification(&app, &id, |v| v["delivery"]["state"] == "retrying").await;
    assert_eq!(v["status"], "pending", "a transient failure never fails the verification");
    let errors: Vec<String> = v["delivery"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["error"].as_str().unwrap().to_string())
        .collect();
    assert!(errors[0].contains("HTTP 500") && errors[1].contains("timeout"), "{errors:?}");
}

#[tokio::test]
async fn whatsapp_server_errors_timeouts_and_rate_limits_are_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "(#130429) Rate limit hit",
            "type": "OAuthException", "code": 130429, "fbtrace_id": "x"}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"messages": [{"id": "wamid.Y"}]}))
                .set_delay(Duration::from_secs(4)),
        )
        .mount(&server)
        .await;
    let base = server.uri();
    let app = spawn_with(move |s| {
        s.channels.whatsapp = Some(whatsapp(&base));
        s.worker.reclaim_idle_ms = 300;
    })
    .await;
    let mut body = start_body("code", "whatsapp");
    body["phone"] = json!(fresh_phone());
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    let v = verification(&app, &id, |v| v["delivery"]["attempts"].as_array().is_some_and(|a| a.len() >= 3)).await;
    assert_eq!(v["status"], "pending");
    let errors: Vec<String> = v["delivery"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["error"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(errors[0].contains("503"), "{errors:?}");
    assert!(errors[1].contains("130429"), "{errors:?}");
    assert!(errors[2].contains("timeout"), "{errors:?}");
}

#[tokio::test]
async fn a_tenant_can_use_its_own_whatsapp_template_and_email_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"template": {"name": "acme_code_nl"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.Z"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let base = server.uri();
    let app = spawn_with(move |s| {
        s.channels.whatsapp = Some(whatsapp(&base));
        s.tenants[0].messages.nl = Some(optin_verify::config::LocaleTexts {
            whatsapp_code_template: Some("acme_code_nl".into()),
            email_code_subject: Some("Je Acme-code".into()),
            email_code_text: Some("Hoi! Je code: {code}\n\nNiet jij? {optout}".into()),
            ..Default::default()
        });
    })
    .await;
    let mut wa = start_body("code", "whatsapp");
    wa["phone"] = json!(fresh_phone());
    let id = app.start(&wa).await["id"].as_str().unwrap().to_string();
    verification(&app, &id, |v| v["delivery"]["state"] == "sent").await;
    let mut mail = start_body("code", "email");
    mail["to"] = json!("piet@example.nl");
    let mail_id = app.start(&mail).await["id"].as_str().unwrap().to_string();
    let m = app.outbox_message(&mail_id).await;
    assert_eq!(m["subject"], "Je Acme-code");
    assert!(m["text"].as_str().unwrap().starts_with("Hoi! Je code: "));
    assert!(m["html"].as_str().unwrap().contains("<p>Hoi! Je code: "));
    assert!(m["headers"]["List-Unsubscribe"].is_string());
}
