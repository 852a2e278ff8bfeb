//! What a start checks in Redis before it serves, and what `optin-verify store-info` reports:
//! the store's layout stamp and the Redis settings the service depends on. A store of another
//! layout, or one holding data without a stamp, is refused in every mode: this release would
//! read its records as missing. An evicting Redis is refused in production and warned about in
//! dev; production without AOF starts with a warning.

use std::{collections::HashMap, fmt::Write as _};

use crate::{
    config::{Mode, Settings},
    store::{LAYOUT, Layout, RedisNodes, Store, StoreError},
};

/// This binary's release.
pub const RELEASE: &str = env!("CARGO_PKG_VERSION");

/// Why a start was refused; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "redis: the store under key prefix `{prefix}` holds data but no layout stamp. Either a build from before \
         optin-verify 0.1.0 wrote it, and this release (layout {LAYOUT}) cannot read its records: it would start \
         as if they were missing; or its meta record `{{{prefix}:meta}}` was lost (a Redis restart without AOF). \
         Nothing was changed. See README, \"Upgrading\": keep an old store, with the build that wrote it, for as \
         long as you must answer proof requests from it, and start this release on an empty store (another \
         `redis.key_prefix` or another Redis)"
    )]
    Unstamped { prefix: String },
    #[error(
        "redis: the store under key prefix `{prefix}` has layout {layout}, written by {written_by}; \
         this release ({RELEASE}) reads layout {LAYOUT} and has no migration from it. Nothing was changed. Run \
         the release that wrote it, or start this one on an empty store (another `redis.key_prefix`). See \
         README, \"Upgrading\""
    )]
    OlderLayout { prefix: String, layout: String, written_by: String },
    #[error(
        "redis: the store under key prefix `{prefix}` has layout {layout}, written by {written_by}, \
         newer than this release ({RELEASE}, layout {LAYOUT}) can read. Nothing was changed. Run that release or a \
         later one on it: a release cannot go back to an earlier layout. See README, \"Upgrading\""
    )]
    NewerLayout { prefix: String, layout: String, written_by: String },
    #[error(
        "redis: maxmemory-policy is not `noeviction` on {nodes}. Under memory pressure Redis would then delete keys \
         without telling anyone: the evidence of confirmed consents, queued sends and webhooks, and the \
         deadlines that end codes. Set `maxmemory-policy noeviction` on every node (a managed Redis names it \
         in its parameter group or configuration) and start again: a full Redis then refuses writes instead, \
         the API answers 503, and nothing is lost"
    )]
    Evicting { nodes: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What `check` found, for [`stamp`] to record once nothing else can refuse the start.
#[must_use]
pub struct Checked {
    empty: bool,
}

/// Reads the Redis settings, then compares the layout stamp. Writes nothing: a refused start,
/// here or later, leaves the store as it was.
pub async fn check(store: &Store, mode: Mode, now_ms: i64) -> Result<Checked, Refusal> {
    for warning in assess(&store.redis_nodes().await?, mode)? {
        tracing::warn!("{warning}");
    }
    let layout = store.check_layout(RELEASE, now_ms).await?;
    refusal(store.keys().prefix(), layout).map(|empty| Checked { empty })
}

/// Stamps an empty store with this release's layout, or notes this release on it.
pub async fn stamp(store: &Store, checked: Checked, now_ms: i64) -> Result<(), Refusal> {
    let layout = store.stamp_layout(RELEASE, now_ms, checked.empty).await?;
    match &layout {
        Layout::Stamped => tracing::info!(layout = LAYOUT, "stamped an empty store with this release's layout"),
        Layout::Same { previous } if previous != RELEASE => {
            tracing::info!(layout = LAYOUT, previous = %previous, "store last started by another release")
        }
        _ => {}
    }
    // Another process may have stamped it in between, with another layout.
    refusal(store.keys().prefix(), layout).map(|_| ())
}

/// The refusal a layout stamp calls for; otherwise whether the store is empty.
fn refusal(prefix: &str, layout: Layout) -> Result<bool, Refusal> {
    let prefix = prefix.to_string();
    match layout {
        Layout::Empty => Ok(true),
        Layout::Stamped | Layout::Same { .. } => Ok(false),
        Layout::Unstamped => Err(Refusal::Unstamped { prefix }),
        Layout::Other { layout, written_by } => {
            let written_by =
                if written_by.is_empty() { "an unknown release".into() } else { format!("optin-verify {written_by}") };
            Err(if layout.parse::<u32>().map_or(true, |n| n > LAYOUT) {
                Refusal::NewerLayout { prefix, layout, written_by }
            } else {
                Refusal::OlderLayout { prefix, layout, written_by }
            })
        }
    }
}

/// An evicting policy refuses production and warns in dev; production without AOF warns, and
/// so does a node whose settings could not be read. Answers the warnings.
pub fn assess(redis: &RedisNodes, mode: Mode) -> Result<Vec<String>, Refusal> {
    let mut warnings = Vec::new();
    let evicting: Vec<String> = redis
        .nodes
        .iter()
        .filter(|n| n.evicts())
        .map(|n| format!("{} (`{}`)", n.node, n.maxmemory_policy.as_deref().unwrap_or_default()))
        .collect();
    if !evicting.is_empty() {
        let refusal = Refusal::Evicting { nodes: evicting.join(", ") };
        if mode == Mode::Production {
            return Err(refusal);
        }
        warnings.push(format!("DEV MODE: {refusal}. Production refuses to start on it."));
    }
    let unknown: Vec<&str> =
        redis.nodes.iter().filter(|n| n.maxmemory_policy.is_none()).map(|n| n.node.as_str()).collect();
    let unchecked: Vec<&str> = redis.refused.iter().map(String::as_str).chain(unknown).collect();
    if !unchecked.is_empty() {
        warnings.push(format!(
            "redis: could not read maxmemory-policy and AOF on {} (INFO refused or incomplete): make sure the \
             policy is `noeviction`, or Redis may delete evidence under memory pressure",
            unchecked.join(", ")
        ));
    }
    let no_aof: Vec<&str> = redis.nodes.iter().filter(|n| !n.aof_enabled).map(|n| n.node.as_str()).collect();
    if mode == Mode::Production && !no_aof.is_empty() {
        warnings.push(format!(
            "redis: AOF persistence is off on {}. A Redis crash then loses every write since the last snapshot \
             (all of them without snapshots): verifications started, consents confirmed with their evidence, \
             withdrawals, and webhooks not yet delivered. Set `appendonly yes` (with `appendfsync everysec` a \
             crash loses at most a second)",
            no_aof.join(", ")
        ));
    }
    Ok(warnings)
}

/// `optin-verify store-info`: the stamp, the key count, each node's memory and policy, and
/// whether this release would start on the store. Reads only.
pub async fn store_info(store: &Store, settings: &Settings) -> Result<String, StoreError> {
    let meta = store.meta().await?;
    let data_keys = store.count_data_keys().await?;
    let redis = store.redis_nodes().await?;
    let field = |f: &str| meta.get(f).cloned().unwrap_or_else(|| "(none)".into());
    let r = &settings.redis;
    let mut out = String::new();
    let kind = if r.cluster { "cluster" } else { "standalone" };
    let masters = redis.nodes.len() + redis.refused.len();
    let _ = writeln!(out, "store            key prefix `{}` on {kind} Redis ({masters} master(s))", r.key_prefix);
    let _ = writeln!(out, "layout           {} (this release, {RELEASE}, reads {LAYOUT})", field("layout"));
    let _ = writeln!(out, "last started by  {}", field("written_by"));
    let stamped_at = meta
        .get("stamped_at")
        .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms.parse().ok()?))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let _ = writeln!(out, "stamped at       {}", stamped_at.unwrap_or_else(|| "(never)".into()));
    let pseudonym = if meta.contains_key("pseudonym_key_fp") { "fingerprint kept" } else { "(none yet)" };
    let _ = writeln!(out, "pseudonym key    {pseudonym}");
    let _ = writeln!(out, "keys             {}", data_keys + u64::from(!meta.is_empty()));
    for n in &redis.nodes {
        let max = if n.maxmemory == 0 { "no limit".to_string() } else { mib(n.maxmemory) };
        let aof = if n.aof_enabled { "on" } else { "off" };
        let policy = n.maxmemory_policy.as_deref().unwrap_or("(not reported)");
        let (node, version, used) = (&n.node, &n.redis_version, mib(n.used_memory));
        let _ =
            writeln!(out, "node {node}  redis {version}  memory {used} of {max}  maxmemory-policy {policy}  aof {aof}");
    }
    for node in &redis.refused {
        let _ = writeln!(out, "node {node}  INFO refused (an ACL): settings unchecked");
    }
    let _ = writeln!(out, "verdict          {}", verdict(&r.key_prefix, &meta, data_keys, &redis, settings.mode));
    Ok(out)
}

