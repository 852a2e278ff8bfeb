//! Queue depth and age, summed over partitions, for `/metrics`. One pipeline per partition
//! (its keys share a hash slot, so this works on a cluster too).

use redis::streams::StreamRangeReply;

use super::{Store, StoreError};

/// One queue's entries and the age of its most overdue entry, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueStat {
    pub depth: u64,
    pub oldest_age_secs: f64,
}

/// `send`, `held`, `retry`, `dead`, `deliver`, in that order.
pub type QueueStats = [(&'static str, QueueStat); 5];

/// Age of an entry stamped `ms` (enqueue or due time); a future due time is not late: 0.
fn age(now_ms: i64, ms: Option<i64>) -> f64 {
    ms.map_or(0.0, |ms| ((now_ms - ms).max(0) as f64) / 1000.0)
}

fn stream_ms(reply: &StreamRangeReply) -> Option<i64> {
    reply.ids.first().and_then(|e| e.id.split('-').next()).and_then(|ms| ms.parse().ok())
}

fn first_score(scores: &[(String, f64)]) -> Option<i64> {
    scores.first().map(|(_, s)| *s as i64)
}

impl QueueStat {
    fn add(&mut self, depth: u64, age: f64) {
        self.depth += depth;
        self.oldest_age_secs = self.oldest_age_secs.max(age);
    }
}

impl Store {
    /// Streams hold only unfinished work (entries are deleted once acknowledged), so the
    /// first entry is the oldest. Sorted sets are scored by due time (held, retry) or by the
    /// time the delivery died (dead).
    pub async fn queue_stats(&self, now_ms: i64) -> Result<QueueStats, StoreError> {
        let mut stats = [QueueStat::default(); 5];
        for p in self.keys.all_partitions() {
            let (send, deliver) = (self.keys.send_stream(p), self.keys.deliver_stream(p));
            let sets = [self.keys.held(p), self.keys.retries(p), self.keys.dead_letters(p)];
            let mut pipe = redis::pipe();
            pipe.xlen(&send).xrange_count(&send, "-", "+", 1).xlen(&deliver).xrange_count(&deliver, "-", "+", 1);
            for set in &sets {
                pipe.zcard(set).zrange_withscores(set, 0, 0);
            }
            #[allow(clippy::type_complexity)]
            let (sl, sr, dl, dr, hl, hr, rl, rr, xl, xr): (
                u64,
                StreamRangeReply,
                u64,
                StreamRangeReply,
                u64,
                Vec<(String, f64)>,
                u64,
                Vec<(String, f64)>,
                u64,
                Vec<(String, f64)>,
            ) = pipe.query_async(&mut self.conn.clone()).await?;
            stats[0].add(sl, age(now_ms, stream_ms(&sr)));
            stats[1].add(hl, age(now_ms, first_score(&hr)));
            stats[2].add(rl, age(now_ms, first_score(&rr)));
            stats[3].add(xl, age(now_ms, first_score(&xr)));
            stats[4].add(dl, age(now_ms, stream_ms(&dr)));
        }
        Ok([("send", stats[0]), ("held", stats[1]), ("retry", stats[2]), ("dead", stats[3]), ("deliver", stats[4])])
    }
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn future_due_times_are_not_late() {
        assert_eq!(age(10_000, Some(4_000)), 6.0);
        assert_eq!(age(10_000, Some(20_000)), 0.0);
        assert_eq!(age(10_000, None), 0.0);
    }
}
