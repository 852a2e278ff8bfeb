//! No phone number in plain text at rest. Redis holds none in a key name, and none in any value
//! of any type: records, events, webhook messages and their deliveries, the dev outbox. What
//! must be kept is sealed under the server key and opened only to send: the consent store still
//! receives the number in the signed webhook.

use std::time::Duration;

use optin_verify::{
    domain::{SecretBox, ServerKey, ServerKeys},
    startup::Role,
};
use serde_json::{Value, json};

use crate::{
    harness::{code_in, fresh_phone, spawn, spawn_role, spawn_with, start_body},
    receiver::{Behaviour, Received, Receiver},
};

/// The harness's server key.
const SERVER_KEY: &str = "test-server-key-0123456789abcdef0123456789";
const WAIT: Duration = Duration::from_secs(10);

/// Opens a value sealed under the harness's server key, bound to `context`.
pub fn unseal(stored: &str, context: &str) -> String {
    let keys = ServerKeys::new(ServerKey::parse(SERVER_KEY).unwrap(), vec![]);
    SecretBox::new(&keys).open(stored, context).expect("opens under the server key").text
}

/// Where `phone` (E.164) is stored in plain text, as `+316...` or as its digits alone.
fn plain(all: &[(String, String)], phone: &str) -> Vec<String> {
    let digits = phone.trim_start_matches('+');
    all.iter().filter(|(_, t)| t.contains(phone) || t.contains(digits)).map(|(k, t)| format!("{k}: {t}")).collect()
}

/// The delivery to `path` of the event `event_id`.
async fn delivered(rx: &Receiver, path: &str, event_id: &str) -> Received {
    for _ in 0..500 {
        if let Some(r) = rx.received(path).into_iter().find(|r| r.webhook_id == event_id) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} got no delivery of {event_id}");
}

