//! The table of webhook payloads in docs/WEBHOOKS.md is what consent stores build on: each event type's
//! `data` is compared here with a body actually delivered, field for field.

use std::{collections::BTreeSet, time::Duration};

use serde_json::{Value, json};

use crate::{
    harness::{code_in, csrf_in, fresh_phone, link_in, spawn, start_body, wrong},
    receiver::Receiver,
};

const DOC: &str = include_str!("../../docs/WEBHOOKS.md");
const WAIT: Duration = Duration::from_secs(10);

/// The backticked names in `text`, leaving out what stands in parentheses (values, shapes).
fn names(text: &str) -> BTreeSet<String> {
    let mut plain = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    plain.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The `data` fields docs/WEBHOOKS.md documents for `event_type` about a verification (the
/// number-only withdrawal is `number_only`).
pub fn documented(event_type: &str, number_only: bool) -> BTreeSet<String> {
    let common = DOC.split("Every event about a verification carries").nth(1).unwrap().split(';').next().unwrap();
    let row = DOC
        .lines()
        .find(|l| l.starts_with(&format!("| `{event_type}` |")))
        .unwrap_or_else(|| panic!("docs/WEBHOOKS.md documents no `{event_type}`"));
    let data = row.rsplit(" | ").next().unwrap().trim_end_matches(" |");
    let (own, number) = data.split_once("For a number with no consent here:").unwrap_or((data, ""));
    if number_only {
        return names(number);
    }
    let mut fields = names(own);
    if own.contains("the common fields") {
        fields.extend(names(common));
    }
    fields
}

pub fn sent(body: &Value) -> BTreeSet<String> {
    body["data"].as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn every_event_carries_exactly_the_documented_fields() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    app.endpoint(&rx.url("/store")).await;
    let start = |method: &str| {
        let mut b = start_body(method, "sms");
        b["phone"] = json!(fresh_phone());
        b
    };
    let started = |v: Value| v["id"].as_str().unwrap().to_string();

    let confirmed = app.confirmed_by_code().await;
    let text = app.outbox_message(&confirmed).await["text"].as_str().unwrap().to_string();
    let optout = app.url(&link_in(&text, "o"));
    let page = app.client.get(&optout).send().await.unwrap().text().await.unwrap();
    let r = app.client.post(&optout).form(&[("csrf", csrf_in(&page).as_str())]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let declined = started(app.start(&start("link")).await);
    let text = app.outbox_message(&declined).await["text"].as_str().unwrap().to_string();
    let optout = app.url(&link_in(&text, "o"));
    let page = app.client.get(&optout).send().await.unwrap().text().await.unwrap();
    app.client.post(&optout).form(&[("csrf", csrf_in(&page).as_str())]).send().await.unwrap();

    let canceled = started(app.start(&start("code")).await);
    app.post(&format!("/v1/verifications/{canceled}/cancel"), &json!({})).await;

    let failed = started(app.start(&start("code")).await);
    let code = code_in(app.outbox_message(&failed).await["text"].as_str().unwrap(), 6);
    for _ in 0..5 {
        app.post(&format!("/v1/verifications/{failed}/check"), &json!({"code": wrong(&code)})).await;
    }
    // Its deadline passed: the next check finds it expired (the sweeper would too, later).
    let expired = started(app.start(&start("code")).await);
    app.outbox_message(&expired).await;
    let key = app.store_keys().verification(&app.vid(&expired));
    let _: () = redis::AsyncCommands::hset(&mut app.redis().await, key, "exp", 1).await.unwrap();
    app.post(&format!("/v1/verifications/{expired}/check"), &json!({"code": "000000"})).await;

    let by_number = app.post("/v1/withdrawals", &json!({"phone": fresh_phone(), "source": "callcenter"})).await;
    assert_eq!(by_number.status().as_u16(), 202, "{:?}", by_number.text().await);

    for (event_type, id) in [
        ("consent.confirmed", &confirmed),
        ("consent.withdrawn", &confirmed),
        ("consent.declined", &declined),
        ("verification.canceled", &canceled),
        ("verification.failed", &failed),
        ("verification.expired", &expired),
    ] {
        let got = rx.wait_for("/store", event_type, Some(id), WAIT).await;
        assert_eq!(sent(&got.body), documented(event_type, false), "{event_type}: {}", got.body);
        let status = event_type.rsplit('.').next().unwrap();
        assert_eq!(got.body["data"]["status"], status, "{event_type} says what it is");
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    let number_only = loop {
        let found = rx.received("/store").into_iter().find(|r| r.body["data"]["verification_id"].is_null());
        if let Some(r) = found {
            break r;
        }
        assert!(tokio::time::Instant::now() < deadline, "no withdrawal for the number arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sent(&number_only.body), documented("consent.withdrawn", true), "{}", number_only.body);
}

/// The `data` fields a schema of the served document names, through `allOf` and `$ref`.
fn schema_fields(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return schema_fields(doc, &doc["components"]["schemas"][name], out);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        schema_fields(doc, part, out);
    }
    out.extend(schema["properties"].as_object().into_iter().flatten().map(|(k, _)| k.clone()));
}

#[tokio::test]
async fn the_documented_table_names_exactly_the_fields_of_each_webhook_schema() {
    let app = spawn().await;
    let doc: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let hooks = doc["webhooks"].as_object().unwrap();
    assert_eq!(hooks.len(), optin_verify::webhooks::EVENT_TYPES.len());
    for (event_type, item) in hooks {
        let body = &item["post"]["requestBody"]["content"]["application/json"]["schema"];
        let name = body["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
        let event = &doc["components"]["schemas"][name];
        let mut envelope = BTreeSet::new();
        schema_fields(&doc, event, &mut envelope);
        assert_eq!(envelope, ["data", "test", "timestamp", "type"].map(String::from).into(), "{event_type}");
        let mut fields = BTreeSet::new();
        schema_fields(&doc, &event["properties"]["data"], &mut fields);
        let mut documented = documented(event_type, false);
        if event_type == "consent.withdrawn" {
            documented.extend(self::documented(event_type, true));
        }
        assert_eq!(fields, documented, "{event_type}: the schema's data fields against docs/WEBHOOKS.md's");
    }
}
