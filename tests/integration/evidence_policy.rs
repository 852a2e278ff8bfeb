//! Evidence complete by policy: a consumer-initiated code start carries what the tenant's
//! policy requires, a pre-ticked box is never taken for consent, and the legal ground is the
//! tenant's own. A refused start writes nothing.

use optin_verify::config::{EvidenceField, EvidencePolicy};
use serde_json::{Value, json};

use crate::harness::{TestApp, code_in, csrf_in, fresh_phone, link_in, spawn, spawn_with, start_body};

const PROBLEM: &str = "https://optin-verify.eu/problems/";

fn body(method: &str, initiated_by: &str) -> Value {
    let mut b = start_body(method, "sms");
    b["phone"] = json!(fresh_phone());
    b["initiated_by"] = json!(initiated_by);
    b
}

/// Posts a start and returns its status and answer, checking a refusal wrote nothing.
async fn attempt(app: &TestApp, b: &Value) -> (u16, Value) {
    let before = app.keys().await;
    let r = app.post("/v1/verifications", b).await;
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    if status != 201 {
        app.assert_keys_unchanged(&before, "a refused start").await;
    }
    (status, v)
}

#[test]
fn production_requires_the_forms_facts_and_dev_nothing_unless_configured() {
    let default = EvidencePolicy::default();
    assert_eq!(default.required(true), EvidencePolicy::PRODUCTION);
    assert!(default.required(false).is_empty());
    let own = EvidencePolicy { required: Some(vec![EvidenceField::CollectionUserAgent]) };
    assert_eq!(own.required(true), [EvidenceField::CollectionUserAgent]);
}

#[tokio::test]
async fn a_consumer_code_start_without_required_evidence_is_refused_naming_the_field() {
    let app = spawn_with(|s| s.tenants[0].evidence.required = Some(EvidencePolicy::PRODUCTION.to_vec())).await;
    for (field, remove) in [
        ("collection.url", "/collection/url"),
        ("collection.ip", "/collection/ip"),
        ("collection.collected_at", "/collection/collected_at"),
        ("privacy_statement", "/privacy_statement"),
        ("collection.url", "/collection"),
    ] {
        let mut b = body("code", "consumer");
        let (parent, key) = remove.rsplit_once('/').unwrap();
        let target = if parent.is_empty() { &mut b } else { b.pointer_mut(parent).unwrap() };
        target.as_object_mut().unwrap().remove(key);
        let (status, problem) = attempt(&app, &b).await;
        assert_eq!(status, 422, "{remove}: {problem}");
        assert_eq!(problem["type"], format!("{PROBLEM}evidence-required"), "{problem}");
        assert_eq!(problem["field"], field, "{remove}: {problem}");
    }
    // Complete, it starts; a campaign start or a link asks no form facts (the person acts on
    // our page, or the marketer's own record is the ground).
    assert_eq!(attempt(&app, &body("code", "consumer")).await.0, 201);
    for (method, by) in [("code", "marketer"), ("link", "consumer")] {
        let mut b = body(method, by);
        b.as_object_mut().unwrap().remove("collection");
        b.as_object_mut().unwrap().remove("privacy_statement");
        assert_eq!(attempt(&app, &b).await.0, 201, "{method} {by}");
    }
}

#[tokio::test]
async fn a_pre_ticked_box_is_refused_for_a_code_and_marked_for_a_link() {
    let app = spawn().await;
    let mut code = body("code", "consumer");
    code["collection"]["checkbox_default"] = json!("checked");
    let (status, problem) = attempt(&app, &code).await;
    assert_eq!((status, problem["type"].as_str()), (422, Some(&*format!("{PROBLEM}pre-ticked-consent"))), "{problem}");
    assert_eq!(problem["field"], "collection.checkbox_default");

    let mut link = body("link", "consumer");
    link["collection"]["checkbox_default"] = json!("checked");
    let id = app.start(&link).await["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    let confirm = app.url(&link_in(&text, "c"));
    let page = app.client.get(&confirm).send().await.unwrap().text().await.unwrap();
    let r = app.client.post(format!("{confirm}/confirm")).form(&[("csrf", csrf_in(&page))]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let receipt = r.headers()["location"].to_str().unwrap().to_string();
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["evidence"]["verification"]["active_act"], "confirmation_page", "{v}");
    assert_eq!(v["evidence"]["collection"]["checkbox_default"], "checked");
    let shown = app.client.get(app.url(&receipt)).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains("stond al aangevinkt"), "the receipt says what consent rests on: {shown}");
    // An unticked form adds no such mark.
    let plain = app.confirmed_by_code().await;
    let (_, v) = app.get_json(&format!("/v1/verifications/{plain}")).await;
    assert!(v["evidence"]["verification"].get("active_act").is_none(), "{v}");
}

#[tokio::test]
async fn the_legal_basis_is_the_tenants_own() {
    let ground = "Telecommunicatiewet art. 11.7 lid 3 (bestaande klantrelatie, goede doelen)";
    let app = spawn_with(|s| s.tenants[0].legal_basis = ground.into()).await;
    let id = app.start(&body("code", "consumer")).await["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await;
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["evidence"]["legal_basis"], ground, "{v}");
    // The other tenant keeps the default.
    let mut other = body("code", "consumer");
    other["phone"] = json!(fresh_phone());
    let r = app.post_as(&app.other_key, "/v1/verifications", &other).await;
    let oid = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&oid).await["text"].as_str().unwrap(), 6);
    app.post_as(&app.other_key, &format!("/v1/verifications/{oid}/check"), &json!({"code": code})).await;
    let r = app.client.get(app.url(&format!("/v1/verifications/{oid}"))).bearer_auth(&app.other_key).send().await;
    let ov: Value = r.unwrap().json().await.unwrap();
    assert_eq!(ov["evidence"]["legal_basis"], optin_verify::config::DEFAULT_LEGAL_BASIS);
}
