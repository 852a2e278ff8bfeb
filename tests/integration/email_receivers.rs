//! E-mail as a receiving mail server judges it: the DKIM signature on the bytes a real SMTP
//! server received, checked by dkimpy (not our signer), and RFC 8058 one-click POSTs in both
//! form encodings a mail client may use.

use std::{io::Write, process::Command};

use base64::Engine;
use optin_verify::config::DkimSettings;
use serde_json::{Value, json};

use crate::{
    harness::{TestApp, code_in, fresh_phone, spawn, spawn_with, start_body},
    smtp::{received, smtp},
};

const DOMAIN: &str = "acme-energie.example";
const SELECTOR: &str = "ov2026";

/// Runs dkimpy on `message` with the key served by a stub resolver; true when it verifies.
fn dkimpy_verifies(message: &[u8], key_type: &str, public_key: &str) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/dkim_verify.py");
    let mut child = Command::new("/usr/bin/python3")
        .args([script, DOMAIN, SELECTOR, key_type, public_key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with dkimpy (scripts/test installs python3-dkim)");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.trim() == "pass" || stdout.trim() == "fail",
        "dkimpy did not run: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success()
}

/// Sends a code e-mail through the real SMTP server with this DKIM key and returns what arrived.
async fn signed_mail(algorithm: &str, private_key: String) -> Vec<u8> {
    let app = spawn_with(|s| {
        s.channels.email = Some(smtp(
            1,
            Some(DkimSettings {
                domain: DOMAIN.into(),
                selector: SELECTOR.into(),
                algorithm: algorithm.into(),
                private_key,
            }),
        ));
        s.tenants[0].email_reply_to = Some("klantenservice@acme-energie.example".into());
    })
    .await;
    let to = format!("dkim.{}@example.nl", rand::random::<u32>());
    let mut body = start_body("code", "email");
    body["to"] = json!(to);
    app.start(&body).await;
    received(&to).await
}

/// The `h=` tag of the DKIM-Signature header, unfolded.
fn signed_header_list(message: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(message).replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ");
    let line = text.lines().find(|l| l.to_ascii_lowercase().starts_with("dkim-signature:")).expect("DKIM-Signature");
    let h = line.split(';').map(str::trim).find_map(|t| t.strip_prefix("h=")).expect("h= tag");
    h.split(':').map(|s| s.trim().to_ascii_lowercase()).collect()
}

/// A copy of `message` with one header's value changed, as a forwarder that rewrites it would.
fn tampered(message: &[u8], header: &str, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(message).to_string();
    let start = text.find(&format!("\n{header}: ")).expect("header present");
    let end = start + text[start + 1..].find('\n').unwrap() + 1;
    let line = text[start..end].replacen(from, to, 1);
    assert_ne!(line, text[start..end], "the tamper must change something");
    format!("{}{}{}", &text[..start], line, &text[end..]).into_bytes()
}

fn assert_signed_headers(message: &[u8]) {
    let h = signed_header_list(message);
    for name in [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ] {
        assert!(h.iter().any(|x| x == name), "{name} is not signed: h={h:?}");
    }
    let text = String::from_utf8_lossy(message);
    assert!(text.contains("c=relaxed/relaxed"), "relaxed/relaxed canonicalization:\n{text}");
}

#[tokio::test]
async fn an_ed25519_signed_mail_verifies_with_dkimpy_as_received() {
    let seed = [7u8; 32];
    let private = base64::engine::general_purpose::STANDARD.encode(seed);
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    let public = base64::engine::general_purpose::STANDARD.encode(public.as_bytes());
    let raw = signed_mail("ed25519", private).await;
    assert!(String::from_utf8_lossy(&raw).contains("a=ed25519-sha256"));
    assert_signed_headers(&raw);
    assert!(dkimpy_verifies(&raw, "ed25519", &public), "dkimpy refused:\n{}", String::from_utf8_lossy(&raw));
    // The verifier can say no: a changed signed header fails.
    let forged = tampered(&raw, "List-Unsubscribe-Post", "One-Click", "One-Clack");
    assert!(!dkimpy_verifies(&forged, "ed25519", &public));
}

#[tokio::test]
async fn an_rsa_signed_mail_verifies_with_dkimpy_as_received() {
    let private = include_str!("../fixtures/dkim-test-rsa.pem").to_string();
    let public = include_str!("../fixtures/dkim-test-rsa.pub.b64").trim().to_string();
    let raw = signed_mail("rsa", private).await;
    assert!(String::from_utf8_lossy(&raw).contains("a=rsa-sha256"));
    assert_signed_headers(&raw);
    assert!(dkimpy_verifies(&raw, "rsa", &public), "dkimpy refused:\n{}", String::from_utf8_lossy(&raw));
    let forged = tampered(&raw, "Subject", "Uw", "Jouw");
    assert!(!dkimpy_verifies(&forged, "rsa", &public));
}

/// A confirmed e-mail code consent and its one-click URL.
async fn confirmed_email_consent(app: &TestApp) -> (String, String) {
    let mut body = start_body("code", "email");
    body["phone"] = json!(fresh_phone());
    body["to"] = json!(format!("klik.{}@example.nl", rand::random::<u32>()));
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    let m = app.outbox_message(&id).await;
    let url = m["headers"]["List-Unsubscribe"].as_str().unwrap().trim_matches(['<', '>']).to_string();
    let code = code_in(m["text"].as_str().unwrap(), 6);
    let r: Value =
        app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
    (id, url)
}

/// What `curl -F List-Unsubscribe=One-Click URL` sends.
fn multipart_one_click() -> (String, String) {
    let boundary = "------------------------d74496d66958873e";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_multipart_one_click_post_withdraws_without_a_redirect() {
    let app = spawn().await;
    let (id, url) = confirmed_email_consent(&app).await;
    let (content_type, body) = multipart_one_click();
    let r = app.client.post(&url).header("content-type", content_type).body(body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("location").is_none());
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed", "consent.withdrawn"]);
    assert!(app.stored(&id).await.contains_key("wd"), "the record carries its withdrawal");
}

#[tokio::test]
async fn an_urlencoded_one_click_post_withdraws_too() {
    let app = spawn().await;
    let (id, url) = confirmed_email_consent(&app).await;
    let r = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed", "consent.withdrawn"]);
}

#[tokio::test]
async fn any_other_one_click_body_is_refused_and_changes_nothing() {
    let app = spawn().await;
    let (id, url) = confirmed_email_consent(&app).await;
    app.settle().await;
    let before = app.keys().await;
    let (_, multipart_body) = multipart_one_click();
    // Refused before the page runs: not a form, or a form past the size the two forms can have.
    let oversized = format!(
        "--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b\r\n\
         Content-Disposition: form-data; name=\"pad\"\r\n\r\n{}\r\n--b--\r\n",
        "x".repeat(10_000)
    );
    let cases: [(Option<&str>, String, u16); 4] = [
        (Some("text/plain"), "List-Unsubscribe=One-Click".into(), 415),
        (Some("application/json"), r#"{"List-Unsubscribe":"One-Click"}"#.into(), 415),
        (None, "List-Unsubscribe=One-Click".into(), 415),
        (Some("multipart/form-data; boundary=b"), oversized, 404),
    ];
    for (content_type, body, status) in cases {
        let mut req = app.client.post(&url).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{content_type:?}");
        assert!(r.headers().get("location").is_none());
    }
    app.assert_keys_unchanged(&before, "refused one-click bodies").await;
    // A multipart body whose parts do not use the declared boundary carries no field at all.
    let r = app
        .client
        .post(&url)
        .header("content-type", "multipart/form-data; boundary=other")
        .body(multipart_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed"]);
    assert!(!app.stored(&id).await.contains_key("wd"));
}
