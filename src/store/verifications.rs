//! Verification state changes, one script each, and the plain reads around them.

use std::collections::HashMap;

use crate::domain::{InitiatedBy, Status, VerificationId};

use super::{
    NewVerification, RateWindows, Store, StoreError, VerificationRecord,
    script::{Reply, ScriptReply},
    scripts,
};

/// What `create` found.
#[derive(Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// The id was taken: an earlier request with the same Idempotency-Key.
    Exists {
        body_hash: String,
        tenant: String,
    },
    /// A campaign start to a number that declined or withdrew recently.
    Suppressed,
    /// A campaign start for a purpose and caller the number already consented to.
    AlreadyConsented {
        verification_id: String,
    },
    /// The destination's rate counters (counted in the same step) are full.
    Limited {
        retry_after_secs: u64,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    Missing,
    /// The attempt was counted; the verification may have moved on.
    Counted {
        status: Status,
        attempts_remaining: u32,
    },
    /// Nothing changed: the verification had already finished.
    Final {
        status: Status,
        attempts_remaining: u32,
    },
}

/// Who typed a code, for the evidence.
#[derive(Debug, Clone, Copy)]
pub struct CheckSource<'a> {
    /// `api` or `page`.
    pub source: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

impl CheckSource<'static> {
    pub const API: Self = Self { source: "api", ip: "", user_agent: "" };
}

#[derive(Debug, PartialEq, Eq)]
pub enum LinkAnswer {
    Done(Status),
    Invalid,
}

/// What an opt-out link stops: the purpose its verification was about, or everything this
/// tenant holds for the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOutScope {
    Purpose,
    All,
}

impl OptOutScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Purpose => "purpose",
            Self::All => "all",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum OptOutOutcome {
    /// The pending verification was declined; `withdrawn` active consents were withdrawn too.
    Declined {
        withdrawn: u32,
    },
    /// This many active consents were withdrawn (at least one).
    Withdrawn(u32),
    AlreadyDone,
    Invalid,
}

/// Cancel and resend share this shape.
#[derive(Debug, PartialEq, Eq)]
pub enum SimpleOutcome {
    Missing,
    Final(Status),
    Done,
}

impl ScriptReply for CreateOutcome {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "created" => Ok(Self::Created),
            "suppressed" => Ok(Self::Suppressed),
            "consented" => Ok(Self::AlreadyConsented { verification_id: r.str(0)? }),
            "limited" => Ok(Self::Limited { retry_after_secs: (r.int(0)?.max(0) as u64).div_ceil(1000).max(1) }),
            "exists" => Ok(Self::Exists { body_hash: r.str(0)?, tenant: r.str(1)? }),
            _ => r.unknown(),
        }
    }
}

impl ScriptReply for CheckOutcome {
    /// `{outcome, status, attempts_remaining}`; `missing` carries an empty status.
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        let counted = || Ok::<_, StoreError>((r.status(0)?, r.count(1)?));
        match r.tag().as_str() {
            "missing" => Ok(Self::Missing),
            "final" => counted().map(|(status, attempts_remaining)| Self::Final { status, attempts_remaining }),
            "counted" => counted().map(|(status, attempts_remaining)| Self::Counted { status, attempts_remaining }),
            _ => r.unknown(),
        }
    }
}

impl ScriptReply for LinkAnswer {
    /// A wrong, used or expired token all answer `invalid`.
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "ok" => Ok(Self::Done(r.status(0)?)),
            "invalid" => Ok(Self::Invalid),
            _ => r.unknown(),
        }
    }
}

impl ScriptReply for OptOutOutcome {
    /// `{outcome, n}`: n consents withdrawn.
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "declined" => Ok(Self::Declined { withdrawn: r.count(0)? }),
            "withdrawn" => Ok(Self::Withdrawn(r.count(0)?)),
            "already" => Ok(Self::AlreadyDone),
            "invalid" => Ok(Self::Invalid),
            _ => r.unknown(),
        }
    }
}

