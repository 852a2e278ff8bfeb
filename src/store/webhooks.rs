//! Webhook messages: fan-out from the event streams, deliveries, retries, dead letters.

use std::collections::HashMap;

use redis::{AsyncCommands, streams::StreamId};

use crate::domain::{Partition, WebhookOutcome, WebhookState};

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

pub const DISPATCH_GROUP: &str = "dispatch";
pub const DELIVER_GROUP: &str = "deliver";

/// `evt_<partition hex>_<stream id>`: stable across retries, names its partition.
pub fn event_id(p: Partition, stream_id: &str) -> String {
    format!("evt_{:04x}_{stream_id}", p.0)
}

pub fn parse_event_id(id: &str, partitions: u16) -> Option<Partition> {
    let rest = id.strip_prefix("evt_")?;
    let (p, sid) = rest.split_once('_')?;
    let p = u16::from_str_radix(p, 16).ok().filter(|p| *p < partitions)?;
    let (ms, seq) = sid.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(ms) && digits(seq)).then_some(Partition(p))
}

/// Which page of a tenant's events: a time range, an order, and where the page before ended.
#[derive(Debug, Clone, Default)]
pub struct EventPageQuery {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub ascending: bool,
    /// The (time, id) of the last event of the page before.
    pub after: Option<(i64, String)>,
    pub limit: usize,
    /// Read this partition only.
    pub partition: Option<Partition>,
}

/// What withdrawing a verification did.
#[derive(Debug, PartialEq, Eq)]
pub enum WithdrawOutcome {
    Withdrawn(String),
    Already,
    NotConfirmed,
    Missing,
}

impl ScriptReply for WithdrawOutcome {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "withdrawn" => Ok(Self::Withdrawn(r.str(0)?)),
            "already" => Ok(Self::Already),
            "not_confirmed" => Ok(Self::NotConfirmed),
            "missing" => Ok(Self::Missing),
            _ => r.unknown(),
        }
    }
}

/// What delivery_result.lua did: 0 when the message is gone (trimmed), else 1.
#[derive(Debug)]
enum AttemptRecorded {
    Yes,
    MessageGone,
}

impl ScriptReply for AttemptRecorded {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "1" => Ok(Self::Yes),
            "0" => Ok(Self::MessageGone),
            _ => r.unknown(),
        }
    }
}

/// One entry of an events stream.
#[derive(Debug, Clone)]
pub struct EventEntry {
    pub entry_id: String,
    pub event_type: String,
    pub verification_id: String,
    pub tenant: String,
    pub at_ms: i64,
    /// The number of a withdrawal for a number with no verification here, sealed as stored:
    /// open it with [`Store::event_phone`].
    pub phone: Option<String>,
    pub source: Option<String>,
}

/// What a sealed phone number in an event is bound to: its tenant and time.
pub(super) fn event_phone_context(tenant: &str, at_ms: i64) -> String {
    format!("event:{tenant}:{at_ms}:phone")
}

/// What a sealed message body is bound to: its event id.
fn message_context(event_id: &str) -> String {
    format!("message:{event_id}")
}

/// One delivery to make.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub entry_id: String,
    pub event_id: String,
    pub endpoint_id: String,
    /// The fan-out's own entry carries the tenant and the body (a first attempt: no read of
    /// the message needed); a retry's or a redelivery's entry does not.
    pub first: Option<FirstAttempt>,
}

/// What a first delivery needs of its message, carried in the deliver entry.
#[derive(Debug, Clone)]
pub struct FirstAttempt {
    pub tenant: String,
    /// Sealed as stored: open it with [`Store::open_body`].
    pub body: String,
}

/// What the deliverer needs of a message.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub event_type: String,
    pub tenant: String,
    pub at_ms: i64,
    /// Opened; empty when it opens under none of the configured server keys.
    pub body: String,
    /// Endpoint id to (state, attempts).
    pub deliveries: Vec<(String, WebhookState, u32)>,
}

/// What `fanout` writes.
pub struct Fanout<'a> {
    pub partition: Partition,
    pub entry_id: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub tenant: &'a str,
    pub at_ms: i64,
    pub body: &'a str,
    /// The receipt's seal, kept on the verification (the receipt is rebuilt from it).
    pub seal: Option<&'a super::ReceiptSeal>,
    pub verification_key: String,
    /// A finished verification's number and address, sealed (see [`Store::sealed_contact`]):
    /// written over the plain ones its record held while it was open.
    pub sealed_contact: Option<(String, Option<String>)>,
    pub endpoint_ids: Vec<String>,
}

