//! Campaign scale: a million pending verifications, check throughput at 10k and at 1M
//! pending, Redis memory per pending verification and per retained consent, starts per second
//! through the batch route, and the consent lookup against `GET /v1/verifications/{id}`.

use std::{sync::Arc, time::Duration};

use optin_verify::{domain::ServerKey, store::Store};
use serde_json::{Value, json};

use crate::{
    fill,
    load::{MakeRequest, Run, closed_loop},
    start_body, used_memory,
};

/// Fills up to `total` pending verifications; prints the memory each one costs in Redis, all
/// keys counted (the hash, its deadline entry, its send-stream entry, its share of shared
/// texts), measured as `used_memory` growth on Redis's default settings.
pub async fn fill_to(
    redis_url: &str,
    store: &Store,
    key: &ServerKey,
    from: u64,
    total: u64,
    ctx: &str,
) -> Vec<(String, String)> {
    let before = used_memory(redis_url).await;
    let t = std::time::Instant::now();
    let added = fill(store, key, from, total - from, ctx).await;
    let secs = t.elapsed().as_secs_f64();
    let per = (used_memory(redis_url).await - before) as f64 / (total - from) as f64;
    println!(
        "memory: {per:.0} bytes per pending verification ({} written at {:.0}/s, {total} pending; target <= 1024)",
        total - from,
        (total - from) as f64 / secs
    );
    println!("sizing: {:.2} GB of Redis per million pending verifications", per * 1e6 / 1e9);
    added
}

