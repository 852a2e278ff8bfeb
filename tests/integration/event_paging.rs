//! `GET /v1/events` a page at a time: a cursor that reaches every event once, in a stable
//! order, with `since`/`until`, `type` and `order` filters.

use std::collections::HashSet;

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use crate::harness::{TestApp, fresh_phone, spawn, spawn_with, standalone_db};

const PROBLEM: &str = "https://optin-verify.eu/problems/";

/// Every event the pages give, following `next_cursor` from `query`.
async fn walk(app: &TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/events?{query}&cursor={c}"),
            None => format!("/v1/events?{query}"),
        };
        let (status, page) = app.get_json(&q).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn paging_through_ten_thousand_events_returns_each_once_in_order() {
    let app = spawn_with(|s| s.redis.url = standalone_db(2)).await;
    // Opt-outs for numbers with no consent here: one consent.withdrawn event each.
    let made = stream::iter(0..10_000)
        .map(|_| {
            let app = &app;
            async move {
                let r = app.post("/v1/withdrawals", &json!({"phone": fresh_phone(), "source": "letter"})).await;
                assert_eq!(r.status().as_u16(), 202);
            }
        })
        .buffer_unordered(32)
        .count()
        .await;
    assert_eq!(made, 10_000);
    let confirmed = app.confirmed_by_code().await;
    // Until the pipeline has turned every event into a message (the tenant's index counts them).
    let keys = app.store_keys();
    let started = std::time::Instant::now();
    loop {
        let mut n = 0;
        for p in keys.all_partitions() {
            let c: usize = redis::cmd("ZCARD")
                .arg(keys.tenant_events(p, "acme"))
                .query_async(&mut app.redis().await)
                .await
                .unwrap();
            n += c;
        }
        if n == 10_001 {
            break;
        }
        assert!(started.elapsed().as_secs() < 120, "only {n} events indexed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let asc = walk(&app, "limit=100&order=asc").await;
    let ids: Vec<&str> = asc.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 10_001, "10,000 withdrawals and the confirmation");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 10_001, "no event twice");
    let at = |e: &Value| e["created_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let times: Vec<chrono::DateTime<chrono::Utc>> = asc.iter().map(at).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let mut desc: Vec<String> =
        walk(&app, "limit=100").await.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    desc.reverse();
    assert_eq!(desc, ids, "newest first is the same order reversed");

    // A time range: since is inclusive, until exclusive.
    let (from, to) = (times[2000], times[7000]);
    let iso = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let q = format!("limit=100&order=asc&since={}&until={}", iso(from), iso(to));
    let ranged = walk(&app, &q).await;
    assert!(!ranged.is_empty());
    assert!(ranged.iter().all(|e| at(e) >= from && at(e) < to));
    let expected = times.iter().filter(|t| **t >= from && **t < to).count();
    assert_eq!(ranged.len(), expected);

    // A type: the one confirmation among ten thousand withdrawals.
    let only = walk(&app, "limit=50&type=consent.confirmed").await;
    assert_eq!(only.len(), 1);
    let (_, v) = app.get_json(&format!("/v1/events/{}", only[0]["id"].as_str().unwrap())).await;
    assert_eq!(v["payload"]["data"]["verification_id"], confirmed.as_str());
    assert_eq!(walk(&app, "limit=200&type=consent.withdrawn").await.len(), 10_000);
    // Another tenant sees none of them.
    let r = app.client.get(app.url("/v1/events?limit=200")).bearer_auth(&app.other_key).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"data": [], "next_cursor": null}));
}

#[tokio::test]
async fn bad_paging_queries_are_refused() {
    let app = spawn().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("cursor=%%%", "cursor"),
        ("order=sideways", "order"),
        ("type=consent.maybe", "type"),
        ("since=yesterday", "query"),
        ("colour=red", "query"),
    ] {
        let (status, p) = app.get_json(&format!("/v1/events?{query}")).await;
        assert_eq!(status, 422, "{query}: {p}");
        assert_eq!(p["type"], format!("{PROBLEM}invalid-request"), "{query}: {p}");
        assert_eq!(p["field"], field, "{query}: {p}");
    }
}
