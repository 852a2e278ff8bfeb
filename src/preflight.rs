//! What a start checks in Redis before it serves, and what `optin-verify store-info` reports:
//! the store's layout stamp and the Redis settings the service depends on. A store of another
//! layout, or one holding data without a stamp, is refused in every mode: this release would
//! read its records as missing. An evicting Redis is refused in production and warned about in
//! dev; production without AOF starts with a warning.

use std::fmt::Write as _;

use crate::{
    config::{Mode, Settings},
    store::{LAYOUT, Layout, NodeInfo, Store, StoreError},
};

/// This binary's release.
pub const RELEASE: &str = env!("CARGO_PKG_VERSION");

/// Why a start was refused; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "redis: the store under key prefix `{prefix}` holds data but no layout stamp. It was written by a build \
         from before optin-verify 0.1.0, whose records this release (layout {LAYOUT}) cannot read: it would \
         start as if they were missing. Nothing was changed. Keep that store, and the build that wrote it, for \
         as long as you must answer proof requests from it, and start this release on an empty store: another \
         `redis.key_prefix` or another Redis. See README, \"Upgrading\""
    )]
    Unstamped { prefix: String },
    #[error(
        "redis: the store under key prefix `{prefix}` has layout {layout}, written by optin-verify {written_by}; \
         this release ({RELEASE}) reads layout {LAYOUT} and has no migration from it. Nothing was changed. Run \
         the release that wrote it, or start this one on an empty store (another `redis.key_prefix`). See \
         README, \"Upgrading\""
    )]
    OlderLayout { prefix: String, layout: String, written_by: String },
    #[error(
        "redis: the store under key prefix `{prefix}` has layout {layout}, written by optin-verify {written_by}, \
         newer than this release ({RELEASE}, layout {LAYOUT}) can read. Nothing was changed. Run optin-verify \
         {written_by} or later on it: a release cannot go back to an earlier layout. See README, \"Upgrading\""
    )]
    NewerLayout { prefix: String, layout: String, written_by: String },
    #[error(
        "redis: maxmemory-policy is `{policy}` on {nodes}. Under memory pressure Redis would then delete keys \
         without telling anyone: the evidence of confirmed consents, queued sends and webhooks, and the \
         deadlines that end codes. Set `maxmemory-policy noeviction` on every node (a managed Redis names it \
         in its parameter group or configuration) and start again: a full Redis then refuses writes instead, \
         the API answers 503, and nothing is lost"
    )]
    Evicting { policy: String, nodes: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Reads the Redis settings, then compares the layout stamp (stamping an empty store): a
/// refused start leaves the store as it was.
pub async fn check(store: &Store, mode: Mode, now_ms: i64) -> Result<(), Refusal> {
    match store.redis_nodes().await {
        Ok(nodes) => {
            for warning in assess(&nodes, mode)? {
                tracing::warn!("{warning}");
            }
        }
        // ACLs may refuse INFO; then there is nothing to check against.
        Err(e) => {
            tracing::warn!(error = %e, "could not read the Redis settings (INFO); maxmemory-policy and AOF unchecked")
        }
    }
    check_layout(store, now_ms).await
}

async fn check_layout(store: &Store, now_ms: i64) -> Result<(), Refusal> {
    let prefix = store.prefix().to_string();
    match store.stamp_layout(RELEASE, now_ms).await? {
        Layout::Stamped => tracing::info!(layout = LAYOUT, "stamped an empty store with this release's layout"),
        Layout::Same { previous } if previous != RELEASE => {
            tracing::info!(layout = LAYOUT, previous = %previous, "store last started by another release")
        }
        Layout::Same { .. } => {}
        Layout::Unstamped => return Err(Refusal::Unstamped { prefix }),
        Layout::Other { layout, written_by } => {
            let newer = layout.parse::<u32>().map_or(true, |n| n > LAYOUT);
            return Err(if newer {
                Refusal::NewerLayout { prefix, layout, written_by }
            } else {
                Refusal::OlderLayout { prefix, layout, written_by }
            });
        }
    }
    Ok(())
}

/// An evicting policy refuses production and warns in dev; production without AOF warns.
/// Answers the warnings.
pub fn assess(nodes: &[NodeInfo], mode: Mode) -> Result<Vec<String>, Refusal> {
    let mut warnings = Vec::new();
    let evicting: Vec<&NodeInfo> = nodes.iter().filter(|n| n.evicts()).collect();
    if let Some(first) = evicting.first() {
        let refusal = Refusal::Evicting { policy: first.maxmemory_policy.clone(), nodes: names(&evicting) };
        if mode == Mode::Production {
            return Err(refusal);
        }
        warnings.push(format!("DEV MODE: {refusal}. Production refuses to start on it."));
    }
    let no_aof: Vec<&NodeInfo> = nodes.iter().filter(|n| !n.aof_enabled).collect();
    if mode == Mode::Production && !no_aof.is_empty() {
        warnings.push(format!(
            "redis: AOF persistence is off on {}. A Redis crash then loses every write since the last snapshot \
             (all of them without snapshots): verifications started, consents confirmed with their evidence, \
             withdrawals, and webhooks not yet delivered. Set `appendonly yes` (with `appendfsync everysec` a \
             crash loses at most a second)",
            names(&no_aof)
        ));
    }
    Ok(warnings)
}

fn names(nodes: &[&NodeInfo]) -> String {
    nodes.iter().map(|n| n.node.as_str()).collect::<Vec<_>>().join(", ")
}

/// `optin-verify store-info`: the stamp, the key count, each node's memory and policy, and
/// whether this release would start on the store. Reads only.
pub async fn store_info(store: &Store, settings: &Settings) -> Result<String, StoreError> {
    let meta: std::collections::HashMap<String, String> = store.meta().await?.into_iter().collect();
    let keys = store.count_keys().await?;
    let nodes = store.redis_nodes().await?;
    let field = |f: &str| meta.get(f).cloned().unwrap_or_else(|| "(none)".into());
    let r = &settings.redis;
    let mut out = String::new();
    let kind = if r.cluster { "cluster" } else { "standalone" };
    let _ = writeln!(out, "store            key prefix `{}` on {kind} Redis ({} master(s))", r.key_prefix, nodes.len());
    let _ = writeln!(out, "layout           {} (this release, {RELEASE}, reads {LAYOUT})", field("layout"));
    let _ = writeln!(out, "last started by  {}", field("written_by"));
    let stamped_at = meta
        .get("stamped_at")
        .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms.parse().ok()?))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let _ = writeln!(out, "stamped at       {}", stamped_at.unwrap_or_else(|| "(never)".into()));
    let pseudonym = if meta.contains_key("pseudonym_key_fp") { "fingerprint kept" } else { "(none yet)" };
    let _ = writeln!(out, "pseudonym key    {pseudonym}");
    let _ = writeln!(out, "keys             {keys}");
    for n in &nodes {
        let max = if n.maxmemory == 0 { "no limit".to_string() } else { mib(n.maxmemory) };
        let aof = if n.aof_enabled { "on" } else { "off" };
        let _ = writeln!(
            out,
            "node {}  redis {}  memory {} of {max}  maxmemory-policy {}  aof {aof}",
            n.node,
            n.redis_version,
            mib(n.used_memory),
            n.maxmemory_policy
        );
    }
    let _ = writeln!(out, "verdict          {}", verdict(&r.key_prefix, &meta, keys, &nodes, settings.mode));
    Ok(out)
}

