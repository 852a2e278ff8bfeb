//! Delivers messages to endpoints. Each partition's deliver stream is read in the `deliver`
//! group; every delivery runs as its own task, bounded per process and per endpoint, so one
//! slow endpoint never holds up the others.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::{
    sync::{Notify, OwnedSemaphorePermit, Semaphore, watch},
    task::JoinHandle,
};

use crate::{
    domain::{Partition, WebhookOutcome},
    metrics::OutcomeLabels,
    store::{DELIVER_GROUP, DeliveryJob, DeliveryOutcome, EndpointRecord, StoreError, to_delivery},
    worker::stream_loop::{self, LoopConfig},
};

use super::{WebhookDeps, endpoint_cache::EndpointCache};

/// One attempt as the attempt log shows it.
#[derive(Debug, Serialize)]
struct Attempt<'a> {
    endpoint_id: &'a str,
    attempt: u32,
    at: String,
    status_code: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
    outcome: &'a str,
}

/// State shared by every delivery task of this process.
pub struct Deliverer {
    deps: WebhookDeps,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
    /// One per endpoint this process has delivered to (a few dozen bytes each; kept).
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
    cache: EndpointCache,
    /// A signal each time a request ends. A reader whose last batch put deliveries back (the
    /// `webhook_deliveries_deferred` counter moved) waits for a request to end (or
    /// [`PUT_BACK_PAUSE`]) before it reads again: reading on at once would only put the next
    /// batch back too, each one a script run now and another a second later.
    request_ended: Notify,
}

/// The longest a reader pauses after its batch put deliveries back.
const PUT_BACK_PAUSE: Duration = Duration::from_millis(100);

/// One endpoint's share of the deliveries: at most `per_endpoint_concurrency` requests in
/// flight, and a bounded number of deliveries waiting for one of them ([`may_wait`]). A
/// delivery beyond that is deferred (back to the retry set for a second), so one slow endpoint
/// cannot hold the process's delivery slots.
struct Lane {
    requests: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// Recent request time in µs (a moving average), 0 until a request has ended.
    latency_us: AtomicU64,
}

impl Lane {
    /// Folds one request's time into the moving average (weight 1/8).
    fn observe(&self, took: Duration) {
        let sample = (took.as_micros() as u64).max(1);
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 { sample } else { old - old / 8 + sample / 8 };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
    }
}

/// How long a delivery waits for its endpoint's lane before it is deferred. Waiting plus the
/// request's timeout stays under the reclaim idle time (timeout + 5 s), so a delivery still in
/// progress is never handed to another reader.
const LANE_WAIT: Duration = Duration::from_secs(2);

/// The wait a lane's queue may stand for: deliveries queue on a lane while its recent
/// request time says they start within this.
const LANE_QUEUE_BUDGET_US: u64 = 250_000;

/// Whether one more delivery may wait on a lane `limit` requests wide that has `waiting`
/// deliveries waiting and a recent request time of `latency_us` (0: none ended yet).
/// Twice the lane may always wait. Beyond that only on a lane known to be fast: a busy
/// endpoint that answers at once keeps its backlog queued here instead of putting it back
/// over and over (each put-back is a script now and another a second later), while a slow
/// or unknown endpoint still holds at most three times its lane of the process's slots.
fn may_wait(waiting: usize, limit: usize, latency_us: u64) -> bool {
    let limit = limit.max(1);
    waiting < 2 * limit || (latency_us > 0 && (waiting as u64 + 1) * latency_us / limit as u64 <= LANE_QUEUE_BUDGET_US)
}

enum Verdict {
    Delivered,
    Retry { retry_after: Option<u64> },
    Gone,
}

