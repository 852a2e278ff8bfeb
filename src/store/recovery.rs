//! Recovering an endpoint: one stored message queued again for it, unless it has it.

use crate::domain::Partition;

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

/// What `recover_one.lua` did with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoverOne {
    Queued,
    /// The endpoint has it (delivered).
    Had,
    /// On its way already, queued by this recovery before, or not a type the endpoint takes.
    Skipped,
    /// The message is no longer kept.
    Gone,
}

impl ScriptReply for RecoverOne {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "queued" => Ok(Self::Queued),
            "had" => Ok(Self::Had),
            "skipped" => Ok(Self::Skipped),
            "gone" => Ok(Self::Gone),
            _ => r.unknown(),
        }
    }
}

impl Store {
    /// Queues `event_id` again for `endpoint`, under the recovery named `tag`. `types` is the
    /// endpoint's subscription, comma-separated ('' = every type).
    pub async fn recover_one(
        &self,
        p: Partition,
        event_id: &str,
        endpoint: &str,
        tag: &str,
        types: &str,
    ) -> Result<RecoverOne, StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        scripts::RECOVER_ONE
            .call()
            .key("message", self.keys.message(p, event_id))
            .key("deliver_stream", self.keys.deliver_stream(p))
            .key("retries", self.keys.retries(p))
            .key("dead_letters", self.keys.dead_letters(p))
            .arg("event_id", event_id)
            .arg("endpoint", endpoint)
            .arg("recovery", tag)
            .arg("types", types)
            .arg("minid", self.minid(now))
            .reply(&self.conn)
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_reply_decodes_every_tag_its_script_answers() {
        crate::store::script::assert_decodes_every_tag::<super::RecoverOne>(&super::scripts::RECOVER_ONE);
    }
}
