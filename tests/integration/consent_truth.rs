//! What a page tells a person is what the lookup, the events and the evidence say. A
//! withdrawal from any link of a number (the opt-out page, the RFC 8058 one-click, the receipt
//! page) withdraws every active consent of that number with the tenant for the purpose, or for
//! every purpose when asked.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestApp, code_in, csrf_in, fresh_phone, link_in, spawn, start_body};

const WAIT: Duration = Duration::from_secs(10);
const PROBLEM: &str = "https://optin-verify.eu/problems/";

/// Confirms a code verification of `phone` by e-mail for `purpose`; returns its id, its opt-out
/// link and its one-click URL.
pub async fn consent(app: &TestApp, phone: &str, purpose: &str) -> (String, String, String) {
    let mut body = start_body("code", "email");
    body["phone"] = json!(phone);
    body["to"] = json!(format!("jan.{}@example.nl", rand::random::<u32>()));
    body["purpose"]["id"] = json!(purpose);
    body["purpose"]["text"] = json!(format!("Aanbiedingen over {purpose}"));
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    let m = app.outbox_message(&id).await;
    let text = m["text"].as_str().unwrap();
    let one_click = m["headers"]["List-Unsubscribe"].as_str().unwrap().trim_matches(['<', '>']).to_string();
    let r = app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code_in(text, 6)})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "confirmed");
    (id, app.url(&link_in(text, "o")), one_click)
}

pub async fn consented(app: &TestApp, phone: &str, purpose: &str) -> bool {
    let q = format!("/v1/consents?phone={}&purpose={purpose}", phone.replace('+', "%2B"));
    let (status, v) = app.get_json(&q).await;
    assert_eq!(status, 200, "{v}");
    v["consented"].as_bool().unwrap()
}

async fn page(app: &TestApp, url: &str) -> String {
    let r = app.client.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.unwrap()
}