/// What a start of this release would do with the store, in the order `check` decides it.
fn verdict(prefix: &str, meta: &HashMap<String, String>, data_keys: u64, redis: &RedisNodes, mode: Mode) -> String {
    let layout = match meta.get("layout") {
        None if data_keys > 0 => Layout::Unstamped,
        None => Layout::Empty,
        Some(l) if *l == LAYOUT.to_string() => Layout::Same { previous: String::new() },
        Some(l) => Layout::Other { layout: l.clone(), written_by: meta.get("written_by").cloned().unwrap_or_default() },
    };
    match assess(redis, mode).and_then(|_| refusal(prefix, layout)) {
        Ok(true) => "an empty store: a start stamps it".into(),
        Ok(false) => "this release starts on it".into(),
        Err(e) => format!("a {mode:?} start refuses. {e}"),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NodeInfo;

    fn node(name: &str, policy: Option<&str>, aof: bool) -> NodeInfo {
        NodeInfo {
            node: name.into(),
            redis_version: "7.0.15".into(),
            used_memory: 1 << 20,
            maxmemory: 0,
            maxmemory_policy: policy.map(str::to_string),
            aof_enabled: aof,
        }
    }

    fn nodes(nodes: Vec<NodeInfo>) -> RedisNodes {
        RedisNodes { nodes, refused: Vec::new() }
    }

    #[test]
    fn an_evicting_node_refuses_production_naming_each_policy_and_warns_in_dev() {
        let redis = nodes(vec![
            node("a:1", Some("noeviction"), true),
            node("b:2", Some("allkeys-lru"), true),
            node("c:3", Some("volatile-ttl"), true),
        ]);
        let e = assess(&redis, Mode::Production).unwrap_err().to_string();
        assert!(e.contains("not `noeviction` on b:2 (`allkeys-lru`), c:3 (`volatile-ttl`). "), "{e}");
        assert!(e.contains("Set `maxmemory-policy noeviction`"), "{e}");
        let warnings = assess(&redis, Mode::Dev).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("DEV MODE: redis: maxmemory-policy is not `noeviction` on b:2"),
            "{warnings:?}"
        );
    }

    #[test]
    fn production_without_aof_warns_what_a_crash_loses_and_dev_does_not() {
        let redis = nodes(vec![node("a:1", Some("noeviction"), true), node("b:2", Some("noeviction"), false)]);
        let warnings = assess(&redis, Mode::Production).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("redis: AOF persistence is off on b:2. A Redis crash"), "{warnings:?}");
        assert!(warnings[0].contains("`appendonly yes`"));
        assert_eq!(assess(&redis, Mode::Dev).unwrap(), Vec::<String>::new());
        let fine = nodes(vec![node("a:1", Some("noeviction"), true)]);
        assert_eq!(assess(&fine, Mode::Production).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_node_whose_settings_cannot_be_read_is_named_in_a_warning_in_every_mode() {
        let redis = RedisNodes {
            nodes: vec![node("a:1", None, true), node("b:2", Some("noeviction"), true)],
            refused: vec!["c:3".into()],
        };
        for mode in [Mode::Dev, Mode::Production] {
            let warnings = assess(&redis, mode).unwrap();
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(
                warnings[0].starts_with("redis: could not read maxmemory-policy and AOF on c:3, a:1"),
                "{warnings:?}"
            );
        }
    }

    #[test]
    fn the_verdict_is_what_a_start_would_decide() {
        let meta = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let fine = nodes(vec![node("a:1", Some("noeviction"), true)]);
        let v = |m: &HashMap<String, String>, data_keys| verdict("ov", m, data_keys, &fine, Mode::Production);
        assert_eq!(v(&meta(&[]), 0), "an empty store: a start stamps it");
        assert_eq!(v(&meta(&[("pseudonym_key_fp", "x")]), 0), "an empty store: a start stamps it");
        assert!(v(&meta(&[("pseudonym_key_fp", "x")]), 1).contains("holds data but no layout stamp"));
        assert_eq!(v(&meta(&[("layout", &LAYOUT.to_string())]), 9), "this release starts on it");
        let newer = v(&meta(&[("layout", &(LAYOUT + 1).to_string()), ("written_by", "9.0.0")]), 9);
        assert!(
            newer.contains("written by optin-verify 9.0.0, newer") && newer.contains("Run that release"),
            "{newer}"
        );
        assert!(v(&meta(&[("layout", "0"), ("written_by", "0.0.1")]), 9).contains("no migration"));
        assert!(v(&meta(&[("layout", "0")]), 9).contains("has layout 0, written by an unknown release;"));
        // Both wrong: the settings are named first, as a start checks them first.
        let evicting = nodes(vec![node("a:1", Some("allkeys-lfu"), true)]);
        let e = verdict("ov", &meta(&[("layout", "0")]), 9, &evicting, Mode::Production);
        assert!(e.starts_with("a Production start refuses. redis: maxmemory-policy is not `noeviction`"), "{e}");
    }
}
