//! Sending and webhooks: messages one worker hands to a provider, deliveries per second, the
//! confirmation-to-webhook latency, and what events, confirmations and consents cost in Redis.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, HttpServer, web};
use hdrhistogram::Histogram;
use optin_verify::{
    domain::{ApiKey, ServerKey},
    startup::Role,
};
use serde_json::{Value, json};

use crate::{
    bench_store, campaign, context_json, env_u64, fill,
    load::{MakeRequest, open_loop},
    service::{Instance, SERVER_KEY, instance, listener, serve, settings},
    used_memory,
};

/// What the counting receiver saw: verification id and arrival time.
type Seen = Arc<std::sync::Mutex<Vec<(String, Instant)>>>;

/// The `webhook-id`s the counting receiver saw, each as often as it came.
type Ids = Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>;

/// A consent store that only counts and timestamps what it receives.
async fn counting_receiver() -> (u16, Seen, Ids) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ids: Ids = Arc::default();
    let data = web::Data::new(seen.clone());
    let id_data = web::Data::new(ids.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).app_data(id_data.clone()).route(
            "/hook",
            web::post().to(
                |req: actix_web::HttpRequest, body: web::Bytes, seen: web::Data<Seen>, ids: web::Data<Ids>| async move {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let vid = v["data"]["verification_id"].as_str().unwrap_or("").to_string();
                    let wid = req.headers().get("webhook-id").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
                    *ids.lock().unwrap().entry(wid).or_default() += 1;
                    seen.lock().unwrap().push((vid, Instant::now()));
                    HttpResponse::NoContent().finish()
                },
            ),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (port, seen, ids)
}

/// Messages one worker hands to a local CM.com-speaking server, per second.
pub async fn sends(redis_url: &str) {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"details": "Created 1 message(s)", "errorCode": 0,
            "messages": [{"to": "0031600000000", "status": "Accepted", "reference": "x", "parts": 1, "messageErrorCode": 0}]})))
        .mount(&server)
        .await;
    let key = ApiKey::generate();
    let (l, port) = listener();
    let mut s = settings(redis_url, &key, port, "benchsms");
    s.channels.sms = Some(optin_verify::config::SmsSettings {
        sender: "Bench".into(),
        providers: vec![optin_verify::config::SmsProviderSettings {
            kind: optin_verify::config::SmsProviderKind::Cm,
            base_url: Some(server.uri()),
            product_token: "token".into(),
            account_sid: String::new(),
            auth_token: String::new(),
            rate_per_second: 0,
        }],
        attempts_per_provider: 1,
        backoff_ms: 10,
        timeout_seconds: 5,
        callback_token: String::new(),
    });
    let store = bench_store(redis_url, "benchsms").await;
    let ctx = context_json(&[]);
    let n = env_u64("BENCH_SENDS", 3000);
    // Queue first, then start the worker: the run measures sending only.
    fill(&store, &ServerKey::parse(SERVER_KEY).unwrap(), 9_000_000, n, &ctx).await;
    let t = Instant::now();
    serve(s, Role::All, l).await;
    while (server.received_requests().await.unwrap().len() as u64) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(t.elapsed() < Duration::from_secs(300), "sends stalled");
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "sends: {n} SMS handed to a local CM.com server by one worker in {el:.2} s = {:.0} messages/s",
        n as f64 / el
    );
}

