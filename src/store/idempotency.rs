//! Idempotency-Key records for the POSTs that change existing things (check, resend, cancel,
//! call outcomes, withdrawals, endpoints, redeliveries): `{ov:idem:<tenant>}:<key hash>`.
//! A kept answer is sealed like an endpoint record: it may carry a new webhook secret, or the
//! number a withdrawal named, and a Redis dump must yield neither.

use super::{Store, StoreError, scripts};

#[derive(Debug, PartialEq, Eq)]
pub enum IdemClaim {
    /// Ours to run; finish it with [`Store::idem_finish`].
    New,
    /// The same key is being served right now.
    Running,
    /// The same key came with another request.
    Mismatch,
    /// Served before: replay this answer.
    Done { status: u16, body: String },
}

/// Associated data: a sealed answer opens only under its own tenant and key.
fn context(tenant: &str, key_hash: &str) -> String {
    format!("idempotency:{tenant}:{key_hash}")
}

impl Store {
    pub async fn idem_begin(&self, tenant: &str, key_hash: &str, request_hash: &str) -> Result<IdemClaim, StoreError> {
        let reply: Vec<String> = scripts::IDEM_BEGIN
            .key(self.keys.idempotency(tenant, key_hash))
            .arg(request_hash)
            .arg(60_000)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match reply.as_slice() {
            [n] if n == "new" => IdemClaim::New,
            [r] if r == "running" => IdemClaim::Running,
            [m] if m == "mismatch" => IdemClaim::Mismatch,
            [_, status, body] => {
                let body = self
                    .open(body, &context(tenant, key_hash))
                    .ok_or_else(|| StoreError::Corrupt("a kept answer opens under no configured server key".into()))?;
                IdemClaim::Done { status: status.parse().unwrap_or(200), body }
            }
            _ => return Err(StoreError::Corrupt("unexpected idempotency reply".into())),
        })
    }

    /// Keeps the answer for the retention period, or (`status = None`) releases the key.
    pub async fn idem_finish(
        &self,
        tenant: &str,
        key_hash: &str,
        request_hash: &str,
        answer: Option<(u16, &str)>,
    ) -> Result<(), StoreError> {
        let _: i64 = scripts::IDEM_FINISH
            .key(self.keys.idempotency(tenant, key_hash))
            .arg(request_hash)
            .arg(answer.map(|a| a.0.to_string()).unwrap_or_default())
            .arg(answer.map_or(String::new(), |a| self.seal(a.1, &context(tenant, key_hash))))
            .arg(self.retention.default_ms.min(86_400_000))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
