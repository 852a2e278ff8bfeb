//! How a verification is laid out in its Redis hash. Field names are short on purpose:
//! they are repeated in every one of millions of hashes. Every value should stay within 64
//! bytes so that the hash stays a compact listpack on Redis's default settings; the scripts
//! move longer values into shared blobs (see `put` in `lua/prelude.lua`).

use std::collections::HashMap;

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use crate::domain::{
    Channel, CheckboxDefault, Collection, ConsentText, Context, Controller, InitiatedBy, Locale, MessageState, Method,
    PrivacyStatement, Purpose, Status, VerificationId,
};

use super::{StoreError, fields as F};

/// Everything `create` writes.
#[derive(Debug, Clone)]
pub struct NewVerification {
    pub id: VerificationId,
    pub tenant: String,
    pub method: Method,
    pub channel: Channel,
    pub phone: String,
    pub to: String,
    pub seed_hex: String,
    pub code_mac: String,
    pub confirm_token_hash: String,
    pub optout_token_hash: String,
    pub code_length: u8,
    pub max_attempts: u32,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub locale: Locale,
    pub initiated_by: InitiatedBy,
    /// The evidence context sent at start (purpose, consent text, collection ...).
    pub context: Context,
    /// Keyed pseudonym of the phone number: names its consent index, never the number.
    pub pseudonym: String,
    /// For a message to an e-mail address: the address's pseudonym (`eps`), so that the
    /// address alone can open the consents page.
    pub email_pseudonym: Option<String>,
    /// The batch it was started in, if any.
    pub batch: Option<String>,
    /// SHA-256 of the request body, when an Idempotency-Key named this verification.
    pub body_hash: Option<String>,
    /// For `method: call`: the announced window and caller number.
    pub call: Option<CallPlan>,
    /// Asked although an active consent for the purpose and caller existed (`"reask": true`).
    pub reask: bool,
}

/// What a whole campaign shares: stored once per distinct text (field `n`), not per record.
#[derive(Serialize, Deserialize)]
struct Notice {
    caller: String,
    purpose: Purpose,
    consent_text: ConsentText,
    privacy_statement: Option<PrivacyStatement>,
    controller: Controller,
    issuer: String,
}

fn checkbox_str(c: CheckboxDefault) -> &'static str {
    match c {
        CheckboxDefault::Unchecked => "unchecked",
        CheckboxDefault::Checked => "checked",
        CheckboxDefault::NotApplicable => "not_applicable",
    }
}

fn checkbox_parse(s: &str) -> Option<CheckboxDefault> {
    match s {
        "unchecked" => Some(CheckboxDefault::Unchecked),
        "checked" => Some(CheckboxDefault::Checked),
        "not_applicable" => Some(CheckboxDefault::NotApplicable),
        _ => None,
    }
}

/// The context's fields: the shared notice as one value, the per-person parts one by one.
fn context_fields(c: &Context, f: &mut Vec<(&'static str, String)>) {
    let notice = Notice {
        caller: c.caller.clone(),
        purpose: c.purpose.clone(),
        consent_text: c.consent_text.clone(),
        privacy_statement: c.privacy_statement.clone(),
        controller: c.controller.clone(),
        issuer: c.issuer.clone(),
    };
    f.push((F::NOTICE, serde_json::to_string(&notice).unwrap_or_default()));
    f.push((F::PURPOSE_ID, c.purpose.id.clone()));
    if let Some(col) = &c.collection {
        let mut opt = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                f.push((k, v));
            }
        };
        opt(F::COLLECTION_URL, col.url.clone());
        opt(F::COLLECTION_IP, col.ip.map(|ip| ip.to_string()));
        opt(F::COLLECTION_USER_AGENT, col.user_agent.clone());
        opt(F::COLLECTION_AT, col.collected_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
        opt(F::COLLECTION_CHECKBOX, col.checkbox_default.map(|c| checkbox_str(c).to_string()));
    }
    if let Some(m) = &c.metadata {
        f.push((F::METADATA, serde_json::to_string(m).unwrap_or_default()));
    }
}