async fn press(app: &TestApp, url: &str, csrf: &str, scope: &str) -> String {
    let r = app.client.post(url).form(&[("csrf", csrf), ("scope", scope)]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn the_first_messages_opt_out_withdraws_the_second_consent_for_that_purpose_too() {
    let app = spawn().await;
    let phone = fresh_phone();
    // The same form filled in twice, and a consent for something else.
    let (first, first_optout, _) = consent(&app, &phone, "energy").await;
    let (second, _, _) = consent(&app, &phone, "energy").await;
    let (other, _, _) = consent(&app, &phone, "insurance").await;

    let shown = page(&app, &first_optout).await;
    assert!(shown.contains("Aanbiedingen over energy"), "{shown}");
    assert!(shown.contains("Trek mijn toestemming hiervoor in") && shown.contains("value=\"all\""), "{shown}");
    let done = press(&app, &first_optout, &csrf_in(&shown), "purpose").await;
    assert!(done.contains("Uw toestemming is ingetrokken"), "{done}");
    assert!(done.contains("belt u niet meer over: Aanbiedingen over energy"), "{done}");
    // What the page said is what the lookup and the consent stores hear.
    assert!(!consented(&app, &phone, "energy").await);
    assert!(consented(&app, &phone, "insurance").await, "the page promised only this purpose");
    for id in [&first, &second] {
        assert_eq!(app.events_for(id).await, ["consent.confirmed", "consent.withdrawn"], "{id}");
        assert!(app.stored(id).await.contains_key("wd"));
    }
    assert_eq!(app.events_for(&other).await, ["consent.confirmed"]);

    // The same link again: nothing left for its purpose, everything else on offer.
    let shown = page(&app, &first_optout).await;
    assert!(!shown.contains("value=\"purpose\"") && shown.contains("Trek alles van Acme Energie B.V. in"), "{shown}");
    let csrf = csrf_in(&shown);
    let done = press(&app, &first_optout, &csrf, "all").await;
    assert!(done.contains("Al uw toestemmingen zijn ingetrokken"), "{done}");
    assert!(!consented(&app, &phone, "insurance").await);
    assert_eq!(app.events_for(&other).await, ["consent.confirmed", "consent.withdrawn"]);
    // Nothing is left, and the page says so; the form sent again changes nothing.
    let shown = page(&app, &first_optout).await;
    assert!(shown.contains("Er is geen toestemming om in te trekken") && !shown.contains("<form"), "{shown}");
    let done = press(&app, &first_optout, &csrf, "all").await;
    assert!(done.contains("Niets meer in te trekken"), "{done}");
    assert_eq!(app.events_for(&second).await, ["consent.confirmed", "consent.withdrawn"]);
}

#[tokio::test]
async fn a_one_click_post_from_the_first_message_withdraws_the_second_consent_too() {
    let app = spawn().await;
    let phone = fresh_phone();
    let (first, _, one_click) = consent(&app, &phone, "energy").await;
    let (second, _, _) = consent(&app, &phone, "energy").await;
    let (other, _, _) = consent(&app, &phone, "insurance").await;
    let boundary = "------------------------d74496d66958873e";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--{boundary}--\r\n"
    );
    let r = app
        .client
        .post(&one_click)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(!consented(&app, &phone, "energy").await);
    assert!(consented(&app, &phone, "insurance").await, "one-click stops the list it came from");
    for id in [&first, &second] {
        assert_eq!(app.events_for(id).await, ["consent.confirmed", "consent.withdrawn"], "{id}");
    }
    assert_eq!(app.events_for(&other).await, ["consent.confirmed"]);
}

#[tokio::test]
async fn not_me_on_a_pending_request_also_withdraws_an_earlier_consent_for_that_purpose() {
    let app = spawn().await;
    let phone = fresh_phone();
    let (earlier, _, _) = consent(&app, &phone, "energy").await;
    let mut body = start_body("code", "sms");
    body["phone"] = json!(phone);
    body["purpose"]["id"] = json!("energy");
    let pending = app.start(&body).await["id"].as_str().unwrap().to_string();
    let optout = app.url(&link_in(app.outbox_message(&pending).await["text"].as_str().unwrap(), "o"));
    let shown = page(&app, &optout).await;
    assert!(shown.contains("Dit was ik niet / bel mij hier niet over"), "{shown}");
    let done = press(&app, &optout, &csrf_in(&shown), "purpose").await;
    assert!(done.contains("Uw toestemming is ingetrokken"), "{done}");
    assert_eq!(app.status_of(&pending).await, "declined");
    assert_eq!(app.events_for(&earlier).await, ["consent.confirmed", "consent.withdrawn"]);
    assert!(!consented(&app, &phone, "energy").await);
}

#[tokio::test]
async fn a_consent_ends_visibly_when_its_term_does() {
    // A term of zero days: the consent stops counting as soon as it is given. Its record stays
    // the usual retention, so the lookup can say why.
    let app = crate::harness::spawn_with(|s| {
        s.verification.receipt_retention_days = 0;
        s.verification.retention_days = 1;
    })
    .await;
    let rx = crate::receiver::Receiver::start().await;
    app.endpoint(&rx.url("/store")).await;
    let phone = fresh_phone();
    let (id, optout, _) = consent(&app, &phone, "energy").await;

    let confirmed = rx.wait_for("/store", "consent.confirmed", Some(&id), WAIT).await;
    let expires_at = confirmed.body["data"]["expires_at"].as_str().expect("expires_at").to_string();
    assert_eq!(confirmed.body["data"]["evidence"]["expires_at"], expires_at.as_str());
    // The sweeper tells the consent stores once the term is over (it sweeps 10-second buckets).
    let expired = rx.wait_for("/store", "consent.expired", Some(&id), Duration::from_secs(20)).await;
    assert_eq!(expired.body["data"]["status"], "expired");
    assert_eq!(expired.body["data"]["expires_at"], expires_at.as_str());
    assert!(app.stored(&id).await.contains_key("xpd"));

    let q = format!("/v1/consents?phone={}", phone.replace('+', "%2B"));
    let (_, v) = app.get_json(&q).await;
    assert_eq!(v["consented"], false, "{v}");
    let c = &v["consents"][0];
    assert_eq!((c["status"].as_str(), c["consented"].as_bool()), (Some("expired"), Some(false)), "{v}");
    assert_eq!(c["expires_at"].as_str().map(|t| t[..19].to_string()), Some(expires_at[..19].to_string()));
    // Nothing is left to withdraw: the opt-out page says so, a withdrawal by number finds none.
    assert!(page(&app, &optout).await.contains("Er is geen toestemming om in te trekken"));
    let r = app.post("/v1/withdrawals", &json!({"phone": phone, "source": "callcenter"})).await;
    assert_eq!(r.status().as_u16(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.events_for(&id).await, ["consent.confirmed", "consent.expired"], "expired once, never withdrawn");
}

#[tokio::test]
async fn the_lookup_answers_per_caller() {
    let app = spawn().await;
    let phone = fresh_phone();
    let (ours, optout, _) = consent(&app, &phone, "energy").await;
    let mut body = start_body("code", "sms");
    body["phone"] = json!(phone);
    body["purpose"]["id"] = json!("energy");
    body["caller"] = json!("Partner Energie B.V.");
    let partner = app.start(&body).await["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&partner).await["text"].as_str().unwrap(), 6);
    app.post(&format!("/v1/verifications/{partner}/check"), &json!({"code": code})).await;

    let base = format!("/v1/consents?phone={}&purpose=energy", phone.replace('+', "%2B"));
    let (_, all) = app.get_json(&base).await;
    let mut rows: Vec<(String, String)> = all["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["caller"].as_str().unwrap().to_string(), c["verification_id"].as_str().unwrap().to_string()))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [("Acme Energie B.V.".to_string(), ours.clone()), ("Partner Energie B.V.".to_string(), partner.clone())]
    );
    let (_, one) = app.get_json(&format!("{base}&caller=Partner%20Energie%20B.V.")).await;
    assert_eq!((one["consented"].as_bool(), one["consents"].as_array().unwrap().len()), (Some(true), 1), "{one}");
    assert_eq!(one["consents"][0]["verification_id"], partner.as_str());
    let (_, none) = app.get_json(&format!("{base}&caller=Iemand%20Anders")).await;
    assert_eq!((none["consented"].as_bool(), none["consents"].as_array().unwrap().len()), (Some(false), 0), "{none}");

    // A withdrawal for the purpose covers every caller.
    let shown = page(&app, &optout).await;
    press(&app, &optout, &csrf_in(&shown), "purpose").await;
    let (_, after) = app.get_json(&base).await;
    assert_eq!(after["consented"], false, "{after}");
    assert!(after["consents"].as_array().unwrap().iter().all(|c| c["status"] == "withdrawn"), "{after}");
}

fn verification_keys(keys: &std::collections::HashSet<String>) -> usize {
    keys.iter().filter(|k| k.contains(":v:")).count()
}

#[tokio::test]
async fn a_campaign_never_re_asks_a_number_that_already_consented() {
    // A campaign's message waits for the send window: open it, so the test passes at any hour.
    let app = crate::harness::spawn_with(crate::campaign::always_open).await;
    let phone = fresh_phone();
    let (consented_id, _, _) = consent(&app, &phone, "energy").await;
    let mut campaign = start_body("code", "sms");
    campaign["phone"] = json!(phone);
    campaign["purpose"]["id"] = json!("energy");
    campaign["initiated_by"] = json!("marketer");
    campaign.as_object_mut().unwrap().remove("collection");

    let before = verification_keys(&app.keys().await);
    let r = app.post("/v1/verifications", &campaign).await;
    assert_eq!(r.status().as_u16(), 409);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["type"], format!("{PROBLEM}already-consented"), "{problem}");
    assert_eq!(problem["field"], "phone");
    assert!(problem["detail"].as_str().unwrap().contains(&consented_id), "{problem}");
    assert_eq!(verification_keys(&app.keys().await), before, "nothing written, nothing sent");

    // Another caller's consent is not this one's; a person asking themselves is never refused.
    let mut partner = campaign.clone();
    partner["caller"] = json!("Partner Energie B.V.");
    assert_eq!(app.post("/v1/verifications", &partner).await.status().as_u16(), 201);
    let mut consumer = campaign.clone();
    consumer["initiated_by"] = json!("consumer");
    assert_eq!(app.post("/v1/verifications", &consumer).await.status().as_u16(), 201);

    // Asked on purpose: sent, and the evidence says so.
    campaign["reask"] = json!(true);
    let id = app.start(&campaign).await["id"].as_str().unwrap().to_string();
    assert_eq!(app.stored(&id).await.get("rask").map(String::as_str), Some("1"));
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await;
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["evidence"]["verification"]["reask"], true, "{v}");
    let (_, first) = app.get_json(&format!("/v1/verifications/{consented_id}")).await;
    assert!(first["evidence"]["verification"].get("reask").is_none(), "{first}");
}

#[tokio::test]
async fn a_batch_skips_consented_numbers_and_duplicates_and_counts_them() {
    let app = spawn().await;
    let consented = fresh_phone();
    consent(&app, &consented, "energy").await;
    let asked_again = fresh_phone();
    consent(&app, &asked_again, "energy").await;
    let fresh = fresh_phone();
    let national = format!("0{}", &fresh[3..]);
    let item = |phone: &str, purpose: &str| {
        let mut b = start_body("code", "sms");
        b["phone"] = json!(phone);
        b["purpose"]["id"] = json!(purpose);
        b.as_object_mut().unwrap().remove("initiated_by");
        b
    };
    let mut reask = item(&asked_again, "energy");
    reask["reask"] = json!(true);
    let items = json!({"items": [
        item(&consented, "energy"),
        item(&fresh, "energy"),
        item(&national, "energy"),
        item(&consented, "insurance"),
        reask,
    ]});
    let send = || {
        app.client
            .post(app.url("/v1/verifications/batch"))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "campaign-1")
            .json(&items)
            .send()
    };
    let answer: Value = send().await.unwrap().json().await.unwrap();
    let statuses: Vec<u64> =
        answer["items"].as_array().unwrap().iter().map(|i| i["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [409, 201, 409, 201, 201], "{answer}");
    assert_eq!(answer["items"][0]["error"]["type"], format!("{PROBLEM}already-consented"));
    assert_eq!(answer["items"][2]["error"]["type"], format!("{PROBLEM}duplicate-in-batch"));
    assert!(answer["items"][2]["error"]["detail"].as_str().unwrap().contains("items[1]"));
    assert_eq!((answer["accepted"].as_u64(), answer["refused"].as_u64()), (Some(3), Some(2)));

    let id = answer["id"].as_str().unwrap();
    let counts = |v: &Value| {
        (v["accepted"].as_u64(), v["counts"]["already_consented"].as_u64(), v["counts"]["duplicate_in_batch"].as_u64())
    };
    let (status, view) = app.get_json(&format!("/v1/batches/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(counts(&view), (Some(3), Some(1), Some(1)), "{view}");
    // The same batch again counts nothing twice.
    let again: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(again["id"], id);
    let (_, view) = app.get_json(&format!("/v1/batches/{id}")).await;
    assert_eq!(counts(&view), (Some(3), Some(1), Some(1)), "{view}");
}

#[tokio::test]
async fn messages_name_the_number_that_will_call_where_there_is_room() {
    let app = spawn().await;
    let mut body = start_body("link", "sms");
    body["phone"] = json!(fresh_phone());
    body["purpose"]["text"] = json!("Energie");
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    assert!(text.contains("Wij bellen vanaf +31201234567."), "{text}");
    assert!(optin_verify::channels::gsm::segments(&text).1 <= 2, "{text}");
    // A purpose long enough to need the room: the number gives way before the purpose is cut.
    body["phone"] = json!(fresh_phone());
    body["purpose"]["text"] = json!("Telefonische aanbiedingen over energiecontracten");
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    assert!(!text.contains("Wij bellen vanaf"), "{text}");
    assert!(text.contains("over: Telefonische aanbiedingen over energiecontracten. Akkoord?"), "{text}");
    assert!(optin_verify::channels::gsm::segments(&text).1 <= 2, "{text}");
    // E-mail has room: it always names the number.
    let mut mail = start_body("code", "email");
    mail["phone"] = json!(fresh_phone());
    mail["to"] = json!(format!("jan.{}@example.nl", rand::random::<u32>()));
    let id = app.start(&mail).await["id"].as_str().unwrap().to_string();
    let m = app.outbox_message(&id).await;
    assert!(m["text"].as_str().unwrap().contains("U wordt gebeld vanaf +31201234567."), "{m}");
}
