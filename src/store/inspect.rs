//! What the store can tell about its Redis without changing anything: each master's memory,
//! eviction policy and persistence, read from `INFO` (which managed services allow where they
//! refuse `CONFIG GET`), and whether the key prefix holds data.

use std::collections::HashSet;

use redis::{FromRedisValue, InfoDict, RedisError, Value};

use super::{Store, StoreError};

/// One master's settings and memory, as `INFO` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `host:port`.
    pub node: String,
    pub redis_version: String,
    pub used_memory: u64,
    /// 0: no limit.
    pub maxmemory: u64,
    /// `None` when the node does not report it (some proxies leave it out): then unchecked.
    pub maxmemory_policy: Option<String>,
    pub aof_enabled: bool,
}

/// Every master's settings, and the masters whose ACL refuses `INFO` (their settings unchecked).
#[derive(Debug, Default)]
pub struct RedisNodes {
    pub nodes: Vec<NodeInfo>,
    pub refused: Vec<String>,
}

impl NodeInfo {
    /// Reads an `INFO` reply; a size a managed service leaves out reads as 0.
    pub fn parse(node: String, info: &str) -> Self {
        let dict = InfoDict::new(info);
        Self {
            node,
            redis_version: dict.get("redis_version").unwrap_or_default(),
            used_memory: dict.get("used_memory").unwrap_or(0),
            maxmemory: dict.get("maxmemory").unwrap_or(0),
            maxmemory_policy: dict.get("maxmemory_policy"),
            aof_enabled: dict.get::<u8>("aof_enabled") == Some(1),
        }
    }

    /// Anything but `noeviction` lets Redis drop keys (evidence, queue entries, deadlines)
    /// when memory runs out.
    pub fn evicts(&self) -> bool {
        self.maxmemory_policy.as_deref().is_some_and(|p| p != "noeviction")
    }
}

/// SCAN's reply: the next cursor and a page of keys.
type ScanPage = (u64, Vec<String>);

impl Store {
    /// Every master's `INFO`, in node order. A node whose ACL refuses `INFO` is listed as
    /// refused; any other error fails the whole read, so that no node goes unchecked unnoticed.
    pub async fn redis_nodes(&self) -> Result<RedisNodes, StoreError> {
        let mut out = RedisNodes::default();
        let replies = match self.conn.each_master(&redis::cmd("INFO")).await {
            Err(e) if e.code() == Some("NOPERM") => {
                out.refused.push(self.conn.node_name());
                return Ok(out);
            }
            other => other?,
        };
        for (node, reply) in replies {
            match reply {
                Value::ServerError(e) if e.code() == "NOPERM" => out.refused.push(node),
                Value::ServerError(e) => return Err(RedisError::from(e).into()),
                reply => out.nodes.push(NodeInfo::parse(node, &info_text(reply)?)),
            }
        }
        out.nodes.sort_by(|a, b| a.node.cmp(&b.node));
        out.refused.sort();
        Ok(out)
    }

    /// Whether any key under the prefix but the meta record exists. SCAN stops at the first,
    /// so a store that holds data answers at once; an empty one costs one walk of the keyspace.
    pub async fn holds_data(&self) -> Result<bool, StoreError> {
        Ok(self.scan_prefix(true).await? > 0)
    }

    /// The keys under the prefix but the meta record, counted by SCAN over every master (each
    /// node's keys once, even when SCAN returns one twice).
    pub async fn count_data_keys(&self) -> Result<u64, StoreError> {
        self.scan_prefix(false).await
    }

    /// Counts keys under the prefix other than the meta record; with `first`, stops at one.
    async fn scan_prefix(&self, first: bool) -> Result<u64, StoreError> {
        let pattern = format!("{{{}:*", glob_escape(self.keys.prefix()));
        let meta = self.keys.meta();
        let mut count = 0;
        for (node, _) in self.conn.each_master(&redis::cmd("PING")).await? {
            let mut seen = HashSet::new();
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
                let (next, keys) = ScanPage::from_redis_value(self.conn.on_node(&node, &scan).await?)
                    .map_err(redis::RedisError::from)?;
                seen.extend(keys.into_iter().filter(|k| *k != meta));
                if (first && !seen.is_empty()) || next == 0 {
                    break;
                }
                cursor = next;
            }
            count += seen.len() as u64;
            if first && count > 0 {
                break;
            }
        }
        Ok(count)
    }
}

/// INFO answers a bulk string, or a verbatim string over RESP3.
fn info_text(reply: Value) -> Result<String, StoreError> {
    match reply {
        Value::VerbatimString { text, .. } => Ok(text),
        other => Ok(String::from_redis_value(other).map_err(RedisError::from)?),
    }
}

/// A key prefix as a literal in a SCAN pattern.
fn glob_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_are_read_and_missing_ones_read_as_the_defaults() {
        let text = "# Server\r\nredis_version:7.0.15\r\n# Memory\r\nused_memory:1048576\r\n\
                    maxmemory:104857600\r\nmaxmemory_policy:allkeys-lru\r\n# Persistence\r\naof_enabled:1\r\n";
        let n = NodeInfo::parse("127.0.0.1:6379".into(), text);
        assert_eq!(
            (n.redis_version.as_str(), n.used_memory, n.maxmemory, n.maxmemory_policy.as_deref(), n.aof_enabled),
            ("7.0.15", 1_048_576, 104_857_600, Some("allkeys-lru"), true)
        );
        assert!(n.evicts());
        let bare = NodeInfo::parse("x:1".into(), "# Memory\r\nused_memory:5\r\n");
        assert_eq!((bare.maxmemory, bare.maxmemory_policy.as_deref(), bare.aof_enabled), (0, None, false));
        assert!(!bare.evicts(), "an unreported policy is unchecked, not evicting");
    }

    #[test]
    fn a_prefix_is_a_literal_in_a_scan_pattern() {
        assert_eq!(glob_escape("ov"), "ov");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
