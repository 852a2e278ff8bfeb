//! The contract with one Lua script: its header names each `KEYS[n]` and `ARGV[n]`, callers
//! name each key and argument they pass (checked against the header in debug builds, so the
//! tests catch a call that drifted from its script), and a reply enum decodes what it answers.
//!
//! A header line is `-- KEYS[1] name  what it is` or `-- ARGV[4] name  what it is`; a last line
//! `-- ARGV[11..] name  …` (or `KEYS[5..]`) names a tail of any length.

use redis::{FromRedisValue, Script, ToRedisArgs, Value};

use super::{Conn, StoreError};
use crate::domain::Status;

/// A compiled script and the names of its keys and arguments.
pub struct Lua {
    pub name: &'static str,
    /// The script's own text, without the prelude (the tests read its header and tags).
    #[cfg(test)]
    pub source: &'static str,
    script: Script,
    /// Read by debug builds and tests only: release builds do not check calls.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    spec: Spec,
}

/// The names a script's header gives: the fixed ones in order, then the tail's, if any.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Spec {
    pub keys: Vec<&'static str>,
    pub keys_tail: Option<&'static str>,
    pub argv: Vec<&'static str>,
    pub argv_tail: Option<&'static str>,
}

impl Spec {
    /// Reads the header. A header out of order, or a line after a tail, is a bug in the script:
    /// the unit tests parse every script, so this never fails at run time.
    pub fn parse(source: &'static str) -> Result<Self, String> {
        let mut spec = Spec::default();
        for line in source.lines().filter_map(|l| l.strip_prefix("-- ")) {
            let (is_key, rest) = match (line.strip_prefix("KEYS["), line.strip_prefix("ARGV[")) {
                (Some(r), _) => (true, r),
                (_, Some(r)) => (false, r),
                _ => continue,
            };
            let (index, rest) = rest.split_once(']').ok_or(format!("no ] in {line:?}"))?;
            let name = rest.split_whitespace().next().ok_or(format!("no name in {line:?}"))?;
            let (fixed, tail) =
                if is_key { (&mut spec.keys, &mut spec.keys_tail) } else { (&mut spec.argv, &mut spec.argv_tail) };
            if tail.is_some() {
                return Err(format!("{line:?} follows a tail"));
            }
            let (n, is_tail) = match index.strip_suffix("..") {
                Some(n) => (n, true),
                None => (index, false),
            };
            let n: usize = n.parse().map_err(|_| format!("bad index in {line:?}"))?;
            if n != fixed.len() + 1 {
                return Err(format!("{line:?}: expected index {}", fixed.len() + 1));
            }
            if is_tail { *tail = Some(name) } else { fixed.push(name) }
        }
        Ok(spec)
    }

    /// The name the header gives the `i`th (0-based) key or argument.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    fn name_at(fixed: &[&'static str], tail: Option<&'static str>, i: usize) -> Option<&'static str> {
        fixed.get(i).copied().or(tail.filter(|_| i >= fixed.len()))
    }

    /// Whether a call's names are the header's, in its order, with no fixed one left out.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    fn check(&self, keys: &[&str], argv: &[&str]) -> Result<(), String> {
        for (kind, fixed, tail, names) in
            [("KEYS", &self.keys, self.keys_tail, keys), ("ARGV", &self.argv, self.argv_tail, argv)]
        {
            for (i, name) in names.iter().enumerate() {
                if Self::name_at(fixed, tail, i) != Some(*name) {
                    return Err(format!("{kind}[{}] is {:?} in the header, not {name:?}", i + 1, fixed.get(i)));
                }
            }
            if names.len() < fixed.len() {
                return Err(format!("{kind}[{}] {} not passed", names.len() + 1, fixed[names.len()]));
            }
        }
        Ok(())
    }
}

impl Lua {
    /// `source` is the script's own text (its header is read from it); `code` what Redis runs.
    pub fn new(name: &'static str, source: &'static str, code: &str) -> Self {
        let spec = Spec::parse(source).unwrap_or_else(|e| panic!("{name}.lua header: {e}"));
        Self {
            name,
            #[cfg(test)]
            source,
            script: Script::new(code),
            spec,
        }
    }

