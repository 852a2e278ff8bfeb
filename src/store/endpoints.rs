//! Webhook endpoints, one hash per tenant (`{ov:t:<tenant>}:ep`), JSON per endpoint.
//!
//! The secrets in that JSON are sealed (see `domain::SecretBox`): the hash holds no secret a
//! Redis dump could forge webhooks with. A record written before encryption, or sealed under a
//! previous server key, is sealed again under the current key the first time it is read.

use std::collections::HashMap;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

/// An endpoint as stored. The secret is kept because every delivery is signed with it; `Debug`
/// shows neither secret, so a logged record cannot be used to forge webhooks.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndpointRecord {
    pub id: String,
    pub url: String,
    /// `None` subscribes to every event type.
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub secret: String,
    /// The secret before the last rotation, still signed with until `previous_until_ms`.
    pub previous_secret: Option<String>,
    pub previous_until_ms: Option<i64>,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub created_ms: i64,
    /// The last `recover` asked for, and how far it got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
}

/// Sending an endpoint again every event since a moment that it does not have yet. Events are
/// read partition by partition, oldest first, up to `until_ms` (when the recovery was asked
/// for: what came later is delivered as usual).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Recovery {
    pub since_ms: i64,
    pub until_ms: i64,
    /// The partition being read, and the (time, event id) it was read up to.
    pub partition: u16,
    pub after: Option<(i64, String)>,
    /// Deliveries queued, and events it had (or was already on its way to) and skipped.
    pub queued: u64,
    pub skipped: u64,
    pub finished_ms: Option<i64>,
}

impl EndpointRecord {
    /// Withdrawals go to every enabled endpoint whatever it subscribed to: an opt-out must
    /// reach every calling partner.
    pub fn wants(&self, event_type: &str) -> bool {
        !self.disabled
            && (event_type == "consent.withdrawn"
                || self.event_types.as_ref().is_none_or(|t| t.iter().any(|x| x == event_type)))
    }
}

impl std::fmt::Debug for EndpointRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRecord")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("description", &self.description)
            .field("secret", &"***")
            .field("previous_secret", &self.previous_secret.as_ref().map(|_| "***"))
            .field("previous_until_ms", &self.previous_until_ms)
            .field("disabled", &self.disabled)
            .field("disabled_reason", &self.disabled_reason)
            .field("created_ms", &self.created_ms)
            .field("recovery", &self.recovery)
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum EndpointChange {
    Done(Box<EndpointRecord>),
    Gone,
}

impl EndpointChange {
    /// The endpoint as changed; `None` when it was gone (every caller answers that with 404).
    pub fn done(self) -> Option<EndpointRecord> {
        match self {
            Self::Done(e) => Some(*e),
            Self::Gone => None,
        }
    }
}

/// What ep_create.lua answers.
#[derive(Debug, PartialEq, Eq)]
enum Created {
    Ok,
    /// The tenant has its maximum of endpoints.
    Full,
}

impl ScriptReply for Created {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "ok" => Ok(Self::Ok),
            "full" => Ok(Self::Full),
            _ => r.unknown(),
        }
    }
}

/// What ep_replace.lua answers: a compare-and-set.
#[derive(Debug, PartialEq, Eq)]
enum Replaced {
    Ok,
    Gone,
    /// Another writer changed it since it was read.
    Conflict,
}

impl ScriptReply for Replaced {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "ok" => Ok(Self::Ok),
            "gone" => Ok(Self::Gone),
            "conflict" => Ok(Self::Conflict),
            _ => r.unknown(),
        }
    }
}

/// Associated data for a sealed secret: it opens only in its own endpoint's field.
fn context(id: &str, field: &str) -> String {
    format!("endpoint:{id}:{field}")
}

impl Store {
    /// The stored JSON, secrets sealed.
    fn encode(&self, e: &EndpointRecord) -> Result<String, StoreError> {
        let mut sealed = e.clone();
        if let Some(b) = &self.secret_box {
            sealed.secret = b.seal(&e.secret, &context(&e.id, "secret"));
            sealed.previous_secret = e.previous_secret.as_ref().map(|p| b.seal(p, &context(&e.id, "previous")));
        }
        serde_json::to_string(&sealed).map_err(|x| StoreError::unreadable("endpoint", x))
    }