/// Check throughput with `ids` drawn from the whole population.
pub async fn check_run(
    http: &reqwest::Client,
    base: &str,
    bearer: &str,
    ids: Arc<Vec<String>>,
    conc: u64,
    secs: Duration,
) -> Run {
    let (h, b, auth) = (http.clone(), base.to_string(), bearer.to_string());
    let check: MakeRequest = Arc::new(move |n| {
        // Spread over the population, not just its first entries.
        let i = (n.wrapping_mul(2_654_435_761) as usize) % ids.len();
        h.post(format!("{b}/v1/verifications/{}/check", ids[i]))
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(r#"{"code":"000000"}"#)
    });
    closed_loop(conc, secs, check).await
}

/// Five wrong codes for each of `ids`, so that each is failed: the scale runs then send the
/// same requests whatever Redis holds besides.
pub async fn fail_all(http: &reqwest::Client, base: &str, bearer: &str, ids: &[String]) {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..ids.len() * 5)
        .for_each_concurrent(64, |n| async move {
            let r = http
                .post(format!("{base}/v1/verifications/{}/check", ids[n % ids.len()]))
                .header("authorization", bearer)
                .header("content-type", "application/json")
                .body(r#"{"code":"000000"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        })
        .await;
}

/// Verifications started per second through `POST /v1/verifications/batch` (1,000 a batch).
pub async fn batch_rate(http: &reqwest::Client, base: &str, bearer: &str, secs: Duration) {
    let (h, b, auth) = (http.clone(), base.to_string(), bearer.to_string());
    let batch: MakeRequest = Arc::new(move |n| {
        let items: Vec<Value> = (0..1000u64)
            .map(|i| {
                let mut it = start_body(20_000_000 + n * 1000 + i);
                it["initiated_by"] = json!("marketer");
                it["reference"] = json!(format!("crm-{n}-{i}"));
                it
            })
            .collect();
        h.post(format!("{b}/v1/verifications/batch"))
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(json!({"items": items}).to_string())
    });
    let run = closed_loop(2, secs, batch).await;
    println!(
        "batch:  {:.0} verifications/s started through the batch route ({} batches of 1,000 in {:.1} s, 2 clients, p99 {:.0} ms a batch, failed {})",
        run.rps() * 1000.0,
        run.ok,
        run.secs,
        run.p(0.99),
        run.failed
    );
}

/// The consent lookup against `GET /v1/verifications/{id}`, on `confirmed` (id, phone) pairs.
pub async fn lookup_rate(
    http: &reqwest::Client,
    base: &str,
    bearer: &str,
    confirmed: Arc<Vec<(String, String)>>,
    conc: u64,
    secs: Duration,
) {
    let (h, b, auth, c) = (http.clone(), base.to_string(), bearer.to_string(), confirmed.clone());
    let get: MakeRequest = Arc::new(move |n| {
        h.get(format!("{b}/v1/verifications/{}", c[(n as usize) % c.len()].0)).header("authorization", &auth)
    });
    let (h, b, auth, c) = (http.clone(), base.to_string(), bearer.to_string(), confirmed.clone());
    let lookup: MakeRequest = Arc::new(move |n| {
        let phone = c[(n as usize) % c.len()].1.replace('+', "%2B");
        h.get(format!("{b}/v1/consents?phone={phone}&purpose=energy-offers")).header("authorization", &auth)
    });
    // A dialing list of 1,000 numbers in one request, from the same confirmed pool.
    let (h, b, auth, c) = (http.clone(), base.to_string(), bearer.to_string(), confirmed.clone());
    let bulk: MakeRequest = Arc::new(move |n| {
        let start = (n as usize * 1000) % c.len();
        let phones: Vec<&str> = (0..1000).map(|i| c[(start + i) % c.len()].1.as_str()).collect();
        h.post(format!("{b}/v1/consents/lookup"))
            .header("authorization", &auth)
            .json(&serde_json::json!({"phones": phones, "purpose": "energy-offers"}))
    });
    let g = closed_loop(conc, secs, get).await;
    let l = closed_loop(conc, secs, lookup).await;
    // Few clients: each request is a thousand numbers' work.
    let m = closed_loop(4, secs, bulk).await;
    println!(
        "lookup: GET /v1/consents {:.0} req/s (p99 {:.2} ms) vs GET /v1/verifications/{{id}} {:.0} req/s (p99 {:.2} ms) = {:.0}%, failed {}",
        l.rps(),
        l.p(0.99),
        g.rps(),
        g.p(0.99),
        100.0 * l.rps() / g.rps(),
        l.failed + g.failed
    );
    println!(
        "bulk:   POST /v1/consents/lookup {:.0} numbers/s (1,000 a request, p99 {:.1} ms a request) vs the single lookup's {:.0} numbers/s = {:.1}x, failed {}",
        m.rps() * 1000.0,
        m.p(0.99),
        l.rps(),
        m.rps() * 1000.0 / l.rps(),
        m.failed
    );
}

/// Confirms `pool` entries with their right codes; returns (id, phone) of each.
pub async fn confirm_all(
    http: &reqwest::Client,
    base: &str,
    bearer: &str,
    pool: &[(String, String)],
    first_n: u64,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in pool.chunks(256).enumerate() {
        let (ci, chunk) = chunk;
        let futs = chunk.iter().enumerate().map(|(i, (id, code))| {
            let n = first_n + (ci * 256 + i) as u64;
            let req = http
                .post(format!("{base}/v1/verifications/{id}/check"))
                .header("authorization", bearer)
                .header("content-type", "application/json")
                .body(json!({"code": code}).to_string());
            async move {
                let v: Value = req.send().await.unwrap().json().await.unwrap();
                assert_eq!(v["status"], "confirmed");
                (id.clone(), start_body(n)["phone"].as_str().unwrap().to_string())
            }
        });
        out.extend(futures_util::future::join_all(futs).await);
    }
    out
}

/// What a retained consent costs, from `MEMORY USAGE` of every key it owns: its record, its
/// entry in the number's consent index, and its share of the shared texts. The event and the
/// webhook message of its confirmation are kept for the event retention (30 days), not the
/// receipt retention, and are shown apart.
pub async fn retained(redis_url: &str, prefix: &str, ids: &[String]) {
    let mut c = redis::Client::open(redis_url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let (mut records, mut indexes, mut seen_index) = (0i64, 0i64, std::collections::HashSet::new());
    for id in ids {
        let p = u16::from_str_radix(&id[3..7], 16).unwrap();
        let vkey = format!("{{{prefix}:p{p}}}:v:{id}");
        let bytes: Option<i64> =
            redis::cmd("MEMORY").arg("USAGE").arg(&vkey).arg("SAMPLES").arg(0).query_async(&mut c).await.unwrap();
        records += bytes.unwrap_or(0);
        let h: std::collections::HashMap<String, String> =
            redis::cmd("HGETALL").arg(&vkey).query_async(&mut c).await.unwrap();
        let ikey = format!(
            "{{{prefix}:p{p}}}:cs:{}:{}",
            h.get("t").cloned().unwrap_or_default(),
            h.get("ps").cloned().unwrap_or_default()
        );
        if seen_index.insert(ikey.clone()) {
            let bytes: Option<i64> = redis::cmd("MEMORY").arg("USAGE").arg(&ikey).query_async(&mut c).await.unwrap();
            indexes += bytes.unwrap_or(0);
        }
    }
    let mut blobs = 0i64;
    let mut iter: redis::AsyncIter<String> =
        redis::AsyncCommands::scan_match(&mut c, format!("{{{prefix}:p*}}:b:*")).await.unwrap();
    let mut blob_keys = Vec::new();
    while let Some(k) = iter.next_item().await {
        blob_keys.push(k.unwrap());
    }
    drop(iter);
    for k in blob_keys {
        let bytes: Option<i64> = redis::cmd("MEMORY").arg("USAGE").arg(&k).query_async(&mut c).await.unwrap();
        blobs += bytes.unwrap_or(0);
    }
    // Each consent's expiry waits in a deadline bucket (a list per 10 seconds, named in the
    // partition's bucket index) a term ahead: the buckets more than a day out are theirs.
    let far = (chrono::Utc::now().timestamp_millis() + 86_400_000) / 10_000;
    let mut deadlines = 0i64;
    let mut iter: redis::AsyncIter<String> =
        redis::AsyncCommands::scan_match(&mut c, format!("{{{prefix}:p*}}:ex:*")).await.unwrap();
    let mut bucket_keys = Vec::new();
    while let Some(k) = iter.next_item().await {
        bucket_keys.push(k.unwrap());
    }
    drop(iter);
    for k in bucket_keys.iter().filter(|k| k.rsplit(':').next().and_then(|b| b.parse::<i64>().ok()) > Some(far)) {
        let bytes: Option<i64> = redis::cmd("MEMORY").arg("USAGE").arg(k).query_async(&mut c).await.unwrap();
        // Its member in the bucket index: a sorted-set entry, about 64 bytes.
        deadlines += bytes.unwrap_or(0) + 64;
    }
    let n = ids.len() as f64;
    let kept = (records + indexes + blobs + deadlines) as f64 / n;
    println!(
        "memory: {kept:.0} bytes per retained consent for its retention (record {:.0}, consent index {:.0}, shared texts {:.0}, expiry deadline {:.0}; target <= 2048)",
        records as f64 / n,
        indexes as f64 / n,
        blobs as f64 / n,
        deadlines as f64 / n
    );
    println!("sizing: {:.2} GB of Redis per million retained consents", kept * 1e6 / 1e9);
}

/// Memory per pending verification once its message went out (its send-stream entry is gone,
/// its provider attempt is recorded): waits until every send stream of `prefix` is empty.
pub async fn sent_memory(redis_url: &str, prefix: &str, before: i64, n: usize) {
    let mut c = redis::Client::open(redis_url).unwrap().get_multiplexed_async_connection().await.unwrap();
    for _ in 0..600 {
        let mut queued = 0i64;
        for p in 0..16 {
            let len: i64 = redis::cmd("XLEN").arg(format!("{{{prefix}:p{p}}}:send")).query_async(&mut c).await.unwrap();
            queued += len;
        }
        if queued == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The dev outbox (a capped list of what the console transport "sent") is not the record's.
    let outbox: Option<i64> =
        redis::cmd("MEMORY").arg("USAGE").arg(format!("{{{prefix}:dev}}:outbox")).query_async(&mut c).await.unwrap();
    let per = (used_memory(redis_url).await - before - outbox.unwrap_or(0)) as f64 / n as f64;
    println!(
        "memory: {per:.0} bytes per pending verification after its message was sent ({n} sent, dev outbox not counted; target <= 1024)"
    );
}
