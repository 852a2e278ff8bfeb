//! What happened to a verification's messages: sends, provider attempts, delivery reports.

use crate::domain::{MessageState, VerificationId};

use super::{
    Store, StoreError, StreamEntry,
    script::{Reply, ScriptReply},
    scripts,
};

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

impl ScriptReply for Recorded {
    /// 1 recorded, 2 a report that settles nothing, 3 too early, 0 the record is gone.
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "1" => Ok(Self::Yes),
            "0" | "2" => Ok(Self::Ignored),
            "3" => Ok(Self::TooEarly),
            _ => r.unknown(),
        }
    }
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
        let mut call = scripts::MARK_SENT.call();
        call.key("verification", self.keys.verification(id))
            .key("deadlines", self.keys.deadlines(id.partition()))
            .key("send_stream", entry.stream)
            .arg("now", s.now_ms)
            .arg("announcement_sha256", s.announcement_sha256.unwrap_or(""))
            .arg("new_expiry", s.new_expiry_ms.map(|e| e.to_string()).unwrap_or_default())
            .arg("id", id.as_str())
            .arg("provider", s.provider)
            .arg("reference", s.reference.unwrap_or(""))
            .arg("retention_ms", self.retention.default_ms)
            .arg("group", entry.group)
            .arg("entry_id", entry.id);
        for a in s.attempts {
            call.arg("attempt", a);
        }
        // 0 when the record is gone (it expired meanwhile): nothing to record either way.
        let _: i64 = call.invoke(&self.conn).await?;
        Ok(())
    }

    /// Records attempts and a delivery state; `failed` fails a pending verification (and emits
    /// `verification.failed`), anything else (`retrying`, `delivered`) is only recorded.
    /// A delivery `report` is recorded (state and line) only as the first verdict on the message
    /// last sent, and is otherwise ignored; see `lua/send_failed.lua`.
    pub async fn record_delivery_state(
        &self,
        id: &VerificationId,
        state: MessageState,
        attempts: &[String],
        now_ms: i64,
        report: Option<&Report<'_>>,
    ) -> Result<Recorded, StoreError> {
        let mut call = scripts::SEND_FAILED.call();
        call.key("verification", self.keys.verification(id))
            .key("events", self.keys.events(id.partition()))
            .arg("id", id.as_str())
            .arg("now", now_ms)
            .arg("minid", self.minid(now_ms))
            .arg("keep_until", now_ms + self.retention.default_ms)
            .arg("state", state.as_str())
            .arg("report_provider", report.map_or("", |r| r.provider))
            .arg("report_ref", report.map_or("", |r| r.reference))
            .arg("report_send", report.and_then(|r| r.send_number).map(|n| n.to_string()).unwrap_or_default());
        for a in attempts {
            call.arg("attempt", a);
        }
        call.reply(&self.conn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_failed_replies_decode_every_code_the_script_answers() {
        crate::store::script::assert_decodes_every_tag::<Recorded>(&scripts::SEND_FAILED);
    }
}
