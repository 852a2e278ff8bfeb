//! Fixed-window rate limits, checked and counted atomically for one subject.

use crate::domain::Partition;

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

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

/// Where a subject's counters live. A phone number's counters sit in its partition, beside its
/// verifications, so the create script counts a start to that number in the same step.
#[derive(Debug, Clone, Copy)]
pub enum RateSlot {
    /// A slot of the subject's own (tenants, email addresses).
    Own,
    Partition(Partition),
}

/// Whose counters: where they live, the scope (`tenant`, `destination`, `ip`) and the subject,
/// already a pseudonym (key names never carry PII).
#[derive(Debug, Clone, Copy)]
pub struct RateSubject<'a> {
    pub slot: RateSlot,
    pub scope: &'a str,
    pub subject: &'a str,
}

/// The counters of one subject for the current windows: keys, and `max`/window-end per key.
#[derive(Debug, Clone)]
pub struct RateWindows {
    pub(super) keys: Vec<String>,
    pub(super) args: Vec<(u32, u64)>,
}

impl RateWindows {
    /// Both sets of counters, counted together (they must share a slot).
    pub fn and(mut self, other: RateWindows) -> Self {
        self.keys.extend(other.keys);
        self.args.extend(other.args);
        self
    }
}

impl ScriptReply for RateDecision {
    /// `{1}`, or `{0, ms}`: how long to wait.
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "1" => Ok(Self::Allowed),
            "0" => Ok(Self::Limited { retry_after_secs: (r.int(0)?.max(0) as u64).div_ceil(1000).max(1) }),
            _ => r.unknown(),
        }
    }
}

impl Store {
    /// The counters `who` uses for each limit's current window.
    pub fn rate_windows(&self, who: RateSubject<'_>, limits: &[Limit], now_ms: i64) -> RateWindows {
        let now = u64::try_from(now_ms).unwrap_or(0);
        let (mut keys, mut args) = (Vec::with_capacity(limits.len()), Vec::with_capacity(limits.len()));
        for l in limits {
            let window_ms = l.window_secs * 1000;
            let index = now / window_ms;
            keys.push(match who.slot {
                RateSlot::Own => self.keys.rate(who.scope, who.subject, l.window_secs, index),
                RateSlot::Partition(p) => self.keys.rate_in(p, who.scope, who.subject, l.window_secs, index),
            });
            args.push((l.max, (index + 1) * window_ms));
        }
        RateWindows { keys, args }
    }

    /// Counts one use by `who` against every limit, or none if any is full.
    pub async fn rate_limit(
        &self,
        who: RateSubject<'_>,
        limits: &[Limit],
        now_ms: i64,
    ) -> Result<RateDecision, StoreError> {
        self.count(&self.rate_windows(who, limits, now_ms), now_ms).await
    }

    /// Counts one use against every window in `w`, or none if any is full.
    pub async fn count(&self, w: &RateWindows, now_ms: i64) -> Result<RateDecision, StoreError> {
        let mut call = scripts::RATE_LIMIT.call();
        call.arg("now", now_ms);
        for (key, (max, end)) in w.keys.iter().zip(&w.args) {
            call.key("counter", key).arg("window", max).arg("window", end);
        }
        call.reply(&self.conn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_replies_decode_every_tag_the_script_answers() {
        crate::store::script::assert_decodes_every_tag::<RateDecision>(&scripts::RATE_LIMIT);
    }
}
