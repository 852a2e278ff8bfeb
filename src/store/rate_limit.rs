//! Fixed-window rate limits, checked and counted atomically for one subject.

use super::{Store, StoreError, scripts};

/// At most `max` in each `window_secs` window.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u32,
    pub window_secs: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after_secs: u64 },
}

impl Store {
    /// Counts one use of `subject` in `scope` against every limit, or none if any is full.
    /// `subject` must already be a pseudonym: key names never carry PII.
    pub async fn rate_limit(
        &self,
        scope: &str,
        subject: &str,
        limits: &[Limit],
        now_ms: i64,
    ) -> Result<RateDecision, StoreError> {
        let now = u64::try_from(now_ms).unwrap_or(0);
        let mut inv = scripts::RATE_LIMIT.prepare_invoke();
        inv.arg(now_ms);
        for l in limits {
            let window_ms = l.window_secs * 1000;
            let index = now / window_ms;
            inv.key(self.keys.rate(scope, subject, l.window_secs, index));
            inv.arg(l.max).arg((index + 1) * window_ms);
        }
        let reply: Vec<i64> = inv.invoke_async(&mut self.conn.clone()).await?;
        match reply.as_slice() {
            [1] => Ok(RateDecision::Allowed),
            [0, ms] => Ok(RateDecision::Limited { retry_after_secs: (*ms as u64).div_ceil(1000).max(1) }),
            _ => Err(StoreError::Corrupt("unexpected rate-limit reply".into())),
        }
    }
}