impl Deliverer {
    pub async fn spawn(
        deps: WebhookDeps,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, crate::startup::StartupError> {
        let w = deps.settings.webhooks.clone();
        let http = super::request::client(&w).map_err(crate::startup::StartupError::HttpClient)?;
        let this = Arc::new(Self {
            slots: Arc::new(Semaphore::new(w.concurrency)),
            http,
            lanes: Mutex::new(HashMap::new()),
            cache: EndpointCache::default(),
            request_ended: Notify::new(),
            deps,
        });
        let mut cfg = LoopConfig::from_settings(&this.deps.settings);
        // Never reclaim a delivery that a live worker may still be waiting on.
        cfg.reclaim_idle_ms = cfg.reclaim_idle_ms.max(w.timeout_seconds * 1000 + 5000);
        let keys = this.deps.store.keys().clone();
        let readers =
            stream_loop::open_readers(&this.deps.store, &this.deps.settings, DELIVER_GROUP, |p| keys.deliver_stream(p))
                .await?;
        let mut handles = Vec::new();
        for (p, reader) in readers {
            let this = this.clone();
            let stop = stop.clone();
            handles.push(tokio::spawn(async move {
                let gate = Some(this.slots.clone());
                let mut put_back_seen = 0;
                stream_loop::run_gated(reader, cfg, stop, "deliver", gate, |entries| {
                    let this = this.clone();
                    let pause = this.put_back_since(&mut put_back_seen);
                    async move {
                        if pause {
                            this.pause_for_a_lane().await;
                        }
                        for (entry, permit) in entries {
                            let Some(job) = to_delivery(entry) else { continue };
                            let this = this.clone();
                            tokio::spawn(async move {
                                if let Err(e) = this.deliver(p, &job).await {
                                    tracing::warn!(event = %job.event_id, error = %e, "delivery bookkeeping failed; will retry");
                                }
                                drop(permit);
                            });
                        }
                    }
                })
                .await;
                // Shutdown: wait until every delivery in flight has finished.
                let all = this.deps.settings.webhooks.concurrency as u32;
                let _ = this.slots.acquire_many(all).await;
            }));
        }
        Ok(handles)
    }

    /// Whether deliveries were put back since `seen` (which it updates).
    fn put_back_since(&self, seen: &mut u64) -> bool {
        let now = self.deps.metrics.webhook_deferred.get();
        std::mem::replace(seen, now) != now
    }

    /// Waits until a request ends, at most [`PUT_BACK_PAUSE`]. The batch just read is handed
    /// out after it: its entries hold a process slot each, and the pause is far below the
    /// reclaim idle time.
    async fn pause_for_a_lane(&self) {
        let _ = tokio::time::timeout(PUT_BACK_PAUSE, self.request_ended.notified()).await;
    }

    /// A request slot on `endpoint`'s lane: at once, after a bounded wait, or `None` (defer).
    async fn take_slot(&self, endpoint: &str) -> Option<(Arc<Lane>, OwnedSemaphorePermit)> {
        let limit = self.deps.settings.webhooks.per_endpoint_concurrency;
        let lane = {
            let mut lanes = self.lanes.lock().expect("lanes lock");
            lanes
                .entry(endpoint.to_string())
                .or_insert_with(|| {
                    Arc::new(Lane {
                        requests: Arc::new(Semaphore::new(limit)),
                        waiting: AtomicUsize::new(0),
                        latency_us: AtomicU64::new(0),
                    })
                })
                .clone()
        };
        if let Ok(p) = lane.requests.clone().try_acquire_owned() {
            return Some((lane, p));
        }
        let waiting = lane.waiting.fetch_add(1, Ordering::AcqRel);
        if !may_wait(waiting, limit, lane.latency_us.load(Ordering::Relaxed)) {
            lane.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let got = tokio::time::timeout(LANE_WAIT, lane.requests.clone().acquire_owned()).await;
        lane.waiting.fetch_sub(1, Ordering::AcqRel);
        let permit = got.ok().and_then(Result::ok)?;
        Some((lane, permit))
    }

    async fn deliver(&self, p: Partition, job: &DeliveryJob) -> Result<(), StoreError> {
        let store = &self.deps.store;
        let now = chrono::Utc::now().timestamp_millis();
        let mut outcome = DeliveryOutcome {
            partition: p,
            entry_id: &job.entry_id,
            event_id: &job.event_id,
            endpoint_id: &job.endpoint_id,
            outcome: WebhookOutcome::Dead,
            attempt_json: "",
            due_ms: now,
            now_ms: now,
        };
        // A first attempt carries what it needs; a later one reads the message and its count.
        // The body is sealed at rest (it carries the number, the address and the evidence):
        // opened here, only to be sent.
        let read;
        let opened;
        let (tenant, body, done): (&str, &str, u32) = match &job.first {
            Some(f) => {
                opened = store.open_body(&job.event_id, &f.body).unwrap_or_default();
                (&f.tenant, &opened, 0)
            }
            None => {
                let Some(msg) = store.message(p, &job.event_id).await? else {
                    return store.record_delivery(&outcome).await; // trimmed: nothing left to send
                };
                let done = msg.deliveries.iter().find(|d| d.0 == job.endpoint_id).map_or(0, |d| d.2);
                read = msg;
                (&read.tenant, &read.body, done)
            }
        };
        if body.is_empty() {
            // Sealed under a server key this process does not have (yet, during a rollout): a
            // failed attempt, so that a process that has it takes the retry; after the whole
            // schedule the delivery is dead, to be redelivered once the key is configured.
            tracing::warn!(event = %job.event_id, "message opens under no configured server key");
            let attempt = done + 1;
            let schedule = &self.deps.settings.webhooks.retry_schedule_seconds;
            let (state, due) = match schedule.get(attempt as usize) {
                Some(delay) => (WebhookOutcome::Retrying, now + (*delay as i64) * 1000),
                None => (WebhookOutcome::Dead, now),
            };
            let why = Some("message opens under no configured server key");
            let json = attempt_json(&job.endpoint_id, attempt, now, None, 0, why, state);
            (outcome.outcome, outcome.attempt_json, outcome.due_ms) = (state, &json, due);
            return store.record_delivery(&outcome).await;
        }
        let endpoint = self.cache.get(store, tenant, &job.endpoint_id).await?;
        let Some(endpoint) = endpoint.filter(|e| !e.disabled) else {
            let why = Some("endpoint deleted or disabled");
            let json = attempt_json(&job.endpoint_id, 0, now, None, 0, why, WebhookOutcome::Dead);
            outcome.attempt_json = &json;
            return store.record_delivery(&outcome).await;
        };
        let Some((lane, slot)) = self.take_slot(&endpoint.id).await else {
            self.deps.metrics.webhook_deferred.inc();
            outcome.outcome = WebhookOutcome::Deferred;
            outcome.due_ms = now + 1000;
            return store.record_delivery(&outcome).await;
        };
        let started = Instant::now();
        let (verdict, status, error) = self.post(&endpoint, &job.event_id, body.as_bytes()).await;
        let elapsed = started.elapsed();
        // The lane limits requests to the endpoint, not our bookkeeping after them.
        lane.observe(elapsed);
        drop(slot);
        self.request_ended.notify_waiters();
        let latency = elapsed.as_millis() as u64;
        let schedule = &self.deps.settings.webhooks.retry_schedule_seconds;
        let attempt = done + 1;
        let (state, due) = match verdict {
            Verdict::Delivered => (WebhookOutcome::Delivered, now),
            Verdict::Gone => {
                self.disable(tenant, &endpoint.id).await?;
                (WebhookOutcome::Dead, now)
            }
            Verdict::Retry { .. } if attempt as usize >= schedule.len() => (WebhookOutcome::Dead, now),
            Verdict::Retry { retry_after } => {
                let planned = schedule[attempt as usize];
                let cap = self.deps.settings.webhooks.max_retry_after_seconds;
                let delay = planned.max(retry_after.unwrap_or(0).min(cap));
                (WebhookOutcome::Retrying, now + (delay as i64) * 1000)
            }
        };
        let outcome_label = OutcomeLabels { outcome: state.as_str() };
        self.deps.metrics.webhook_delivery.get_or_create(&outcome_label).observe(elapsed.as_secs_f64());
        let json = attempt_json(&endpoint.id, attempt, now, status, latency, error.as_deref(), state);
        outcome.outcome = state;
        outcome.attempt_json = &json;
        outcome.due_ms = due;
        store.record_delivery(&outcome).await
    }

    async fn post(&self, e: &EndpointRecord, event_id: &str, body: &[u8]) -> (Verdict, Option<u16>, Option<String>) {
        let request = super::request::signed_post(&self.http, e, event_id, body);
        match request.send().await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let verdict = match code {
                    200..=299 => Verdict::Delivered,
                    410 => Verdict::Gone,
                    _ => Verdict::Retry { retry_after },
                };
                let error = (!resp.status().is_success()).then(|| format!("HTTP {code}"));
                (verdict, Some(code), error)
            }
            Err(err) => {
                let kind = if err.is_timeout() {
                    "timeout"
                } else if err.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                };
                (Verdict::Retry { retry_after: None }, None, Some(kind.to_string()))
            }
        }
    }

    /// `410 Gone`: the consent store asked us to stop.
    async fn disable(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        self.deps
            .store
            .endpoint_update(tenant, id, |e| {
                e.disabled = true;
                e.disabled_reason = Some("endpoint answered 410 Gone".into());
            })
            .await?;
        self.cache.forget(tenant);
        tracing::warn!(endpoint = id, "endpoint answered 410 Gone; disabled");
        Ok(())
    }
}

