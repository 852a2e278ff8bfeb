//! The dev outbox: what the console transport "sent", newest first, shared by all processes.

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Store, StoreError, scripts};

/// Kept so a dev session stays small.
const OUTBOX_MAX: isize = 1000;

/// Each message is sealed in Redis (it holds the address, the code and the links), bound to
/// this: a dev Redis holds no number either.
const SEAL_CONTEXT: &str = "dev-outbox";

/// One message as a person would have received it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutboxMessage {
    pub id: String,
    pub verification_id: String,
    pub channel: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Email only: the extra headers, such as `List-Unsubscribe`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    pub created_at: String,
}

impl Store {
    pub async fn outbox_push(&self, m: &OutboxMessage) -> Result<(), StoreError> {
        let json = serde_json::to_string(m).map_err(|e| StoreError::unreadable("outbox message", e))?;
        let json = self.seal(&json, SEAL_CONTEXT);
        let _: i64 = scripts::OUTBOX_PUSH
            .call()
            .key("outbox", self.keys.outbox())
            .arg("message", json)
            .arg("max_len", OUTBOX_MAX)
            .invoke(&self.conn)
            .await?;
        Ok(())
    }

    /// Newest first, optionally only those sent to `to`. A message sealed under a server key
    /// no longer configured (an ephemeral dev key before a restart) is left out.
    pub async fn outbox_list(&self, to: Option<&str>) -> Result<Vec<OutboxMessage>, StoreError> {
        let raw: Vec<String> = self.conn.clone().lrange(self.keys.outbox(), 0, OUTBOX_MAX - 1).await?;
        Ok(raw
            .iter()
            .filter_map(|s| self.open(s, SEAL_CONTEXT))
            .filter_map(|s| serde_json::from_str::<OutboxMessage>(&s).ok())
            .filter(|m| to.is_none_or(|t| m.to == t))
            .collect())
    }
}