fn context_from(h: &mut HashMap<String, String>) -> Result<Context, StoreError> {
    let n = h.remove(F::NOTICE).ok_or_else(|| StoreError::Corrupt("field n missing".into()))?;
    let notice: Notice = serde_json::from_str(&n).map_err(|_| StoreError::Corrupt("field n unreadable".into()))?;
    // A collection the marketer sent with no field set reads back as none.
    let present =
        [F::COLLECTION_URL, F::COLLECTION_IP, F::COLLECTION_USER_AGENT, F::COLLECTION_AT, F::COLLECTION_CHECKBOX]
            .iter()
            .any(|k| h.contains_key(*k));
    let collection = present.then(|| Collection {
        url: h.remove(F::COLLECTION_URL),
        ip: h.remove(F::COLLECTION_IP).and_then(|s| s.parse().ok()),
        user_agent: h.remove(F::COLLECTION_USER_AGENT),
        collected_at: h
            .remove(F::COLLECTION_AT)
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.to_utc()),
        checkbox_default: h.remove(F::COLLECTION_CHECKBOX).as_deref().and_then(checkbox_parse),
    });
    Ok(Context {
        purpose: notice.purpose,
        caller: notice.caller,
        consent_text: notice.consent_text,
        privacy_statement: notice.privacy_statement,
        collection,
        metadata: h.remove(F::METADATA).and_then(|m| serde_json::from_str(&m).ok()),
        controller: notice.controller,
        issuer: notice.issuer,
    })
}

/// The receipt's signature, kept instead of the receipt: Ed25519 is deterministic, so the
/// compact JWS is rebuilt byte for byte from the record and checked against this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSeal {
    pub kid: String,
    /// base64url signature (86 characters, stored in two halves to stay within 64 bytes).
    pub signature: String,
    /// The receipt id (`jti`) it was issued under.
    pub receipt_id: String,
}

/// An announced call window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPlan {
    pub start_ms: i64,
    pub end_ms: i64,
    pub caller_number: String,
}

/// Everything the call method adds to a verification.
#[derive(Debug, Clone, Default)]
pub struct CallState {
    pub start_ms: i64,
    pub end_ms: i64,
    pub caller_number: String,
    pub reschedules: u32,
    /// SHA-256 of the last announcement's text, and when it went out.
    pub announcement_sha256: Option<String>,
    pub announced_at_ms: Option<i64>,
    pub agent_id: Option<String>,
    pub called_at_ms: Option<i64>,
    pub recording_uri: Option<String>,
    pub recording_sha256: Option<String>,
    pub recording_duration_seconds: Option<u64>,
    pub retain_until_ms: Option<i64>,
}

impl NewVerification {
    /// A pre-ticked box on the form: the confirmation page is the act consent rests on.
    fn active_act(&self) -> Option<&'static str> {
        let pre_ticked = self.context.collection.as_ref().and_then(|c| c.checkbox_default);
        (self.method == Method::Link && pre_ticked == Some(CheckboxDefault::Checked)).then_some("confirmation_page")
    }

    pub(super) fn fields(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            (F::TENANT, self.tenant.clone()),
            (F::STATUS, Status::Pending.as_str().into()),
            (F::METHOD, self.method.as_str().into()),
            (F::CHANNEL, self.channel.as_str().into()),
            (F::PHONE, self.phone.clone()),
            (F::SEED, self.seed_hex.clone()),
            (F::CODE_MAC, self.code_mac.clone()),
            (F::CONFIRM_TOKEN, self.confirm_token_hash.clone()),
            (F::OPTOUT_TOKEN, self.optout_token_hash.clone()),
            (F::CODE_LENGTH, self.code_length.to_string()),
            (F::ATTEMPTS, "0".into()),
            (F::MAX_ATTEMPTS, self.max_attempts.to_string()),
            (F::CREATED, self.created_ms.to_string()),
            (F::EXPIRES, self.expires_ms.to_string()),
            (F::TTL, (self.expires_ms - self.created_ms).to_string()),
            (F::LOCALE, self.locale.as_str().into()),
            (F::INITIATED_BY, self.initiated_by.as_str().into()),
            (F::DELIVERY, MessageState::Queued.as_str().into()),
            (F::PSEUDONYM, self.pseudonym.clone()),
        ];
        // Most messages go to the number itself: `to` is kept only when it differs.
        if self.to != self.phone {
            f.push((F::TO, self.to.clone()));
        }
        context_fields(&self.context, &mut f);
        if let Some(e) = &self.email_pseudonym {
            f.push((F::EMAIL_PSEUDONYM, e.clone()));
        }
        if let Some(b) = &self.batch {
            f.push((F::BATCH, b.clone()));
        }
        if let Some(bh) = &self.body_hash {
            f.push((F::BODY_HASH, bh.clone()));
        }
        if self.reask {
            f.push((F::REASK, "1".into()));
        }
        if let Some(act) = self.active_act() {
            f.push((F::ACTIVE_ACT, act.into()));
        }
        if let Some(c) = &self.call {
            f.push((F::CALL_WINDOW_START, c.start_ms.to_string()));
            f.push((F::CALL_WINDOW_END, c.end_ms.to_string()));
            f.push((F::CALLER_NUMBER, c.caller_number.clone()));
            f.push((F::RESCHEDULES, "0".into()));
        }
        f
    }
}

