//! The store's meta record, `{ov:meta}`: facts about the store that a start must agree with.
//! - The layout stamp: which layout of keys and records the store holds, and which release last
//!   started on it. A build reads one layout; any other reads as missing data, not as an error.
//! - The pseudonym key's fingerprint: every number's partition, consent index and suppression
//!   are named by pseudonyms under that key, so another key reads an empty store.

use std::collections::HashMap;

use super::{
    Store, StoreError,
    script::{Reply, ScriptReply},
    scripts,
};

const PSEUDONYM_KEY: &str = "pseudonym_key_fp";

/// The layout of keys and records this build reads and writes. Raise it, with a migration from
/// the one before, when a change leaves stored records unreadable to the code on either side.
pub const LAYOUT: u32 = 1;

/// How a store's layout stamp compares with this build's.
#[derive(Debug, PartialEq, Eq)]
pub enum Layout {
    /// The store holds no data and no stamp (compared only, nothing written).
    Empty,
    /// The store held no data; it is stamped with this layout now.
    Stamped,
    /// The store has this layout; `previous` is the release that started on it before.
    Same { previous: String },
    /// The store holds data and no stamp: written before releases stamped their stores.
    Unstamped,
    /// The store has another layout, written by release `written_by`.
    Other { layout: String, written_by: String },
}

/// What layout_stamp.lua answers.
#[derive(Debug)]
enum LayoutReply {
    Look,
    Decided(Layout),
}

impl ScriptReply for LayoutReply {
    fn decode(r: &Reply) -> Result<Self, StoreError> {
        Ok(Self::Decided(match r.tag().as_str() {
            "look" => return Ok(Self::Look),
            "empty" => Layout::Empty,
            "stamped" => Layout::Stamped,
            "unstamped" => Layout::Unstamped,
            "same" => Layout::Same { previous: r.str(0)? },
            "other" => Layout::Other { layout: r.str(0)?, written_by: r.str(1)? },
            _ => return r.unknown(),
        }))
    }
}

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
    /// Compares the store's layout stamp with [`LAYOUT`] and changes nothing: a start checks
    /// first, and writes only when nothing else refuses it.
    pub async fn check_layout(&self, release: &str, now_ms: i64) -> Result<Layout, StoreError> {
        self.layout_call(release, now_ms, "?", "0").await
    }

    /// Stamps an empty store (`empty`: the check found no data), or notes `release` on a store
    /// of this layout; changes nothing on any other.
    pub async fn stamp_layout(&self, release: &str, now_ms: i64, empty: bool) -> Result<Layout, StoreError> {
        self.layout_call(release, now_ms, if empty { "0" } else { "?" }, "1").await
    }

    async fn layout_call(
        &self,
        release: &str,
        now_ms: i64,
        mut holds_data: &str,
        write: &str,
    ) -> Result<Layout, StoreError> {
        loop {
            let reply: LayoutReply = scripts::LAYOUT_STAMP
                .call()
                .key("meta", self.keys.meta())
                .arg("layout", LAYOUT)
                .arg("version", release)
                .arg("holds_data", holds_data)
                .arg("now", now_ms)
                .arg("write", write)
                .reply(&self.conn)
                .await?;
            match reply {
                LayoutReply::Decided(layout) => return Ok(layout),
                // The script asks only when it has no stamp and no answer: never twice.
                LayoutReply::Look if holds_data != "?" => {
                    return Err(StoreError::UnexpectedReply { script: "layout_stamp", tag: "look".into(), values: 1 });
                }
                LayoutReply::Look => holds_data = if self.holds_data().await? { "1" } else { "0" },
            }
        }
    }

    /// The meta record as it is, field by field (empty when there is none); read only.
    pub async fn meta(&self) -> Result<HashMap<String, String>, StoreError> {
        Ok(redis::cmd("HGETALL").arg(self.keys.meta()).query_async(&mut self.conn.clone()).await?)
    }

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
    fn layout_stamp_replies_decode_every_tag_the_script_answers() {
        crate::store::script::assert_decodes_every_tag::<LayoutReply>(&scripts::LAYOUT_STAMP);
    }

    #[test]
    fn meta_stamp_replies_decode_every_tag_the_script_answers() {
        crate::store::script::assert_decodes_every_tag::<Kept>(&scripts::META_STAMP);
    }
}
