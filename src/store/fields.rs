//! Every field of a verification's Redis hash, named once. The Rust writer (`record.rs`) and
//! reader use these constants; the Lua scripts spell the same names, and a unit test below
//! fails when a script uses a quoted name that is neither a field here nor one of the other
//! words the scripts share (statuses, reply tags, event types, stream and message fields), or
//! when a field here is used by no script and no Rust code. Names are short on purpose: they
//! are repeated in each of millions of hashes.

// Identity and state.
pub const TENANT: &str = "t";
pub const STATUS: &str = "st";
pub const METHOD: &str = "m";
pub const CHANNEL: &str = "ch";
pub const PHONE: &str = "ph";
/// Where the message goes, when it is not the number.
pub const TO: &str = "to";
pub const SEED: &str = "seed";
/// The code's MAC, while pending.
pub const CODE_MAC: &str = "cm";
/// The confirm link token's hash, while pending.
pub const CONFIRM_TOKEN: &str = "ctk";
pub const OPTOUT_TOKEN: &str = "otk";
pub const CODE_LENGTH: &str = "cl";
pub const ATTEMPTS: &str = "att";
pub const MAX_ATTEMPTS: &str = "max";
pub const CREATED: &str = "cr";
pub const EXPIRES: &str = "exp";
pub const TTL: &str = "ttl";
pub const LOCALE: &str = "loc";
pub const INITIATED_BY: &str = "ib";
pub const PSEUDONYM: &str = "ps";
/// The keyed pseudonym of the e-mail address a code or link went to: its consents page finds
/// the consents it confirmed (`{p}:ce:<tenant>:<eps>`).
pub const EMAIL_PSEUDONYM: &str = "eps";
pub const BATCH: &str = "b";
pub const BODY_HASH: &str = "bh";
pub const REASK: &str = "rask";
pub const ACTIVE_ACT: &str = "act";

// The evidence context: the shared notice and the per-person parts.
pub const NOTICE: &str = "n";
pub const PURPOSE_ID: &str = "pid";
pub const COLLECTION_URL: &str = "xu";
pub const COLLECTION_IP: &str = "xi";
pub const COLLECTION_USER_AGENT: &str = "xa";
pub const COLLECTION_AT: &str = "xt";
pub const COLLECTION_CHECKBOX: &str = "xb";
pub const METADATA: &str = "md";

// Sending.
pub const DELIVERY: &str = "dlv";
pub const DELIVERY_AT: &str = "dlv_at";
/// A verdict on the message last sent was recorded.
pub const DELIVERY_REPORTED: &str = "dr";
pub const FIRST_SENT: &str = "sent";
pub const LAST_SENT: &str = "last_sent";
pub const PROVIDER: &str = "prov";
pub const PROVIDER_REFERENCE: &str = "pref";
pub const SENDS: &str = "ns";
pub const RESENDS: &str = "rs";
/// How many attempt lines (`a1`, `a2`, ...) the record holds.
pub const ATTEMPT_LINES: &str = "na";

// The end, and what came after.
pub const DONE: &str = "done";
pub const CONFIRM_SOURCE: &str = "src";
pub const CONFIRM_IP: &str = "cip";
pub const CONFIRM_USER_AGENT: &str = "cua";
pub const WITHDRAWN: &str = "wd";
pub const WITHDRAWN_SOURCE: &str = "wsrc";
pub const WITHDRAWN_IP: &str = "wip";
pub const CONSENT_EXPIRES: &str = "cx";
pub const CONSENT_EXPIRED: &str = "xpd";
pub const RECEIPT_KID: &str = "kid";
pub const RECEIPT_SIG_1: &str = "sg1";
pub const RECEIPT_SIG_2: &str = "sg2";
pub const RECEIPT_ID: &str = "rid";

// Announced calls.
pub const CALL_WINDOW_START: &str = "cw_s";
pub const CALL_WINDOW_END: &str = "cw_e";
pub const CALLER_NUMBER: &str = "cnum";
pub const RESCHEDULES: &str = "resch";
pub const ANNOUNCEMENT_HASH: &str = "ann_h";
pub const ANNOUNCED_AT: &str = "ann_at";
pub const CALLED_AT: &str = "called";
pub const AGENT: &str = "agent";
pub const RECORDING_URI: &str = "rec_uri";
pub const RECORDING_SHA256: &str = "rec_sha";
pub const RECORDING_DURATION: &str = "rec_dur";
pub const RETAIN_UNTIL: &str = "ret_until";