/// What `delivery_result` records.
pub struct DeliveryOutcome<'a> {
    pub partition: Partition,
    pub entry_id: &'a str,
    pub event_id: &'a str,
    pub endpoint_id: &'a str,
    pub outcome: WebhookOutcome,
    pub attempt_json: &'a str,
    pub due_ms: i64,
    pub now_ms: i64,
}

pub fn to_event(e: StreamId) -> Option<EventEntry> {
    Some(EventEntry {
        event_type: e.get("type")?,
        verification_id: e.get("vid").unwrap_or_default(),
        tenant: e.get("tenant")?,
        at_ms: e.get("at")?,
        phone: e.get("phone"),
        source: e.get("src"),
        entry_id: e.id,
    })
}

pub fn to_delivery(e: StreamId) -> Option<DeliveryJob> {
    let first = match (e.get("t"), e.get("b")) {
        (Some(tenant), Some(body)) => Some(FirstAttempt { tenant, body }),
        _ => None,
    };
    Some(DeliveryJob { event_id: e.get("eid")?, endpoint_id: e.get("ep")?, entry_id: e.id, first })
}

impl Store {
    /// The number an event names (a withdrawal for a number with no verification here),
    /// opened. `None` when the event names none, or it opens under no configured server key.
    pub fn event_phone(&self, e: &EventEntry) -> Option<String> {
        let sealed = e.phone.as_deref().filter(|p| !p.is_empty())?;
        self.open(sealed, &event_phone_context(&e.tenant, e.at_ms))
    }

    /// A message body as Redis keeps it (message hash and deliver entry), opened. A webhook
    /// message carries the phone number, the address and the evidence: it is sealed at rest,
    /// bound to its event id, and opened only to be sent or shown to its tenant.
    pub fn open_body(&self, event_id: &str, stored: &str) -> Option<String> {
        self.open(stored, &message_context(event_id))
    }

    pub async fn fanout(&self, f: &Fanout<'_>) -> Result<(), StoreError> {
        let now = f.at_ms.max(chrono::Utc::now().timestamp_millis());
        let body = self.seal(f.body, &message_context(f.event_id));
        let mut call = scripts::FANOUT.call();
        call.key("events", self.keys.events(f.partition))
            .key("message", self.keys.message(f.partition, f.event_id))
            .key("deliver_stream", self.keys.deliver_stream(f.partition))
            .key("tenant_events", self.keys.tenant_events(f.partition, f.tenant))
            .key("verification", &f.verification_key)
            .arg("group", DISPATCH_GROUP)
            .arg("entry_id", f.entry_id)
            .arg("event_id", f.event_id)
            .arg("type", f.event_type)
            .arg("tenant", f.tenant)
            .arg("at", f.at_ms)
            .arg("body", &body)
            .arg("keep_until", now + self.retention.default_ms)
            .arg("minid", self.minid(now));
        // 86 base64url characters, in two halves of at most 64 bytes each (see record.rs).
        let (kid, sig) = f.seal.map_or(("", ""), |s| (s.kid.as_str(), s.signature.as_str()));
        let half = sig.len() / 2;
        call.arg("receipt_kid", kid)
            .arg("signature_a", &sig[..half])
            .arg("signature_b", &sig[half..])
            .arg("receipt_id", f.seal.map_or("", |s| s.receipt_id.as_str()));
        let (phone, to) = f.sealed_contact.as_ref().map_or(("", ""), |(p, t)| (p.as_str(), t.as_deref().unwrap_or("")));
        call.arg("sealed_phone", phone).arg("sealed_to", to);
        for ep in &f.endpoint_ids {
            call.arg("endpoint", ep);
        }
        let _: i64 = call.invoke(&self.conn).await?;
        Ok(())
    }

