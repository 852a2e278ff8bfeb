//! Redis, the one store. Every state change is one Lua script on one hash slot; reads are
//! plain commands. The store knows nothing of HTTP.

pub mod attempts;
mod batches;
mod calls;
mod conn;
mod consents;
mod delivery;
mod endpoints;
mod error;
pub mod fields;
mod idempotency;
mod inspect;
mod keys;
mod meta;
mod outbox;
mod pacing;
mod queue;
mod queue_stats;
mod rate_limit;
mod record;
mod recovery;
mod script;
mod scripts;
mod self_service;
mod verifications;
mod webhooks;

use std::time::Duration;

pub use batches::{BATCH_STATES, BatchCounts, SKIPPED};
pub use calls::{CallOutcome, CallReport};
pub use conn::Conn;
pub use consents::{ConsentHistory, ConsentRow, ConsentState, PhoneWithdrawal};
pub use delivery::{Recorded, Report, Sent};
pub use endpoints::{EndpointChange, EndpointRecord, Recovery};
pub use error::StoreError;
pub use idempotency::IdemClaim;
pub use inspect::{NodeInfo, RedisNodes};
pub use keys::Keys;
pub use meta::{LAYOUT, Layout, Stamp};
pub use outbox::OutboxMessage;
pub use pacing::PaceMode;
pub use queue::{SEND_GROUP, SendJob, StreamEntry, StreamReader};
pub use queue_stats::{QueueStat, QueueStats};
pub use rate_limit::{Limit, RateDecision, RateSlot, RateSubject, RateWindows};
pub use record::{CallPlan, CallState, NewVerification, ReceiptSeal, VerificationRecord};
pub use recovery::RecoverOne;
pub use self_service::{ChallengeOutcome, Holder, NewChallenge, PageSession};
pub use verifications::{
    CheckOutcome, CheckSource, CreateOutcome, LinkAnswer, OptOutOutcome, OptOutScope, SimpleOutcome,
};
pub use webhooks::{
    DELIVER_GROUP, DISPATCH_GROUP, DeliveryJob, DeliveryOutcome, EventEntry, EventPageQuery, Fanout, StoredMessage,
    WithdrawOutcome, event_id, parse_event_id, to_delivery, to_event,
};

/// Time-to-live settings that scripts apply.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// How long a finished, not confirmed verification and the event streams are kept.
    pub default_ms: i64,
    /// How long a confirmed verification (the evidence) is kept.
    pub receipt_ms: i64,
    /// How long campaigns may not ask a number again after a decline or a withdrawal.
    pub suppression_ms: i64,
}

/// Handle to Redis: a multiplexed connection, the key schema and retention. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Conn,
    keys: Keys,
    retention: Retention,
    /// Seals webhook endpoint secrets at rest; `None` stores them as they are (unit tests).
    secret_box: Option<crate::domain::SecretBox>,
}

impl Store {
    pub async fn connect(
        url: &str,
        cluster: bool,
        timeout: Duration,
        keys: Keys,
        retention: Retention,
    ) -> Result<Self, StoreError> {
        let conn = Conn::connect(url, cluster, timeout).await?;
        Ok(Self { conn, keys, retention, secret_box: None })
    }

    /// The same store over `conn`. Each HTTP worker thread uses one of its own, so a request's
    /// Redis replies are read on the thread that waits for them, not handed over from another.
    pub fn on(&self, conn: Conn) -> Self {
        Self { conn, ..self.clone() }
    }

    /// The same store, with at most `in_flight` commands in Redis at once (background work).
    pub fn gated(self, in_flight: usize) -> Self {
        Self { conn: self.conn.gated(in_flight), ..self }
    }

    /// Endpoint secrets, phone numbers, addresses and webhook messages are sealed with `b` when
    /// written and opened when read.
    pub fn with_secret_box(mut self, b: crate::domain::SecretBox) -> Self {
        self.secret_box = Some(b);
        self
    }

    /// `plain` (a phone number, an address, a webhook message) as Redis may keep it: sealed,
    /// bound to `context` (the record or message it belongs to). As it is without a box (unit
    /// tests).
    pub fn seal(&self, plain: &str, context: &str) -> String {
        match &self.secret_box {
            Some(b) => b.seal(plain, context),
            None => plain.to_string(),
        }
    }

    /// What [`Store::seal`] kept, opened; a value from before sealing reads as it is. `None`
    /// when it opens under none of the configured server keys (the key it was sealed under was
    /// dropped from configuration).
    pub fn open(&self, stored: &str, context: &str) -> Option<String> {
        match &self.secret_box {
            Some(b) => b.open(stored, context).ok().map(|o| o.text),
            None => Some(stored.to_string()),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A connection of its own, for blocking reads that must not stall the shared one.
    pub fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// Readiness: Redis answers a PING.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    fn minid(&self, now_ms: i64) -> i64 {
        (now_ms - self.retention.default_ms).max(0)
    }

    /// Until when a decline or withdrawal now keeps campaigns away from the number.
    fn suppress_until(&self, now_ms: i64) -> i64 {
        if self.retention.suppression_ms > 0 { now_ms + self.retention.suppression_ms } else { 0 }
    }
}
