//! One number's consents for one tenant: the lookup a call centre makes before every dial,
//! and the withdrawal that covers them all. The index lives in the number's partition, beside
//! its verifications, so each of these is one script on one slot.

use crate::domain::Partition;

use super::{
    Store, StoreError, scripts,
    webhooks::{event_id, event_phone_context},
};

/// One purpose's current consent, as the index and its record say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    pub purpose: String,
    pub verification_id: String,
    pub status: String,
    pub method: String,
    pub channel: String,
    pub confirmed_ms: Option<i64>,
    pub withdrawn_ms: Option<i64>,
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

fn opt_ms(s: &str) -> Option<i64> {
    s.parse().ok()
}

impl Store {
    /// The partition of a number (by its keyed pseudonym): all its verifications live there.
    pub fn partition_of_number(&self, pseudonym: &str) -> Partition {
        self.keys.partition_for(pseudonym)
    }

    /// The consents of a number, for every purpose or one.
    pub async fn consents(
        &self,
        tenant: &str,
        pseudonym: &str,
        purpose: Option<&str>,
    ) -> Result<Vec<ConsentRow>, StoreError> {
        let p = self.partition_of_number(pseudonym);
        let rows: Vec<Vec<String>> = scripts::LOOKUP
            .key(self.keys.consent_index(p, tenant, pseudonym))
            .arg(purpose.unwrap_or(""))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let [purpose, id, status, method, channel, done, wd, seed, rid, otk]: [String; 10] =
                    r.try_into().ok()?;
                Some(ConsentRow {
                    purpose,
                    verification_id: id,
                    status,
                    method,
                    channel,
                    confirmed_ms: opt_ms(&done),
                    withdrawn_ms: opt_ms(&wd),
                    seed_hex: seed,
                    receipt_id: Some(rid).filter(|r| !r.is_empty()),
                    optout_token_hash: otk,
                })
            })
            .collect())
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
            .key(self.keys.consent_index(p, tenant, pseudonym))
            .key(self.keys.events(p))
            .arg(tenant)
            .arg(purpose.unwrap_or(""))
            .arg(now)
            .arg(self.minid(now))
            .arg(source)
            .arg(self.suppress_until(now))
            .arg(&sealed_phone)
            .invoke_async(&mut self.conn.clone())
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