fn attempt_json(
    endpoint_id: &str,
    attempt: u32,
    now_ms: i64,
    status: Option<u16>,
    latency_ms: u64,
    error: Option<&str>,
    outcome: WebhookOutcome,
) -> String {
    let at = crate::evidence::record_at(now_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    serde_json::to_string(&Attempt {
        endpoint_id,
        attempt,
        at,
        status_code: status,
        latency_ms,
        error: error.map(str::to_string),
        outcome: outcome.as_str(),
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::may_wait;

    #[test]
    fn twice_the_lane_may_always_wait() {
        assert!(may_wait(0, 16, 0));
        assert!(may_wait(31, 16, 0));
        assert!(may_wait(31, 16, 30_000_000));
    }

    #[test]
    fn an_unknown_or_slow_lane_holds_no_more_than_that() {
        assert!(!may_wait(32, 16, 0), "no request has ended yet");
        // 10 s requests: 33 waiting would start after ~20 s.
        assert!(!may_wait(32, 16, 10_000_000));
        // 100 ms requests, 16 wide: 40 queued start within 250 ms, 41 would not.
        assert!(may_wait(39, 16, 100_000));
        assert!(!may_wait(40, 16, 100_000));
    }

    #[test]
    fn a_fast_lane_queues_its_backlog() {
        // 2 ms requests, 16 wide: a whole process's 256 slots start within 32 ms.
        assert!(may_wait(255, 16, 2_000));
        assert!(may_wait(1999, 16, 2_000));
        assert!(!may_wait(2000, 16, 2_000));
    }
}
