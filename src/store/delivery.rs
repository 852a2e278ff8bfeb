//! What happened to a verification's messages: sends, provider attempts, delivery reports.

use crate::domain::VerificationId;

use super::{Store, StoreError, StreamEntry, scripts};

/// A message the transport took.
pub struct Sent<'a> {
    pub now_ms: i64,
    pub announcement_sha256: Option<&'a str>,
    pub new_expiry_ms: Option<i64>,
    pub provider: &'a str,
    pub reference: Option<&'a str>,
    /// Each provider attempt as a compact line ([`super::attempts::encode`]), oldest first.
    pub attempts: &'a [String],
}

impl Store {
    /// Records that a worker handed the message to its transport. An announcement's text hash
    /// is kept as evidence; a message held for quiet hours restarts the expiry clock. The
    /// send-stream `entry` is acknowledged and deleted in the same script.
    pub async fn mark_sent(
        &self,
        id: &VerificationId,
        s: &Sent<'_>,
        entry: &StreamEntry<'_>,
    ) -> Result<(), StoreError> {
        let mut inv = scripts::MARK_SENT.prepare_invoke();
        inv.key(self.keys.verification(id))
            .key(self.keys.deadlines(id.partition()))
            .key(entry.stream)
            .arg(s.now_ms)
            .arg(s.announcement_sha256.unwrap_or(""))
            .arg(s.new_expiry_ms.map(|e| e.to_string()).unwrap_or_default())
            .arg(id.as_str())
            .arg(s.provider)
            .arg(s.reference.unwrap_or(""))
            .arg(self.retention.default_ms)
            .arg(entry.group)
            .arg(entry.id);
        for a in s.attempts {
            inv.arg(a);
        }
        let _: i64 = inv.invoke_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Records attempts and a delivery state; `failed` fails a pending verification (and emits
    /// `verification.failed`), anything else (`retrying`, `delivered`) is only recorded.
    /// `report` names the provider and its reference when this is a delivery report: it is then
    /// recorded (state and line) only as the first verdict on the message last sent, and is
    /// otherwise a no-op (`Ok(false)`); see `lua/send_failed.lua`.
    pub async fn record_delivery_state(
        &self,
        id: &VerificationId,
        state: &str,
        attempts: &[String],
        now_ms: i64,
        report: Option<(&str, Option<&str>)>,
    ) -> Result<bool, StoreError> {
        let mut inv = scripts::SEND_FAILED.prepare_invoke();
        inv.key(self.keys.verification(id))
            .key(self.keys.events(id.partition()))
            .arg(id.as_str())
            .arg(now_ms)
            .arg(self.minid(now_ms))
            .arg(now_ms + self.retention.default_ms)
            .arg(state)
            .arg(report.map_or("", |r| r.0))
            .arg(report.and_then(|r| r.1).unwrap_or(""));
        for a in attempts {
            inv.arg(a);
        }
        let n: i64 = inv.invoke_async(&mut self.conn.clone()).await?;
        Ok(n == 1)
    }
}
