//! `kill -9` of a worker process mid-batch loses nothing: another worker reclaims what the dead
//! one left (XAUTOCLAIM) and every event is delivered at least once, with the same webhook-id.

use std::{collections::HashSet, process::Command, time::Duration};

use optin_verify::startup::Role;
use serde_json::json;

use crate::{
    harness::{TestApp, fresh_phone, spawn_role, start_body},
    receiver::{Behaviour, Receiver},
};

fn worker_config(app: &TestApp, dir: &std::path::Path) -> std::path::PathBuf {
    worker_config_with(app, dir, "")
}

fn worker_config_with(app: &TestApp, dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let file = dir.join("worker.toml");
    let toml = format!(
        r#"mode = "dev"
[http]
bind = "127.0.0.1:0"
public_base_url = "{base}"
[redis]
url = "{redis}"
key_prefix = "{prefix}"
partitions = 4
[secrets]
server_key = "test-server-key-0123456789abcdef0123456789"
[dev]
spawn_redis = false
[worker]
reclaim_idle_ms = 1000
[webhooks]
timeout_seconds = 2
per_endpoint_concurrency = 2
[[tenants]]
id = "acme"
name = "Acme Energie B.V."
kvk = "12345678"
api_key_sha256 = "{hash}"
{extra}
"#,
        base = app.base,
        redis = crate::harness::standalone_url(),
        prefix = app.prefix,
        hash = app.key_hash,
        extra = extra,
    );
    std::fs::write(&file, toml).unwrap();
    file
}

fn start_worker(config: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_optin-verify"))
        .args(["serve", "--role", "worker", "--config"])
        .arg(config)
        .env("OPTIN_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("worker binary starts")
}

#[tokio::test]
async fn killing_a_worker_mid_batch_loses_no_event() {
    // The API runs here without workers; the workers are separate processes.
    let app = spawn_role(Role::Api, |_| {}).await;
    let rx = Receiver::start().await;
    rx.behave("/store", Behaviour { delay: Some(Duration::from_millis(300)), ..Default::default() });
    app.endpoint(&rx.url("/store")).await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        let mut body = start_body("code", "sms");
        body["phone"] = json!(fresh_phone());
        let id = app.start(&body).await["id"].as_str().unwrap().to_string();
        let r = app.post(&format!("/v1/verifications/{id}/cancel"), &json!({})).await;
        assert_eq!(r.status().as_u16(), 200);
        ids.push(id);
    }
    let dir = std::env::temp_dir().join(format!("optin-crash-{}", app.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let config = worker_config(&app, &dir);

    let mut first = start_worker(&config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while rx.received("/store").len() < 4 {
        assert!(tokio::time::Instant::now() < deadline, "first worker delivered nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let delivered_before = rx.received("/store").len();
    assert!(delivered_before < ids.len(), "the kill must land mid-batch");

    let mut second = start_worker(&config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let wanted: HashSet<String> = ids.iter().cloned().collect();
    loop {
        let got: HashSet<String> = rx
            .received("/store")
            .iter()
            .filter_map(|r| r.body["data"]["verification_id"].as_str().map(str::to_string))
            .collect();
        if wanted.is_subset(&got) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "lost {} events", wanted.difference(&got).count());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    std::fs::remove_dir_all(&dir).ok();

    // At least once: a duplicate carries the same webhook-id, so stores can drop it.
    let received = rx.received("/store");
    let by_vid: std::collections::HashMap<String, HashSet<String>> =
        received.iter().fold(Default::default(), |mut m, r| {
            let vid = r.body["data"]["verification_id"].as_str().unwrap_or("").to_string();
            m.entry(vid).or_default().insert(r.webhook_id.clone());
            m
        });
    for id in &ids {
        assert_eq!(by_vid[id].len(), 1, "one webhook-id per event");
    }
}

#[tokio::test]
async fn killing_a_worker_mid_send_loses_no_message() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let cm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errorCode": 0, "messages": [{"status": "Accepted", "messageErrorCode": 0}]}))
                .set_delay(Duration::from_millis(150)),
        )
        .mount(&cm)
        .await;
    let app = spawn_role(Role::Api, |_| {}).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        let mut body = start_body("code", "sms");
        body["phone"] = json!(fresh_phone());
        ids.push(app.start(&body).await["id"].as_str().unwrap().to_string());
    }
    let dir = std::env::temp_dir().join(format!("optin-crash-send-{}", app.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let extra = format!(
        "[channels.sms]\nsender = \"Acme\"\n[[channels.sms.providers]]\nkind = \"cm\"\nbase_url = \"{}\"\nproduct_token = \"t\"\n",
        cm.uri()
    );
    let config = worker_config_with(&app, &dir, &extra);
    let mut first = start_worker(&config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while cm.received_requests().await.unwrap().len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "first worker sent nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = start_worker(&config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    for id in &ids {
        loop {
            let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
            if v["delivery"]["state"] == "sent" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{id} was never sent");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    second.kill().unwrap();
    second.wait().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    // At least once: every message reached the provider, some perhaps twice.
    assert!(cm.received_requests().await.unwrap().len() >= ids.len());
}
