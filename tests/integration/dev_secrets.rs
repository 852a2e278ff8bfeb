//! Dev mode keeps the secrets it generates in `dev.secrets_file`: a code sent before a restart
//! still checks after it, and receipts keep their key id.

use serde_json::{Value, json};

use crate::harness::{TestApp, code_in, refused_start, spawn_with, start_body};

async fn dev_app(secrets_file: &str, prefix: Option<&str>) -> TestApp {
    spawn_with(|s| {
        s.secrets.server_key = String::new();
        s.dev.secrets_file = secrets_file.to_string();
        if let Some(p) = prefix {
            s.redis.key_prefix = p.to_string();
        }
    })
    .await
}

async fn check(app: &TestApp, id: &str, code: &str) -> Value {
    let r = app.post(&format!("/v1/verifications/{id}/check"), &json!({ "code": code })).await;
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

async fn kid(app: &TestApp) -> Value {
    let jwks: Value = app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    jwks["keys"][0]["kid"].clone()
}

#[tokio::test]
async fn a_code_sent_before_a_dev_restart_checks_after_it() {
    let dir = std::env::temp_dir().join(format!("ov-dev-{}", rand::random::<u64>()));
    let file = dir.join("secrets.json").to_string_lossy().to_string();
    let before = dev_app(&file, None).await;
    let id = before.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let code = code_in(before.outbox_message(&id).await["text"].as_str().unwrap(), 6);

    // Without the file a new process has new keys: it refuses this store rather than read every
    // number in it as unknown.
    let prefix = before.prefix.clone();
    let e = refused_start(|s| {
        s.secrets.server_key = String::new();
        s.redis.key_prefix = prefix;
    })
    .await;
    assert!(matches!(e, optin_verify::startup::StartupError::PseudonymKeyChanged), "{e}");

    let after = dev_app(&file, Some(&before.prefix)).await;
    assert_eq!(kid(&after).await, kid(&before).await);
    let right = check(&after, &id, &code).await;
    assert_eq!(right["status"], "confirmed");
    std::fs::remove_dir_all(dir).unwrap();
}
