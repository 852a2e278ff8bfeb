//! The operator's view, through the real binary: `optin-verify store-info` reports the stamp,
//! the keys, each node's memory and policy and what a start would decide, and changes nothing;
//! `serve` on a store or a Redis it may not use exits 1 with a message that says what to do.

use std::{collections::BTreeSet, path::PathBuf, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use optin_verify::store::LAYOUT;

use crate::{
    harness::{spawn_with, start_body},
    redis_settings::OwnRedis,
    store_stamp::{all_keys, conn, fresh_prefix, topologies},
};

/// A config file for `mode` on this Redis and prefix, deleted when dropped.
pub struct ConfigFile(PathBuf);

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn config(mode: &str, url: &str, cluster: bool, prefix: &str) -> ConfigFile {
    let toml = crate::check_config::config_toml(mode, (url, cluster, prefix), crate::check_config::SERVER_KEY, "", "");
    let file = std::env::temp_dir().join(format!("ov-{prefix}-{mode}-{:x}.toml", rand::random::<u32>()));
    std::fs::write(&file, toml).unwrap();
    ConfigFile(file)
}

async fn store_info(file: &ConfigFile) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_optin-verify"))
        .args(["store-info", "--config"])
        .arg(&file.0)
        .output()
        .await
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).to_string())
}

fn line<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label:?} in\n{out}"))[label.len()..].trim()
}

#[tokio::test]
async fn store_info_reports_the_stamp_keys_and_nodes_and_changes_nothing() {
    for (url, cluster) in topologies() {
        let prefix = fresh_prefix();
        let (u, p) = (url.clone(), prefix.clone());
        let app = spawn_with(move |s| {
            s.redis.url = u;
            s.redis.cluster = cluster;
            s.redis.key_prefix = p;
        })
        .await;
        let id = app.start(&start_body("code", "sms")).await["id"].as_str().unwrap().to_string();
        app.outbox_message(&id).await;
        let before = all_keys(&url, cluster, &prefix).await;
        let (code, out) = store_info(&config("dev", &url, cluster, &prefix)).await;
        assert_eq!(code, 0, "{out}");
        let release = env!("CARGO_PKG_VERSION");
        assert_eq!(line(&out, "layout"), format!("{LAYOUT} (this release, {release}, reads {LAYOUT})"));
        assert_eq!(line(&out, "last started by"), env!("CARGO_PKG_VERSION"));
        assert_eq!(line(&out, "pseudonym key"), "fingerprint kept");
        // Rate counters may expire between the reads; nothing else may change.
        let after = all_keys(&url, cluster, &prefix).await;
        let counted: usize = line(&out, "keys").parse().unwrap();
        assert!((before.len().min(after.len())..=before.len().max(after.len())).contains(&counted), "{out}");
        let nodes: Vec<&str> = out.lines().filter(|l| l.starts_with("node ")).collect();
        assert_eq!(nodes.len(), if cluster { 3 } else { 1 }, "{out}");
        assert!(nodes.iter().all(|n| n.contains("maxmemory-policy noeviction") && n.contains("of no limit")), "{out}");
        assert_eq!(line(&out, "verdict"), "this release starts on it");
        let lasting = |k: &BTreeSet<String>| k.iter().filter(|k| !k.contains(":rl:")).cloned().collect::<Vec<_>>();
        assert_eq!(lasting(&after), lasting(&before), "store-info changed the store");
    }
}

#[tokio::test]
async fn store_info_on_an_unstamped_store_says_a_start_refuses_and_stamps_nothing() {
    for (url, cluster) in topologies() {
        let prefix = fresh_prefix();
        let mut c = conn(&url, cluster).await;
        let _: () = redis::cmd("SET").arg(format!("{{{prefix}:p2}}:v:old")).arg("x").query_async(&mut c).await.unwrap();
        let (code, out) = store_info(&config("dev", &url, cluster, &prefix)).await;
        assert_eq!(code, 0, "{out}");
        let release = env!("CARGO_PKG_VERSION");
        assert_eq!(line(&out, "layout"), format!("(none) (this release, {release}, reads {LAYOUT})"));
        assert_eq!(line(&out, "keys"), "1");
        assert!(line(&out, "verdict").starts_with("a Dev start refuses. redis: the store under key prefix"), "{out}");
        assert_eq!(all_keys(&url, cluster, &prefix).await.len(), 1, "store-info stamped the store");
        // An empty prefix: a start would stamp it.
        let (_, out) = store_info(&config("dev", &url, cluster, &fresh_prefix())).await;
        assert_eq!(line(&out, "verdict"), "an empty store: a start stamps it");
    }
}

#[tokio::test]
async fn store_info_exits_1_when_redis_does_not_answer() {
    // Port 1 is never a Redis.
    let (code, out) = store_info(&config("dev", "redis://127.0.0.1:1/", false, &fresh_prefix())).await;
    assert_eq!((code, out.as_str()), (1, ""));
}

/// Runs `serve --config file`: the exit code and everything it wrote, or `None` and the output
/// up to the line holding `until` (the process is then stopped).
pub async fn serve(file: &ConfigFile, until: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_optin-verify"))
        .args(["serve", "--config"])
        .arg(&file.0)
        .env("OPTIN_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let deadline = tokio::time::sleep(Duration::from_secs(20));
    tokio::pin!(deadline);
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            l = out.next_line(), if out_open => match l.unwrap() {
                Some(l) => seen.push_str(&(l + "\n")),
                None => out_open = false,
            },
            l = err.next_line(), if err_open => match l.unwrap() {
                Some(l) => seen.push_str(&(l + "\n")),
                None => err_open = false,
            },
            _ = &mut deadline => panic!("serve neither exited nor said {until:?}:\n{seen}"),
        }
        if seen.contains(until) {
            child.kill().await.unwrap();
            return (None, seen);
        }
    }
    (child.wait().await.unwrap().code(), seen)
}

#[tokio::test]
async fn serve_on_an_unstamped_store_exits_1_saying_what_to_do() {
    let (url, _) = topologies()[0].clone();
    let prefix = fresh_prefix();
    let mut c = conn(&url, false).await;
    let _: () = redis::cmd("SET").arg(format!("{{{prefix}:p0}}:v:old")).arg("x").query_async(&mut c).await.unwrap();
    let (code, out) = serve(&config("dev", &url, false, &prefix), "optin-verify listening").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("holds data but no layout stamp") && out.contains("\"Upgrading\""), "{out}");
}

#[tokio::test]
async fn serve_in_production_exits_1_on_an_evicting_redis_and_warns_without_aof() {
    let own = OwnRedis::start(&[&["--maxmemory-policy", "volatile-lru"]]).await;
    let (code, out) = serve(&config("production", &own.url(), false, &fresh_prefix()), "listening").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("not `noeviction` on 127.0.0.1:{} (`volatile-lru`)", own.ports[0])), "{out}");

    // noeviction without AOF: it starts, saying what a crash would lose.
    let (url, _) = topologies()[0].clone();
    let (code, out) = serve(&config("production", &url, false, &fresh_prefix()), "optin-verify listening").await;
    assert_eq!(code, None, "{out}");
    assert!(out.contains("AOF persistence is off on 127.0.0.1:"), "{out}");
    assert!(out.contains("webhooks not yet delivered"), "{out}");
}
