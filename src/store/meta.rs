//! The store's meta record, `{ov:meta}`: facts about the store that a start must agree with.
//! Today that is the pseudonym key's fingerprint: every number's partition, consent index and
//! suppression are named by pseudonyms under that key, so another key reads an empty store.

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

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

/// What meta_stamp.lua answers: the field was new, or the value an earlier start wrote.
#[derive(Debug)]
enum Kept {
    New,
    Value(String),
}

impl ScriptReply for Kept {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        match r.tag().as_str() {
            "new" => Ok(Self::New),
            "kept" => Ok(Self::Value(r.str(0)?)),
            _ => r.unknown(),
        }
    }
}

impl Store {
    /// Records the pseudonym key's fingerprint on the first start, and compares it on later ones.
    pub async fn stamp_pseudonym_key(&self, fingerprint: &str) -> Result<Stamp, StoreError> {
        let kept: Kept = scripts::META_STAMP
            .call()
            .key("meta", self.keys.meta())
            .arg("field", PSEUDONYM_KEY)
            .arg("value", fingerprint)
            .reply(&self.conn)
            .await?;
        Ok(match kept {
            Kept::New => Stamp::New,
            Kept::Value(v) if v == fingerprint => Stamp::Same,
            Kept::Value(_) => Stamp::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_stamp_replies_decode_every_tag_the_script_answers() {
        crate::store::script::assert_decodes_every_tag::<Kept>(&scripts::META_STAMP);
    }
}