/// A verification read back from Redis.
#[derive(Debug, Clone)]
pub struct VerificationRecord {
    pub id: VerificationId,
    pub tenant: String,
    pub status: Status,
    pub method: Method,
    pub channel: Channel,
    pub phone: String,
    pub to: String,
    pub seed_hex: String,
    pub confirm_token_hash: String,
    pub optout_token_hash: String,
    pub code_length: u8,
    pub attempts: u32,
    pub max_attempts: u32,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// How long it stays open once its message is out (the expiry clock restarts after quiet hours).
    pub ttl_ms: i64,
    pub locale: Locale,
    pub initiated_by: InitiatedBy,
    /// Asked although an active consent existed (`"reask": true`).
    pub reask: bool,
    /// The act consent rests on, when the form's box was pre-ticked (`act`).
    pub active_act: Option<String>,
    pub context: Context,
    pub pseudonym: String,
    /// Until when campaigns may not ask this number (ms), as read with the record; it may lie
    /// in the past.
    pub suppressed_until_ms: Option<i64>,
    pub batch: Option<String>,
    pub body_hash: Option<String>,
    pub delivery: MessageState,
    /// The provider that took the last message, and its reference.
    pub provider: Option<String>,
    pub provider_reference: Option<String>,
    pub sends: u32,
    pub resends: u32,
    pub first_sent_ms: Option<i64>,
    pub last_sent_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub confirm_source: Option<String>,
    pub confirm_ip: Option<String>,
    pub confirm_user_agent: Option<String>,
    pub withdrawn_ms: Option<i64>,
    /// Where the withdrawal came from (`api`, `link`, `self_service`, ...).
    pub withdrawn_source: Option<String>,
    /// A confirmed consent counts until then (`cx`); none before consents had a term.
    pub consent_expires_ms: Option<i64>,
    /// When the sweeper sent `consent.expired` (`xpd`).
    pub expired_ms: Option<i64>,
    /// The receipt's signature, once the dispatcher signed it.
    pub seal: Option<ReceiptSeal>,
    /// Provider attempts and delivery reports, oldest first, as compact lines (see `attempts`).
    pub attempt_lines: Vec<String>,
    pub call: Option<CallState>,
}

