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

#[tokio::test]
async fn cluster_webhooks_events_and_withdrawals_work_across_masters() {
    let app = spawn_cluster().await;
    let rx = crate::receiver::Receiver::start().await;
    let (_, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(app.confirmed_by_code().await);
    }
    for id in &ids {
        let got = rx.wait_for("/store", "consent.confirmed", Some(id), std::time::Duration::from_secs(10)).await;
        assert_eq!(got.verified, Some(true));
        assert!(got.body["data"]["receipt"].is_string());
    }
    let w = app.post("/v1/withdrawals", &json!({"phone": "+31612345678", "source": "letter"})).await;
    assert_eq!(w.status().as_u16(), 202);
    rx.wait_for("/store", "consent.withdrawn", None, std::time::Duration::from_secs(10)).await;
    // The tenant's event list merges every partition, hence every master.
    let (_, list) = app.get_json("/v1/events?limit=50").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 5);
    let first = list["data"][0]["id"].as_str().unwrap().to_string();
    // The attempt is logged just after the receiver answered: wait for it.
    for i in 0.. {
        let (status, log) = app.get_json(&format!("/v1/events/{first}/deliveries")).await;
        assert_eq!(status, 200);
        if log["data"][0]["status_code"] == 200 {
            break;
        }
        assert!(i < 200, "no delivery logged for {first}: {log}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
