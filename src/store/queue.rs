//! The per-partition send streams, read by workers in a consumer group.
//!
//! An entry stays in the group's pending list until a worker acknowledges it after the
//! transport took the message; entries a dead worker left are reclaimed with XAUTOCLAIM.

use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use crate::domain::{Partition, VerificationId};

use super::{Conn, Store, StoreError, scripts};

const GROUP: &str = "senders";

/// One message to send.
#[derive(Debug, Clone)]
pub struct SendJob {
    pub entry_id: String,
    pub verification_id: VerificationId,
    /// `initial` or `resend`.
    pub kind: String,
}

/// A worker's view of one partition's send stream, on its own connection.
pub struct SendQueue {
    conn: Conn,
    stream: String,
    consumer: String,
    partitions: u16,
}

impl Store {
    /// Opens the queue of `p`, creating the stream and group on first use.
    pub async fn send_queue(
        &self,
        p: Partition,
        consumer: &str,
        conn: Conn,
    ) -> Result<SendQueue, StoreError> {
        let stream = self.keys.send_stream(p);
        let mut c = conn.clone();
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(e.into());
        }
        Ok(SendQueue {
            conn,
            stream,
            consumer: consumer.to_string(),
            partitions: self.keys.partitions(),
        })
    }
}

impl SendQueue {
    fn jobs(&self, ids: Vec<StreamId>) -> Vec<SendJob> {
        ids.into_iter()
            .filter_map(|e| {
                let vid: String = e.get("vid")?;
                let kind: String = e.get("kind").unwrap_or_else(|| "initial".into());
                Some(SendJob {
                    verification_id: VerificationId::parse(&vid, self.partitions)?,
                    entry_id: e.id,
                    kind,
                })
            })
            .collect()
    }

    /// New entries, waiting up to `block_ms` for some to arrive.
    pub async fn read_new(
        &mut self,
        count: usize,
        block_ms: u64,
    ) -> Result<Vec<SendJob>, StoreError> {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
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
        let ids = reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default();
        Ok(self.jobs(ids))
    }

    /// Entries another worker took but did not acknowledge within `min_idle_ms`.
    pub async fn reclaim(
        &mut self,
        count: usize,
        min_idle_ms: u64,
    ) -> Result<Vec<SendJob>, StoreError> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(min_idle_ms)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn)
            .await?;
        Ok(self.jobs(reply.claimed))
    }

    /// Done with an entry: acknowledge and delete it, so the stream stays small.
    pub async fn ack(&mut self, entry_id: &str) -> Result<(), StoreError> {
        let _: i64 = scripts::ACK
            .key(&self.stream)
            .arg(GROUP)
            .arg(entry_id)
            .invoke_async(&mut self.conn)
            .await?;
        Ok(())
    }
}
