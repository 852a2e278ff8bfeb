//! The same flows against a 3-master Redis Cluster: every script stays in one hash slot.

use serde_json::json;

use crate::{
    concurrency::fifty_concurrent_wrong_checks,
    harness::{code_in, csrf_in, link_in, spawn_cluster, start_body},
};

#[tokio::test]
async fn cluster_code_flow_confirms() {
    let app = spawn_cluster().await;
    for _ in 0..6 {
        // Several verifications land on different partitions, hence different masters.
        let mut body = start_body("code", "email");
        body["to"] = json!(format!("user{}@example.nl", rand::random::<u32>()));
        let id = app.start(&body).await["id"].as_str().unwrap().to_string();
        let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
        let r: serde_json::Value =
            app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
        assert_eq!(r["status"], "confirmed");
    }
}

#[tokio::test]
async fn cluster_link_flow_confirms() {
    let app = spawn_cluster().await;
    let id = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let link = link_in(app.outbox_message(&id).await["text"].as_str().unwrap(), "c");
    let page = app.client.get(app.url(&link)).send().await.unwrap().text().await.unwrap();
    let r =
        app.client.post(app.url(&format!("{link}/confirm"))).form(&[("csrf", csrf_in(&page))]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(app.status_of(&id).await, "confirmed");
    let receipt = r.headers()["location"].to_str().unwrap().to_string();
    let page = app.client.get(app.url(&receipt)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
}

#[tokio::test]
async fn cluster_attempt_limit_is_atomic() {
    let app = spawn_cluster().await;
    fifty_concurrent_wrong_checks(&app).await;
}