impl VerificationRecord {
    pub(super) fn from_hash(id: &VerificationId, mut h: HashMap<String, String>) -> Result<Self, StoreError> {
        let context = context_from(&mut h)?;
        let h_phone = h.get(F::PHONE).cloned();
        let h_sent = h.contains_key(F::PROVIDER);
        let mut take = |k: &str| h.remove(k);
        fn req<T>(v: Option<T>, k: &str) -> Result<T, StoreError> {
            v.ok_or_else(|| StoreError::Corrupt(format!("field {k} missing")))
        }
        fn num<T: std::str::FromStr>(v: Option<String>, k: &str) -> Result<T, StoreError> {
            req(v, k)?.parse().map_err(|_| StoreError::Corrupt(format!("field {k} not a number")))
        }
        fn opt_num(v: Option<String>) -> Option<i64> {
            v.and_then(|s| s.parse().ok())
        }
        Ok(Self {
            id: id.clone(),
            tenant: req(take(F::TENANT), F::TENANT)?,
            status: req(take(F::STATUS).as_deref().and_then(Status::parse), F::STATUS)?,
            method: req(take(F::METHOD).as_deref().and_then(Method::parse), F::METHOD)?,
            channel: req(take(F::CHANNEL).as_deref().and_then(Channel::parse), F::CHANNEL)?,
            phone: req(take(F::PHONE), F::PHONE)?,
            to: take(F::TO)
                .or_else(|| h_phone.clone())
                .ok_or_else(|| StoreError::Corrupt("field ph missing".into()))?,
            seed_hex: req(take(F::SEED), F::SEED)?,
            // Dropped once the verification is final: no page can use it any more.
            confirm_token_hash: take(F::CONFIRM_TOKEN).unwrap_or_default(),
            optout_token_hash: req(take(F::OPTOUT_TOKEN), F::OPTOUT_TOKEN)?,
            code_length: num(take(F::CODE_LENGTH), F::CODE_LENGTH)?,
            attempts: num(take(F::ATTEMPTS), F::ATTEMPTS)?,
            max_attempts: num(take(F::MAX_ATTEMPTS), F::MAX_ATTEMPTS)?,
            created_ms: num(take(F::CREATED), F::CREATED)?,
            expires_ms: num(take(F::EXPIRES), F::EXPIRES)?,
            ttl_ms: opt_num(take(F::TTL)).unwrap_or(0),
            locale: take(F::LOCALE).as_deref().and_then(Locale::parse).unwrap_or_default(),
            initiated_by: take(F::INITIATED_BY).as_deref().and_then(InitiatedBy::parse).unwrap_or_default(),
            reask: take(F::REASK).is_some(),
            active_act: take(F::ACTIVE_ACT),
            context,
            pseudonym: take(F::PSEUDONYM).unwrap_or_default(),
            suppressed_until_ms: opt_num(take("!sup")),
            batch: take(F::BATCH),
            body_hash: take(F::BODY_HASH),
            delivery: match take(F::DELIVERY) {
                Some(d) => {
                    MessageState::parse(&d).ok_or_else(|| StoreError::Corrupt(format!("delivery state {d:?}")))?
                }
                None => MessageState::Queued,
            },
            provider: take(F::PROVIDER).filter(|s| !s.is_empty()),
            // Absent after a send: the provider took our own id (without `vf_`) as reference.
            provider_reference: match take(F::PROVIDER_REFERENCE) {
                None if h_sent => Some(id.as_str()[3..].to_string()),
                other => other.filter(|s| !s.is_empty()),
            },
            sends: take(F::SENDS).and_then(|s| s.parse().ok()).unwrap_or(0),
            resends: take(F::RESENDS).and_then(|s| s.parse().ok()).unwrap_or(0),
            first_sent_ms: opt_num(take(F::FIRST_SENT)),
            last_sent_ms: opt_num(take(F::LAST_SENT)),
            finished_ms: opt_num(take(F::DONE)),
            confirm_source: take(F::CONFIRM_SOURCE),
            confirm_ip: take(F::CONFIRM_IP),
            confirm_user_agent: take(F::CONFIRM_USER_AGENT),
            withdrawn_ms: opt_num(take(F::WITHDRAWN)),
            withdrawn_source: take(F::WITHDRAWN_SOURCE),
            consent_expires_ms: opt_num(take(F::CONSENT_EXPIRES)),
            expired_ms: opt_num(take(F::CONSENT_EXPIRED)),
            seal: match (take(F::RECEIPT_KID), take(F::RECEIPT_SIG_1), take(F::RECEIPT_SIG_2), take(F::RECEIPT_ID)) {
                (Some(kid), Some(a), Some(b), Some(receipt_id)) => {
                    Some(ReceiptSeal { kid, signature: format!("{a}{b}"), receipt_id })
                }
                _ => None,
            },
            attempt_lines: {
                let n: usize = take(F::ATTEMPT_LINES).and_then(|s| s.parse().ok()).unwrap_or(0);
                (1..=n).filter_map(|i| take(&format!("a{i}"))).collect()
            },
            call: match (opt_num(take(F::CALL_WINDOW_START)), opt_num(take(F::CALL_WINDOW_END))) {
                (Some(start_ms), Some(end_ms)) => Some(CallState {
                    start_ms,
                    end_ms,
                    caller_number: take(F::CALLER_NUMBER).unwrap_or_default(),
                    reschedules: take(F::RESCHEDULES).and_then(|s| s.parse().ok()).unwrap_or(0),
                    announcement_sha256: take(F::ANNOUNCEMENT_HASH),
                    announced_at_ms: opt_num(take(F::ANNOUNCED_AT)),
                    agent_id: take(F::AGENT),
                    called_at_ms: opt_num(take(F::CALLED_AT)),
                    recording_uri: take(F::RECORDING_URI),
                    recording_sha256: take(F::RECORDING_SHA256),
                    recording_duration_seconds: take(F::RECORDING_DURATION).and_then(|s| s.parse().ok()),
                    retain_until_ms: opt_num(take(F::RETAIN_UNTIL)),
                }),
                _ => None,
            },
        })
    }

