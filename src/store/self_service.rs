//! The consents page's challenges and sessions, and the person's own suppression. A number's
//! live in its partition, beside its consent index; an e-mail address's in the partition of its
//! pseudonym, and its consents are read from every partition.

use std::collections::HashMap;

use crate::domain::PageSecret;

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

/// What opened the page: a number, or an e-mail address (when the tenant allows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Phone,
    Email,
}

impl Holder {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Email => "email",
        }
    }
}

/// A new challenge: who it is for, and the MAC of its code (`None`: no code opens it).
pub struct NewChallenge<'a> {
    pub id: &'a PageSecret,
    pub tenant: &'a str,
    pub holder: Holder,
    /// The pseudonym of the number or address.
    pub pseudonym: &'a str,
    pub code_mac: Option<&'a str>,
    /// The number (E.164) or the address.
    pub address: &'a str,
    pub attempts: u32,
    pub ttl_ms: i64,
}

/// What a typed code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeOutcome {
    /// The right code: the session is open.
    Opened,
    Wrong {
        attempts_left: u32,
    },
    /// No attempts left: the challenge is closed.
    Closed,
    /// Unknown, expired, or another tenant's.
    Missing,
}

impl ScriptReply for ChallengeOutcome {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "ok" => Ok(Self::Opened),
            "counted" => Ok(Self::Wrong { attempts_left: r.count(0)? }),
            "final" => Ok(Self::Closed),
            "missing" => Ok(Self::Missing),
            _ => r.unknown(),
        }
    }
}

/// An open session: whose consents it shows.
#[derive(Clone, PartialEq, Eq)]
pub struct PageSession {
    pub tenant: String,
    pub holder: Holder,
    pub pseudonym: String,
    /// The number (E.164) or e-mail address (sealed at rest).
    pub address: String,
}

/// Holds the number: never printed.
impl std::fmt::Debug for PageSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageSession(tenant={})", self.tenant)
    }
}

/// The number or address is sealed under the tenant and pseudonym it belongs to.
fn address_context(tenant: &str, pseudonym: &str) -> String {
    format!("self-service:{tenant}:{pseudonym}")
}

impl Store {
    pub async fn create_challenge(&self, c: NewChallenge<'_>) -> Result<(), StoreError> {
        let p = c.id.partition();
        let _: Vec<String> = scripts::SS_CHALLENGE
            .call()
            .key("challenge", self.keys.self_service_challenge(p, &c.id.hash()))
            .arg("tenant", c.tenant)
            .arg("pseudonym", c.pseudonym)
            .arg("code_mac", c.code_mac.unwrap_or(""))
            .arg("sealed_address", self.seal(c.address, &address_context(c.tenant, c.pseudonym)))
            .arg("attempts", c.attempts)
            .arg("ttl_ms", c.ttl_ms)
            .arg("kind", c.holder.as_str())
            .invoke(&self.conn)
            .await?;
        Ok(())
    }

    /// Spends one attempt on `challenge`; the right code opens `session` for `ttl_ms`.
    pub async fn answer_challenge(
        &self,
        challenge: &PageSecret,
        session: &PageSecret,
        tenant: &str,
        code_mac: &str,
        ttl_ms: i64,
    ) -> Result<ChallengeOutcome, StoreError> {
        let p = challenge.partition();
        debug_assert_eq!(p, session.partition(), "a session lives beside its challenge");
        scripts::SS_CHECK
            .call()
            .key("challenge", self.keys.self_service_challenge(p, &challenge.hash()))
            .key("session", self.keys.self_service_session(p, &session.hash()))
            .arg("tenant", tenant)
            .arg("code_mac", code_mac)
            .arg("session_ttl_ms", ttl_ms)
            .reply(&self.conn)
            .await
    }

    /// The session a cookie names, while it lasts and only for `tenant`.
    pub async fn page_session(&self, token: &PageSecret, tenant: &str) -> Result<Option<PageSession>, StoreError> {
        let mut conn = self.conn.clone();
        let h: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.self_service_session(token.partition(), &token.hash()))
            .query_async(&mut conn)
            .await?;
        let (Some(t), Some(ps), Some(sealed)) = (h.get("tenant"), h.get("ps"), h.get("addr")) else {
            return Ok(None);
        };
        if t != tenant {
            return Ok(None);
        }
        let holder = match h.get("kind").map(String::as_str) {
            Some("email") => Holder::Email,
            _ => Holder::Phone,
        };
        let address = self
            .open(sealed, &address_context(t, ps))
            .ok_or_else(|| StoreError::Corrupt("a consents-page session's address opens under no key".into()))?;
        Ok(Some(PageSession { tenant: t.clone(), holder, pseudonym: ps.clone(), address }))
    }

    pub async fn end_page_session(&self, token: &PageSecret) -> Result<(), StoreError> {
        let _: i64 = scripts::SS_END
            .call()
            .key("session", self.keys.self_service_session(token.partition(), &token.hash()))
            .invoke(&self.conn)
            .await?;
        Ok(())
    }

    /// The person's own "don't ask me again" (`Some(until)`), or its undoing (`None`).
    pub async fn set_suppression(
        &self,
        tenant: &str,
        pseudonym: &str,
        until_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let p = self.partition_of_number(pseudonym);
        let _: Vec<String> = scripts::SUPPRESSION
            .call()
            .key("consent_index", self.keys.consent_index(p, tenant, pseudonym))
            .arg("suppress_until", until_ms.unwrap_or(0))
            .invoke(&self.conn)
            .await?;
        Ok(())
    }

    /// The consents confirmed through one e-mail address with `tenant`, from every partition
    /// (a read: plain `SMEMBERS`). Ids whose record is gone may be among them.
    pub async fn email_consent_ids(&self, tenant: &str, email_pseudonym: &str) -> Result<Vec<String>, StoreError> {
        let reads = self.keys.all_partitions().map(|p| {
            let mut conn = self.conn.clone();
            let key = self.keys.email_consents(p, tenant, email_pseudonym);
            async move { redis::cmd("SMEMBERS").arg(key).query_async::<Vec<String>>(&mut conn).await }
        });
        let sets = futures_util::future::try_join_all(reads).await?;
        Ok(sets.into_iter().flatten().collect())
    }

    /// Until when a withdrawal or decline keeps campaigns away, from `now_ms`.
    pub fn suppression_end(&self, now_ms: i64) -> i64 {
        self.suppress_until(now_ms)
    }
}
