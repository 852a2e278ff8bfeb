//! `http.trusted_proxies` by range: the client IP in the evidence comes from `X-Forwarded-For`
//! only when the peer lies in a configured range.

use crate::harness::{csrf_in, link_in, spawn_with, start_body};

async fn confirm_through(trusted: &[&str], forwarded_for: &str) -> String {
    let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
    let app = spawn_with(|s| {
        s.http.trusted_proxies = optin_verify::config::TrustedProxies::parse(&trusted).unwrap();
    })
    .await;
    let id = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let link = link_in(app.outbox_message(&id).await["text"].as_str().unwrap(), "c");
    let page = app.client.get(app.url(&link)).send().await.unwrap().text().await.unwrap();
    let r = app
        .client
        .post(app.url(&format!("{link}/confirm")))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("csrf", csrf_in(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(app.status_of(&id).await, "confirmed");
    app.stored(&id).await["cip"].clone()
}

#[tokio::test]
async fn a_peer_inside_a_trusted_range_passes_the_client_ip_into_the_evidence() {
    // The test client connects from 127.0.0.1, inside 127.0.0.0/8.
    let ip = confirm_through(&["10.0.0.0/8", "127.0.0.0/8"], "198.51.100.23, 10.1.2.3").await;
    assert_eq!(ip, "198.51.100.23");
}

#[tokio::test]
async fn a_peer_outside_every_range_cannot_spoof_the_evidence_ip() {
    let ip = confirm_through(&["10.0.0.0/8", "fd00::/8"], "198.51.100.23").await;
    assert_eq!(ip, "127.0.0.1");
}
