//! `GET /v1/batches/{id}/items`: every item of a batch, a page at a time, with its verification
//! and status now, or why it was refused; the rows agree with the batch's counts.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{
    campaign::{always_open, batch, counts_until, item},
    harness::{TestApp, code_in, spawn_with},
};

const PROBLEM: &str = "https://optin-verify.eu/problems/";

async fn all_items(app: &TestApp, id: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app.get_json(&format!("/v1/batches/{id}/items?{query}{cursor}")).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

#[tokio::test]
async fn the_items_of_a_batch_page_in_order_and_match_its_counts() {
    let app = spawn_with(always_open).await;
    let mut items: Vec<Value> = (0..60).map(item).collect();
    for it in &mut items {
        it["method"] = json!("code");
    }
    items[5]["phone"] = json!("+3161234");
    items[7] = items[6].clone(); // the same ask twice
    items[7]["reference"] = json!("crm-7");
    let (status, body) = batch(&app, items, None).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    counts_until(&app, &id, |c| c["sent"] == 58).await;
    let vid = |i: usize| body["items"][i]["verification"]["id"].as_str().unwrap().to_string();
    let code = code_in(app.outbox_message(&vid(0)).await["text"].as_str().unwrap(), 6);
    app.post(&format!("/v1/verifications/{}/check", vid(0)), &json!({"code": code})).await;
    app.post(&format!("/v1/verifications/{}/cancel", vid(1)), &json!({})).await;
    let b = counts_until(&app, &id, |c| c["confirmed"] == 1 && c["canceled"] == 1).await;

    let rows = all_items(&app, &id, "limit=7").await;
    assert_eq!(rows.len(), 60);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["index"], i);
        assert_eq!(r["reference"], format!("crm-{i}"));
    }
    assert_eq!(
        (rows[0]["status"].as_str(), rows[0]["verification_id"].as_str()),
        (Some("confirmed"), Some(vid(0).as_str()))
    );
    assert_eq!(rows[1]["status"], "canceled");
    assert_eq!(
        (rows[5]["status"].as_str(), rows[5]["problem_type"].as_str()),
        (Some("refused"), Some("invalid-phone"))
    );
    assert_eq!(
        (rows[7]["status"].as_str(), rows[7]["problem_type"].as_str()),
        (Some("refused"), Some("duplicate-in-batch"))
    );
    assert!(rows[5]["verification_id"].is_null());
    // The rows' statuses are the batch's counts.
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        *by_status.entry(r["status"].as_str().unwrap().to_string()).or_default() += 1;
    }
    for (state, n) in b["counts"].as_object().unwrap() {
        let rows_n = by_status.get(state).copied().unwrap_or(0);
        let want = match state.as_str() {
            "duplicate_in_batch" | "already_consented" => continue,
            _ => n.as_u64().unwrap(),
        };
        assert_eq!(rows_n, want, "{state}: rows {by_status:?} counts {}", b["counts"]);
    }
    assert_eq!(by_status["refused"], 2);
    // A status filter pages too.
    let sent = all_items(&app, &id, "limit=5&status=sent").await;
    assert_eq!(sent.len(), 56);
    assert!(sent.iter().all(|r| r["status"] == "sent"));
    let refused = all_items(&app, &id, "limit=1000&status=refused").await;
    assert_eq!(refused.iter().map(|r| r["index"].as_u64().unwrap()).collect::<Vec<_>>(), [5, 7]);

    // Another tenant, a bad query.
    let r =
        app.client.get(app.url(&format!("/v1/batches/{id}/items"))).bearer_auth(&app.other_key).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("status=lost", "status"),
        ("cursor=x", "cursor"),
        ("colour=red", "query"),
    ] {
        let (status, p) = app.get_json(&format!("/v1/batches/{id}/items?{query}")).await;
        assert_eq!(status, 422, "{query}: {p}");
        assert_eq!(p["type"], format!("{PROBLEM}invalid-request"));
        assert_eq!(p["field"], field, "{query}: {p}");
    }
    assert_eq!(app.get_json("/v1/batches/bt_nope/items").await.0, 404);
}
