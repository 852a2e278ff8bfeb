//! Send pacing: a token bucket per provider account (`{ov:pace}:<account>`) and, per
//! partition and channel, the queue where campaign messages wait for a token.

use redis::AsyncCommands;

use crate::domain::{Partition, VerificationId};

use super::{SEND_GROUP, Store, StoreError, scripts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaceMode {
    /// Whole tokens available now, up to the number asked for.
    Take,
    /// A token even when none is left (a person is waiting); later campaigns get less.
    Debt,
    /// Tokens taken and not used.
    Give,
}

impl Store {
    /// Takes or returns tokens of `account`: `(granted, ms until the next token)`.
    pub async fn pace(&self, account: &str, rate: u32, want: u32, mode: PaceMode) -> Result<(u32, u64), StoreError> {
        let mode = match mode {
            PaceMode::Take => "take",
            PaceMode::Debt => "debt",
            PaceMode::Give => "give",
        };
        let (granted, wait): (u32, u64) = scripts::PACE
            .call()
            .key("bucket", self.keys.pace(account))
            .arg("rate", rate.max(1))
            .arg("burst", rate.max(1))
            .arg("want", want)
            .arg("mode", mode)
            .invoke(&self.conn)
            .await?;
        Ok((granted, wait))
    }

    /// Moves a campaign message from the send stream to its channel's campaign queue.
    pub async fn to_campaign(
        &self,
        id: &VerificationId,
        entry_id: &str,
        kind: &str,
        channel: &str,
        now_ms: i64,
        new_expiry_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let p = id.partition();
        let _: i64 = scripts::TO_CAMPAIGN
            .call()
            .key("send_stream", self.keys.send_stream(p))
            .key("campaign", self.keys.campaign(p, channel))
            .key("verification", self.keys.verification(id))
            .key("deadlines", self.keys.deadlines(p))
            .arg("group", SEND_GROUP)
            .arg("entry_id", entry_id)
            .arg("member", format!("{id}|{kind}"))
            .arg("now", now_ms)
            .arg("new_expiry", new_expiry_ms.map(|e| e.to_string()).unwrap_or_default())
            .arg("id", id.as_str())
            .arg("retention_ms", self.retention.default_ms)
            .invoke(&self.conn)
            .await?;
        Ok(())
    }

    /// How many campaign messages wait in a partition's queue for `channel`.
    pub async fn campaign_len(&self, p: Partition, channel: &str) -> Result<u64, StoreError> {
        Ok(self.conn.clone().zcard(self.keys.campaign(p, channel)).await?)
    }

    /// Puts up to `n` waiting campaign messages onto the send stream; returns how many.
    pub async fn release_campaign(&self, p: Partition, channel: &str, n: u32) -> Result<u32, StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        scripts::RELEASE_CAMPAIGN
            .call()
            .key("campaign", self.keys.campaign(p, channel))
            .key("send_stream", self.keys.send_stream(p))
            .arg("n", n)
            .arg("minid", self.minid(now))
            .invoke(&self.conn)
            .await
    }
}
