//! One number's consents for one tenant: the lookup a call centre makes before every dial,
//! and the withdrawal that covers them all. The index lives in the number's partition, beside
//! its verifications, so each of these is one script on one slot.

use crate::domain::Partition;

use super::{
    Store, StoreError, scripts,
    webhooks::{event_id, event_phone_context},
};

/// Where a consent stands. Only an active one lets anyone call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentState {
    Active,
    Withdrawn,
    /// Its term ended (`verification.receipt_retention_days` after it was given).
    Expired,
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "withdrawn" => Some(Self::Withdrawn),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// The newest consent of one purpose and caller, as the index and its record say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    pub purpose: String,
    /// Who may call on it ('' for a record without a readable notice).
    pub caller: String,
    pub verification_id: String,
    pub state: ConsentState,
    pub method: String,
    pub channel: String,
    pub confirmed_ms: Option<i64>,
    pub withdrawn_ms: Option<i64>,
    /// When it stops counting; none for a consent given before consents had a term.
    pub expires_ms: Option<i64>,
    pub seed_hex: String,
    /// The receipt id it was signed under; `None` until the receipt is signed.
    pub receipt_id: Option<String>,
    /// Names the server key the verification was made under.
    pub optout_token_hash: String,
}

/// What a withdrawal by number did: the events it wrote, and the consents they withdraw
/// (`None` for the one event that names only the number).
#[derive(Debug, Clone)]
pub struct PhoneWithdrawal {
    pub events: Vec<(String, Option<String>)>,
}

/// All a number's index holds with one tenant: every consent kept, per purpose, newest first,
/// and until when campaigns keep away. Empty when the tenant holds nothing for the number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentHistory {
    /// Purpose id and its verification ids, newest first; purposes sorted by id.
    pub purposes: Vec<(String, Vec<String>)>,
    pub suppressed_until_ms: Option<i64>,
}

impl ConsentHistory {
    /// Whether the tenant holds a consent or a suppression for the number at `now_ms`.
    pub fn holds_anything(&self, now_ms: i64) -> bool {
        self.purposes.iter().any(|(_, ids)| !ids.is_empty()) || self.suppressed_until_ms.is_some_and(|u| u > now_ms)
    }
}

fn opt_ms(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// One row as `consent_rows` in the scripts' prelude answers it.
fn decode_row(r: Vec<String>) -> Result<ConsentRow, StoreError> {
    let n = r.len();
    let [purpose, caller, id, state, method, channel, done, wd, cx, seed, rid, otk]: [String; 12] =
        r.try_into().map_err(|_| StoreError::Corrupt(format!("lookup.lua answered a row of {n}")))?;
    let state =
        ConsentState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("lookup.lua answered state {state}")))?;
    Ok(ConsentRow {
        purpose,
        caller,
        verification_id: id,
        state,
        method,
        channel,
        confirmed_ms: opt_ms(&done),
        withdrawn_ms: opt_ms(&wd),
        expires_ms: opt_ms(&cx),
        seed_hex: seed,
        receipt_id: Some(rid).filter(|r| !r.is_empty()),
        optout_token_hash: otk,
    })
}

impl Store {
    /// The partition of a number (by its keyed pseudonym): all its verifications live there.
    pub fn partition_of_number(&self, pseudonym: &str) -> Partition {
        self.keys.partition_for(pseudonym)
    }

    /// The consents of a number: the newest per purpose and caller, for every purpose or one,
    /// every caller or one.
    pub async fn consents(
        &self,
        tenant: &str,
        pseudonym: &str,
        purpose: Option<&str>,
        caller: Option<&str>,
    ) -> Result<Vec<ConsentRow>, StoreError> {
        let p = self.partition_of_number(pseudonym);
        let rows: Vec<Vec<String>> = scripts::LOOKUP
            .call()
            .key("consent_index", self.keys.consent_index(p, tenant, pseudonym))
            .arg("purpose", purpose.unwrap_or(""))
            .arg("caller", caller.unwrap_or(""))
            .arg("now", chrono::Utc::now().timestamp_millis())
            .invoke(&self.conn)
            .await?;
        rows.into_iter().map(decode_row).collect()
    }