impl ScriptReply for SimpleOutcome {
    /// cancel.lua answers `canceled`, resend.lua `queued`.
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "missing" => Ok(Self::Missing),
            "final" => Ok(Self::Final(r.status(0)?)),
            "canceled" | "queued" => Ok(Self::Done),
            _ => r.unknown(),
        }
    }
}

/// The longest value a record keeps in place: Redis's default `hash-max-listpack-value`. A
/// longer one would turn the whole hash into a hashtable, about four times the memory.
const IN_PLACE_MAX: usize = 64;

/// A new record's field/value arguments, a longer value replaced by `<field>@` = its SHA-1
/// (hex, as Lua's `redis.sha1hex` spells it, so the scripts that spill a value themselves name
/// the same blob), and the (SHA-1, value) pairs to store as blobs.
fn spill(fields: Vec<(&'static str, String)>) -> (Vec<String>, Vec<(String, String)>) {
    use sha1::{Digest, Sha1};
    let (mut args, mut blobs) = (Vec::with_capacity(fields.len() * 2), Vec::new());
    for (field, value) in fields {
        if value.len() <= IN_PLACE_MAX {
            args.push(field.to_string());
            args.push(value);
        } else {
            let sha = hex::encode(Sha1::digest(value.as_bytes()));
            args.push(format!("{field}@"));
            args.push(sha.clone());
            blobs.push((sha, value));
        }
    }
    (args, blobs)
}

/// The record's fields that hold a phone number or an address. They are written in plain text
/// while the verification is open (the sender needs them, and a pending record stays under
/// 1 KiB), and sealed by the fan-out of the event that ends it, since the record outlives its
/// open period (`fanout.lua`). A sealed 12-character number (`+316...`) is 64 bytes and stays in
/// place; a longer number or an address goes to a blob, as any long value does. Read back,
/// either form opens.
const SEALED_FIELDS: [&str; 2] = ["ph", "to"];

/// A sealed field opens only in its own record's own field.
fn sealed_context(id: &VerificationId, field: &str) -> String {
    format!("{}:{field}", id.as_str())
}

impl Store {
    /// A finished verification's number and, when it is not the number, its address, sealed as
    /// its record keeps them once it is no longer open.
    pub fn sealed_contact(&self, v: &VerificationRecord) -> (String, Option<String>) {
        let phone = self.seal(&v.phone, &sealed_context(&v.id, SEALED_FIELDS[0]));
        let to = (v.to != v.phone).then(|| self.seal(&v.to, &sealed_context(&v.id, SEALED_FIELDS[1])));
        (phone, to)
    }

    /// Writes the verification and queues its first message in one script. A campaign start
    /// to a suppressed number writes nothing. `counted`: rate counters in the verification's
    /// partition (the destination's, when it is the number itself), counted in the same step; a
    /// full one writes nothing.
    pub async fn create(
        &self,
        v: &NewVerification,
        counted: Option<&RateWindows>,
    ) -> Result<CreateOutcome, StoreError> {
        let keep_until = v.expires_ms + self.retention.default_ms;
        let p = v.id.partition();
        let mut call = scripts::CREATE.call();
        call.key("verification", self.keys.verification(&v.id))
            .key("send_stream", self.keys.send_stream(p))
            .key("deadlines", self.keys.deadlines(p))
            .key("consent_index", self.keys.consent_index(p, &v.tenant, &v.pseudonym))
            .arg("id", v.id.as_str())
            .arg("keep_until", keep_until)
            .arg("minid", self.minid(v.created_ms))
            .arg("expires_ms", v.expires_ms)
            .arg("now", v.created_ms)
            .arg("refuse_if_suppressed", if v.initiated_by == InitiatedBy::Marketer { "1" } else { "" })
            .arg("batch", v.batch.as_deref().unwrap_or(""));
        // A campaign does not ask a number again for what it already agreed to, unless told to.
        match (v.initiated_by, v.reask) {
            (InitiatedBy::Marketer, false) => {
                call.arg("purpose", &v.context.purpose.id).arg("caller", &v.context.caller)
            }
            _ => call.arg("purpose", "").arg("caller", ""),
        };
        if let Some(w) = counted {
            for (key, (max, end)) in w.keys.iter().zip(&w.args) {
                call.key("rate_counter", key).arg("rest", max).arg("rest", end);
            }
        }
        let mut record = v.fields();
        // An address too long for the record goes to a blob, which is shared by content and
        // would keep it in plain text beyond the open period: such a one is sealed at once.
        for (field, value) in record.iter_mut().filter(|(f, value)| SEALED_FIELDS.contains(f) && value.len() > 64) {
            *value = self.seal(value.as_str(), &sealed_context(&v.id, field));
        }
        let (fields, blobs) = spill(record);
        call.arg("rest", fields.len());
        for f in &fields {
            call.arg("rest", f);
        }
        for (sha, text) in &blobs {
            call.arg("rest", sha).arg("rest", text);
        }
        call.reply(&self.conn).await
    }

    /// The whole verification, whoever owns it; callers check the tenant.
    pub async fn get(&self, id: &VerificationId) -> Result<Option<VerificationRecord>, StoreError> {
        let pairs: Vec<String> =
            scripts::LOAD.call().key("verification", self.keys.verification(id)).invoke(&self.conn).await?;
        let mut h = HashMap::with_capacity(pairs.len() / 2);
        let mut it = pairs.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            h.insert(k, v);
        }
        if h.is_empty() {
            return Ok(None);
        }
        for field in SEALED_FIELDS {
            if let Some(stored) = h.get_mut(field) {
                // Sealed under a key no longer configured: it reads as empty, and the rest of
                // the record stays usable.
                *stored = self.open(stored.as_str(), &sealed_context(id, field)).unwrap_or_else(|| {
                    tracing::warn!(verification = %id.as_str(), field, "sealed field opens under no configured key");
                    String::new()
                });
            }
        }
        VerificationRecord::from_hash(id, h).map(Some)
    }

    /// Counts one attempt against the code; confirms, fails or expires as the rules say.
    /// `via` is where the code was typed: the API (`"api"`, no client) or the hosted page.
    /// `code_macs` is the typed code's HMAC under each configured server key, current first
    /// (rotation overlap); it must not be empty.
    pub async fn check(
        &self,
        id: &VerificationId,
        tenant: &str,
        code_macs: &[String],
        now_ms: i64,
        via: CheckSource<'_>,
    ) -> Result<CheckOutcome, StoreError> {
        let (code_mac, previous_macs) = code_macs.split_first().ok_or(StoreError::Corrupt("no code mac".into()))?;
        let mut call = scripts::CHECK.call();
        call.key("verification", self.keys.verification(id))
            .key("events", self.keys.events(id.partition()))
            .arg("id", id.as_str())
            .arg("tenant", tenant)
            .arg("code_mac", code_mac)
            .arg("now", now_ms)
            .arg("minid", self.minid(now_ms))
            .arg("keep_until_failed", now_ms + self.retention.default_ms)
            .arg("keep_until_confirmed", now_ms + self.retention.receipt_ms)
            .arg("source", via.source)
            .arg("ip", via.ip)
            .arg("user_agent", via.user_agent);
        for mac in previous_macs {
            call.arg("previous_mac", mac);
        }
        call.reply(&self.conn).await
    }

    /// Confirm or decline from the link page. `answer` is `Confirmed` or `Declined`.
    pub async fn answer_link(
        &self,
        id: &VerificationId,
        token_hash: &str,
        answer: Status,
        now_ms: i64,
        client_ip: &str,
        user_agent: &str,
    ) -> Result<LinkAnswer, StoreError> {
        scripts::ANSWER_LINK
            .call()
            .key("verification", self.keys.verification(id))
            .key("events", self.keys.events(id.partition()))
            .arg("id", id.as_str())
            .arg("token_hash", token_hash)
            .arg("action", answer.as_str())
            .arg("now", now_ms)
            .arg("minid", self.minid(now_ms))
            .arg("keep_until_declined", now_ms + self.retention.default_ms)
            .arg("keep_until_confirmed", now_ms + self.retention.receipt_ms)
            .arg("client_ip", client_ip)
            .arg("user_agent", user_agent)
            .arg("suppress_until", self.suppress_until(now_ms))
            .reply(&self.conn)
            .await
    }

    /// "Not me" for a pending verification, and a withdrawal of every active consent of the
    /// number in `scope`, whichever verification's link it came from.
    pub async fn opt_out(
        &self,
        id: &VerificationId,
        token_hash: &str,
        now_ms: i64,
        client: (&str, &str),
        scope: OptOutScope,
    ) -> Result<OptOutOutcome, StoreError> {
        let (client_ip, user_agent) = client;
        scripts::OPT_OUT
            .call()
            .key("verification", self.keys.verification(id))
            .key("events", self.keys.events(id.partition()))
            .arg("id", id.as_str())
            .arg("token_hash", token_hash)
            .arg("now", now_ms)
            .arg("minid", self.minid(now_ms))
            .arg("keep_until_declined", now_ms + self.retention.default_ms)
            .arg("client_ip", client_ip)
            .arg("user_agent", user_agent)
            .arg("suppress_until", self.suppress_until(now_ms))
            .arg("scope", scope.as_str())
            .reply(&self.conn)
            .await
    }

    pub async fn cancel(&self, id: &VerificationId, tenant: &str, now_ms: i64) -> Result<SimpleOutcome, StoreError> {
        scripts::CANCEL
            .call()
            .key("verification", self.keys.verification(id))
            .key("events", self.keys.events(id.partition()))
            .arg("id", id.as_str())
            .arg("tenant", tenant)
            .arg("now", now_ms)
            .arg("minid", self.minid(now_ms))
            .arg("keep_until", now_ms + self.retention.default_ms)
            .reply(&self.conn)
            .await
    }

    /// Queues the same message again while the verification is pending.
    pub async fn resend(&self, id: &VerificationId, tenant: &str, now_ms: i64) -> Result<SimpleOutcome, StoreError> {
        scripts::RESEND
            .call()
            .key("verification", self.keys.verification(id))
            .key("events", self.keys.events(id.partition()))
            .key("send_stream", self.keys.send_stream(id.partition()))
            .arg("id", id.as_str())
            .arg("tenant", tenant)
            .arg("now", now_ms)
            .arg("minid", self.minid(now_ms))
            .arg("keep_until_expired", now_ms + self.retention.default_ms)
            .reply(&self.conn)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reply_decodes_every_tag_its_script_answers() {
        use crate::store::script::assert_decodes_every_tag;
        assert_decodes_every_tag::<CreateOutcome>(&scripts::CREATE);
        assert_decodes_every_tag::<CheckOutcome>(&scripts::CHECK);
        assert_decodes_every_tag::<LinkAnswer>(&scripts::ANSWER_LINK);
        assert_decodes_every_tag::<OptOutOutcome>(&scripts::OPT_OUT);
        assert_decodes_every_tag::<SimpleOutcome>(&scripts::CANCEL);
        assert_decodes_every_tag::<SimpleOutcome>(&scripts::RESEND);
    }

    #[test]
    fn values_over_64_bytes_are_spilled_by_their_sha1() {
        let (long, edge) = ("x".repeat(65), "y".repeat(64));
        let (args, blobs) = spill(vec![("t", "acme".into()), ("n", long.clone()), ("pid", edge.clone())]);
        // SHA-1 of 65 'x' characters, as `redis.sha1hex` and `sha1sum` spell it.
        let sha = "78c741ddc482e4cdf8c474a0876347a0905b6233";
        assert_eq!(args, ["t", "acme", "n@", sha, "pid", edge.as_str()]);
        assert_eq!(blobs, [(sha.to_string(), long)]);
    }
}
