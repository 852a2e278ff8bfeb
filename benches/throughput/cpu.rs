//! CPU time per operation, of this process (the service and the load generator) and of Redis.
//! Unlike a rate, CPU time hardly moves when the machine's speed drifts (steal, other load), so
//! it shows a change of a few percent that the rates' round-to-round spread would hide.

pub struct Cpu {
    process_us: f64,
    redis_us: f64,
}

fn process_us() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(u.ru_utime) + us(u.ru_stime)
}

async fn redis_us(url: &str) -> f64 {
    let mut c = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut c).await.unwrap();
    let field = |name: &str| -> f64 {
        info.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
    };
    (field("used_cpu_user:") + field("used_cpu_sys:")) * 1e6
}

impl Cpu {
    pub async fn now(redis_url: &str) -> Self {
        Self { process_us: process_us(), redis_us: redis_us(redis_url).await }
    }

    /// `(process, redis)` microseconds per operation since `self`.
    pub async fn per_op(&self, redis_url: &str, ops: u64) -> (f64, f64) {
        let now = Self::now(redis_url).await;
        let n = ops.max(1) as f64;
        ((now.process_us - self.process_us) / n, (now.redis_us - self.redis_us) / n)
    }
}
