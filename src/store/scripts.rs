//! The Lua scripts, compiled once with the shared prelude; run with EVALSHA.

use std::sync::LazyLock;

use redis::Script;

const PRELUDE: &str = include_str!("lua/prelude.lua");

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{}\n{body}", prelude_for(body)))
}

/// The prelude's functions that `body` uses, directly or through each other, in their order.
/// Redis runs a script's whole text on every call, and making the closures of all the
/// prelude's functions cost ~2.7 µs per call: more than a cheap script's own work.
fn prelude_for(body: &str) -> String {
    let chunks = prelude_functions();
    let mut needed = identifiers(body);
    // A function only calls those defined before it, so one pass from the last one suffices.
    let mut keep = vec![false; chunks.len()];
    for (i, (name, text)) in chunks.iter().enumerate().rev() {
        if needed.contains(name) {
            keep[i] = true;
            needed.extend(identifiers(text));
        }
    }
    chunks.iter().zip(keep).filter(|(_, k)| *k).map(|((_, text), _)| *text).collect()
}

/// The prelude cut into its functions: (name, text with the comment above it).
fn prelude_functions() -> Vec<(&'static str, &'static str)> {
    let mut chunks = Vec::new();
    let (mut start, mut name, mut at) = (0, None, 0);
    for line in PRELUDE.split_inclusive('\n') {
        at += line.len();
        if let Some(rest) = line.strip_prefix("local function ") {
            name = rest.split('(').next();
        }
        let ends =
            line.trim_end() == "end" || (line.starts_with("local function ") && line.trim_end().ends_with(" end"));
        if let (true, Some(n)) = (ends, name) {
            chunks.push((n, &PRELUDE[start..at]));
            (start, name) = (at, None);
        }
    }
    chunks
}

/// The identifiers in Lua code, comments left out. Over-counting (a word in a string) only
/// keeps a function that is not needed.
fn identifiers(code: &str) -> std::collections::HashSet<&str> {
    code.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
        .collect()
}

pub static CREATE: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/create.lua")));
pub static CHECK: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/check.lua")));
pub static ANSWER_LINK: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/answer_link.lua")));
pub static OPT_OUT: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/opt_out.lua")));
pub static CANCEL: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/cancel.lua")));
pub static RESEND: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/resend.lua")));
pub static MARK_SENT: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/mark_sent.lua")));
pub static RATE_LIMIT: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/rate_limit.lua")));
pub static ACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ack.lua")));
pub static OUTBOX_PUSH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/outbox_push.lua")));
pub static SWEEP: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/sweep.lua")));
pub static FANOUT: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/fanout.lua")));
pub static DELIVERY_RESULT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/delivery_result.lua")));
pub static DUE_RETRIES: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/due_retries.lua")));
pub static REDELIVER: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/redeliver.lua")));
pub static EP_CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ep_create.lua")));
pub static EP_DELETE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ep_delete.lua")));
pub static EP_REPLACE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ep_replace.lua")));
pub static WITHDRAW_VERIFICATION: LazyLock<Script> =
    LazyLock::new(|| with_prelude(include_str!("lua/withdraw_verification.lua")));
pub static CALL_OUTCOME: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/call_outcome.lua")));
pub static RETENTION_DUE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/retention_due.lua")));
pub static HOLD: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/hold.lua")));
pub static SEND_FAILED: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/send_failed.lua")));
pub static META_STAMP: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/meta_stamp.lua")));
pub static IDEM_BEGIN: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/idem_begin.lua")));
pub static IDEM_FINISH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/idem_finish.lua")));
pub static LOAD: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/load.lua")));
pub static LOOKUP: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/lookup.lua")));
pub static WITHDRAW_PHONE: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/withdraw_phone.lua")));
pub static BATCH_PUT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/batch_put.lua")));
pub static BATCH_SKIPPED: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/batch_skipped.lua")));
pub static PACE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/pace.lua")));
pub static TO_CAMPAIGN: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/to_campaign.lua")));
pub static RELEASE_CAMPAIGN: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/release_campaign.lua")));

#[cfg(test)]
mod tests {
    use super::*;

    fn defined(script: &str) -> Vec<&str> {
        script.lines().filter_map(|l| l.strip_prefix("local function ")?.split('(').next()).collect()
    }

    #[test]
    fn the_prelude_is_cut_into_whole_functions_and_nothing_else() {
        let chunks = prelude_functions();
        let joined: String = chunks.iter().map(|(_, t)| *t).collect();
        // Only trailing blank lines may be left over: a statement outside a function would be lost.
        assert_eq!(joined.trim_end(), PRELUDE.trim_end());
        assert_eq!(chunks.iter().map(|(n, _)| *n).collect::<Vec<_>>(), defined(PRELUDE));
        assert!(chunks.len() > 15);
    }

    #[test]
    fn a_script_gets_what_it_calls_and_what_those_call_in_order() {
        // check.lua calls ct_eq, finish and put; finish calls batch_of, consent_index, get,
        // index_keep, batch_move, emit and keep, and those call further ones.
        let p = prelude_for(include_str!("lua/check.lua"));
        let got = defined(&p);
        for f in ["ct_eq", "tag_of", "blob", "put", "get", "keep", "batch_of", "batch_move", "emit", "finish"] {
            assert!(got.contains(&f), "{f} missing from {got:?}");
        }
        for f in ["take_windows", "attempt_fields", "log_attempts", "suppress"] {
            assert!(!got.contains(&f), "{f} not used by check.lua, yet included");
        }
        let order: Vec<&str> = defined(PRELUDE).into_iter().filter(|f| got.contains(f)).collect();
        assert_eq!(got, order);
        // A name only in a comment does not count.
        assert!(prelude_for("-- finish(x)\nreturn 1").is_empty());
    }
}
