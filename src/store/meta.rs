//! The store's meta record, `{ov:meta}`: facts about the store that a start must agree with.
//! Today that is the pseudonym key's fingerprint: every number's partition, consent index and
//! suppression are named by pseudonyms under that key, so another key reads an empty store.

use super::{Store, StoreError, scripts};

const PSEUDONYM_KEY: &str = "pseudonym_key_fp";

#[derive(Debug, PartialEq, Eq)]
pub enum Stamp {
    /// The store was new to this fact; it is recorded now.
    New,
    /// The store holds the same value.
    Same,
    /// The store was written under another value.
    Other,
}

impl Store {
    /// Records the pseudonym key's fingerprint on the first start, and compares it on later ones.
    pub async fn stamp_pseudonym_key(&self, fingerprint: &str) -> Result<Stamp, StoreError> {
        let reply: Vec<String> = scripts::META_STAMP
            .key(self.keys.meta())
            .arg(PSEUDONYM_KEY)
            .arg(fingerprint)
            .invoke_async(&mut self.conn.clone())
            .await?;
        match reply.as_slice() {
            [new] if new == "new" => Ok(Stamp::New),
            [_, kept] if kept == fingerprint => Ok(Stamp::Same),
            [_, _] => Ok(Stamp::Other),
            _ => Err(StoreError::Corrupt("unexpected meta reply".into())),
        }
    }
}
