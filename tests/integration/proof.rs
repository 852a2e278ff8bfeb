//! Proof on request: `GET /v1/consents/proof` gathers a number's consents into one bundle, and
//! `optin-verify verify-proof` checks it offline, failing on any change to a text or signature.

use std::{process::Command, time::Duration};

use optin_verify::config::RetiredReceiptKeySettings;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    consent_truth::consent,
    harness::{TestApp, fresh_phone, spawn, spawn_with},
};

const PROBLEM: &str = "https://optin-verify.eu/problems/";
const RECEIPT_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const RECEIPT_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn q(phone: &str) -> String {
    phone.replace('+', "%2B")
}

/// Waits until every listed verification has its signed receipt.
pub async fn signed(app: &TestApp, ids: &[&str]) {
    for id in ids {
        for i in 0.. {
            if app.get_json(&format!("/v1/verifications/{id}")).await.1["receipt"].is_string() {
                break;
            }
            assert!(i < 400, "no receipt for {id}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn bundle(app: &TestApp, query: &str) -> Value {
    let (status, v) = app.get_json(&format!("/v1/consents/proof?{query}")).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Runs the real binary; its exit code and what it printed.
pub fn cli(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_optin-verify")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap(), text)
}

pub fn file(name: &str, v: &Value) -> String {
    let path = std::env::temp_dir().join(format!("{name}-{}.json", rand::random::<u64>()));
    std::fs::write(&path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn a_bundle_holds_every_consent_and_checks_out_offline_until_it_is_changed() {
    let app = spawn().await;
    let phone = fresh_phone();
    let (energy, _, _) = consent(&app, &phone, "energy").await;
    let (insurance, _, _) = consent(&app, &phone, "insurance").await;
    let r = app
        .post("/v1/withdrawals", &json!({"phone": phone, "source": "phone_call", "verification_id": insurance}))
        .await;
    assert_eq!(r.status().as_u16(), 202);
    signed(&app, &[&energy, &insurance]).await;

    let b = bundle(&app, &format!("phone={}", q(&phone))).await;
    assert_eq!(b["format"], "optin-verify/proof/1");
    assert_eq!(b["phone"], phone.as_str());
    assert_eq!(b["tenant"], "acme");
    let consents = b["consents"].as_array().unwrap();
    let ids: Vec<&str> = consents.iter().map(|c| c["verification_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [insurance.as_str(), energy.as_str()], "newest first");
    assert_eq!(consents[0]["status"], "withdrawn");
    assert_eq!(consents[0]["withdrawal"]["source"], "phone_call");
    assert!(consents[0]["evidence"]["withdrawal"]["withdrawn_at"].is_string());
    assert_eq!(consents[1]["status"], "active");
    assert!(consents[1]["withdrawal"].is_null());
    for c in consents {
        let text = c["texts"][0]["text"].as_str().unwrap();
        assert_eq!(c["texts"][0]["name"], "consent_text");
        assert_eq!(c["texts"][0]["sha256"], hex::encode(Sha256::digest(text.as_bytes())));
        assert_eq!(c["evidence"]["notice"]["consent_text"], text);
        assert_eq!(c["texts"][1]["text"], c["evidence"]["purpose"]["text"]);
        assert!(c["receipt"].as_str().unwrap().split('.').count() == 3);
        assert!(c["receipt_id"].as_str().unwrap().starts_with("rcpt_"));
        assert!(c["delivery"]["to"].as_str().unwrap().contains('@'));
        assert!(!c["delivery"]["attempts"].as_array().unwrap().is_empty(), "{c}");
        assert_eq!(c["evidence"]["verification"]["source"], "api");
    }
    assert_eq!(b["jwks"]["keys"][0]["kid"], b["current_kid"]);

    // One purpose only.
    let one = bundle(&app, &format!("phone={}&purpose=energy", q(&phone))).await;
    assert_eq!(one["consents"].as_array().unwrap().len(), 1);
    assert_eq!(one["consents"][0]["verification_id"], energy.as_str());

    // Offline: the bundle checks out, with its own keys and with the issuer's.
    let path = file("proof", &b);
    let (code, out) = cli(&["verify-proof", &path]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("\nOK ").count(), 2, "{out}");
    assert!(out.contains("verdict: every consent checks out"), "{out}");
    let (code, out) = cli(&["verify-proof", &path, "--jwks", &app.url("/.well-known/jwks.json")]);
    assert_eq!(code, 0, "{out}");

    // A changed consent text fails, naming what is wrong.
    let mut text = b.clone();
    text["consents"][1]["texts"][0]["text"] = json!("Ja, bel mij elke dag.");
    let (code, out) = cli(&["verify-proof", &file("text", &text)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("FAILED {energy}")) && out.contains("text consent_text"), "{out}");
    assert!(out.contains(&format!("OK     {insurance}")), "{out}");
    // So does a changed text whose hash was changed with it, and changed evidence.
    let mut evidence = b.clone();
    evidence["consents"][0]["evidence"]["verification"]["confirmed_at"] = json!("2026-01-01T00:00:00Z");
    let (code, out) = cli(&["verify-proof", &file("evidence", &evidence)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("evidence.verification.confirmed_at differs"), "{out}");
    // And a changed signature.
    let mut sig = b.clone();
    let jws = sig["consents"][0]["receipt"].as_str().unwrap().to_string();
    let (head, last) = jws.split_at(jws.len() - 2);
    sig["consents"][0]["receipt"] = json!(format!("{head}{}", if last == "AA" { "BA" } else { "AA" }));
    let (code, out) = cli(&["verify-proof", &file("sig", &sig)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the signature does not verify"), "{out}");

    // One receipt on its own, against the issuer's JWKS.
    let receipt = b["consents"][1]["receipt"].as_str().unwrap();
    let (code, out) = cli(&["verify-receipt", "--jwks", &app.url("/.well-known/jwks.json"), receipt]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("purpose:      \"energy\""), "{out}");
    let (code, _) = cli(&["verify-receipt", "--jwks", &file("jwks", &json!({"keys": []})), receipt]);
    assert_eq!(code, 2, "an empty JWK Set cannot check anything");
    let (code, out) = cli(&["verify-proof", "/nonexistent/proof.json"]);
    assert_eq!(code, 2, "{out}");
}

#[tokio::test]
async fn a_receipt_signed_by_a_retired_key_still_checks_out_and_says_so() {
    let before = spawn_with(|s| s.receipts.signing_key = RECEIPT_A.into()).await;
    let phone = fresh_phone();
    let (old, _, _) = consent(&before, &phone, "energy").await;
    signed(&before, &[&old]).await;
    let old_public = optin_verify::evidence::ReceiptSigner::parse(RECEIPT_A).unwrap().public_key();
    let prefix = before.prefix.clone();
    let after = spawn_with(|s| {
        s.redis.key_prefix = prefix.clone();
        s.receipts.signing_key = RECEIPT_B.into();
        s.receipts.retired_keys = vec![RetiredReceiptKeySettings { public_key: old_public, kid: None }];
    })
    .await;
    let b = bundle(&after, &format!("phone={}", q(&phone))).await;
    assert_eq!(b["jwks"]["keys"].as_array().unwrap().len(), 2);
    let (code, out) = cli(&["verify-proof", &file("retired", &b)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(a retired key)"), "{out}");
    // Without the retired key (only the new one), it cannot be checked.
    let mut forgot = b.clone();
    forgot["jwks"]["keys"].as_array_mut().unwrap().truncate(1);
    let (code, out) = cli(&["verify-proof", &file("forgot", &forgot)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no key with kid"), "{out}");
}

#[tokio::test]
async fn the_printable_proof_is_html_in_dutch_or_english() {
    let app = spawn().await;
    let phone = fresh_phone();
    let (id, _, _) = consent(&app, &phone, "energy").await;
    signed(&app, &[&id]).await;
    let url = app.url(&format!("/v1/consents/proof?phone={}", q(&phone)));
    let r = app
        .client
        .get(&url)
        .bearer_auth(&app.key)
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let page = r.text().await.unwrap();
    assert!(page.contains("Bewijs van toestemming") && page.contains("Aanbiedingen over energy"), "{page}");
    assert!(page.contains(&id) && page.contains("Zo controleert u dit bewijs") && page.contains("Ed25519"), "{page}");
    let r = app.client.get(format!("{url}&format=html&lang=en")).bearer_auth(&app.key).send().await.unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("Proof of consent") && page.contains("How to check this proof"), "{page}");
    // An API client that asks for JSON gets JSON.
    let r = app.client.get(&url).bearer_auth(&app.key).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn proof_is_per_tenant_and_bad_queries_change_nothing() {
    let app = spawn().await;
    let phone = fresh_phone();
    let (id, _, _) = consent(&app, &phone, "energy").await;
    signed(&app, &[&id]).await;
    // Another tenant holds nothing for the number.
    let r = app
        .client
        .get(app.url(&format!("/v1/consents/proof?phone={}", q(&phone))))
        .bearer_auth(&app.other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let other: Value = r.json().await.unwrap();
    assert_eq!(other["consents"], json!([]));
    assert_eq!(other["tenant"], "other");
    // Without a key.
    let r = app.client.get(app.url(&format!("/v1/consents/proof?phone={}", q(&phone)))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let before = app.keys().await;
    for (query, problem, field) in [
        ("", "invalid-request", "query"),
        ("phone=12", "invalid-phone", "phone"),
        (&format!("phone={}&colour=red", q(&phone)) as &str, "invalid-request", "query"),
        (&format!("phone={}&format=xml", q(&phone)), "invalid-request", "format"),
        (&format!("phone={}&lang=de", q(&phone)), "invalid-request", "lang"),
    ] {
        let (status, v) = app.get_json(&format!("/v1/consents/proof?{query}")).await;
        assert_eq!(status, 422, "{query}: {v}");
        assert_eq!(v["type"], format!("{PROBLEM}{problem}"), "{query}: {v}");
        assert_eq!(v["field"], field, "{query}: {v}");
    }
    app.assert_keys_unchanged(&before, "bad proof queries").await;
}
