//! Batches: `{ov:b:<id>}` names the owner, size and start; each partition keeps the counts of
//! its own verifications of the batch (`{ov:pN}:bc:<id>`), moved by the same scripts that
//! move the verifications, so the counts are exact without a cross-slot write.

use std::collections::HashMap;

use redis::AsyncCommands;

use super::{Store, StoreError, scripts};

/// Every state a batch counts, in the order the API shows them.
pub const BATCH_STATES: [&str; 8] =
    ["queued", "held", "sent", "confirmed", "declined", "expired", "failed", "canceled"];

/// A batch as read back: owner, sizes, start time, counts per state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchCounts {
    pub tenant: String,
    pub items: u64,
    pub created_ms: i64,
    pub counts: Vec<(&'static str, i64)>,
    /// Items that started nothing, by why: `already-consented`, `duplicate-in-batch`.
    pub skipped: Vec<(&'static str, i64)>,
}

/// Why a batch item started nothing although nothing was wrong with it.
pub const SKIPPED: [&str; 2] = ["already-consented", "duplicate-in-batch"];

impl Store {
    /// Records a batch's owner and size, kept a retention period past `keep_until_ms`.
    pub async fn put_batch(
        &self,
        batch: &str,
        tenant: &str,
        items: usize,
        created_ms: i64,
        keep_until_ms: i64,
    ) -> Result<(), StoreError> {
        let _: i64 = scripts::BATCH_PUT
            .call()
            .key("batch", self.keys.batch(batch))
            .arg("tenant", tenant)
            .arg("items", items)
            .arg("created_ms", created_ms)
            .arg("keep_until", keep_until_ms + self.retention.default_ms)
            .invoke(&self.conn)
            .await?;
        Ok(())
    }

    /// Records what each item became (index, row as JSON), once per index.
    pub async fn batch_items_put(&self, batch: &str, rows: &[(usize, String)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut call = scripts::BATCH_ITEMS.call();
        call.key("batch", self.keys.batch(batch));
        for (index, row) in rows {
            call.arg("item", index).arg("item", row);
        }
        let _: i64 = call.invoke(&self.conn).await?;
        Ok(())
    }

    /// The rows of items `from..from + count` (a read: plain `HMGET`); `None` for an index with
    /// no row (beyond the batch, or a batch made before rows were kept).
    pub async fn batch_item_rows(
        &self,
        batch: &str,
        from: usize,
        count: usize,
    ) -> Result<Vec<Option<String>>, StoreError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.batch(batch));
        for i in from..from + count {
            cmd.arg(format!("i:{i}"));
        }
        Ok(cmd.query_async(&mut self.conn.clone()).await?)
    }

    /// Records the items (index, one of [`SKIPPED`]) that started nothing, once per index.
    pub async fn batch_skipped(&self, batch: &str, items: &[(usize, &'static str)]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut call = scripts::BATCH_SKIPPED.call();
        call.key("batch", self.keys.batch(batch));
        for (index, kind) in items {
            call.arg("item", index).arg("item", kind);
        }
        let _: i64 = call.invoke(&self.conn).await?;
        Ok(())
    }

    /// The batch and its counts summed over every partition.
    pub async fn batch(&self, batch: &str) -> Result<Option<BatchCounts>, StoreError> {
        let meta: HashMap<String, String> = self.conn.clone().hgetall(self.keys.batch(batch)).await?;
        let Some(tenant) = meta.get("t").cloned() else { return Ok(None) };
        let reads = self.keys.all_partitions().map(|p| {
            let mut c = self.conn.clone();
            let key = self.keys.batch_counts(p, batch);
            async move { c.hgetall::<_, HashMap<String, i64>>(key).await }
        });
        let mut totals: HashMap<String, i64> = HashMap::new();
        for part in futures_util::future::join_all(reads).await {
            for (state, n) in part? {
                *totals.entry(state).or_default() += n;
            }
        }
        let num = |k: &str| meta.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(Some(BatchCounts {
            tenant,
            items: num("n") as u64,
            created_ms: num("cr"),
            counts: BATCH_STATES.iter().map(|s| (*s, totals.get(*s).copied().unwrap_or(0).max(0))).collect(),
            skipped: SKIPPED
                .iter()
                .map(|kind| (*kind, meta.iter().filter(|(k, v)| k.starts_with("r:") && v == kind).count() as i64))
                .collect(),
        }))
    }
}