    #[cfg(test)]
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn call(&self) -> Call<'_> {
        Call {
            lua: self,
            inv: self.script.prepare_invoke(),
            #[cfg(debug_assertions)]
            names: (Vec::new(), Vec::new()),
        }
    }
}

/// One invocation being built: each key and argument goes in under its header name.
pub struct Call<'a> {
    lua: &'a Lua,
    inv: redis::ScriptInvocation<'a>,
    #[cfg(debug_assertions)]
    names: (Vec<&'static str>, Vec<&'static str>),
}

impl Call<'_> {
    pub fn key(&mut self, _name: &'static str, key: impl ToRedisArgs) -> &mut Self {
        #[cfg(debug_assertions)]
        self.names.0.push(_name);
        self.inv.key(key);
        self
    }

    pub fn arg(&mut self, _name: &'static str, arg: impl ToRedisArgs) -> &mut Self {
        #[cfg(debug_assertions)]
        self.names.1.push(_name);
        self.inv.arg(arg);
        self
    }

    /// Runs the script (loading it on first use) and converts its reply.
    pub async fn invoke<T: FromRedisValue>(&self, conn: &Conn) -> Result<T, StoreError> {
        #[cfg(debug_assertions)]
        if let Err(e) = self.lua.spec.check(&self.names.0, &self.names.1) {
            panic!("{}.lua called against its header: {e}", self.lua.name);
        }
        Ok(self.inv.invoke_async(&mut conn.clone()).await?)
    }

    /// Runs the script and decodes its reply with `R`'s one decoder.
    pub async fn reply<R: ScriptReply>(&self, conn: &Conn) -> Result<R, StoreError> {
        let value: Value = self.invoke(conn).await?;
        R::decode(&Reply::new(self.lua.name, value))
    }
}

/// A script's reply: a tag (the first element of a table, or the reply itself) and what follows.
#[derive(Debug)]
pub struct Reply {
    script: &'static str,
    items: Vec<Value>,
}

impl Reply {
    pub fn new(script: &'static str, value: Value) -> Self {
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        Self { script, items }
    }

    /// The tag: a string, or a number spelled in decimal.
    pub fn tag(&self) -> String {
        self.items.first().and_then(text).unwrap_or_default()
    }

    /// The `i`th value after the tag, as text.
    pub fn str(&self, i: usize) -> Result<String, StoreError> {
        self.items.get(i + 1).and_then(text).ok_or_else(|| self.short(i))
    }

    /// The `i`th value after the tag, as a number.
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.str(i)?.parse().map_err(|_| StoreError::Corrupt(format!("{}.lua answered a non-number", self.script)))
    }

    /// The `i`th value after the tag, as a verification status.
    pub fn status(&self, i: usize) -> Result<Status, StoreError> {
        let s = self.str(i)?;
        Status::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("{}.lua answered status {s:?}", self.script)))
    }

    /// The `i`th value after the tag, as a count (a negative one reads as 0).
    pub fn count(&self, i: usize) -> Result<u32, StoreError> {
        Ok(u32::try_from(self.int(i)?.max(0)).unwrap_or(u32::MAX))
    }

    fn short(&self, i: usize) -> StoreError {
        StoreError::Corrupt(format!("{}.lua answered {:?} without value {}", self.script, self.tag(), i + 1))
    }

    /// The error for a tag the decoder does not know. Only the tag is kept: the values may hold
    /// ids, and a changed script is found by its tag.
    pub fn unknown<T>(&self) -> Result<T, StoreError> {
        Err(StoreError::UnexpectedReply { script: self.script, tag: self.tag(), values: self.items.len() })
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Okay => Some("OK".into()),
        Value::Nil => Some(String::new()),
        _ => None,
    }
}

/// What one script answers, decoded in one place.
pub trait ScriptReply: Sized {
    /// An unknown tag is [`StoreError::UnexpectedReply`], never a default outcome.
    fn decode(reply: &Reply) -> Result<Self, StoreError>;
}