/// Registers an endpoint for the receiver on `port` with the service at `base`.
async fn subscribe(http: &reqwest::Client, base: &str, bearer: &str, rport: u16) {
    let r = http
        .post(format!("{base}/v1/webhook-endpoints"))
        .header("authorization", bearer)
        .json(&json!({"url": format!("http://127.0.0.1:{rport}/hook")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

/// `n` withdrawals by number, written straight to the store: one `consent.withdrawn` event each.
/// Each number's pseudonym is the service's own keyed hash, so the events spread over the
/// partitions as real ones do (a counter as pseudonym put them all in one partition).
async fn withdraw(store: &optin_verify::store::Store, n: u64) {
    let key = ServerKey::parse(SERVER_KEY).unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let args: Vec<(String, String)> = chunk
            .iter()
            .map(|i| {
                let phone = format!("+3161{i:07}");
                let pseudonym = key.pseudonym("phone", &phone);
                (phone, pseudonym)
            })
            .collect();
        let futs = args.iter().map(|(phone, pseudo)| store.withdraw_phone("bench", pseudo, phone, None, "bench"));
        futures_util::future::try_join_all(futs).await.unwrap();
    }
}

async fn wait_for(seen: &Seen, n: u64, t: Instant) {
    while (seen.lock().unwrap().len() as u64) < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(t.elapsed() < Duration::from_secs(300), "deliveries stalled");
    }
}

fn duplicates(ids: &Ids, what: &str) {
    let mut ids = ids.lock().unwrap();
    let twice = ids.values().filter(|n| **n > 1).count();
    println!(
        "webhooks: {} distinct webhook-ids {what}, {twice} delivered more than once, without a fault (target 0)",
        ids.len()
    );
    ids.clear();
}

/// Deliveries per second with the events already queued, and what the drain does to the API:
/// `GET /v1/verifications/{id}` at a fixed rate, idle and while the backlog drains. The API and
/// the worker run as two instances in this process, as `--role api` and `--role worker` would.
async fn queued(redis_url: &str, http: &reqwest::Client, secs: Duration, rport: u16, seen: &Seen, ids: &Ids) {
    let key = ApiKey::generate();
    let (l, port) = listener();
    let s = settings(redis_url, &key, port, "benchwq");
    serve(s.clone(), Role::Api, l).await;
    let (base, bearer) = (format!("http://127.0.0.1:{port}"), format!("Bearer {}", key.expose()));
    subscribe(http, &base, &bearer, rport).await;
    let store = bench_store(redis_url, "benchwq").await;
    let pool = fill(&store, &ServerKey::parse(SERVER_KEY).unwrap(), 7_000_000, 10_000, &context_json(&[])).await;
    // Their messages are not part of this run: no worker may send them.
    let mut c = redis::Client::open(redis_url).unwrap().get_multiplexed_async_connection().await.unwrap();
    for p in 0..16 {
        let _: i64 = redis::cmd("DEL").arg(format!("{{benchwq:p{p}}}:send")).query_async(&mut c).await.unwrap();
    }
    let (h, b, auth, p) = (http.clone(), base.clone(), bearer.clone(), Arc::new(pool));
    let get: MakeRequest = Arc::new(move |n| {
        h.get(format!("{b}/v1/verifications/{}", p[(n as usize) % p.len()].0)).header("authorization", &auth)
    });
    let rate = env_u64("BENCH_PROBE_RATE", 1000) as f64;
    let idle = open_loop(rate, secs, get.clone()).await;

    let n = env_u64("BENCH_WEBHOOKS", 50_000);
    withdraw(&store, n).await;
    seen.lock().unwrap().clear();
    let t = Instant::now();
    let (wl, _) = listener();
    serve(s, Role::Worker, wl).await;
    let probe = tokio::spawn(open_loop(rate, secs, get));
    wait_for(seen, n, t).await;
    let el = t.elapsed().as_secs_f64();
    let busy = probe.await.unwrap();
    println!(
        "webhooks: {n} events already queued, all delivered in {el:.2} s = {:.0} deliveries/s (target >= 5000)",
        n as f64 / el
    );
    println!(
        "webhooks: API p99 while they drain {:.2} ms vs idle {:.2} ms = {:.1}x (target <= 2x); GET /v1/verifications/{{id}} at {rate:.0} req/s for {:.0} s, p50 {:.2} / {:.2} ms, failed {}",
        busy.p(0.99),
        idle.p(0.99),
        busy.p(0.99) / idle.p(0.99),
        secs.as_secs_f64(),
        busy.p(0.5),
        idle.p(0.5),
        busy.failed + idle.failed
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    duplicates(ids, "(events already queued)");
}

/// Deliveries per second with withdrawals written while one instance delivers, the
/// confirmation-to-webhook latency, and what events, confirmations and consents cost in Redis.
pub async fn webhooks(redis_url: &str, http: &reqwest::Client, secs: Duration) {
    let (rport, seen, ids) = counting_receiver().await;
    queued(redis_url, http, secs, rport, &seen, &ids).await;

    let Instance { base, bearer } = instance(redis_url, "benchwh", Role::All, |_| {}).await;
    subscribe(http, &base, &bearer, rport).await;
    let store = bench_store(redis_url, "benchwh").await;

    // Throughput: a burst of withdrawals, from the first write to the last delivery.
    let n = env_u64("BENCH_WEBHOOKS", 50_000);
    seen.lock().unwrap().clear();
    let mem_before = used_memory(redis_url).await;
    let t = Instant::now();
    withdraw(&store, n).await;
    wait_for(&seen, n, t).await;
    let el = t.elapsed().as_secs_f64();
    println!(
        "webhooks: {n} withdrawals written and delivered together in {el:.2} s = {:.0} deliveries/s (target >= 3000)",
        n as f64 / el
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    duplicates(&ids, "(written and delivered together)");
    let per_event = (used_memory(redis_url).await - mem_before) as f64 / n as f64;
    println!("memory: {per_event:.0} bytes per retained event (message, attempt log, index, stream entry)");

    // Latency: confirmations at a fixed rate, from the check answer's request to the webhook.
    let server_key = ServerKey::parse(SERVER_KEY).unwrap();
    let ctx = context_json(&["collection"]);
    let rate = env_u64("BENCH_CONFIRM_RATE", 1000) as f64;
    let count = (rate * secs.as_secs_f64()) as u64;
    let before_fill = used_memory(redis_url).await;
    let pool = Arc::new(fill(&store, &server_key, 5_000_000, count + 10, &ctx).await);
    campaign::sent_memory(redis_url, "benchwh", before_fill, pool.len()).await;
    seen.lock().unwrap().clear();
    let sent = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, Instant>::new()));
    let (h, b, p, sent2) = (http.clone(), base.clone(), pool.clone(), sent.clone());
    let confirm: MakeRequest = Arc::new(move |i| {
        let (id, code) = &p[(i as usize) % p.len()];
        sent2.lock().unwrap().insert(id.clone(), Instant::now());
        h.post(format!("{b}/v1/verifications/{id}/check"))
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(json!({"code": code}).to_string())
    });
    let before_rcpt = used_memory(redis_url).await;
    let run = open_loop(rate, secs, confirm).await;
    let t = Instant::now();
    while (seen.lock().unwrap().len() as u64) < run.ok && t.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    {
        let sent = sent.lock().unwrap();
        for (vid, at) in seen.lock().unwrap().iter() {
            if let Some(s) = sent.get(vid) {
                hist.record(at.duration_since(*s).as_micros() as u64).ok();
            }
        }
    }
    println!(
        "confirm->webhook at {rate:.0} confirmations/s ({} ok, {} failed): p50 {:.1} ms, p99 {:.1} ms (target < 250 ms)",
        run.ok,
        run.failed,
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0
    );
    let per_confirmed = (used_memory(redis_url).await - before_rcpt) as f64 / run.ok.max(1) as f64;
    println!(
        "memory: {per_confirmed:.0} bytes added per confirmation (the record grows, the event and the webhook message for 30 days)"
    );
    let confirmed: Vec<String> =
        seen.lock().unwrap().iter().map(|(vid, _)| vid.clone()).filter(|v| !v.is_empty()).collect();
    campaign::retained(redis_url, "benchwh", &confirmed).await;
}
