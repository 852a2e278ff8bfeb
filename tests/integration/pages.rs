//! Consumer pages without a browser: hosted code entry, receipts, limits, size, safety.

use serde_json::{Value, json};

use crate::harness::{TestApp, code_in, csrf_in, link_in, spawn, spawn_with, start_body, wrong};

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client.post(app.url(path)).form(form).send().await.unwrap()
}

/// `(id, code, path of the hosted code page)`, the page's path from the start answer.
async fn code_verification(app: &TestApp) -> (String, String, String) {
    let started = app.start(&start_body("code", "sms")).await;
    let id = started["id"].as_str().unwrap().to_string();
    let url = started["code_page_url"].as_str().expect("code_page_url in the start answer");
    let page = url.strip_prefix(&app.base).expect("absolute URL").to_string();
    assert!(page.starts_with("/v/") && !page.contains(&id[3..]), "{page}");
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    (id, code, page)
}

#[tokio::test]
async fn hosted_code_page_shares_the_attempt_limit_with_the_api() {
    let app = spawn().await;
    let (id, code, vpage) = code_verification(&app).await;
    let (status, page) = get(&app, &vpage).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"inputmode="numeric""#) && page.contains(r#"autocomplete="one-time-code""#));
    assert!(page.contains(r#"<label for="code">"#));
    let csrf = csrf_in(&page);
    // A wrong code on the page is counted and announced next to the field.
    let r = post(&app, &vpage, &[("csrf", &csrf), ("code", &wrong(&code))]).await;
    assert_eq!(r.status().as_u16(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"role="alert""#) && body.contains("Nog 4 poging"));
    assert!(body.contains(r#"aria-describedby="code-error""#));
    // Typing letters is an error that costs no attempt.
    let r = post(&app, &vpage, &[("csrf", &csrf), ("code", "abc")]).await;
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(app.stored(&id).await["att"], "1");
    // The API sees the same counter.
    let api: Value =
        app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": wrong(&code)})).await.json().await.unwrap();
    assert_eq!(api["attempts_remaining"], 3);
    // The right code on the page confirms and leads to the receipt.
    let r = post(&app, &vpage, &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(r.status().as_u16(), 303);
    let receipt = r.headers()["location"].to_str().unwrap().to_string();
    let (status, page) = get(&app, &receipt).await;
    assert_eq!(status, 200);
    assert!(page.contains("Uw toestemming is vastgelegd") && page.contains("het invoeren van de code"));
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["status"], "confirmed");
    assert_eq!(v["evidence"]["verification"]["source"], "page");
    assert_eq!(v["evidence"]["verification"]["ip"], "127.0.0.1");
    // The receipt, with the opt-out token of the person's own message (`?t=`).
    let (receipt_path, own) = receipt.split_once('?').unwrap();
    assert_eq!(v["receipt_id"].as_str().unwrap(), &receipt_path["/r/".len()..]);
    let optout = link_in(app.outbox_message(&id).await["text"].as_str().unwrap(), "o");
    assert_eq!(own, format!("t={}", &optout["/o/".len()..]));
    // Once confirmed, the code page is the neutral page.
    assert_eq!(get(&app, &vpage).await.0, 404);
}

#[tokio::test]
async fn code_page_refuses_posts_without_csrf_and_serves_code_verifications_only() {
    let app = spawn().await;
    let (id, code, vpage) = code_verification(&app).await;
    let r = post(&app, &vpage, &[("csrf", "0000"), ("code", &code)]).await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(app.status_of(&id).await, "pending");
    let (_, page) = get(&app, &format!("{vpage}?lang=en")).await;
    assert!(page.contains("Use the link in the message") && page.contains(r#"lang="en""#));
    // Nobody can decline in someone's name knowing only the id.
    let r = post(&app, &format!("{vpage}/decline"), &[("csrf", &csrf_in(&page))]).await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(app.status_of(&id).await, "pending");
    // A link verification has no code page, so wrong codes cannot fail it here.
    let link = app.start(&start_body("link", "sms")).await;
    assert!(link.get("code_page_url").is_none(), "{link}");
}

#[tokio::test]
async fn the_id_alone_cannot_reach_the_code_form() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let app = spawn().await;
    let (id, code, vpage) = code_verification(&app).await;
    // The old address by id, and a well-formed token that names the id but was not derived.
    let mut forged = hex::decode(&id[3..]).unwrap();
    forged.extend_from_slice(&[0u8; 16]);
    let forged = format!("/v/{}", URL_SAFE_NO_PAD.encode(forged));
    let (_, real) = get(&app, &vpage).await;
    let csrf = csrf_in(&real);
    for path in [format!("/v/{id}"), forged] {
        let (status, page) = get(&app, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!page.contains("name=\"code\""), "{path} shows the form");
        for _ in 0..6 {
            let r = post(&app, &path, &[("csrf", &csrf), ("code", &wrong(&code))]).await;
            assert_eq!(r.status().as_u16(), 404, "{path}");
        }
    }
    let stored = app.stored(&id).await;
    assert_eq!(stored["att"], "0", "no attempt was spent");
    assert_eq!(stored["st"], "pending");
    assert!(!stored.keys().any(|k| k.contains("page")), "nothing stored for the page token: {stored:?}");
    // The message carries nothing else that opens the form; the real page still works.
    assert_eq!(get(&app, &vpage).await.0, 200);
}

#[tokio::test]
async fn receipt_page_shows_the_consent_and_withdraws_it() {
    let app = spawn().await;
    let id = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let link = link_in(app.outbox_message(&id).await["text"].as_str().unwrap(), "c");
    let (_, page) = get(&app, &link).await;
    let r = post(&app, &format!("{link}/confirm?lang=en"), &[("csrf", &csrf_in(&page))]).await;
    let receipt = r.headers()["location"].to_str().unwrap().to_string();
    assert!(receipt.contains("?t=") && receipt.ends_with("&lang=en"), "{receipt}");
    let (status, page) = get(&app, &receipt).await;
    assert_eq!(status, 200);
    for needle in ["Your consent is recorded", "Acme Energie B.V.", "+31 6** *** *78", "2026-03", "Withdraw my consent"]
    {
        assert!(page.contains(needle), "{needle} missing");
    }
    assert!(page.contains("Ja, Acme Energie mag mij bellen over energiecontracten."));
    // A forged or altered receipt id is the neutral page.
    let rid = receipt["/r/".len()..].split('?').next().unwrap().to_string();
    let mut forged = rid.clone();
    forged.pop();
    forged.push(if rid.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(get(&app, &format!("/r/{forged}")).await.0, 404);
    assert_eq!(get(&app, &format!("/r/vf_{}", &id[3..])).await.0, 404);
    // Withdraw from the receipt page the person was led to (it carries their opt-out token).
    let action = page.split(r#"<form method="post" action=""#).nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = post(&app, &action, &[("csrf", &csrf_in(&page))]).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed", "consent.withdrawn"]);
    let (_, after) = get(&app, &format!("/r/{rid}")).await;
    assert!(after.contains("Uw toestemming is ingetrokken") && !after.contains("Trek mijn toestemming in"));
}

#[tokio::test]
async fn pages_are_small_safe_and_branded() {
    let app = spawn_with(|s| {
        s.tenants[0].branding.accent_color = Some("#7a1f5c".into());
        s.tenants[0].branding.logo_url = Some("https://cdn.example.nl/acme.svg".into());
    })
    .await;
    let (_, _, vpage) = code_verification(&app).await;
    let link_id = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&link_id).await["text"].as_str().unwrap().to_string();
    let css = app.client.get(app.url("/static/app.css")).send().await.unwrap().text().await.unwrap();
    let tenant_css = app.client.get(app.url("/static/t/acme.css")).send().await.unwrap().text().await.unwrap();
    assert!(tenant_css.contains("--accent: #7a1f5c"));
    for path in [vpage, link_in(&text, "c"), link_in(&text, "o"), "/c/nope".to_string()] {
        for lang in ["", "?lang=en"] {
            let r = app.client.get(app.url(&format!("{path}{lang}"))).send().await.unwrap();
            let h = r.headers().clone();
            assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
            assert_eq!(h["x-frame-options"], "DENY");
            assert_eq!(h["cache-control"], "no-store");
            let html = r.text().await.unwrap();
            let total = html.len() + css.len() + tenant_css.len();
            assert!(total < 30 * 1024, "{path} weighs {total} bytes");
            assert!(!html.contains("<script") && !html.contains("style="), "{path} has inline script or style");
            assert!(html.contains(if lang.is_empty() { r#"lang="nl""# } else { r#"lang="en""# }));
            if !path.starts_with("/c/nope") {
                assert!(html.contains("https://cdn.example.nl/acme.svg") && html.contains("/static/t/acme.css"));
            }
        }
    }
}

#[tokio::test]
async fn page_requests_are_limited_per_ip() {
    let app = spawn_with(|s| s.limits.page_ip_per_minute = 3).await;
    let (id, code, vpage) = code_verification(&app).await;
    for _ in 0..3 {
        assert_eq!(get(&app, &vpage).await.0, 200);
    }
    let r = post(&app, &vpage, &[("csrf", "x"), ("code", &code)]).await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(app.status_of(&id).await, "pending");
}
