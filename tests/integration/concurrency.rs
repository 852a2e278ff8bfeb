//! The attempt limit holds under concurrency: the check is one atomic script.

use serde_json::json;

use crate::harness::{TestApp, code_in, spawn, start_body, wrong};

pub async fn fifty_concurrent_wrong_checks(app: &TestApp) -> String {
    let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&id).await["text"].as_str().unwrap(), 6);
    let path = format!("/v1/verifications/{id}/check");
    let bad = json!({"code": wrong(&code)});
    let calls = (0..50).map(|_| app.post(&path, &bad));
    let replies = futures_util::future::join_all(calls).await;
    let mut counted_pending = 0;
    let mut failed = 0;
    for r in replies {
        assert_eq!(r.status().as_u16(), 200);
        let b: serde_json::Value = r.json().await.unwrap();
        match b["status"].as_str().unwrap() {
            "pending" => counted_pending += 1,
            "failed" => failed += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(counted_pending, 4, "exactly four answers may still say pending");
    assert_eq!(failed, 46);
    let right: serde_json::Value = app.post(&path, &json!({"code": code})).await.json().await.unwrap();
    assert_eq!(right["status"], "failed");
    assert_eq!(app.status_of(&id).await, "failed");
    id
}

#[tokio::test]
async fn fifty_concurrent_wrong_checks_count_exactly_five_attempts() {
    let app = spawn().await;
    let id = fifty_concurrent_wrong_checks(&app).await;
    assert_eq!(app.stored(&id).await["att"], "5");
    assert_eq!(app.events_for(&id).await, vec!["verification.failed"]);
}
