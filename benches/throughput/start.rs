//! `POST /v1/verifications` with the README's body, counted only once the worker has sent
//! the message (to the console transport: the dev outbox in Redis), against the 1-EVALSHA
//! ceiling.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use optin_verify::{startup::Role, store::Store};

use crate::{
    load::{MakeRequest, Run, closed_loop},
    service::instance,
    start_body,
};

/// One instance (API and worker) with the dev outbox, and the request that starts.
pub struct Starter {
    store: Store,
    start: MakeRequest,
    /// The same requests to a handler that does nothing and answers what a start answers.
    pub floor: MakeRequest,
    redis_url: String,
}

impl Starter {
    pub async fn new(redis_url: &str, http: &reqwest::Client) -> Self {
        let i = instance(redis_url, "benchst", Role::All, |s| s.dev.outbox = true).await;
        let store = crate::bench_store(redis_url, "benchst").await;
        let next = Arc::new(std::sync::atomic::AtomicU64::new(1_000_000));
        let request = |base: String, auth: String| -> MakeRequest {
            let (h, next) = (http.clone(), next.clone());
            Arc::new(move |_| {
                // Fresh numbers across rounds too.
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                h.post(format!("{base}/v1/verifications"))
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(start_body(n).to_string())
            })
        };
        let start = request(i.base, i.bearer.clone());
        // The floor answers exactly what one real start answered.
        let reply = start(0).send().await.unwrap();
        let status = reply.status().as_u16();
        let body = reply.bytes().await.unwrap().to_vec();
        assert_eq!(status, 201, "the bench's start failed: {}", String::from_utf8_lossy(&body));
        let floor_port = crate::service::canned(status, body).await;
        let floor = request(format!("http://127.0.0.1:{floor_port}"), i.bearer);
        Self { store, start, floor, redis_url: redis_url.to_string() }
    }

    /// Starts for `secs`, then waits until the last message is sent; returns verifications
    /// started and sent per second, and the CPU each cost (this process, Redis), in µs.
    pub async fn run(&self, round: u64, conc: u64, secs: Duration, ceil: &Run) -> (f64, (f64, f64)) {
        let cpu = crate::cpu::Cpu::now(&self.redis_url).await;
        let t = Instant::now();
        let st = closed_loop(conc, secs, self.start.clone()).await;
        let answered = t.elapsed();
        // Done when every send stream is empty: each entry is deleted once its message is out.
        loop {
            let q = self.store.queue_stats(chrono::Utc::now().timestamp_millis()).await.unwrap();
            if q[0].1.depth == 0 {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(300), "sends stalled");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let sent = t.elapsed();
        let (process_us, redis_us) = cpu.per_op(&self.redis_url, st.ok).await;
        let rate = st.ok as f64 / sent.as_secs_f64();
        println!(
            "start round {round}: {rate:.0} started and sent per second vs ceiling {:.0} req/s = {:.0}%; {} answered in {:.2} s (p99 {:.2} ms, failed {}), the last sent {:.0} ms later; CPU per verification: {process_us:.0} µs this process (service and load generator), {redis_us:.0} µs Redis",
            ceil.rps(),
            100.0 * rate / ceil.rps(),
            st.ok,
            answered.as_secs_f64(),
            st.p(0.99),
            st.failed,
            (sent - answered).as_secs_f64() * 1000.0
        );
        (rate, (process_us, redis_us))
    }
}
