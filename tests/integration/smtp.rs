//! Email through a real SMTP server process (aiosmtpd, started by scripts/test into a Maildir).

use std::time::Duration;

use base64::Engine;
use optin_verify::config::{DkimSettings, EmailSettings, SmtpSettings, SmtpTls};
use serde_json::json;

use crate::harness::{code_in, spawn_with, start_body};

fn smtp_port() -> u16 {
    std::env::var("OPTIN_TEST_SMTP_PORT")
        .expect("OPTIN_TEST_SMTP_PORT is not set: run the suite with scripts/test, which starts the SMTP server")
        .parse()
        .unwrap()
}

/// Waits for the message to `to` to land in the Maildir and returns its raw bytes.
pub(crate) async fn received(to: &str) -> Vec<u8> {
    let dir = std::path::PathBuf::from(std::env::var("OPTIN_TEST_MAILDIR").expect("OPTIN_TEST_MAILDIR")).join("new");
    for _ in 0..200 {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let raw = std::fs::read(e.path()).unwrap_or_default();
                if String::from_utf8_lossy(&raw).contains(&format!("X-RcptTo: {to}")) {
                    return raw;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail for {to}");
}

pub(crate) fn smtp(pool_size: u32, dkim: Option<DkimSettings>) -> EmailSettings {
    EmailSettings {
        smtp: SmtpSettings {
            host: "127.0.0.1".into(),
            port: smtp_port(),
            tls: SmtpTls::None,
            username: String::new(),
            password: String::new(),
            from: "verify@acme-energie.example".into(),
            pool_size,
            dkim,
            rate_per_second: 0,
        },
    }
}

#[tokio::test]
async fn email_arrives_at_a_real_smtp_server_with_every_header_and_both_parts() {
    let dkim_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let app = spawn_with(|s| {
        s.channels.email = Some(smtp(
            2,
            Some(DkimSettings {
                domain: "acme-energie.example".into(),
                selector: "ov2026".into(),
                algorithm: "ed25519".into(),
                private_key: dkim_key,
            }),
        ));
        s.tenants[0].email_reply_to = Some("klantenservice@acme-energie.example".into());
    })
    .await;
    let to = format!("jan.{}@example.nl", rand::random::<u32>());
    let mut body = start_body("code", "email");
    body["to"] = json!(to);
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    let raw = received(&to).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    for header in [
        "From: \"Acme Energie B.V.\" <verify@acme-energie.example>",
        "Reply-To: klantenservice@acme-energie.example",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "Subject: Uw verificatiecode voor Acme Energie B.V.",
    ] {
        assert!(text.contains(header), "missing {header:?} in\n{text}");
    }
    assert!(text.contains("Message-ID: <") && text.contains("@acme-energie.example>"));
    assert!(text.contains("Date: "));
    assert!(text.contains("DKIM-Signature: v=1; a=ed25519-sha256") && text.contains("d=acme-energie.example"));
    assert!(text.contains("s=ov2026"));
    let unsubscribe = text.lines().find(|l| l.starts_with("List-Unsubscribe: <")).expect("List-Unsubscribe");
    assert!(unsubscribe.contains(&format!("{}/o/", app.base)));

    let mail = mail_parser::MessageParser::default().parse(&raw).expect("a parsable message");
    let plain = mail.body_text(0).expect("text part").to_string();
    let html = mail.body_html(0).expect("html part").to_string();
    let code = code_in(&plain, 6);
    assert!(html.contains(&code), "the code in both parts");
    assert!(plain.contains("/o/") && html.contains("/o/"));
    let r: serde_json::Value =
        app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["delivery"]["provider"], "smtp");
    assert_eq!(v["delivery"]["attempts"][0]["outcome"], "accepted");
}

#[tokio::test]
async fn a_link_email_in_english_carries_the_confirm_link() {
    let app = spawn_with(|s| s.channels.email = Some(smtp(1, None))).await;
    let to = format!("anne.{}@example.nl", rand::random::<u32>());
    let mut body = start_body("link", "email");
    body["to"] = json!(to);
    body["locale"] = json!("en");
    app.start(&body).await;
    let raw = received(&to).await;
    let mail = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(mail.subject(), Some("Confirm that Acme Energie B.V. may call you"));
    let plain = mail.body_text(0).unwrap().to_string();
    let link = crate::harness::link_in(&plain, "c");
    let page = app.client.get(app.url(&link)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
}
