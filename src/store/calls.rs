//! The call method's transitions, retention reminders, and quiet-hours holding.

use redis::AsyncCommands;

use crate::domain::{Partition, Status, VerificationId};

use super::{Store, StoreError, scripts};

/// What the marketer reported.
#[derive(Debug, Clone)]
pub struct CallReport<'a> {
    /// `confirmed`, `declined` or `unreachable`.
    pub outcome: &'a str,
    pub expected_window_start_ms: i64,
    pub called_at_ms: i64,
    pub agent_id: &'a str,
    pub recording: Option<(&'a str, &'a str, u64)>,
    pub retain_until_ms: i64,
    pub remind_at_ms: i64,
    /// For `unreachable`: the next window and the new expiry.
    pub new_window: Option<(i64, i64, i64)>,
    pub max_reschedules: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Missing,
    Final(Status),
    /// The window changed between the checks and the report: try again.
    Moved,
    NeedsWindow,
    Done(&'static str),
}

impl Store {
    pub async fn call_outcome(
        &self,
        id: &VerificationId,
        tenant: &str,
        r: &CallReport<'_>,
        now_ms: i64,
    ) -> Result<CallOutcome, StoreError> {
        let p = id.partition();
        let (uri, sha, dur) = r.recording.unwrap_or(("", "", 0));
        let (ns, ne, nexp) = r.new_window.map_or((String::new(), String::new(), String::new()), |(s, e, x)| {
            (s.to_string(), e.to_string(), x.to_string())
        });
        let reply: Vec<String> = scripts::CALL_OUTCOME
            .key(self.keys.verification(id))
            .key(self.keys.events(p))
            .key(self.keys.deadlines(p))
            .key(self.keys.send_stream(p))
            .key(self.keys.retention_reminders(p))
            .arg(id.as_str())
            .arg(tenant)
            .arg(r.outcome)
            .arg(now_ms)
            .arg(self.minid(now_ms))
            .arg(now_ms + self.retention.default_ms)
            .arg(now_ms + self.retention.receipt_ms)
            .arg(r.expected_window_start_ms)
            .arg(r.max_reschedules)
            .arg(r.called_at_ms)
            .arg(r.agent_id)
            .arg(uri)
            .arg(sha)
            .arg(dur)
            .arg(r.retain_until_ms)
            .arg(r.remind_at_ms)
            .arg(ns)
            .arg(ne)
            .arg(nexp)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match reply.first().map(String::as_str) {
            Some("missing") => CallOutcome::Missing,
            Some("final") => CallOutcome::Final(
                Status::parse(reply.get(1).map_or("", String::as_str))
                    .ok_or_else(|| StoreError::Corrupt("bad status".into()))?,
            ),
            Some("moved") => CallOutcome::Moved,
            Some("needs_window") => CallOutcome::NeedsWindow,
            Some("confirmed") => CallOutcome::Done("confirmed"),
            Some("declined") => CallOutcome::Done("declined"),
            Some("failed") => CallOutcome::Done("failed"),
            Some("rescheduled") => CallOutcome::Done("rescheduled"),
            _ => return Err(StoreError::Corrupt("unexpected call-outcome reply".into())),
        })
    }

    /// Emits `recording.retention_due` for every reminder that is due; returns how many.
    pub async fn retention_reminders_due(&self, p: Partition, now_ms: i64, limit: usize) -> Result<usize, StoreError> {
        let ids: Vec<String> = self
            .conn
            .clone()
            .zrangebyscore_limit(self.keys.retention_reminders(p), "-inf", now_ms, 0, limit as isize)
            .await?;
        let mut n = 0;
        for id in ids {
            let Some(vid) = VerificationId::parse(&id, self.keys.partitions()) else { continue };
            let emitted: i64 = scripts::RETENTION_DUE
                .key(self.keys.retention_reminders(p))
                .key(self.keys.events(p))
                .key(self.keys.verification(&vid))
                .arg(&id)
                .arg(self.minid(now_ms))
                .arg(now_ms)
                .invoke_async(&mut self.conn.clone())
                .await?;
            n += emitted as usize;
        }
        Ok(n)
    }

    /// Parks a send until `release_at_ms` (quiet hours) and acknowledges its stream entry.
    pub async fn hold_send(
        &self,
        id: &VerificationId,
        entry_id: &str,
        kind: &str,
        release_at_ms: i64,
        new_expiry_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let p = id.partition();
        let _: i64 = scripts::HOLD
            .key(self.keys.send_stream(p))
            .key(self.keys.held(p))
            .key(self.keys.verification(id))
            .key(self.keys.deadlines(p))
            .arg(super::SEND_GROUP)
            .arg(entry_id)
            .arg(format!("{id}|held-{kind}"))
            .arg(release_at_ms)
            .arg(id.as_str())
            .arg(new_expiry_ms.map(|e| e.to_string()).unwrap_or_default())
            .arg(self.retention.default_ms)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Puts held messages whose window opened back on the send stream; returns how many.
    pub async fn release_held(&self, p: Partition, now_ms: i64, limit: usize) -> Result<usize, StoreError> {
        let n: usize = scripts::DUE_RETRIES
            .key(self.keys.held(p))
            .key(self.keys.send_stream(p))
            .arg(now_ms)
            .arg(limit)
            .arg(self.minid(now_ms))
            .arg("vid")
            .arg("kind")
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(n)
    }
}
