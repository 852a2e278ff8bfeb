//! The load generator: closed loops for throughput, an open loop at a fixed rate for latency.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

pub struct Run {
    pub ok: u64,
    pub failed: u64,
    pub secs: f64,
    pub hist: Histogram<u64>,
}

impl Run {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.secs
    }
    /// Latency at quantile `q`, in milliseconds.
    pub fn p(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

pub type MakeRequest = Arc<dyn Fn(u64) -> reqwest::RequestBuilder + Send + Sync>;

/// `concurrency` clients, each sending its next request as soon as the last one answered.
pub async fn closed_loop(concurrency: u64, duration: Duration, make: MakeRequest) -> Run {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (make, counter) = (make.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap();
            let (mut ok, mut failed) = (0, 0);
            while start.elapsed() < duration {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                match make(n).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok += 1;
                        hist.record(t.elapsed().as_micros() as u64).ok();
                    }
                    _ => failed += 1,
                }
            }
            (ok, failed, hist)
        }));
    }
    let mut run = Run { ok: 0, failed: 0, secs: 0.0, hist: Histogram::new(3).unwrap() };
    for t in tasks {
        let (ok, failed, h) = t.await.unwrap();
        run.ok += ok;
        run.failed += failed;
        run.hist.add(h).unwrap();
    }
    run.secs = start.elapsed().as_secs_f64();
    run
}

/// Connections the open loop may use at once: as many as the closed loops warmed up, so it
/// never opens new ones mid-run (a burst of connects overflowing the listen backlog costs a
/// 1-second SYN retransmit and measured the kernel, not the service).
pub const OPEN_LOOP_CONNECTIONS: usize = 64;

/// Requests at a fixed rate over at most [`OPEN_LOOP_CONNECTIONS`] connections, like wrk2:
/// each request's latency counts from when it was due, so a request that had to wait for a
/// free connection counts its wait (no coordinated omission).
pub async fn open_loop(rate: f64, duration: Duration, make: MakeRequest) -> Run {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let conns = Arc::new(tokio::sync::Semaphore::new(OPEN_LOOP_CONNECTIONS));
    let start = Instant::now();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut n = 0u64;
    while start.elapsed() < duration {
        tick.tick().await;
        let (make, conns) = (make.clone(), conns.clone());
        let due = start + interval.mul_f64(n as f64);
        n += 1;
        tasks.push(tokio::spawn(async move {
            let _conn = conns.acquire_owned().await.unwrap();
            let ok = match make(n).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            (ok, due.elapsed().as_micros() as u64)
        }));
    }
    let mut run = Run { ok: 0, failed: 0, secs: start.elapsed().as_secs_f64(), hist: Histogram::new(3).unwrap() };
    for t in tasks {
        let (ok, micros) = t.await.unwrap();
        if ok {
            run.ok += 1;
            run.hist.record(micros).ok();
        } else {
            run.failed += 1;
        }
    }
    run
}
