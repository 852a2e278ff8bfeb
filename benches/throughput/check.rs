//! The checks the `check` target measures: each one does a check's whole work. Every request is
//! a wrong code on a pending verification that has attempts left, so it is counted (`HINCRBY`)
//! and its MAC compared. Checks on the same few thousand ids would find them failed after five
//! attempts and take the short way out, which is what the bench measured before 2026-11-29
//! 12:00.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use optin_verify::{domain::ServerKey, startup::Role};

use crate::{
    bench_store, context_json, env_u64, fill,
    load::MakeRequest,
    service::{SERVER_KEY, instance},
};

const PREFIX: &str = "benchck";

/// An API instance with a pool of pending verifications of its own, and the request.
pub struct Checks {
    pub request: MakeRequest,
    sent: Arc<AtomicU64>,
    pool: u64,
    redis_url: String,
}

impl Checks {
    /// `BENCH_CHECK_POOL` verifications (default 200,000): four wrong codes each stay counted.
    pub async fn new(redis_url: &str, http: &reqwest::Client) -> Self {
        let i = instance(redis_url, PREFIX, Role::Api, |_| {}).await;
        let store = bench_store(redis_url, PREFIX).await;
        let pool = env_u64("BENCH_CHECK_POOL", 200_000);
        let ids: Arc<Vec<String>> = Arc::new(
            fill(&store, &ServerKey::parse(SERVER_KEY).unwrap(), 30_000_000, pool, &context_json(&[]))
                .await
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        );
        let sent = Arc::new(AtomicU64::new(0));
        let (h, b, auth, n) = (http.clone(), i.base, i.bearer, sent.clone());
        // One count across all runs: pass k over the pool is every id's k-th attempt.
        let request: MakeRequest = Arc::new(move |_| {
            let i = n.fetch_add(1, Ordering::Relaxed) as usize % ids.len();
            h.post(format!("{b}/v1/verifications/{}/check", ids[i]))
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(r#"{"code":"000000"}"#)
        });
        Self { request, sent, pool, redis_url: redis_url.to_string() }
    }

    /// Checks sent beyond each id's fourth attempt (0 unless the pool was too small): the
    /// fifth fails its verification, and later ones find it failed.
    pub fn beyond_four(&self) -> u64 {
        self.sent.load(Ordering::Relaxed).saturating_sub(4 * self.pool)
    }

    /// Removes the pool, so that what follows measures with only its own records in Redis.
    pub async fn remove(self) {
        let mut c =
            redis::Client::open(self.redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{{{PREFIX}:*"))
                .arg("COUNT")
                .arg(5000)
                .query_async(&mut c)
                .await
                .unwrap();
            if !keys.is_empty() {
                let _: i64 = redis::cmd("UNLINK").arg(&keys).query_async(&mut c).await.unwrap();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}