/// The tags a script's text answers with: `return {'tag', …}`, `return 'tag'`, `return 2`, and
/// `outcome = 'tag'` for a script that answers a variable.
#[cfg(test)]
pub fn tags_in(source: &str) -> Vec<String> {
    let mut tags = Vec::new();
    for line in source.lines().map(|l| l.split("--").next().unwrap_or("")) {
        for part in line.split("return ").skip(1).chain(line.split("outcome = ").skip(1)) {
            let part = part.trim_start_matches('{');
            let tag = if let Some(q) = part.strip_prefix('\'') {
                q.split('\'').next().map(str::to_string)
            } else {
                let n: String = part.chars().take_while(char::is_ascii_digit).collect();
                let whole = part[n.len()..].chars().next().is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
                (!n.is_empty() && whole).then_some(n)
            };
            tags.extend(tag.filter(|t| !tags.contains(t)));
        }
    }
    tags
}

/// Fails when `R` does not know a tag its script answers with.
#[cfg(test)]
pub fn assert_decodes_every_tag<R: ScriptReply + std::fmt::Debug>(lua: &Lua) {
    let tags = tags_in(lua.source);
    assert!(!tags.is_empty(), "{}.lua: no tags found", lua.name);
    for tag in tags {
        let r = Reply::new(lua.name, Value::Array(vec![Value::BulkString(tag.clone().into_bytes())]));
        if let Err(e @ StoreError::UnexpectedReply { .. }) = R::decode(&r) {
            panic!("{}.lua answers {tag:?}, which its decoder does not know: {e}", lua.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "-- KEYS[1] verification  the record\n-- KEYS[2] events\n\
        -- ARGV[1] id\n-- ARGV[2] now\n-- ARGV[3..] mac  previous macs\nreturn {'ok'}";

    #[test]
    fn a_header_names_each_key_and_argument_and_a_tail() {
        let spec = Spec::parse(SCRIPT).unwrap();
        assert_eq!(spec.keys, ["verification", "events"]);
        assert_eq!((spec.argv.as_slice(), spec.argv_tail), (["id", "now"].as_slice(), Some("mac")));
        assert_eq!(spec.keys_tail, None);
        assert!(Spec::parse("-- ARGV[2] now").unwrap_err().contains("expected index 1"));
        assert!(Spec::parse("-- ARGV[1..] x\n-- ARGV[2] y").unwrap_err().contains("follows a tail"));
    }

    #[test]
    fn a_call_must_pass_the_headers_names_in_order() {
        let spec = Spec::parse(SCRIPT).unwrap();
        assert_eq!(spec.check(&["verification", "events"], &["id", "now", "mac", "mac"]), Ok(()));
        assert_eq!(spec.check(&["verification", "events"], &["id", "now"]), Ok(()));
        assert!(spec.check(&["verification", "events"], &["now", "id"]).unwrap_err().contains("ARGV[1]"));
        assert!(spec.check(&["verification"], &["id", "now"]).unwrap_err().contains("events not passed"));
        assert!(spec.check(&["verification", "events", "x"], &["id", "now"]).is_err());
    }

    #[test]
    fn tags_are_read_from_returns_and_outcomes() {
        let src = "if a then return {'missing', '', 0} end -- return {'comment'}\n\
                   local outcome = 'already'\nreturn 2\nreturn n\nreturn 10\nreturn 'full'\nreturn #due";
        assert_eq!(tags_in(src), ["missing", "already", "2", "10", "full"]);
    }

    #[test]
    fn a_reply_reads_its_tag_and_values_and_names_an_unknown_tag() {
        let r = Reply::new("x", Value::Array(vec![Value::BulkString(b"final".to_vec()), Value::Int(3)]));
        assert_eq!((r.tag(), r.int(0).unwrap(), r.str(0).unwrap()), ("final".into(), 3, "3".into()));
        assert!(matches!(r.str(1), Err(StoreError::Corrupt(_))));
        let e = r.unknown::<()>().unwrap_err();
        assert_eq!(e.to_string(), "x.lua answered \"final\" (2 values), which this build does not know");
        assert_eq!(Reply::new("x", Value::Int(2)).tag(), "2");
    }
}
