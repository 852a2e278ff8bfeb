//! Endpoint lanes: one endpoint's deliveries never hold up another's, never exceed its
//! `per_endpoint_concurrency`, and a fast endpoint's backlog queues instead of churning.

use std::time::Duration;

use serde_json::json;

use crate::{
    harness::{TestApp, fresh_phone, spawn_with, start_body},
    receiver::{Behaviour, Receiver},
};

const WAIT: Duration = Duration::from_secs(10);

/// `n` pending code verifications by SMS, each for a number of its own.
async fn started(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut body = start_body("code", "sms");
        body["phone"] = json!(fresh_phone());
        ids.push(app.start(&body).await["id"].as_str().unwrap().to_string());
    }
    ids
}

/// Cancels every one of `ids` at the same moment: one `verification.canceled` event each.
async fn cancel_at_once(app: &TestApp, ids: &[String]) {
    let (paths, empty) = (ids.iter().map(|id| format!("/v1/verifications/{id}/cancel")).collect::<Vec<_>>(), json!({}));
    for r in futures_util::future::join_all(paths.iter().map(|path| app.post(path, &empty))).await {
        assert_eq!(r.status().as_u16(), 200);
    }
}

/// The last `n` events were each delivered with one attempt. The receiver answers before the
/// attempt is recorded, so the record is awaited.
async fn delivered_once(app: &TestApp, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, list) = app.get_json(&format!("/v1/events?limit={n}")).await;
        let events = list["data"].as_array().unwrap().clone();
        let settled = events.iter().all(|e| e["deliveries"][0]["state"] != "pending");
        if settled || tokio::time::Instant::now() > deadline {
            assert_eq!(events.len(), n);
            for e in &events {
                assert_eq!(e["deliveries"][0]["state"], "delivered", "{e}");
                assert_eq!(e["deliveries"][0]["attempts"], 1, "{e}");
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_slow_endpoint_does_not_hold_up_the_others() {
    let app = spawn_with(|s| s.webhooks.timeout_seconds = 3).await;
    let rx = Receiver::start().await;
    rx.behave("/slow", Behaviour { delay: Some(Duration::from_secs(15)), ..Default::default() });
    app.endpoint(&rx.url("/slow")).await;
    app.endpoint(&rx.url("/fast")).await;
    let started = tokio::time::Instant::now();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.confirmed_by_code().await);
    }
    for id in &ids {
        rx.wait_for("/fast", "consent.confirmed", Some(id), WAIT).await;
    }
    assert!(started.elapsed() < Duration::from_secs(3), "fast endpoint waited for the slow one");
}

#[tokio::test]
async fn an_endpoint_never_has_more_requests_in_flight_than_its_lane() {
    let app = spawn_with(|s| s.webhooks.per_endpoint_concurrency = 2).await;
    let rx = Receiver::start().await;
    rx.behave("/lane", Behaviour { delay: Some(Duration::from_millis(300)), ..Default::default() });
    app.endpoint(&rx.url("/lane")).await;
    let ids = started(&app, 8).await;
    // Eight events at once: two requests in flight, the others wait for the lane or come back.
    cancel_at_once(&app, &ids).await;
    for id in &ids {
        rx.wait_for("/lane", "verification.canceled", Some(id), WAIT).await;
    }
    assert_eq!(rx.peak_in_flight("/lane"), 2, "the lane is two requests wide, and both are used");
    // Waiting or put back, no delivery is made twice and none is counted as a failed attempt.
    assert_eq!(rx.calls("/lane"), 8);
    delivered_once(&app, 8).await;
}

#[tokio::test]
async fn a_fast_endpoints_backlog_waits_on_its_lane_instead_of_being_put_back() {
    let app = spawn_with(|s| s.webhooks.per_endpoint_concurrency = 1).await;
    let rx = Receiver::start().await;
    app.endpoint(&rx.url("/busy")).await;
    let mut ids = started(&app, 13).await;
    // One delivery first: from then on the lane knows its endpoint answers at once.
    let first = ids.remove(0);
    assert_eq!(app.post(&format!("/v1/verifications/{first}/cancel"), &json!({})).await.status().as_u16(), 200);
    rx.wait_for("/busy", "verification.canceled", Some(&first), WAIT).await;
    // Twelve events at once on a lane one request wide: four times what an unknown or slow
    // endpoint may have waiting. They queue on the lane; none is put back.
    cancel_at_once(&app, &ids).await;
    for id in &ids {
        rx.wait_for("/busy", "verification.canceled", Some(id), WAIT).await;
    }
    assert_eq!(rx.peak_in_flight("/busy"), 1, "still one request at a time");
    assert_eq!(rx.calls("/busy"), 13);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("optin_verify_webhook_deliveries_deferred_total 0\n"), "{metrics}");
    delivered_once(&app, 13).await;
}

/// The pipeline's Redis gate slows a backlog, never stalls it: with one command in flight at a
/// time, every event still reaches its endpoint once.
#[tokio::test]
async fn a_backlog_drains_with_one_redis_command_in_flight() {
    let app = spawn_with(|s| s.webhooks.redis_in_flight = 1).await;
    each_delivered_once(&app, "/gated", 10).await;
}

/// Cancels `n` verifications at once and waits until each event reached an endpoint at `path`,
/// once, with one attempt recorded.
async fn each_delivered_once(app: &TestApp, path: &str, n: usize) {
    let rx = Receiver::start().await;
    app.endpoint(&rx.url(path)).await;
    let ids = started(app, n).await;
    cancel_at_once(app, &ids).await;
    for id in &ids {
        rx.wait_for(path, "verification.canceled", Some(id), WAIT).await;
    }
    assert_eq!(rx.calls(path), n);
    delivered_once(app, n).await;
}

/// The nice values of this process's threads named `name` (Linux keeps one per thread).
fn nice_of_threads(name: &str) -> Vec<i64> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after "pid (comm) ": state is field 3, nice is field 19.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        found.push(after.split(' ').nth(16).unwrap().parse().unwrap());
    }
    found
}

/// The pipeline runs on a thread of its own at `webhooks.thread_nice`, below the API's
/// priority, and delivers from there.
#[tokio::test]
async fn the_pipeline_runs_on_its_own_thread_below_the_apis_priority() {
    let app = spawn_with(|s| s.webhooks.thread_nice = 13).await;
    assert!(nice_of_threads("optin-webhooks").contains(&13), "{:?}", nice_of_threads("optin-webhooks"));
    each_delivered_once(&app, "/niced", 3).await;
}