#[tokio::test]
async fn withdrawals_leave_no_phone_number_in_plain_text_in_redis() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    let (_, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);

    // A number with a consent here: confirmed, then withdrawn by number.
    let known = fresh_phone();
    let mut body = start_body("code", "sms");
    body["phone"] = json!(known);
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    let r: Value =
        app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
    let confirmed = rx.wait_for("/store", "consent.confirmed", Some(&id), WAIT).await;
    assert_eq!(confirmed.body["data"]["phone"], known.as_str());
    assert_eq!(confirmed.body["data"]["evidence"]["subject"]["phone"], known.as_str());
    let r = app.post("/v1/withdrawals", &json!({"phone": known, "source": "phone_call"})).await;
    assert_eq!(r.status().as_u16(), 202);
    let accepted: Value = r.json().await.unwrap();
    assert_eq!(accepted["events"][0]["verification_id"], id.as_str());
    let got = delivered(&rx, "/store", accepted["event_id"].as_str().unwrap()).await;
    assert_eq!(got.verified, Some(true));
    assert_eq!(got.body["type"], "consent.withdrawn");
    assert_eq!(got.body["data"]["phone"], known.as_str(), "the consent store still gets the number");

    // A number never seen here: one event names it, and the consent store gets the number.
    let unknown = loop {
        let p = fresh_phone();
        if p != known {
            break p;
        }
    };
    let r = app.post("/v1/withdrawals", &json!({"phone": unknown, "source": "letter"})).await;
    assert_eq!(r.status().as_u16(), 202);
    let accepted: Value = r.json().await.unwrap();
    assert!(accepted["events"][0]["verification_id"].is_null(), "{accepted}");
    let event_id = accepted["event_id"].as_str().unwrap().to_string();
    let got = delivered(&rx, "/store", &event_id).await;
    assert_eq!(got.verified, Some(true));
    assert_eq!(got.body["type"], "consent.withdrawn");
    assert!(got.body["data"]["verification_id"].is_null());
    assert_eq!(got.body["data"]["phone"], unknown.as_str(), "the consent store still gets the number");
    assert_eq!(got.body["data"]["source"], "letter");
    // The tenant reading its event sees the body as delivered.
    let (status, event) = app.get_json(&format!("/v1/events/{event_id}")).await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["payload"]["data"]["phone"], unknown.as_str());
    // A redelivery opens the stored message again.
    let r = app.post(&format!("/v1/events/{event_id}/redeliver"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 202);
    for _ in 0..500 {
        if rx.received("/store").iter().filter(|r| r.webhook_id == event_id).count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let again: Vec<Received> = rx.received("/store").into_iter().filter(|r| r.webhook_id == event_id).collect();
    assert_eq!(again.len(), 2, "the redelivery arrived");
    assert_eq!(again[1].raw, again[0].raw, "the same body, byte for byte");

    // Nothing in Redis holds either number in plain text: no key, no value of any type.
    let all = app.dump().await;
    assert!(all.iter().any(|(k, _)| k.ends_with(":events")), "the scan found the events streams");
    assert!(all.iter().any(|(k, _)| k.contains(":msg:")), "the scan found the webhook messages");
    for phone in [&known, &unknown] {
        let found = plain(&all, phone);
        assert!(found.is_empty(), "{phone} in plain text at rest: {found:#?}");
    }
    // What is kept is sealed, and opens with the server key.
    let stored = app.stored(&id).await;
    assert!(stored["ph"].starts_with("sealed:v1:"), "{stored:?}");
    assert_eq!(unseal(&stored["ph"], &format!("{id}:ph")), known);
}

#[tokio::test]
async fn an_ended_verification_keeps_its_number_and_address_sealed() {
    let app = spawn().await;
    let phone = fresh_phone();
    let address = format!("jan.{}@example.nl", rand::random::<u32>());
    let mut body = start_body("code", "email");
    body["phone"] = json!(phone);
    body["to"] = json!(address);
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    app.outbox_message(&id).await;
    // While it is open the sender needs them, and the record stays small: plain text.
    let open = app.stored(&id).await;
    assert_eq!((open["ph"].as_str(), open["to"].as_str()), (phone.as_str(), address.as_str()));

    // Canceled: the record is kept for the retention, so the fan-out of its end seals both.
    assert_eq!(app.post(&format!("/v1/verifications/{id}/cancel"), &json!({})).await.status().as_u16(), 200);
    app.settle().await;
    let ended = app.stored(&id).await;
    // A sealed address is longer than 64 bytes: kept as a blob the record names (`to@`).
    let blob = format!(
        "{}:b:{}",
        app.keys().await.iter().find(|k| k.ends_with(&id)).unwrap().split(":v:").next().unwrap(),
        ended["to@"]
    );
    let sealed_to: String = redis::AsyncCommands::get(&mut app.redis().await, blob).await.unwrap();
    assert!(ended["ph"].starts_with("sealed:v1:") && sealed_to.starts_with("sealed:v1:"), "{ended:?}");
    assert!(!ended.contains_key("to"));
    assert_eq!(unseal(&ended["ph"], &format!("{id}:ph")), phone);
    assert_eq!(unseal(&sealed_to, &format!("{id}:to")), address);
    let all = app.dump().await;
    assert!(plain(&all, &phone).is_empty(), "{:#?}", plain(&all, &phone));
    assert!(!all.iter().any(|(_, t)| t.contains(&address)), "the address in plain text at rest");
    // The service still opens them.
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    let masked = optin_verify::domain::mask_phone(&phone);
    assert_eq!((v["status"].as_str(), v["phone"].as_str()), (Some("canceled"), Some(masked.as_str())), "{v}");
}

#[tokio::test]
async fn an_address_too_long_for_the_record_is_never_kept_in_plain_text() {
    let app = spawn().await;
    // Over 64 bytes: it would go to a blob shared by content, which outlives the open period.
    let address = format!("jan.{}@post.familie-jansen-van-den-berg-en-de-vries.voorbeeld.nl", rand::random::<u32>());
    assert!(address.len() > 64);
    let mut body = start_body("code", "email");
    body["to"] = json!(address);
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    app.outbox_message(&id).await;
    let all = app.dump().await;
    assert!(!all.iter().any(|(_, t)| t.contains(&address)), "a long address in plain text while open");
    // The sender opened it: the console transport "sent" to it.
    assert_eq!(app.outbox_message(&id).await["to"], address.as_str());
}

#[tokio::test]
async fn a_removed_tenants_ended_verification_is_sealed_all_the_same() {
    // The API writes the end; no worker runs until the tenant is gone from the config.
    let api = spawn_role(Role::Api, |_| {}).await;
    let phone = fresh_phone();
    let mut body = start_body("code", "sms");
    body["phone"] = json!(phone);
    let id = api.start(&body).await["id"].as_str().unwrap().to_string();
    assert_eq!(api.post(&format!("/v1/verifications/{id}/cancel"), &json!({})).await.status().as_u16(), 200);
    assert_eq!(api.stored(&id).await["ph"], phone, "not yet fanned out: still plain");

    let prefix = api.prefix.clone();
    let _worker = spawn_role(Role::Worker, move |s| {
        s.redis.key_prefix = prefix;
        s.tenants.retain(|t| t.id != "acme");
    })
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !api.stored(&id).await["ph"].starts_with("sealed:v1:") {
        assert!(tokio::time::Instant::now() < deadline, "the fan-out never sealed the number");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.settle().await;
    assert_eq!(unseal(&api.stored(&id).await["ph"], &format!("{id}:ph")), phone);
    let all = api.dump().await;
    assert!(plain(&all, &phone).is_empty(), "{:#?}", plain(&all, &phone));
}

#[tokio::test]
async fn a_message_that_opens_under_no_server_key_goes_dead_after_its_schedule() {
    let app = spawn_with(|s| s.webhooks.retry_schedule_seconds = vec![0, 2, 1]).await;
    let rx = Receiver::start().await;
    rx.behave("/store", Behaviour { fail_first: 1, ..Default::default() });
    let (_, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    let id = app.confirmed_by_code().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while rx.calls("/store") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no first attempt");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Before the retry: the stored body now opens under no configured key, as one sealed by a
    // process with a server key this one lacks.
    let message = app.keys().await.into_iter().find(|k| k.contains(":msg:")).expect("the message");
    let event_id = message.rsplit(":msg:").next().unwrap().to_string();
    let _: () = redis::AsyncCommands::hset(
        &mut app.redis().await,
        &message,
        "body",
        "sealed:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await
    .unwrap();

    let mut log = Value::Null;
    while log["data"][0]["outcome"] != "dead" {
        assert!(tokio::time::Instant::now() < deadline + WAIT, "never went dead: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        log = app.get_json(&format!("/v1/events/{event_id}/deliveries")).await.1;
    }
    let errors: Vec<&str> = log["data"].as_array().unwrap().iter().map(|a| a["error"].as_str().unwrap_or("")).collect();
    let unopened = "message opens under no configured server key";
    assert_eq!(errors, [unopened, unopened, "HTTP 500"], "newest first: {log}");
    // Nothing but the first attempt reached the consent store.
    assert_eq!(rx.calls("/store"), 1, "{id}");
}
