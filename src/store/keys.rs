//! Every Redis key name. Keys that one script touches share a `{hash tag}`, hence one slot.

use crate::domain::{Partition, VerificationId};

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
    partitions: u16,
}

impl Keys {
    pub fn new(prefix: &str, partitions: u16) -> Self {
        Self { prefix: prefix.to_string(), partitions }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
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

    /// `{ov:p17}:exq`: the deadline buckets (`{ov:p17}:ex:<bucket>` lists of ids) by their end,
    /// for the expiry sweeper.
    pub fn deadlines(&self, p: Partition) -> String {
        format!("{}:exq", self.tag(p))
    }

    /// `{ov:p17}:ex:<bucket>`: the ids whose deadline falls in one 10-second bucket (the
    /// scripts build it from the bucket number they read in `:exq`).
    pub fn deadline_bucket(&self, p: Partition, bucket: i64) -> String {
        format!("{}:ex:{bucket}", self.tag(p))
    }

    /// `{ov:p17}:b:<sha1>`: a value over 64 bytes, shared by every record with the same text
    /// (the scripts name it by the SHA-1 a record's `<field>@` holds).
    pub fn blob(&self, p: Partition, sha1: &str) -> String {
        format!("{}:b:{sha1}", self.tag(p))
    }

    /// `{ov:p17}:camp:<channel>`: campaign messages on a paced channel, waiting (oldest
    /// first) for a token of the provider account before they go onto `:send`.
    pub fn campaign(&self, p: Partition, channel: &str) -> String {
        format!("{}:camp:{channel}", self.tag(p))
    }

    /// `{ov:p17}:cs:<tenant>:<pseudonym>`: one number's consents by purpose, and `!` = until
    /// when campaigns may not ask it. The number's partition holds all its verifications.
    pub fn consent_index(&self, p: Partition, tenant: &str, pseudonym: &str) -> String {
        format!("{}:cs:{tenant}:{pseudonym}", self.tag(p))
    }

    /// `{ov:p17}:ce:<tenant>:<address pseudonym>`: the consents confirmed through one e-mail
    /// address in this partition (an address's numbers may live in any partition).
    pub fn email_consents(&self, p: Partition, tenant: &str, email_pseudonym: &str) -> String {
        format!("{}:ce:{tenant}:{email_pseudonym}", self.tag(p))
    }

    /// `{ov:p17}:sc:<hash>`: a code that opens a person's consents page, named by the hash of
    /// its id (in the number's partition).
    pub fn self_service_challenge(&self, p: Partition, id_hash: &str) -> String {
        format!("{}:sc:{id_hash}", self.tag(p))
    }

    /// `{ov:p17}:ss:<hash>`: a consents-page session, named by the hash of its cookie, so a
    /// copy of Redis cannot take one over.
    pub fn self_service_session(&self, p: Partition, token_hash: &str) -> String {
        format!("{}:ss:{token_hash}", self.tag(p))
    }

    /// `{ov:p17}:bc:<batch>`: a batch's counts per state, for its verifications in this partition.
    pub fn batch_counts(&self, p: Partition, batch: &str) -> String {
        format!("{}:bc:{batch}", self.tag(p))
    }

    /// `{ov:b:<batch>}`: a batch's owner, size and start time.
    pub fn batch(&self, batch: &str) -> String {
        format!("{{{}:b:{batch}}}", self.prefix)
    }

    /// `{ov:pace}:<provider>`: the send-rate bucket of one provider account.
    pub fn pace(&self, provider: &str) -> String {
        format!("{{{}:pace}}:{provider}", self.prefix)
    }

    /// `{ov:p17}:held`: marketer messages waiting for the send window, by release time.
    pub fn held(&self, p: Partition) -> String {
        format!("{}:held", self.tag(p))
    }

    /// `{ov:p17}:retain`: confirmed calls by the time their recording-retention reminder is due.
    pub fn retention_reminders(&self, p: Partition) -> String {
        format!("{}:retain", self.tag(p))
    }

    /// `{ov:p17}:msg:<event id>`: a webhook message and its per-endpoint delivery state.
    pub fn message(&self, p: Partition, event_id: &str) -> String {
        format!("{}:msg:{event_id}", self.tag(p))
    }

    /// `{ov:meta}`: what the store says about itself (the pseudonym key's fingerprint).
    pub fn meta(&self) -> String {
        format!("{{{}:meta}}", self.prefix)
    }

    /// `{ov:p17}:att:<event id>`: the attempt log of a message, newest first.
    pub fn attempts(&self, p: Partition, event_id: &str) -> String {
        format!("{}:att:{event_id}", self.tag(p))
    }

    /// `{ov:p17}:deliver`: deliveries to make now.
    pub fn deliver_stream(&self, p: Partition) -> String {
        format!("{}:deliver", self.tag(p))
    }

    /// `{ov:p17}:retry`: deliveries waiting for their next attempt, by due time.
    pub fn retries(&self, p: Partition) -> String {
        format!("{}:retry", self.tag(p))
    }

    /// `{ov:p17}:dead`: deliveries that used up their schedule.
    pub fn dead_letters(&self, p: Partition) -> String {
        format!("{}:dead", self.tag(p))
    }

    /// `{ov:p17}:tev:<tenant>`: the tenant's events in this partition, by time.
    pub fn tenant_events(&self, p: Partition, tenant: &str) -> String {
        format!("{}:tev:{tenant}", self.tag(p))
    }

    /// `{ov:t:<tenant>}:ep`: the tenant's webhook endpoints.
    pub fn endpoints(&self, tenant: &str) -> String {
        format!("{{{}:t:{tenant}}}:ep", self.prefix)
    }

    /// The partition that holds events about a phone number with no verification.
    pub fn partition_for(&self, pseudonym: &str) -> Partition {
        let n = u64::from_str_radix(&pseudonym[..8.min(pseudonym.len())], 16).unwrap_or(0);
        Partition((n % u64::from(self.partitions)) as u16)
    }

    /// `{ov:idem:<tenant>}:<key hash>`: an Idempotency-Key and the answer it got.
    pub fn idempotency(&self, tenant: &str, key_hash: &str) -> String {
        format!("{{{}:idem:{tenant}}}:{key_hash}", self.prefix)
    }

    /// A key in partition `p` that never exists: fills a script's KEYS slot when the thing it
    /// names (a verification, its attempts) is absent, keeping every key in one slot.
    pub fn placeholder(&self, p: Partition) -> String {
        format!("{}:none", self.tag(p))
    }

    /// `{ov:rl:<scope>:<subject>}:<window>:<index>`: one fixed-window counter.
    pub fn rate(&self, scope: &str, subject: &str, window_secs: u64, index: u64) -> String {
        format!("{{{}:rl:{scope}:{subject}}}:{window_secs}:{index}", self.prefix)
    }

    /// `{ov:p17}:rl:<scope>:<subject>:<window>:<index>`: a counter beside a number's
    /// verifications, so the script that creates one can count it too.
    pub fn rate_in(&self, p: Partition, scope: &str, subject: &str, window_secs: u64, index: u64) -> String {
        format!("{}:rl:{scope}:{subject}:{window_secs}:{index}", self.tag(p))
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

    /// The key table in docs/ARCHITECTURE.md is what an operator reads to find their data: every key this
    /// module names is in it, spelled as it is built (placeholders in `<...>`).
    #[test]
    fn the_documented_key_table_names_every_key_and_script() {
        let readme = include_str!("../../docs/ARCHITECTURE.md");
        let keys = Keys::new("ov", 16);
        let p = Partition(7);
        let id = VerificationId::random(16).with_partition(p);
        let named = [
            keys.verification(&id).replace(id.as_str(), "<id>"),
            keys.send_stream(p),
            keys.events(p),
            keys.deadlines(p),
            keys.deadline_bucket(p, 9).replace(":9", ":<bucket>"),
            keys.blob(p, "<sha1>"),
            keys.campaign(p, "<channel>"),
            keys.consent_index(p, "<tenant>", "<pseudonym>"),
            keys.email_consents(p, "<tenant>", "<address pseudonym>"),
            keys.self_service_challenge(p, "<hash>"),
            keys.self_service_session(p, "<hash>"),
            keys.batch_counts(p, "<batch>"),
            keys.batch("<batch>"),
            keys.pace("<account>"),
            keys.held(p),
            keys.retention_reminders(p),
            keys.message(p, "<event id>"),
            keys.meta(),
            keys.attempts(p, "<event id>"),
            keys.deliver_stream(p),
            keys.retries(p),
            keys.dead_letters(p),
            keys.tenant_events(p, "<tenant>"),
            keys.endpoints("<tenant>"),
            keys.idempotency("<tenant>", "<key hash>"),
            keys.rate("<scope>", "<pseudonym>", 600, 9).replace(":600:9", ":<window>:<index>"),
            keys.rate_in(p, "<scope>", "<pseudonym>", 600, 9).replace(":600:9", ":<window>:<index>"),
            keys.outbox(),
        ];
        let missing: Vec<String> = named
            .iter()
            .map(|k| k.replace("{ov:p7}", "{ov:p<N>}"))
            .filter(|k| !readme.contains(&format!("`{k}`")))
            .collect();
        assert!(missing.is_empty(), "docs/ARCHITECTURE.md's key table lacks {missing:?}");
        // And every script is listed.
        let scripts =
            std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/lua")).unwrap();
        for entry in scripts {
            let name = entry.unwrap().file_name().to_string_lossy().trim_end_matches(".lua").to_string();
            assert!(readme.contains(&format!("`{name}`")), "docs/ARCHITECTURE.md's script list lacks {name}");
        }
    }
}