/// Every field above.
pub const ALL: &[&str] = &[
    TENANT,
    STATUS,
    METHOD,
    CHANNEL,
    PHONE,
    TO,
    SEED,
    CODE_MAC,
    CONFIRM_TOKEN,
    OPTOUT_TOKEN,
    CODE_LENGTH,
    ATTEMPTS,
    MAX_ATTEMPTS,
    CREATED,
    EXPIRES,
    TTL,
    LOCALE,
    INITIATED_BY,
    PSEUDONYM,
    EMAIL_PSEUDONYM,
    BATCH,
    BODY_HASH,
    REASK,
    ACTIVE_ACT,
    NOTICE,
    PURPOSE_ID,
    COLLECTION_URL,
    COLLECTION_IP,
    COLLECTION_USER_AGENT,
    COLLECTION_AT,
    COLLECTION_CHECKBOX,
    METADATA,
    DELIVERY,
    DELIVERY_AT,
    DELIVERY_REPORTED,
    FIRST_SENT,
    LAST_SENT,
    PROVIDER,
    PROVIDER_REFERENCE,
    SENDS,
    RESENDS,
    ATTEMPT_LINES,
    DONE,
    CONFIRM_SOURCE,
    CONFIRM_IP,
    CONFIRM_USER_AGENT,
    WITHDRAWN,
    WITHDRAWN_SOURCE,
    WITHDRAWN_IP,
    CONSENT_EXPIRES,
    CONSENT_EXPIRED,
    RECEIPT_KID,
    RECEIPT_SIG_1,
    RECEIPT_SIG_2,
    RECEIPT_ID,
    CALL_WINDOW_START,
    CALL_WINDOW_END,
    CALLER_NUMBER,
    RESCHEDULES,
    ANNOUNCEMENT_HASH,
    ANNOUNCED_AT,
    CALLED_AT,
    AGENT,
    RECORDING_URI,
    RECORDING_SHA256,
    RECORDING_DURATION,
    RETAIN_UNTIL,
];

/// The other words the scripts spell (besides the event types, `webhooks::EVENT_TYPES`): values,
/// reply tags, and the fields of streams, messages, batches and indexes, which are not a
/// verification's.
#[cfg(test)]
const OTHER_WORDS: &[&str] = &[
    // Statuses, delivery states and consent states.
    "pending",
    "confirmed",
    "declined",
    "expired",
    "failed",
    "canceled",
    "queued",
    "held",
    "sent",
    "delivered",
    "retrying",
    "dead",
    "deferred",
    "active",
    "withdrawn",
    "link",
    "optout",
    "call",
    "purpose",
    "all",
    // Reply tags.
    "ok",
    "final",
    "missing",
    "invalid",
    "already",
    "created",
    "exists",
    "suppressed",
    "limited",
    "consented",
    "counted",
    "not_confirmed",
    "needs_window",
    "moved",
    "rescheduled",
    "mismatch",
    "conflict",
    "running",
    "kept",
    "gone",
    "full",
    "new",
    "take",
    "give",
    "debt",
    "unreachable",
    "reschedule",
    "resend",
    "initial",
    "paced",
    "already-consented",
    "duplicate-in-batch",
    "look",
    "empty",
    "stamped",
    "unstamped",
    "same",
    "other",
    // Stream entries, webhook messages, batches, the meta record, the pacing bucket.
    "vid",
    "type",
    "tenant",
    "at",
    "kind",
    "phone",
    "body",
    "eps",
    "eid",
    "ep",
    "req",
    "ts",
    "tok",
    "a",
    "layout",
    "written_by",
    "stamped_at",
    // The consents page's challenges and sessions.
    "ps",
    "mac",
    "left",
    "had",
    "skipped",
    "addr",
    "email",
    // Lua's own words.
    "string",
    "table",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every quoted lowercase word of every script: `'st'`, `'consent.confirmed'` ...
    fn script_words() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/lua");
        let mut words = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("--")) {
                for (i, quoted) in line.split('\'').enumerate() {
                    let word = i % 2 == 1
                        && !quoted.is_empty()
                        && quoted.starts_with(|c: char| c.is_ascii_lowercase())
                        && quoted.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
                    if word {
                        words.push((name.clone(), quoted.to_string()));
                    }
                }
            }
        }
        words
    }

    #[test]
    fn every_name_a_script_spells_is_a_field_or_a_known_word() {
        let unknown: Vec<_> = script_words()
            .into_iter()
            .filter(|(_, w)| {
                let w = w.as_str();
                !ALL.contains(&w) && !OTHER_WORDS.contains(&w) && !crate::webhooks::EVENT_TYPES.contains(&w)
            })
            .collect();
        assert!(unknown.is_empty(), "scripts spell names that are no field and no known word: {unknown:?}");
    }

    /// The constants' names, as this file declares them: `("STATUS", "st")`.
    fn declared() -> Vec<(String, String)> {
        include_str!("fields.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("pub const ")?.split_once(": &str = \""))
            .map(|(name, rest)| (name.to_string(), rest.trim_end_matches("\";").to_string()))
            .collect()
    }

    #[test]
    fn every_field_is_used_by_a_script_or_by_the_reader() {
        let scripts: Vec<String> = script_words().into_iter().map(|(_, w)| w).collect();
        let rust = include_str!("record.rs");
        let unused: Vec<String> = declared()
            .into_iter()
            .filter(|(name, value)| !scripts.contains(value) && !rust.contains(&format!("F::{name}")))
            .map(|(name, _)| name)
            .collect();
        assert!(unused.is_empty(), "fields nothing uses: {unused:?}");
        assert_eq!(declared().len(), ALL.len(), "every constant is in ALL");
    }

    #[test]
    fn the_record_spells_no_field_by_hand() {
        let by_hand: Vec<&str> = include_str!("record.rs")
            .lines()
            .filter(|l| ALL.iter().any(|f| l.contains(&format!("take(\"{f}\")")) || l.contains(&format!("(\"{f}\", "))))
            .collect();
        assert!(by_hand.is_empty(), "use the constants in store::fields: {by_hand:?}");
    }

    #[test]
    fn no_two_fields_share_a_name() {
        let mut seen = std::collections::HashSet::new();
        for f in ALL {
            assert!(seen.insert(*f), "{f} twice");
        }
    }
}