    /// When the current announcement went out (call method), if it has.
    pub fn last_announcement_ms(&self) -> Option<i64> {
        self.call.as_ref().and_then(|c| c.announced_at_ms)
    }

    pub fn seed(&self) -> Vec<u8> {
        hex::decode(&self.seed_hex).unwrap_or_default()
    }

    /// The receipt id: the one its seal names once signed, else derived under the key the
    /// verification was made under.
    pub fn receipt_id(&self, key: &crate::domain::ServerKeys) -> String {
        match &self.seal {
            Some(seal) => seal.receipt_id.clone(),
            None => key.receipt_id(&self.id, &self.seed(), &self.optout_token_hash),
        }
    }

    /// How the person confirmed: `call`, `link` (the confirm page) or `code`.
    pub fn confirmed_how(&self) -> &'static str {
        match (self.method, self.confirm_source.as_deref()) {
            (Method::Call, _) => "call",
            (_, Some("link")) => "link",
            _ => "code",
        }
    }
}

impl From<&NewVerification> for VerificationRecord {
    /// The record exactly as `create` wrote it, without reading it back.
    fn from(n: &NewVerification) -> Self {
        Self {
            id: n.id.clone(),
            tenant: n.tenant.clone(),
            status: Status::Pending,
            method: n.method,
            channel: n.channel,
            phone: n.phone.clone(),
            to: n.to.clone(),
            seed_hex: n.seed_hex.clone(),
            confirm_token_hash: n.confirm_token_hash.clone(),
            optout_token_hash: n.optout_token_hash.clone(),
            code_length: n.code_length,
            attempts: 0,
            max_attempts: n.max_attempts,
            created_ms: n.created_ms,
            expires_ms: n.expires_ms,
            ttl_ms: n.expires_ms - n.created_ms,
            locale: n.locale,
            initiated_by: n.initiated_by,
            reask: n.reask,
            active_act: n.active_act().map(str::to_string),
            context: n.context.clone(),
            pseudonym: n.pseudonym.clone(),
            suppressed_until_ms: None,
            batch: n.batch.clone(),
            body_hash: n.body_hash.clone(),
            delivery: MessageState::Queued,
            provider: None,
            provider_reference: None,
            sends: 0,
            resends: 0,
            first_sent_ms: None,
            last_sent_ms: None,
            finished_ms: None,
            confirm_source: None,
            confirm_ip: None,
            confirm_user_agent: None,
            withdrawn_ms: None,
            withdrawn_source: None,
            consent_expires_ms: None,
            expired_ms: None,
            seal: None,
            attempt_lines: Vec::new(),
            call: n.call.as_ref().map(|c| CallState {
                start_ms: c.start_ms,
                end_ms: c.end_ms,
                caller_number: c.caller_number.clone(),
                ..Default::default()
            }),
        }
    }
}
