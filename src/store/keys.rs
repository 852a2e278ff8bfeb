//! Every Redis key name. Keys that one script touches share a `{hash tag}`, hence one slot.

use crate::domain::{Partition, VerificationId};

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
    partitions: u16,
}

impl Keys {
    pub fn new(prefix: &str, partitions: u16) -> Self {
        Self {
            prefix: prefix.to_string(),
            partitions,
        }
    }

    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    fn tag(&self, p: Partition) -> String {
        format!("{{{}:p{}}}", self.prefix, p.0)
    }

    /// `{ov:p17}:v:<id>`: the verification hash.
    pub fn verification(&self, id: &VerificationId) -> String {
        format!("{}:v:{}", self.tag(id.partition()), id)
    }

    /// `{ov:p17}:send`: the stream of messages to send.
    pub fn send_stream(&self, p: Partition) -> String {
        format!("{}:send", self.tag(p))
    }

    /// `{ov:p17}:events`: the transactional outbox of state changes.
    pub fn events(&self, p: Partition) -> String {
        format!("{}:events", self.tag(p))
    }

    /// `{ov:rl:<scope>:<subject>}:<window>:<index>`: one fixed-window counter.
    pub fn rate(&self, scope: &str, subject: &str, window_secs: u64, index: u64) -> String {
        format!(
            "{{{}:rl:{scope}:{subject}}}:{window_secs}:{index}",
            self.prefix
        )
    }

    /// `{ov:dev}:outbox`: what the console transport "sent" (dev mode only).
    pub fn outbox(&self) -> String {
        format!("{{{}:dev}}:outbox", self.prefix)
    }

    pub fn all_partitions(&self) -> impl Iterator<Item = Partition> + use<> {
        (0..self.partitions).map(Partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_verification_share_a_hash_tag() {
        let keys = Keys::new("ov", 16);
        let id = VerificationId::random(16);
        let tag = format!("{{ov:p{}}}", id.partition().0);
        assert!(keys.verification(&id).starts_with(&tag));
        assert!(keys.events(id.partition()).starts_with(&tag));
        assert!(keys.send_stream(id.partition()).starts_with(&tag));
    }
}
