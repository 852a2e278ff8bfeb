//! Consumer-group readers of the per-partition streams (sends, events, deliveries).
//!
//! An entry stays in the group's pending list until its consumer acknowledges it after the
//! work is done: a crash in between means the entry is reclaimed with XAUTOCLAIM and done
//! again (at least once).

use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use crate::domain::VerificationId;

use super::{Conn, Store, StoreError, scripts};

pub const SEND_GROUP: &str = "senders";

/// One message to send.
#[derive(Debug, Clone)]
pub struct SendJob {
    pub entry_id: String,
    pub verification_id: VerificationId,
    /// `initial`, `resend`, `reschedule`, or `held-<kind>` after quiet hours.
    pub kind: String,
    /// Released from a campaign queue: its provider token is already taken.
    pub paced: bool,
}

impl SendJob {
    pub fn from_entry(e: StreamId, partitions: u16) -> Option<Self> {
        let vid: String = e.get("vid")?;
        Some(Self {
            verification_id: VerificationId::parse(&vid, partitions)?,
            kind: e.get("kind").unwrap_or_else(|| "initial".into()),
            paced: e.get::<String>("paced").is_some(),
            entry_id: e.id,
        })
    }
}

/// A consumer of one partition's stream in one group, on its own connection.
pub struct StreamReader {
    conn: Conn,
    stream: String,
    group: &'static str,
    consumer: String,
}

impl StreamReader {
    async fn entries(&mut self, count: usize, block_ms: u64) -> Result<Vec<StreamId>, StoreError> {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query_async(&mut self.conn)
            .await?;
        Ok(reply.map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect()).unwrap_or_default())
    }

    async fn reclaimed(&mut self, count: usize, min_idle_ms: u64) -> Result<Vec<StreamId>, StoreError> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(self.group)
            .arg(&self.consumer)
            .arg(min_idle_ms)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn)
            .await?;
        Ok(reply.claimed)
    }

    /// New entries (`reclaim = None`) or ones a dead consumer left (`Some(min_idle_ms)`).
    pub async fn read(
        &mut self,
        count: usize,
        block_ms: u64,
        reclaim: Option<u64>,
    ) -> Result<Vec<StreamId>, StoreError> {
        match reclaim {
            Some(idle) => self.reclaimed(count, idle).await,
            None => self.entries(count, block_ms).await,
        }
    }
}

/// A stream entry being worked on: what acknowledging it needs.
#[derive(Debug, Clone, Copy)]
pub struct StreamEntry<'a> {
    pub stream: &'a str,
    pub group: &'a str,
    pub id: &'a str,
}

impl Store {
    /// Done with an entry of `stream`: acknowledge and delete it, so the stream stays small.
    pub async fn ack(&self, stream: &str, group: &str, entry_id: &str) -> Result<(), StoreError> {
        let _: i64 = scripts::ACK
            .call()
            .key("stream", stream)
            .arg("group", group)
            .arg("entry_id", entry_id)
            .invoke(&self.conn)
            .await?;
        Ok(())
    }

    /// A reader of `stream` in `group`, creating both on first use.
    pub async fn stream_reader(
        &self,
        stream: String,
        group: &'static str,
        consumer: &str,
        conn: Conn,
    ) -> Result<StreamReader, StoreError> {
        let mut c = conn.clone();
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&stream)
            .arg(group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(e.into());
        }
        Ok(StreamReader { conn, stream, group, consumer: consumer.to_string() })
    }
}
