//! `POST /v1/consents/lookup`: a dialing list's numbers at once, answered per number in order,
//! with the single lookup's privacy rules.

use serde_json::{Value, json};

use crate::{
    consent_truth::{consent, consented},
    harness::{fresh_phone, spawn, spawn_cluster},
};

const PROBLEM: &str = "https://optin-verify.eu/problems/";

async fn bulk_lookup_answers_each_number_in_order(app: crate::harness::TestApp) {
    // 1,000 numbers: consented, withdrawn, another tenant's, unknown, and two that are not numbers.
    let consented_phone = fresh_phone();
    consent(&app, &consented_phone, "energy").await;
    let withdrawn_phone = fresh_phone();
    let (withdrawn_id, _, _) = consent(&app, &withdrawn_phone, "energy").await;
    let r = app
        .post(
            "/v1/withdrawals",
            &json!({"phone": withdrawn_phone, "source": "letter", "verification_id": withdrawn_id}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 202);
    let others = fresh_phone();
    let mut body = crate::harness::start_body("code", "sms");
    body["phone"] = json!(others);
    let r = app.post_as(&app.other_key, "/v1/verifications", &body).await;
    assert_eq!(r.status().as_u16(), 201);
    let mut phones: Vec<String> = (0..1000).map(|_| fresh_phone()).collect();
    phones[0] = consented_phone.clone();
    phones[1] = withdrawn_phone.clone();
    phones[2] = others.clone();
    phones[3] = "12".into();
    phones[500] = "not a number".into();
    phones[999] = consented_phone.replace("+31", "0");

    let r = app.post("/v1/consents/lookup", &json!({"phones": phones, "purpose": "energy"})).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1000);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(
        (results[0]["consented"].as_bool(), results[0]["consents"][0]["status"].as_str()),
        (Some(true), Some("active"))
    );
    assert_eq!(
        (results[1]["consented"].as_bool(), results[1]["consents"][0]["status"].as_str()),
        (Some(false), Some("withdrawn"))
    );
    assert_eq!(results[2]["consents"], json!([]), "another tenant's number says nothing here");
    for i in [3, 500] {
        assert_eq!(results[i]["error"]["type"], format!("{PROBLEM}invalid-phone"), "{}", results[i]);
        assert_eq!(results[i]["error"]["field"], format!("phones[{i}]"));
        assert!(results[i]["phone"].is_null());
    }
    assert_eq!(results[999]["consented"], true, "national notation is the same number");
    assert!(results[0]["phone"].as_str().unwrap().contains("***"), "masked");
    assert_eq!(results.iter().filter(|r| r["consented"] == true).count(), 2);
    // The single lookup agrees.
    assert!(consented(&app, &consented_phone, "energy").await);
    assert!(!consented(&app, &withdrawn_phone, "energy").await);
}

#[tokio::test]
async fn a_thousand_numbers_are_answered_in_order_on_standalone_redis() {
    bulk_lookup_answers_each_number_in_order(spawn().await).await;
}

#[tokio::test]
async fn a_thousand_numbers_are_answered_in_order_on_the_cluster() {
    bulk_lookup_answers_each_number_in_order(spawn_cluster().await).await;
}

#[tokio::test]
async fn a_bad_bulk_lookup_is_refused_whole() {
    let app = spawn().await;
    let many: Vec<String> = (0..1001).map(|_| fresh_phone()).collect();
    for (body, field) in [
        (json!({"phones": []}), "phones"),
        (json!({"phones": many}), "phones"),
        (json!({"phones": "+31612345678"}), "phones"),
        (json!({"phones": ["+31612345678"], "colour": "red"}), "colour"),
    ] {
        let r = app.post("/v1/consents/lookup", &body).await;
        assert_eq!(r.status().as_u16(), 422, "{body}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["type"], format!("{PROBLEM}invalid-request"), "{p}");
        assert!(
            p["field"].as_str().unwrap_or("").starts_with(field) || p["detail"].as_str().unwrap().contains(field),
            "{p}"
        );
    }
    let r = app
        .client
        .post(app.url("/v1/consents/lookup"))
        .json(&json!({"phones": ["+31612345678"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app
        .client
        .post(app.url("/v1/consents/lookup"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{\"phones\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}
