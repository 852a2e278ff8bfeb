//! Key rotation: what was made under an old key keeps working under the new configuration.
//! Each test runs two apps on one key prefix: the one before the rotation and the one after.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use optin_verify::config::RetiredReceiptKeySettings;
use serde_json::{Value, json};

use crate::harness::{TestApp, code_in, csrf_in, link_in, spawn_with, start_body};

const RECEIPT_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const RECEIPT_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

async fn receipt_of(app: &TestApp, id: &str) -> String {
    for _ in 0..400 {
        if let Some(r) = app.get_json(&format!("/v1/verifications/{id}")).await.1["receipt"].as_str() {
            return r.to_string();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no receipt for {id}");
}

fn verifies(set: &JwkSet, receipt: &str) -> bool {
    let kid = jsonwebtoken::decode_header(receipt).unwrap().kid.unwrap();
    let Some(jwk) = set.find(&kid) else { return false };
    let mut v = Validation::new(Algorithm::EdDSA);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(receipt, &DecodingKey::from_jwk(jwk).unwrap(), &v).is_ok()
}

async fn outbox_texts(app: &TestApp, id: &str) -> Vec<String> {
    let list: Vec<Value> = app.client.get(app.url("/dev/outbox")).send().await.unwrap().json().await.unwrap();
    list.iter().filter(|m| m["verification_id"] == id).map(|m| m["text"].as_str().unwrap().to_string()).collect()
}

async fn jwks(app: &TestApp) -> JwkSet {
    app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_receipt_signed_before_a_receipt_key_rotation_verifies_from_the_jwks_after_it() {
    let before = spawn_with(|s| s.receipts.signing_key = RECEIPT_A.into()).await;
    let id = before.confirmed_by_code().await;
    let receipt = receipt_of(&before, &id).await;
    let old_public = optin_verify::evidence::ReceiptSigner::parse(RECEIPT_A).unwrap().public_key();

    let prefix = before.prefix.clone();
    let forgot = spawn_with(|s| {
        s.redis.key_prefix = prefix.clone();
        s.receipts.signing_key = RECEIPT_B.into();
    })
    .await;
    assert!(!verifies(&jwks(&forgot).await, &receipt), "control: without the retired key it must fail");

    let after = spawn_with(|s| {
        s.redis.key_prefix = prefix.clone();
        s.receipts.signing_key = RECEIPT_B.into();
        s.receipts.retired_keys = vec![RetiredReceiptKeySettings { public_key: old_public, kid: None }];
    })
    .await;
    let set = jwks(&after).await;
    assert_eq!(set.keys.len(), 2);
    assert!(verifies(&set, &receipt), "the old receipt must verify from the new JWKS");
    // New receipts verify too (whichever of the running apps' dispatchers signed them).
    let fresh = receipt_of(&after, &after.confirmed_by_code().await).await;
    assert!(verifies(&set, &fresh));
}

const OLD_KEY: &str = "test-server-key-0123456789abcdef0123456789";
const NEW_KEY: &str = "rotated-server-key-abcdef0123456789abcdef01";

/// The app after a server-key rotation, on the same Redis data as `before`. Without the old
/// key among the previous ones, it stays on as the pseudonym key (docs/OPERATIONS.md, "Rotating keys").
async fn rotated(before: &TestApp, previous: &[&str]) -> TestApp {
    let (prefix, previous): (String, Vec<String>) =
        (before.prefix.clone(), previous.iter().map(|s| s.to_string()).collect());
    spawn_with(|s| {
        s.redis.key_prefix = prefix;
        s.secrets.server_key = NEW_KEY.into();
        if previous.is_empty() {
            s.secrets.pseudonym_key = OLD_KEY.into();
        }
        s.secrets.previous_server_keys = previous;
    })
    .await
}

#[tokio::test]
async fn a_link_sent_before_a_server_key_rotation_confirms_after_it() {
    let before = spawn_with(|_| {}).await;
    let id = before.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let text = before.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    let link = link_in(&text, "c");
    // The form was opened before the rotation; it is posted after it.
    let page = before.client.get(before.url(&link)).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_in(&page);

    let after = rotated(&before, &[OLD_KEY]).await;
    assert_eq!(after.client.get(after.url(&link)).send().await.unwrap().status().as_u16(), 200);
    let r = after.client.post(after.url(&format!("{link}/confirm"))).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(after.status_of(&id).await, "confirmed");
    // The receipt id is the one made under the old key, and its page opens after the rotation.
    let receipt_path = r.headers()["location"].to_str().unwrap().to_string();
    let (_, view) = after.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(receipt_path.split('?').next().unwrap(), format!("/r/{}", view["receipt_id"].as_str().unwrap()));
    let receipt_page = after.client.get(after.url(&receipt_path)).send().await.unwrap();
    assert_eq!(receipt_page.status().as_u16(), 200);
    // The redirect carries the opt-out token from the message, not one under the new key, and
    // so does the page's withdraw form.
    assert!(receipt_path.contains(&format!("?t={}", &link_in(&text, "o")["/o/".len()..])), "{receipt_path}");
    assert!(receipt_page.text().await.unwrap().contains(&link_in(&text, "o")));
}

#[tokio::test]
async fn a_code_sent_before_a_server_key_rotation_checks_and_resends_the_same_after_it() {
    let before = spawn_with(|_| {}).await;
    let id = before.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let code = code_in(before.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    let after = rotated(&before, &[OLD_KEY]).await;
    let r = after.post(&format!("/v1/verifications/{id}/resend"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 202);
    for _ in 0..400 {
        if after.outbox_count(&id).await >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let all = outbox_texts(&after, &id).await;
    assert_eq!(all.len(), 2, "the resend went out");
    assert!(all.iter().all(|t| code_in(t, 6) == code), "a resend after the rotation repeats the code");
    let r: Value =
        after.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
}

#[tokio::test]
async fn without_the_previous_key_old_links_and_codes_stop_working() {
    let before = spawn_with(|_| {}).await;
    let id = before.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let text = before.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    let code = code_in(&text, 6);
    let page = before.client.get(before.url(&link_in(&text, "c"))).send().await.unwrap().text().await.unwrap();
    let after = rotated(&before, &[]).await;
    let csrf = csrf_in(&page);
    let r = after.client.post(after.url(&format!("{}/confirm", link_in(&text, "c")))).form(&[("csrf", &csrf)]).send();
    assert_eq!(r.await.unwrap().status().as_u16(), 404, "a CSRF value under an unknown key is refused");
    let r: Value =
        after.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "pending");
    assert_eq!(r["attempts_remaining"], 4);
}

#[tokio::test]
async fn a_start_under_another_pseudonym_key_is_refused_and_the_store_keeps_its_consents() {
    let before = spawn_with(|_| {}).await;
    let phone = crate::harness::fresh_phone();
    let mut body = start_body("code", "sms");
    body["phone"] = json!(phone);
    let id = before.start(&body).await["id"].as_str().unwrap().to_string();
    let code = code_in(before.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    let r: Value =
        before.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
    before.settle().await;
    let meta_before = before.dump().await;
    assert!(
        meta_before.iter().all(|(_, v)| !v.contains("test-server-key") && !v.contains(&hex::encode(OLD_KEY))),
        "the key itself is never stored"
    );

    // A new server key with neither the old one as previous nor a pseudonym key: refused, in
    // production as in dev, naming the setting and the section of docs/OPERATIONS.md.
    for mode in [optin_verify::config::Mode::Dev, optin_verify::config::Mode::Production] {
        let prefix = before.prefix.clone();
        let e = crate::harness::refused_start(move |s| {
            s.redis.key_prefix = prefix;
            s.secrets.server_key = NEW_KEY.into();
            s.mode = mode;
            if mode == optin_verify::config::Mode::Production {
                let random = || hex::encode(rand::random::<[u8; 32]>());
                s.dev.outbox = false;
                s.webhooks.allow_private_targets = false;
                s.secrets.server_key = random();
                s.secrets.pseudonym_key = random();
                s.receipts.signing_key = random();
            }
        })
        .await;
        let message = e.to_string();
        assert!(matches!(e, optin_verify::startup::StartupError::PseudonymKeyChanged), "{mode:?}: {message}");
        assert!(
            message.contains("secrets.pseudonym_key") && message.contains("docs/OPERATIONS.md, \"Rotating keys\""),
            "{message}"
        );
    }
    assert_eq!(before.dump().await, meta_before, "a refused start changes nothing");

    // With the old key as the pseudonym key, the consent is still found.
    let after = rotated(&before, &[]).await;
    let (status, v) = after.get_json(&format!("/v1/consents?phone=%2B{}&purpose=energy-offers", &phone[1..])).await;
    assert_eq!(status, 200);
    assert_eq!(v["consented"], true, "{v}");
}
