//! ACM method 1: a landing-page link, confirmed or declined by a button press.

use crate::harness::{TestApp, code_in, csrf_in, link_in, spawn, start_body};

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.client.get(app.url(path)).header("user-agent", "PageTest/1.0").send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn press(app: &TestApp, path: &str, csrf: &str) -> (u16, String) {
    let r = app
        .client
        .post(app.url(path))
        .header("user-agent", "PageTest/1.0")
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn link_verification(app: &TestApp) -> (String, String, String) {
    let id = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    (id, link_in(&text, "c"), text)
}

#[tokio::test]
async fn link_message_carries_confirm_link_code_and_optout_link() {
    let app = spawn().await;
    let (_, link, text) = link_verification(&app).await;
    assert!(text.contains(&format!("{}{}", app.base, link)), "absolute link in: {text}");
    assert_eq!(code_in(&text, 6).len(), 6);
    assert!(text.contains("/o/"));
}

#[tokio::test]
async fn get_and_head_never_change_state() {
    let app = spawn().await;
    let (id, link, _) = link_verification(&app).await;
    let before = app.stored(&id).await;
    for _ in 0..3 {
        let (status, body) = page(&app, &link).await;
        assert_eq!(status, 200);
        assert!(body.contains("Ja, ik geef toestemming"));
    }
    let head = app.client.head(app.url(&link)).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(app.status_of(&id).await, "pending");
    assert_eq!(app.stored(&id).await, before, "a GET or HEAD changed the stored verification");
    assert!(app.events_for(&id).await.is_empty());
}

#[tokio::test]
async fn confirm_page_shows_who_what_which_number_and_exact_text() {
    let app = spawn().await;
    let (_, link, _) = link_verification(&app).await;
    let r = app.client.get(app.url(&link)).send().await.unwrap();
    let h = r.headers().clone();
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
    let body = r.text().await.unwrap();
    assert!(body.contains("Acme Energie B.V."));
    assert!(body.contains("Telefonische aanbiedingen over energiecontracten"));
    assert!(body.contains("+31 6** *** *78"));
    assert!(!body.contains("+31612345678"), "unmasked number on page");
    assert!(body.contains("Ja, Acme Energie mag mij bellen over energiecontracten."));
    assert!(body.contains("2026-03"));
    assert!(body.contains("https://example.nl/privacy"));
    assert!(body.contains("Nee / dit was ik niet"));
    let (_, en) = page(&app, &format!("{link}?lang=en")).await;
    assert!(en.contains("Yes, I give my consent") && en.contains("lang=\"en\""));
}

#[tokio::test]
async fn pressing_yes_confirms_once_and_the_used_link_looks_made_up() {
    let app = spawn().await;
    let (id, link, _) = link_verification(&app).await;
    let (_, body) = page(&app, &link).await;
    let csrf = csrf_in(&body);
    let r = app
        .client
        .post(app.url(&format!("{link}/confirm")))
        .header("user-agent", "PageTest/1.0")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "after confirming, the receipt page");
    let receipt = r.headers()["location"].to_str().unwrap().to_string();
    assert!(receipt.starts_with("/r/rcpt_"), "{receipt}");
    let (status, page_body) = page(&app, &receipt).await;
    assert_eq!(status, 200);
    assert!(page_body.contains("Uw toestemming is vastgelegd"));
    let receipt_id = receipt["/r/".len()..].split('?').next().unwrap();
    assert!(page_body.contains(receipt_id), "the receipt id is shown");
    assert_eq!(app.status_of(&id).await, "confirmed");
    let (_, v) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(v["evidence"]["verification"]["source"], "link");
    assert_eq!(v["evidence"]["verification"]["ip"], "127.0.0.1");
    assert_eq!(v["evidence"]["verification"]["user_agent"], "PageTest/1.0");
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed"]);

    let (used_status, used_body) = page(&app, &link).await;
    let made_up = format!("/c/{}", "A".repeat(43));
    let (fake_status, fake_body) = page(&app, &made_up).await;
    assert_eq!(used_status, 404);
    assert_eq!((used_status, &used_body), (fake_status, &fake_body));
    let (again, again_body) = press(&app, &format!("{link}/decline"), &csrf).await;
    assert_eq!((again, &again_body), (fake_status, &fake_body));
    assert_eq!(app.status_of(&id).await, "confirmed");
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed"]);
}

#[tokio::test]
async fn pressing_no_declines() {
    let app = spawn().await;
    let (id, link, _) = link_verification(&app).await;
    let (_, body) = page(&app, &link).await;
    let (status, _) = press(&app, &format!("{link}/decline"), &csrf_in(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(app.status_of(&id).await, "declined");
    assert_eq!(app.events_for(&id).await, vec!["consent.declined"]);
}

#[tokio::test]
async fn a_post_without_the_right_csrf_changes_nothing() {
    let app = spawn().await;
    let (id, link, _) = link_verification(&app).await;
    let (status, _) = press(&app, &format!("{link}/confirm"), "00000000000000000000000000000000").await;
    assert_eq!(status, 404);
    let r = app.client.post(app.url(&format!("{link}/confirm"))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(app.status_of(&id).await, "pending");
    assert!(app.events_for(&id).await.is_empty());
}

#[tokio::test]
async fn optout_link_declines_a_pending_verification_and_withdraws_a_confirmed_one() {
    let app = spawn().await;
    let (id, _, text) = link_verification(&app).await;
    let optout = link_in(&text, "o");
    let (status, body) = page(&app, &optout).await;
    assert_eq!(status, 200);
    assert_eq!(app.status_of(&id).await, "pending");
    let (status, _) = press(&app, &optout, &csrf_in(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(app.status_of(&id).await, "declined");
    assert_eq!(app.events_for(&id).await, vec!["consent.declined"]);

    let (id2, link2, text2) = link_verification(&app).await;
    let (_, body) = page(&app, &link2).await;
    press(&app, &format!("{link2}/confirm"), &csrf_in(&body)).await;
    let optout2 = link_in(&text2, "o");
    let (_, body) = page(&app, &optout2).await;
    assert!(body.contains("Trek mijn toestemming hiervoor in"));
    press(&app, &optout2, &csrf_in(&body)).await;
    assert_eq!(app.events_for(&id2).await, vec!["consent.confirmed", "consent.withdrawn"]);
    let (_, v) = app.get_json(&format!("/v1/verifications/{id2}")).await;
    assert!(v["evidence"]["withdrawal"]["withdrawn_at"].is_string());
}
