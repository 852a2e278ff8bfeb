//! Email, resend, cancel, idempotency and the operations endpoints.

use serde_json::{Value, json};

use crate::harness::{code_in, link_in, spawn, start_body};

fn email_body(method: &str) -> Value {
    let mut b = start_body(method, "email");
    b["to"] = json!("jan.jansen@example.nl");
    b
}

#[tokio::test]
async fn email_code_has_subject_text_and_html_parts() {
    let app = spawn().await;
    let v = app.start(&email_body("code")).await;
    assert_eq!(v["to"], "j***n@e***e.nl");
    let id = v["id"].as_str().unwrap();
    let m = app.outbox_message(id).await;
    assert_eq!(m["channel"], "email");
    assert_eq!(m["to"], "jan.jansen@example.nl");
    assert_eq!(m["subject"], "Uw verificatiecode voor Acme Energie B.V.");
    let text = m["text"].as_str().unwrap();
    let html = m["html"].as_str().unwrap();
    let code = code_in(text, 6);
    assert!(html.contains(&code) && html.contains("<html lang=\"nl\">"));
    assert!(text.contains("/o/") && html.contains("/o/"));
    // Code messages carry the hosted code page, the same URL the start answer gave.
    let page = v["code_page_url"].as_str().unwrap();
    assert!(text.contains(page) && html.contains(page), "{text}");
    let r: Value =
        app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
}

#[tokio::test]
async fn email_link_in_english() {
    let app = spawn().await;
    let mut b = email_body("link");
    b["locale"] = json!("en");
    let id = app.start(&b).await["id"].as_str().unwrap().to_string();
    let m = app.outbox_message(&id).await;
    assert_eq!(m["subject"], "Confirm that Acme Energie B.V. may call you");
    let link = link_in(m["text"].as_str().unwrap(), "c");
    let page = app.client.get(app.url(&link)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Yes, I give my consent"));
}

#[tokio::test]
async fn resend_sends_the_same_code_and_cancel_ends_it() {
    let app = spawn().await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let first = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    let r = app.post(&format!("/v1/verifications/{id}/resend"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 202);
    for _ in 0..100 {
        if app.outbox_count(&id).await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.outbox_count(&id).await, 2);
    let latest = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    assert_eq!(code_in(&latest, 6), code_in(&first, 6));
    assert_eq!(latest, first);

    let r = app.post(&format!("/v1/verifications/{id}/cancel"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "canceled");
    assert_eq!(app.events_for(&id).await, vec!["verification.canceled"]);
    let again = app.post(&format!("/v1/verifications/{id}/cancel"), &json!({})).await;
    assert_eq!(again.status().as_u16(), 409);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["type"], "https://optin-verify.eu/problems/verification-not-pending");
    let resend = app.post(&format!("/v1/verifications/{id}/resend"), &json!({})).await;
    assert_eq!(resend.status().as_u16(), 409);
    let check: Value = app
        .post(&format!("/v1/verifications/{id}/check"), &json!({"code": code_in(&first, 6)}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["status"], "canceled");
}

#[tokio::test]
async fn same_idempotency_key_and_body_give_one_verification() {
    let app = spawn().await;
    let send = || {
        app.client
            .post(app.url("/v1/verifications"))
            .bearer_auth(&app.key)
            .header("idempotency-key", "campaign-42-row-7")
            .json(&start_body("code", "sms"))
            .send()
    };
    let a = send().await.unwrap();
    assert_eq!(a.status().as_u16(), 201);
    let a: Value = a.json().await.unwrap();
    let b = send().await.unwrap();
    assert_eq!(b.status().as_u16(), 201);
    assert_eq!(b.headers()["idempotent-replayed"], "true");
    let b: Value = b.json().await.unwrap();
    assert_eq!(a["id"], b["id"]);
    let id = a["id"].as_str().unwrap();
    app.outbox_message(id).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.outbox_count(id).await, 1, "a replay must not send again");
    let verifications = app.keys().await.into_iter().filter(|k| k.contains(":v:")).count();
    assert_eq!(verifications, 1);
    // Another tenant with the same key gets its own verification.
    let other = app
        .client
        .post(app.url("/v1/verifications"))
        .bearer_auth(&app.other_key)
        .header("idempotency-key", "campaign-42-row-7")
        .json(&start_body("code", "sms"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 201);
    assert_ne!(other.json::<Value>().await.unwrap()["id"], a["id"]);
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let app = spawn().await;
    let live = app.client.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let ready = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let v: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}));
    let doc: serde_json::Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"), "the document's version is the crate's");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_optin-verify")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("optin-verify {}", env!("CARGO_PKG_VERSION")));
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("optin_verify_build_info{version="), "{metrics}");
    app.start(&start_body("code", "sms")).await;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"optin_verify_verifications_started_total{method="code",channel="sms"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains("+316"), "no phone numbers in metrics");
    let doc: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/verifications",
        "/v1/verifications/{id}",
        "/v1/verifications/{id}/check",
        "/v1/verifications/{id}/resend",
        "/v1/verifications/{id}/cancel",
        "/health/live",
        "/health/ready",
        "/dev/outbox",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from OpenAPI");
    }
    assert!(doc["components"]["schemas"]["StartRequest"].is_object());
}

#[tokio::test]
async fn redis_going_away_gives_a_clear_503_problem() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server on PATH");
    let url = format!("redis://127.0.0.1:{port}/");
    for _ in 0..50 {
        if redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let app = crate::harness::spawn_with(|s| {
        s.redis.url = url.clone();
        s.redis.timeout_ms = 500;
    })
    .await;
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    server.kill().unwrap();
    server.wait().unwrap();
    let r = app.client.get(app.url(&format!("/v1/verifications/{id}"))).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "https://optin-verify.eu/problems/service-unavailable");
    let ready = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
}

#[tokio::test]
async fn emails_carry_rfc8058_one_click_unsubscribe_that_works() {
    let app = spawn().await;
    let id = app.start(&email_body("link")).await["id"].as_str().unwrap().to_string();
    let m = app.outbox_message(&id).await;
    let header = m["headers"]["List-Unsubscribe"].as_str().unwrap();
    assert_eq!(m["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    let url = header.trim_start_matches('<').trim_end_matches('>');
    assert!(url.starts_with(&format!("{}/o/", app.base)));
    // What a mail client sends: a POST with exactly this body, no cookie, no CSRF value.
    let r = app
        .client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.status_of(&id).await, "declined");
    assert_eq!(app.events_for(&id).await, vec!["consent.declined"]);
    // Anything else without a CSRF value is refused.
    let id2 = app.start(&email_body("code")).await["id"].as_str().unwrap().to_string();
    let m2 = app.outbox_message(&id2).await;
    let url2 = m2["headers"]["List-Unsubscribe"].as_str().unwrap().trim_matches(|c| c == '<' || c == '>').to_string();
    let r = app.client.post(&url2).form(&[("List-Unsubscribe", "Maybe")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(app.status_of(&id2).await, "pending");
}
