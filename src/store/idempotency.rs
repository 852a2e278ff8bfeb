//! Idempotency-Key records for the POSTs that change existing things (check, resend, cancel,
//! call outcomes, withdrawals, endpoints, redeliveries): `{ov:idem:<tenant>}:<key hash>`.
//! A kept answer is sealed like an endpoint record: it may carry a new webhook secret, or the
//! number a withdrawal named, and a Redis dump must yield neither.

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

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

impl ScriptReply for IdemClaim {
    /// `done` carries the kept answer still sealed; `idem_begin` opens it.
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "new" => Ok(Self::New),
            "running" => Ok(Self::Running),
            "mismatch" => Ok(Self::Mismatch),
            "done" => Ok(Self::Done { status: r.int(0)?.try_into().unwrap_or(200), body: r.str(1)? }),
            _ => r.unknown(),
        }
    }
}

/// Associated data: a sealed answer opens only under its own tenant and key.
fn context(tenant: &str, key_hash: &str) -> String {
    format!("idempotency:{tenant}:{key_hash}")
}

impl Store {
    pub async fn idem_begin(&self, tenant: &str, key_hash: &str, request_hash: &str) -> Result<IdemClaim, StoreError> {
        let claim: IdemClaim = scripts::IDEM_BEGIN
            .call()
            .key("record", self.keys.idempotency(tenant, key_hash))
            .arg("request_hash", request_hash)
            .arg("lock_ms", 60_000)
            .reply(&self.conn)
            .await?;
        Ok(match claim {
            IdemClaim::Done { status, body } => {
                let body = self
                    .open(&body, &context(tenant, key_hash))
                    .ok_or_else(|| StoreError::Corrupt("a kept answer opens under no configured server key".into()))?;
                IdemClaim::Done { status, body }
            }
            other => other,
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
        // 0 when the key is no longer ours (it timed out and another request took it).
        let _: i64 = scripts::IDEM_FINISH
            .call()
            .key("record", self.keys.idempotency(tenant, key_hash))
            .arg("request_hash", request_hash)
            .arg("status", answer.map(|a| a.0.to_string()).unwrap_or_default())
            .arg("body", answer.map_or(String::new(), |a| self.seal(a.1, &context(tenant, key_hash))))
            .arg("keep_ms", self.retention.default_ms.min(86_400_000))
            .invoke(&self.conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idem_begin_replies_decode_every_tag_the_script_answers() {
        crate::store::script::assert_decodes_every_tag::<IdemClaim>(&scripts::IDEM_BEGIN);
    }
}
