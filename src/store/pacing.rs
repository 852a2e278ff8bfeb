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
            .key(self.keys.pace(account))
            .arg(rate.max(1))
            .arg(rate.max(1))
            .arg(want)
            .arg(mode)
            .invoke_async(&mut self.conn.clone())
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
            .key(self.keys.send_stream(p))
            .key(self.keys.campaign(p, channel))
            .key(self.keys.verification(id))
            .key(self.keys.deadlines(p))
            .arg(SEND_GROUP)
            .arg(entry_id)
            .arg(format!("{id}|{kind}"))
            .arg(now_ms)
            .arg(new_expiry_ms.map(|e| e.to_string()).unwrap_or_default())
            .arg(id.as_str())
            .arg(self.retention.default_ms)
            .invoke_async(&mut self.conn.clone())
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
        Ok(scripts::RELEASE_CAMPAIGN
            .key(self.keys.campaign(p, channel))
            .key(self.keys.send_stream(p))
            .arg(n)
            .arg(self.minid(now))
            .invoke_async(&mut self.conn.clone())
            .await?)
    }
}
