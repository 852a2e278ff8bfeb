//! The Lua scripts, compiled once with the shared prelude; run with EVALSHA.

use std::sync::LazyLock;

use super::script::Lua;

const PRELUDE: &str = include_str!("lua/prelude.lua");

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

/// Each script once, as a [`Lua`] named after its file, with the prelude's functions it uses.
macro_rules! scripts {
    ($($static:ident = $name:literal $(with $prelude:ident)?,)*) => {
        $(pub static $static: LazyLock<Lua> = LazyLock::new(|| {
            let source = include_str!(concat!("lua/", $name, ".lua"));
            Lua::new($name, source, &scripts!(@code source $($prelude)?))
        });)*
        /// Every script, for the tests that read their text.
        #[cfg(test)]
        pub static ALL: &[&LazyLock<Lua>] = &[$(&$static),*];
    };
    (@code $source:ident prelude) => { format!("{}\n{}", prelude_for($source), $source) };
    (@code $source:ident) => { $source.to_string() };
}

scripts! {
    CREATE = "create" with prelude,
    CHECK = "check" with prelude,
    ANSWER_LINK = "answer_link" with prelude,
    OPT_OUT = "opt_out" with prelude,
    CANCEL = "cancel" with prelude,
    RESEND = "resend" with prelude,
    MARK_SENT = "mark_sent" with prelude,
    RATE_LIMIT = "rate_limit" with prelude,
    ACK = "ack",
    OUTBOX_PUSH = "outbox_push",
    SWEEP = "sweep" with prelude,
    FANOUT = "fanout" with prelude,
    DELIVERY_RESULT = "delivery_result",
    DUE_RETRIES = "due_retries",
    REDELIVER = "redeliver",
    RECOVER_ONE = "recover_one",
    EP_CREATE = "ep_create",
    EP_DELETE = "ep_delete",
    EP_REPLACE = "ep_replace",
    WITHDRAW_VERIFICATION = "withdraw_verification" with prelude,
    CALL_OUTCOME = "call_outcome" with prelude,
    RETENTION_DUE = "retention_due",
    HOLD = "hold" with prelude,
    SEND_FAILED = "send_failed" with prelude,
    META_STAMP = "meta_stamp",
    LAYOUT_STAMP = "layout_stamp",
    IDEM_BEGIN = "idem_begin",
    IDEM_FINISH = "idem_finish",
    LOAD = "load" with prelude,
    LOOKUP = "lookup" with prelude,
    LOOKUP_MANY = "lookup_many" with prelude,
    WITHDRAW_PHONE = "withdraw_phone" with prelude,
    BATCH_PUT = "batch_put",
    BATCH_SKIPPED = "batch_skipped",
    BATCH_ITEMS = "batch_items",
    PACE = "pace",
    TO_CAMPAIGN = "to_campaign" with prelude,
    RELEASE_CAMPAIGN = "release_campaign",
    SS_CHALLENGE = "ss_challenge",
    SS_CHECK = "ss_check" with prelude,
    SS_END = "ss_end",
    SUPPRESSION = "suppression" with prelude,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defined(script: &str) -> Vec<&str> {
        script.lines().filter_map(|l| l.strip_prefix("local function ")?.split('(').next()).collect()
    }

    /// The indexes `KEYS[n]` or `ARGV[n]` is spelled with in a script's code, comments left out.
    fn indexes(source: &str, kind: &str) -> std::collections::BTreeSet<usize> {
        let code = source.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
        code.split(&format!("{kind}[")).skip(1).filter_map(|r| r.split(']').next()?.parse().ok()).collect()
    }

    #[test]
    fn every_scripts_header_names_each_key_and_argument_its_code_reads() {
        assert_eq!(ALL.len(), std::fs::read_dir("src/store/lua").unwrap().count() - 1, "a script missing from ALL");
        for lua in ALL {
            let spec = lua.spec();
            for (kind, fixed, tail) in [("KEYS", &spec.keys, spec.keys_tail), ("ARGV", &spec.argv, spec.argv_tail)] {
                let used = indexes(lua.source, kind);
                for n in &used {
                    assert!(
                        *n <= fixed.len() || tail.is_some(),
                        "{}.lua reads {kind}[{n}], not in its header",
                        lua.name
                    );
                }
                for (i, name) in fixed.iter().enumerate() {
                    assert!(
                        used.contains(&(i + 1)),
                        "{}.lua: {kind}[{}] {name} is in the header but never read",
                        lua.name,
                        i + 1
                    );
                }
            }
        }
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