    pub async fn message(&self, p: Partition, event_id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let h: HashMap<String, String> = self.conn.clone().hgetall(self.keys.message(p, event_id)).await?;
        if h.is_empty() {
            return Ok(None);
        }
        let eps = h.get("eps").cloned().unwrap_or_default();
        let deliveries =
            eps.split(',')
                .filter(|s| !s.is_empty())
                .map(|ep| {
                    let state = match h.get(&format!("s:{ep}")) {
                        Some(s) => WebhookState::parse(s)
                            .ok_or_else(|| StoreError::Corrupt(format!("delivery state {s:?}")))?,
                        None => WebhookState::Pending,
                    };
                    let n = h.get(&format!("n:{ep}")).and_then(|n| n.parse().ok()).unwrap_or(0);
                    Ok((ep.to_string(), state, n))
                })
                .collect::<Result<_, StoreError>>()?;
        Ok(Some(StoredMessage {
            event_type: h.get("type").cloned().unwrap_or_default(),
            tenant: h.get("tenant").cloned().unwrap_or_default(),
            at_ms: h.get("at").and_then(|s| s.parse().ok()).unwrap_or(0),
            body: h.get("body").and_then(|b| self.open_body(event_id, b)).unwrap_or_default(),
            deliveries,
        }))
    }

    pub async fn record_delivery(&self, o: &DeliveryOutcome<'_>) -> Result<(), StoreError> {
        let _: AttemptRecorded = scripts::DELIVERY_RESULT
            .call()
            .key("deliver_stream", self.keys.deliver_stream(o.partition))
            .key("message", self.keys.message(o.partition, o.event_id))
            .key("attempts", self.keys.attempts(o.partition, o.event_id))
            .key("retries", self.keys.retries(o.partition))
            .key("dead_letters", self.keys.dead_letters(o.partition))
            .arg("group", DELIVER_GROUP)
            .arg("entry_id", o.entry_id)
            .arg("event_id", o.event_id)
            .arg("endpoint_id", o.endpoint_id)
            .arg("outcome", o.outcome.as_str())
            .arg("attempt_json", o.attempt_json)
            .arg("due_ms", o.due_ms)
            .arg("now", o.now_ms)
            .arg("keep_until", o.now_ms + self.retention.default_ms)
            .arg("dead_min", self.minid(o.now_ms))
            .reply(&self.conn)
            .await?;
        Ok(())
    }

    /// Moves due retries of a partition to its deliver stream; returns how many.
    pub async fn release_due_retries(&self, p: Partition, now_ms: i64, limit: usize) -> Result<usize, StoreError> {
        let n: usize = scripts::DUE_RETRIES
            .call()
            .key("delayed", self.keys.retries(p))
            .key("stream", self.keys.deliver_stream(p))
            .arg("now", now_ms)
            .arg("limit", limit)
            .arg("minid", self.minid(now_ms))
            .arg("field_a", "eid")
            .arg("field_b", "ep")
            .invoke(&self.conn)
            .await?;
        Ok(n)
    }