    /// The consents of many numbers (pseudonyms), one list per number in order: one script
    /// per partition, the partitions asked together.
    pub async fn consents_many(
        &self,
        tenant: &str,
        pseudonyms: &[String],
        purpose: Option<&str>,
        caller: Option<&str>,
    ) -> Result<Vec<Vec<ConsentRow>>, StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut by_partition: std::collections::BTreeMap<u16, Vec<usize>> = Default::default();
        for (i, ps) in pseudonyms.iter().enumerate() {
            by_partition.entry(self.partition_of_number(ps).0).or_default().push(i);
        }
        let calls = by_partition.into_iter().map(|(p, idx)| async move {
            let mut call = scripts::LOOKUP_MANY.call();
            for &i in &idx {
                call.key("consent_index", self.keys.consent_index(Partition(p), tenant, &pseudonyms[i]));
            }
            let lists: Vec<Vec<Vec<String>>> = call
                .arg("purpose", purpose.unwrap_or(""))
                .arg("caller", caller.unwrap_or(""))
                .arg("now", now)
                .invoke(&self.conn)
                .await?;
            Ok::<_, StoreError>((idx, lists))
        });
        let mut out: Vec<Vec<ConsentRow>> = vec![Vec::new(); pseudonyms.len()];
        for (idx, lists) in futures_util::future::try_join_all(calls).await? {
            if lists.len() != idx.len() {
                return Err(StoreError::Corrupt(format!(
                    "lookup_many.lua answered {} lists for {}",
                    lists.len(),
                    idx.len()
                )));
            }
            for (i, rows) in idx.into_iter().zip(lists) {
                out[i] = rows.into_iter().map(decode_row).collect::<Result<_, _>>()?;
            }
        }
        Ok(out)
    }

    /// The index of a number as it stands: a read, so a plain `HGETALL` (no state changes).
    pub async fn consent_history(&self, tenant: &str, pseudonym: &str) -> Result<ConsentHistory, StoreError> {
        let p = self.partition_of_number(pseudonym);
        let mut conn = self.conn.clone();
        let fields: Vec<(String, String)> =
            redis::cmd("HGETALL").arg(self.keys.consent_index(p, tenant, pseudonym)).query_async(&mut conn).await?;
        let mut history = ConsentHistory::default();
        for (field, value) in fields {
            if field == "!" {
                history.suppressed_until_ms = value.parse().ok();
            } else if let Some(purpose) = field.strip_prefix("p:") {
                let ids: Vec<String> = value.split_whitespace().rev().map(str::to_string).collect();
                history.purposes.push((purpose.to_string(), ids));
            }
        }
        history.purposes.sort();
        Ok(history)
    }

    /// Withdraws every consent of a number (or of one purpose), one event each, and keeps
    /// campaigns away from it; with none to withdraw, one event names the number, sealed (it
    /// stays in the events stream for the retention): the dispatcher opens it to build the
    /// webhook.
    pub async fn withdraw_phone(
        &self,
        tenant: &str,
        pseudonym: &str,
        phone: &str,
        purpose: Option<&str>,
        source: &str,
    ) -> Result<PhoneWithdrawal, StoreError> {
        let p = self.partition_of_number(pseudonym);
        let now = chrono::Utc::now().timestamp_millis();
        let sealed_phone = self.seal(phone, &event_phone_context(tenant, now));
        let (sids, vids): (Vec<String>, Vec<String>) = scripts::WITHDRAW_PHONE
            .call()
            .key("consent_index", self.keys.consent_index(p, tenant, pseudonym))
            .key("events", self.keys.events(p))
            .arg("tenant", tenant)
            .arg("purpose", purpose.unwrap_or(""))
            .arg("now", now)
            .arg("minid", self.minid(now))
            .arg("source", source)
            .arg("suppress_until", self.suppress_until(now))
            .arg("sealed_phone", &sealed_phone)
            .invoke(&self.conn)
            .await?;
        Ok(PhoneWithdrawal {
            events: sids
                .iter()
                .zip(vids)
                .map(|(sid, vid)| (event_id(p, sid), Some(vid).filter(|v| !v.is_empty())))
                .collect(),
        })
    }
}