    /// The record with its secrets opened, and whether it should be sealed again.
    fn decode(&self, json: &str) -> Result<(EndpointRecord, bool), StoreError> {
        let mut e: EndpointRecord = serde_json::from_str(json).map_err(|x| StoreError::unreadable("endpoint", x))?;
        let Some(b) = &self.secret_box else { return Ok((e, false)) };
        let open = |v: &str, field: &str| {
            b.open(v, &context(&e.id, field)).map_err(|x| StoreError::unreadable(format!("endpoint {}", e.id), x))
        };
        let secret = open(&e.secret, "secret")?;
        let previous = e.previous_secret.as_deref().map(|p| open(p, "previous")).transpose()?;
        let stale = secret.stale || previous.as_ref().is_some_and(|p| p.stale);
        e.secret = secret.text;
        e.previous_secret = previous.map(|p| p.text);
        Ok((e, stale))
    }

    /// Reads one stored JSON; a stale one is sealed again (compare-and-set: a concurrent
    /// writer wins and has sealed it already).
    async fn read(&self, key: &str, json: &str) -> Result<EndpointRecord, StoreError> {
        let (e, stale) = self.decode(json)?;
        if stale {
            // A conflict means a concurrent writer sealed it already.
            let _: Replaced = scripts::EP_REPLACE
                .call()
                .key("endpoints", key)
                .arg("id", &e.id)
                .arg("expected_json", json)
                .arg("new_json", self.encode(&e)?)
                .reply(&self.conn)
                .await?;
        }
        Ok(e)
    }

    /// Returns false when the tenant already has `max` endpoints.
    pub async fn endpoint_create(&self, tenant: &str, e: &EndpointRecord, max: u32) -> Result<bool, StoreError> {
        let json = self.encode(e)?;
        let r: Created = scripts::EP_CREATE
            .call()
            .key("endpoints", self.keys.endpoints(tenant))
            .arg("id", &e.id)
            .arg("json", json)
            .arg("max_endpoints", max)
            .reply(&self.conn)
            .await?;
        Ok(r == Created::Ok)
    }

    pub async fn endpoints(&self, tenant: &str) -> Result<Vec<EndpointRecord>, StoreError> {
        let key = self.keys.endpoints(tenant);
        let all: HashMap<String, String> = self.conn.clone().hgetall(&key).await?;
        let mut list = Vec::with_capacity(all.len());
        for json in all.values() {
            list.push(self.read(&key, json).await?);
        }
        list.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    pub async fn endpoint(&self, tenant: &str, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
        let key = self.keys.endpoints(tenant);
        let j: Option<String> = self.conn.clone().hget(&key, id).await?;
        match j {
            Some(j) => Ok(Some(self.read(&key, &j).await?)),
            None => Ok(None),
        }
    }

    pub async fn endpoint_delete(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let n: i64 = scripts::EP_DELETE
            .call()
            .key("endpoints", self.keys.endpoints(tenant))
            .arg("id", id)
            .invoke(&self.conn)
            .await?;
        Ok(n == 1)
    }

    /// Applies `change` with compare-and-set, retrying when another writer got there first.
    pub async fn endpoint_update(
        &self,
        tenant: &str,
        id: &str,
        change: impl Fn(&mut EndpointRecord),
    ) -> Result<EndpointChange, StoreError> {
        for _ in 0..10 {
            let key = self.keys.endpoints(tenant);
            let Some(old_json): Option<String> = self.conn.clone().hget(&key, id).await? else {
                return Ok(EndpointChange::Gone);
            };
            let (mut e, _) = self.decode(&old_json)?;
            change(&mut e);
            let new_json = self.encode(&e)?;
            let r: Replaced = scripts::EP_REPLACE
                .call()
                .key("endpoints", &key)
                .arg("id", id)
                .arg("expected_json", &old_json)
                .arg("new_json", new_json)
                .reply(&self.conn)
                .await?;
            match r {
                Replaced::Ok => return Ok(EndpointChange::Done(Box::new(e))),
                Replaced::Gone => return Ok(EndpointChange::Gone),
                Replaced::Conflict => continue,
            }
        }
        Err(StoreError::Corrupt("endpoint update kept conflicting".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reply_decodes_every_tag_its_script_answers() {
        use crate::store::script::assert_decodes_every_tag;
        assert_decodes_every_tag::<Created>(&scripts::EP_CREATE);
        assert_decodes_every_tag::<Replaced>(&scripts::EP_REPLACE);
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let e = EndpointRecord {
            id: "ep_1".into(),
            url: "https://crm.example/hook".into(),
            event_types: None,
            description: None,
            secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0".into(),
            previous_secret: Some("whsec_b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQtb2xk".into()),
            previous_until_ms: Some(1),
            disabled: false,
            disabled_reason: None,
            created_ms: 0,
            recovery: None,
        };
        let shown = format!("{e:?} {e:#?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(!shown.contains("b2xkLW9s"), "{shown}");
        assert!(shown.contains("ep_1") && shown.contains("***"), "{shown}");
    }
}