    /// Returns `None` when the message is gone.
    pub async fn redeliver(&self, p: Partition, event_id: &str) -> Result<Option<usize>, StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        let n: i64 = scripts::REDELIVER
            .call()
            .key("message", self.keys.message(p, event_id))
            .key("deliver_stream", self.keys.deliver_stream(p))
            .key("retries", self.keys.retries(p))
            .key("dead_letters", self.keys.dead_letters(p))
            .arg("event_id", event_id)
            .arg("minid", self.minid(now))
            .invoke(&self.conn)
            .await?;
        Ok(usize::try_from(n).ok())
    }

    /// The attempt log of a message, newest first, as stored JSON.
    pub async fn attempt_log(&self, p: Partition, event_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.conn.clone().lrange(self.keys.attempts(p, event_id), 0, -1).await?)
    }

    /// One page of a tenant's events across all partitions, ordered by (time, id): newest
    /// first, or oldest first with `q.ascending`. `q.after` is the last (time, id) of the page
    /// before. Each partition is asked for at most `limit` past the cursor (and the entries
    /// that share the cursor's millisecond), so a page costs one read per partition.
    pub async fn tenant_event_page(&self, tenant: &str, q: &EventPageQuery) -> Result<Vec<(String, i64)>, StoreError> {
        // Scores are milliseconds: `since` is inclusive, `until` exclusive.
        let (mut lo, mut hi) = (q.since_ms.unwrap_or(i64::MIN), q.until_ms.map_or(i64::MAX, |u| u - 1));
        if let Some((at, _)) = &q.after {
            if q.ascending { lo = lo.max(*at) } else { hi = hi.min(*at) }
        }
        if lo > hi {
            return Ok(Vec::new());
        }
        let bound = |v: i64| match v {
            i64::MIN => "-inf".to_string(),
            i64::MAX => "+inf".to_string(),
            v => v.to_string(),
        };
        let (lo_s, hi_s) = (bound(lo), bound(hi));
        let reads = self.keys.all_partitions().filter(|p| q.partition.is_none_or(|only| only == *p)).map(|p| {
            let mut conn = self.conn.clone();
            let key = self.keys.tenant_events(p, tenant);
            let (lo_s, hi_s) = (lo_s.clone(), hi_s.clone());
            async move {
                let ties: usize = match &q.after {
                    Some((at, _)) => redis::cmd("ZCOUNT").arg(&key).arg(at).arg(at).query_async(&mut conn).await?,
                    None => 0,
                };
                let mut cmd = if q.ascending {
                    let mut c = redis::cmd("ZRANGEBYSCORE");
                    c.arg(&key).arg(&lo_s).arg(&hi_s);
                    c
                } else {
                    let mut c = redis::cmd("ZREVRANGEBYSCORE");
                    c.arg(&key).arg(&hi_s).arg(&lo_s);
                    c
                };
                cmd.arg("WITHSCORES").arg("LIMIT").arg(0).arg(q.limit + ties);
                cmd.query_async::<Vec<(String, i64)>>(&mut conn).await
            }
        });
        let mut all: Vec<(String, i64)> =
            futures_util::future::try_join_all(reads).await?.into_iter().flatten().collect();
        let key = |e: &(String, i64)| (e.1, e.0.clone());
        if q.ascending {
            all.sort_by_key(key);
        } else {
            all.sort_by_key(|e| std::cmp::Reverse(key(e)));
        }
        if let Some((at, id)) = &q.after {
            let cursor = (*at, id.clone());
            all.retain(|e| if q.ascending { key(e) > cursor } else { key(e) < cursor });
        }
        all.truncate(q.limit);
        Ok(all)
    }

    /// Dead-letter entries of a partition: `(event_id, endpoint_id)`.
    pub async fn dead_letters(&self, p: Partition) -> Result<Vec<(String, String)>, StoreError> {
        let members: Vec<String> = self.conn.clone().zrange(self.keys.dead_letters(p), 0, -1).await?;
        Ok(members.into_iter().filter_map(|m| m.split_once('|').map(|(a, b)| (a.to_string(), b.to_string()))).collect())
    }

    /// Marks a confirmed consent withdrawn and emits the event.
    pub async fn withdraw_verification(
        &self,
        id: &crate::domain::VerificationId,
        tenant: &str,
        source: &str,
    ) -> Result<WithdrawOutcome, StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        let p = id.partition();
        let reply: WithdrawOutcome = scripts::WITHDRAW_VERIFICATION
            .call()
            .key("verification", self.keys.verification(id))
            .key("events", self.keys.events(p))
            .arg("id", id.as_str())
            .arg("tenant", tenant)
            .arg("now", now)
            .arg("minid", self.minid(now))
            .arg("source", source)
            .arg("suppress_until", self.suppress_until(now))
            .reply(&self.conn)
            .await?;
        // The script names the event by its stream entry; the API by its partition too.
        Ok(match reply {
            WithdrawOutcome::Withdrawn(sid) => WithdrawOutcome::Withdrawn(event_id(p, &sid)),
            other => other,
        })
    }

    /// Expires what came due in a partition's deadline buckets; returns how many entries it took.
    pub async fn sweep(&self, p: Partition, now_ms: i64, limit: usize) -> Result<usize, StoreError> {
        scripts::SWEEP
            .call()
            .key("deadlines", self.keys.deadlines(p))
            .key("events", self.keys.events(p))
            .arg("now", now_ms)
            .arg("limit", limit)
            .arg("minid", self.minid(now_ms))
            .arg("keep_until", now_ms + self.retention.default_ms)
            .invoke(&self.conn)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::script::assert_decodes_every_tag;

    #[test]
    fn each_reply_decodes_every_tag_its_script_answers() {
        assert_decodes_every_tag::<WithdrawOutcome>(&scripts::WITHDRAW_VERIFICATION);
        assert_decodes_every_tag::<AttemptRecorded>(&scripts::DELIVERY_RESULT);
    }
}
