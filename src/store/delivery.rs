//! What happened to a verification's messages: sends, provider attempts, delivery reports.

use crate::domain::VerificationId;

use super::{Store, StoreError, StreamEntry, scripts};

/// A provider's delivery report, as matched to one send.
pub struct Report<'a> {
    pub provider: &'a str,
    /// The provider's id of the send, or our reference of it.
    pub reference: &'a str,
    /// The send the reference names, when it names one (CM.com's does).
    pub send_number: Option<u32>,
}

/// What recording a delivery state did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Yes,
    /// A report that settles nothing: about an earlier send, a second verdict, a replay; or a
    /// verification that is gone.
    Ignored,
    /// A report about a send the worker has not recorded yet: the provider should try again.
    TooEarly,
}

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
    /// A delivery `report` is recorded (state and line) only as the first verdict on the message
    /// last sent, and is otherwise ignored; see `lua/send_failed.lua`.
    pub async fn record_delivery_state(
        &self,
        id: &VerificationId,
        state: &str,
        attempts: &[String],
        now_ms: i64,
        report: Option<&Report<'_>>,
    ) -> Result<Recorded, StoreError> {
        let mut inv = scripts::SEND_FAILED.prepare_invoke();
        inv.key(self.keys.verification(id))
            .key(self.keys.events(id.partition()))
            .arg(id.as_str())
            .arg(now_ms)
            .arg(self.minid(now_ms))
            .arg(now_ms + self.retention.default_ms)
            .arg(state)
            .arg(report.map_or("", |r| r.provider))
            .arg(report.map_or("", |r| r.reference))
            .arg(report.and_then(|r| r.send_number).map(|n| n.to_string()).unwrap_or_default());
        for a in attempts {
            inv.arg(a);
        }
        let n: i64 = inv.invoke_async(&mut self.conn.clone()).await?;
        match n {
            1 => Ok(Recorded::Yes),
            0 | 2 => Ok(Recorded::Ignored),
            3 => Ok(Recorded::TooEarly),
            other => Err(StoreError::Corrupt(format!("send_failed.lua answered {other}"))),
        }
    }
}