/// What a start of this release would do with the store, as `check` decides it.
fn verdict(
    prefix: &str,
    meta: &std::collections::HashMap<String, String>,
    keys: u64,
    nodes: &[NodeInfo],
    mode: Mode,
) -> String {
    let prefix = prefix.to_string();
    let layout = match meta.get("layout") {
        None if keys > u64::from(!meta.is_empty()) => Err(Refusal::Unstamped { prefix }),
        None => Ok("an empty store: a start stamps it"),
        Some(l) if *l == LAYOUT.to_string() => Ok("this release starts on it"),
        Some(l) => {
            let (layout, written_by) = (l.clone(), meta.get("written_by").cloned().unwrap_or_default());
            Err(if l.parse::<u32>().map_or(true, |n| n > LAYOUT) {
                Refusal::NewerLayout { prefix, layout, written_by }
            } else {
                Refusal::OlderLayout { prefix, layout, written_by }
            })
        }
    };
    match (layout, assess(nodes, mode)) {
        (Ok(fine), Ok(_)) => fine.to_string(),
        (Err(e), _) | (_, Err(e)) => format!("a {mode:?} start refuses. {e}"),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, policy: &str, aof: bool) -> NodeInfo {
        NodeInfo {
            node: name.into(),
            redis_version: "7.0.15".into(),
            used_memory: 1 << 20,
            maxmemory: 0,
            maxmemory_policy: policy.into(),
            aof_enabled: aof,
        }
    }

    #[test]
    fn an_evicting_node_refuses_production_naming_the_setting_and_warns_in_dev() {
        let nodes =
            [node("a:1", "noeviction", true), node("b:2", "allkeys-lru", true), node("c:3", "volatile-ttl", true)];
        let e = assess(&nodes, Mode::Production).unwrap_err().to_string();
        assert!(e.contains("maxmemory-policy is `allkeys-lru` on b:2, c:3"), "{e}");
        assert!(e.contains("Set `maxmemory-policy noeviction`"), "{e}");
        let warnings = assess(&nodes, Mode::Dev).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("DEV MODE: redis: maxmemory-policy is `allkeys-lru`"), "{warnings:?}");
    }

    #[test]
    fn production_without_aof_warns_what_a_crash_loses_and_dev_does_not() {
        let nodes = [node("a:1", "noeviction", true), node("b:2", "noeviction", false)];
        let warnings = assess(&nodes, Mode::Production).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("redis: AOF persistence is off on b:2. A Redis crash"), "{warnings:?}");
        assert!(warnings[0].contains("`appendonly yes`"));
        assert_eq!(assess(&nodes, Mode::Dev).unwrap(), Vec::<String>::new());
        assert_eq!(assess(&[node("a:1", "noeviction", true)], Mode::Production).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn the_verdict_is_what_a_start_would_decide() {
        let meta = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let fine = [node("a:1", "noeviction", true)];
        let v = |m: &std::collections::HashMap<String, String>, keys| verdict("ov", m, keys, &fine, Mode::Production);
        assert_eq!(v(&meta(&[]), 0), "an empty store: a start stamps it");
        assert_eq!(v(&meta(&[("pseudonym_key_fp", "x")]), 1), "an empty store: a start stamps it");
        assert!(v(&meta(&[("pseudonym_key_fp", "x")]), 2).contains("holds data but no layout stamp"));
        assert_eq!(v(&meta(&[("layout", &LAYOUT.to_string())]), 9), "this release starts on it");
        let newer = v(&meta(&[("layout", &(LAYOUT + 1).to_string()), ("written_by", "9.0.0")]), 9);
        assert!(newer.contains("Run optin-verify 9.0.0 or later"), "{newer}");
        assert!(v(&meta(&[("layout", "0"), ("written_by", "0.0.1")]), 9).contains("no migration"));
        let evicting = [node("a:1", "allkeys-lfu", true)];
        let e = verdict("ov", &meta(&[("layout", &LAYOUT.to_string())]), 9, &evicting, Mode::Production);
        assert!(e.starts_with("a Production start refuses. redis: maxmemory-policy is `allkeys-lfu`"), "{e}");
    }
}
