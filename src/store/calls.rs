//! The call method's transitions, retention reminders, and quiet-hours holding.

use redis::AsyncCommands;

use crate::domain::{Partition, Status, VerificationId};

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

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

impl ScriptReply for CallOutcome {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "missing" => Ok(Self::Missing),
            "final" => Ok(Self::Final(r.status(0)?)),
            "moved" => Ok(Self::Moved),
            "needs_window" => Ok(Self::NeedsWindow),
            "confirmed" => Ok(Self::Done("confirmed")),
            "declined" => Ok(Self::Done("declined")),
            "failed" => Ok(Self::Done("failed")),
            "rescheduled" => Ok(Self::Done("rescheduled")),
            _ => r.unknown(),
        }
    }
}

/// Whether retention_due.lua emitted a reminder: not when another sweeper took it first, or
/// the verification is gone.
#[derive(Debug, PartialEq, Eq)]
enum Emitted {
    Yes,
    No,
}

impl ScriptReply for Emitted {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "1" => Ok(Self::Yes),
            "0" => Ok(Self::No),
            _ => r.unknown(),
        }
    }
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
        scripts::CALL_OUTCOME
            .call()
            .key("verification", self.keys.verification(id))
            .key("events", self.keys.events(p))
            .key("deadlines", self.keys.deadlines(p))
            .key("send_stream", self.keys.send_stream(p))
            .key("retention_reminders", self.keys.retention_reminders(p))
            .arg("id", id.as_str())
            .arg("tenant", tenant)
            .arg("outcome", r.outcome)
            .arg("now", now_ms)
            .arg("minid", self.minid(now_ms))
            .arg("keep_default", now_ms + self.retention.default_ms)
            .arg("keep_confirmed", now_ms + self.retention.receipt_ms)
            .arg("expected_window_start", r.expected_window_start_ms)
            .arg("max_reschedules", r.max_reschedules)
            .arg("called_at", r.called_at_ms)
            .arg("agent_id", r.agent_id)
            .arg("rec_uri", uri)
            .arg("rec_sha", sha)
            .arg("rec_dur", dur)
            .arg("retain_until", r.retain_until_ms)
            .arg("remind_at", r.remind_at_ms)
            .arg("new_start", ns)
            .arg("new_end", ne)
            .arg("new_exp", nexp)
            .arg("suppress_until", self.suppress_until(now_ms))
            .reply(&self.conn)
            .await
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
            let emitted: Emitted = scripts::RETENTION_DUE
                .call()
                .key("retention_reminders", self.keys.retention_reminders(p))
                .key("events", self.keys.events(p))
                .key("verification", self.keys.verification(&vid))
                .arg("id", &id)
                .arg("minid", self.minid(now_ms))
                .arg("now", now_ms)
                .reply(&self.conn)
                .await?;
            n += usize::from(emitted == Emitted::Yes);
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
            .call()
            .key("send_stream", self.keys.send_stream(p))
            .key("held", self.keys.held(p))
            .key("verification", self.keys.verification(id))
            .key("deadlines", self.keys.deadlines(p))
            .arg("group", super::SEND_GROUP)
            .arg("entry_id", entry_id)
            .arg("member", format!("{id}|held-{kind}"))
            .arg("release_at", release_at_ms)
            .arg("id", id.as_str())
            .arg("new_expiry", new_expiry_ms.map(|e| e.to_string()).unwrap_or_default())
            .arg("retention_ms", self.retention.default_ms)
            .invoke(&self.conn)
            .await?;
        Ok(())
    }

    /// Puts held messages whose window opened back on the send stream; returns how many.
    pub async fn release_held(&self, p: Partition, now_ms: i64, limit: usize) -> Result<usize, StoreError> {
        let n: usize = scripts::DUE_RETRIES
            .call()
            .key("delayed", self.keys.held(p))
            .key("stream", self.keys.send_stream(p))
            .arg("now", now_ms)
            .arg("limit", limit)
            .arg("minid", self.minid(now_ms))
            .arg("field_a", "vid")
            .arg("field_b", "kind")
            .invoke(&self.conn)
            .await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::script::assert_decodes_every_tag;

    #[test]
    fn each_reply_decodes_every_tag_its_script_answers() {
        assert_decodes_every_tag::<CallOutcome>(&scripts::CALL_OUTCOME);
        assert_decodes_every_tag::<Emitted>(&scripts::RETENTION_DUE);
    }
}
