//! The Redis settings a start reads (from INFO): an evicting `maxmemory-policy` refuses
//! production and is only warned about in dev, and `/metrics` reports each master's memory
//! against its `maxmemory`. Each test that needs other settings runs Redis servers of its own.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use optin_verify::{config::Mode, preflight::Refusal, startup::StartupError};

use crate::{
    harness::{refused_start, spawn_cluster, spawn_with},
    store_stamp::{all_keys, fresh_prefix},
};

/// Redis servers of one test, stopped when it ends.
pub struct OwnRedis {
    children: Vec<Child>,
    pub ports: Vec<u16>,
    dir: std::path::PathBuf,
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the server `child` answers on `port` (and not another process that holds it).
async fn serves(child: &mut Child, port: u16) -> bool {
    let url = format!("redis://127.0.0.1:{port}/");
    for _ in 0..50 {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if let Ok(mut c) = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await {
            let info: String = redis::cmd("INFO").arg("server").query_async(&mut c).await.unwrap_or_default();
            return info.contains(&format!("process_id:{}\r\n", child.id()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A free port whose cluster bus port (port + 10000) is a port too.
fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < 50_000 {
            return port;
        }
    }
}

impl OwnRedis {
    /// One server per entry of `args`, each with those extra arguments.
    pub async fn start(args: &[&[&str]]) -> Self {
        let dir = std::env::temp_dir().join(format!("ov-redis-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut own = Self { children: Vec::new(), ports: Vec::new(), dir };
        for extra in args {
            // A port found free may be taken before the server binds it: then try another.
            for attempt in 0.. {
                assert!(attempt < 5, "no free port for redis-server");
                let port = free_port();
                let mut child = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                    .args(["--dir", &own.dir.to_string_lossy()])
                    .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                    .args(*extra)
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("redis-server on PATH");
                if serves(&mut child, port).await {
                    own.children.push(child);
                    own.ports.push(port);
                    break;
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        own
    }

    /// Three masters in one cluster, each with its entry of `args`.
    pub async fn cluster(args: [&[&str]; 3]) -> Self {
        let with_cluster: Vec<Vec<&str>> = args.iter().map(|a| [&["--cluster-enabled", "yes"], *a].concat()).collect();
        let own = Self::start(&with_cluster.iter().map(Vec::as_slice).collect::<Vec<_>>()).await;
        let nodes: Vec<String> = own.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = tokio::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        for _ in 0..100 {
            let mut ok = 0;
            for p in &own.ports {
                let client = redis::Client::open(format!("redis://127.0.0.1:{p}/")).unwrap();
                let mut c = client.get_multiplexed_async_connection().await.unwrap();
                let info: String = redis::cmd("CLUSTER").arg("INFO").query_async(&mut c).await.unwrap_or_default();
                ok += usize::from(info.contains("cluster_state:ok"));
            }
            if ok == 3 {
                return own;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the test's cluster did not come up");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.ports[0])
    }

    pub fn cluster_url(&self) -> String {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }
}

/// Production settings that pass the configuration's checks.
pub fn production(s: &mut optin_verify::config::Settings) {
    let random = || hex::encode(rand::random::<[u8; 32]>());
    s.mode = Mode::Production;
    s.dev.outbox = false;
    s.webhooks.allow_private_targets = false;
    s.secrets.server_key = random();
    s.secrets.pseudonym_key = random();
    s.receipts.signing_key = random();
}

const EVICTING: &[&str] = &["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"];

#[tokio::test]
async fn production_refuses_an_evicting_redis_naming_the_setting_and_changes_nothing() {
    let own = OwnRedis::start(&[EVICTING]).await;
    let cluster = OwnRedis::cluster([&[], EVICTING, &[]]).await;
    for (url, is_cluster, node) in [(own.url(), false, own.ports[0]), (cluster.cluster_url(), true, cluster.ports[1])] {
        let prefix = fresh_prefix();
        let (u, p) = (url.clone(), prefix.clone());
        let e = refused_start(move |s| {
            production(s);
            s.redis.url = u;
            s.redis.cluster = is_cluster;
            s.redis.key_prefix = p;
        })
        .await;
        let StartupError::Refused(e @ Refusal::Evicting { .. }) = e else { panic!("cluster {is_cluster}: {e}") };
        let message = e.to_string();
        // Only the evicting master is named.
        let named = format!("maxmemory-policy is not `noeviction` on 127.0.0.1:{node} (`allkeys-lru`). ");
        assert!(message.contains(&named), "{message}");
        assert!(message.contains("Set `maxmemory-policy noeviction`"), "{message}");
        assert!(all_keys(&url, is_cluster, &prefix).await.is_empty(), "a refused start wrote to the store");
    }
}

#[tokio::test]
async fn dev_starts_on_an_evicting_redis_with_a_warning() {
    let own = OwnRedis::start(&[EVICTING]).await;
    let file = crate::store_info_cli::config("dev", &own.url(), false, &fresh_prefix());
    let (code, out) = crate::store_info_cli::serve(&file, "optin-verify listening").await;
    assert_eq!(code, None, "it started: {out}");
    let warned = format!("DEV MODE: redis: maxmemory-policy is not `noeviction` on 127.0.0.1:{}", own.ports[0]);
    assert!(out.contains(&warned), "{out}");
    assert!(out.contains("Production refuses to start on it"), "{out}");
}

/// `name{node="…"} value` from a scrape, as a number.
fn gauge(text: &str, name: &str, node: &str) -> Option<f64> {
    let prefix = format!("{name}{{node=\"{node}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap())
}

#[tokio::test]
async fn metrics_report_each_masters_memory_against_its_limit() {
    let own = OwnRedis::start(&[&["--maxmemory", "64mb"]]).await;
    let url = own.url();
    let app = spawn_with(move |s| s.redis.url = url).await;
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let node = format!("127.0.0.1:{}", own.ports[0]);
    assert_eq!(gauge(&text, "optin_verify_redis_memory_max_bytes", &node), Some(67_108_864.0), "{text}");
    let used = gauge(&text, "optin_verify_redis_memory_used_bytes", &node).unwrap();
    assert!(used > 100_000.0 && used < 67_108_864.0, "{used}");

    let app = spawn_cluster().await;
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for url in crate::harness::cluster_urls().split(',') {
        let node = url.trim().trim_start_matches("redis://").trim_end_matches('/').to_string();
        assert_eq!(gauge(&text, "optin_verify_redis_memory_max_bytes", &node), Some(0.0), "{node}: {text}");
        assert!(gauge(&text, "optin_verify_redis_memory_used_bytes", &node).unwrap() > 100_000.0);
    }
}
