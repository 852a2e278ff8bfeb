//! A start compares the store's layout stamp with its own: an empty store is stamped, a store of
//! this layout starts, and a store holding data without a stamp, or of another layout, is
//! refused with a message that says what to do, and left exactly as it was. On standalone
//! Redis and on the 3-master cluster.

use std::collections::{BTreeMap, BTreeSet};

use optin_verify::{
    preflight::Refusal,
    startup::StartupError,
    store::{Conn, Keys, LAYOUT},
};

use crate::harness::{cluster_urls, refused_start, spawn_with, standalone_url};

/// (Redis URL, cluster) of both topologies.
pub fn topologies() -> [(String, bool); 2] {
    [(standalone_url(), false), (cluster_urls(), true)]
}

pub async fn conn(url: &str, cluster: bool) -> Conn {
    Conn::connect(url, cluster, std::time::Duration::from_secs(2)).await.unwrap()
}

pub fn fresh_prefix() -> String {
    format!("t{:012x}", rand::random::<u64>() >> 16)
}

/// The meta record, field by field.
pub async fn meta(c: &mut Conn, prefix: &str) -> BTreeMap<String, String> {
    redis::cmd("HGETALL").arg(Keys::new(prefix, 4).meta()).query_async(c).await.unwrap()
}

/// Every key under `prefix`, on every master.
pub async fn all_keys(url: &str, cluster: bool, prefix: &str) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for node in url.split(',') {
        let mut c = redis::Client::open(node.trim()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let mut it: redis::AsyncIter<String> =
            redis::AsyncCommands::scan_match(&mut c, format!("{{{prefix}:*")).await.unwrap();
        while let Some(k) = it.next_item().await {
            all.insert(k.unwrap());
        }
        if !cluster {
            break;
        }
    }
    all
}

/// A record as a build from before the stamp left it: a verification hash in partition `p`.
async fn unstamped_record(c: &mut Conn, prefix: &str, p: u16) -> String {
    let key = format!("{{{prefix}:p{p}}}:v:old");
    let _: () = redis::cmd("HSET").arg(&key).arg("st").arg("confirmed").query_async(c).await.unwrap();
    key
}

/// One partition per node whose keys that node holds: on a cluster, one per master, so that a
/// check that looked at one master only would miss the others' data.
async fn partition_per_node(url: &str, cluster: bool, prefix: &str) -> Vec<u16> {
    if !cluster {
        return vec![1];
    }
    let node = redis::Client::open(url.split(',').next().unwrap()).unwrap();
    let mut c = node.get_multiplexed_async_connection().await.unwrap();
    let slots: Vec<(u16, u16, Vec<redis::Value>)> =
        redis::cmd("CLUSTER").arg("SLOTS").query_async(&mut c).await.unwrap();
    let mut found: Vec<(usize, u16)> = Vec::new();
    for p in 0..200u16 {
        let slot: u16 =
            redis::cmd("CLUSTER").arg("KEYSLOT").arg(format!("{{{prefix}:p{p}}}")).query_async(&mut c).await.unwrap();
        let owner = slots.iter().position(|(a, b, _)| (*a..=*b).contains(&slot)).unwrap();
        let master = format!("{:?}", slots[owner].2);
        let index = slots.iter().position(|r| format!("{:?}", r.2) == master).unwrap();
        if !found.iter().any(|(i, _)| *i == index) {
            found.push((index, p));
        }
    }
    assert_eq!(found.len(), 3, "a partition on each of the 3 masters");
    found.into_iter().map(|(_, p)| p).collect()
}

fn on(url: &str, cluster: bool, prefix: &str) -> impl FnOnce(&mut optin_verify::config::Settings) {
    let (url, prefix) = (url.to_string(), prefix.to_string());
    move |s| {
        s.redis.url = url;
        s.redis.cluster = cluster;
        s.redis.key_prefix = prefix;
    }
}

fn refusal(e: StartupError) -> Refusal {
    match e {
        StartupError::Refused(r) => r,
        other => panic!("refused for another reason: {other}"),
    }
}

#[tokio::test]
async fn an_empty_store_is_stamped_and_a_store_of_this_layout_starts() {
    for (url, cluster) in topologies() {
        let prefix = fresh_prefix();
        let mut c = conn(&url, cluster).await;
        let app = spawn_with(on(&url, cluster, &prefix)).await;
        let stamp = meta(&mut c, &prefix).await;
        assert_eq!(stamp["layout"], LAYOUT.to_string(), "cluster {cluster}");
        assert_eq!(stamp["written_by"], env!("CARGO_PKG_VERSION"));
        let stamped_at: i64 = stamp["stamped_at"].parse().unwrap();
        assert!((chrono::Utc::now().timestamp_millis() - stamped_at).abs() < 60_000);
        assert!(stamp.contains_key("pseudonym_key_fp"));
        // The store now holds data; an earlier release of the same layout started on it last.
        app.start(&crate::harness::start_body("code", "sms")).await;
        let key = Keys::new(&prefix, 4).meta();
        let _: () = redis::cmd("HSET").arg(&key).arg("written_by").arg("0.0.1").query_async(&mut c).await.unwrap();
        let again = spawn_with(on(&url, cluster, &prefix)).await;
        again.start(&crate::harness::start_body("code", "sms")).await;
        let after = meta(&mut c, &prefix).await;
        assert_eq!(after["written_by"], env!("CARGO_PKG_VERSION"));
        assert_eq!((&after["layout"], &after["stamped_at"]), (&stamp["layout"], &stamp["stamped_at"]));
    }
}

#[tokio::test]
async fn a_store_holding_data_without_a_stamp_is_refused_and_left_as_it_was() {
    for (url, cluster) in topologies() {
        let prefix = fresh_prefix();
        let mut c = conn(&url, cluster).await;
        // As a build from before the stamp left it: its pseudonym-key fingerprint and a record.
        let meta_key = Keys::new(&prefix, 4).meta();
        let _: () =
            redis::cmd("HSET").arg(&meta_key).arg("pseudonym_key_fp").arg("f").query_async(&mut c).await.unwrap();
        // Data on any one master is found.
        for p in partition_per_node(&url, cluster, &prefix).await {
            let record = unstamped_record(&mut c, &prefix, p).await;
            let before = all_keys(&url, cluster, &prefix).await;
            let e = refusal(refused_start(on(&url, cluster, &prefix)).await);
            assert!(matches!(e, Refusal::Unstamped { .. }), "cluster {cluster}, partition {p}: {e}");
            let message = e.to_string();
            for part in [format!("key prefix `{prefix}`"), "no layout stamp".into(), "Nothing was changed".into()] {
                assert!(message.contains(&part), "cluster {cluster}: {part:?} not in {message}");
            }
            assert!(message.contains(&format!("meta record `{{{prefix}:meta}}` was lost")), "{message}");
            assert!(message.contains("another `redis.key_prefix`") && message.contains("\"Upgrading\""), "{message}");
            assert_eq!(all_keys(&url, cluster, &prefix).await, before, "a refused start changed the store");
            let kept = meta(&mut c, &prefix).await;
            assert_eq!(kept, BTreeMap::from([("pseudonym_key_fp".to_string(), "f".to_string())]));
            let st: String = redis::cmd("HGET").arg(&record).arg("st").query_async(&mut c).await.unwrap();
            assert_eq!(st, "confirmed");
            let _: () = redis::cmd("DEL").arg(&record).query_async(&mut c).await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_meta_record_alone_is_an_empty_store() {
    for (url, cluster) in topologies() {
        let prefix = fresh_prefix();
        let mut c = conn(&url, cluster).await;
        let meta_key = Keys::new(&prefix, 4).meta();
        let _: () = redis::cmd("HSET").arg(&meta_key).arg("other").arg("x").query_async(&mut c).await.unwrap();
        spawn_with(on(&url, cluster, &prefix)).await;
        assert_eq!(meta(&mut c, &prefix).await["layout"], LAYOUT.to_string(), "cluster {cluster}");
    }
}

#[tokio::test]
async fn a_store_of_an_older_or_a_newer_layout_is_refused_naming_it_and_left_as_it_was() {
    for (url, cluster) in topologies() {
        for (layout, written_by) in [(LAYOUT - 1, "0.0.9"), (LAYOUT + 1, "0.2.0")] {
            let prefix = fresh_prefix();
            let mut c = conn(&url, cluster).await;
            let meta_key = Keys::new(&prefix, 4).meta();
            let _: () = redis::cmd("HSET")
                .arg(&meta_key)
                .arg("layout")
                .arg(layout)
                .arg("written_by")
                .arg(written_by)
                .query_async(&mut c)
                .await
                .unwrap();
            let record = unstamped_record(&mut c, &prefix, 1).await;
            let before = meta(&mut c, &prefix).await;
            let keys_before = all_keys(&url, cluster, &prefix).await;
            let e = refusal(refused_start(on(&url, cluster, &prefix)).await);
            let message = e.to_string();
            let named = format!("has layout {layout}, written by optin-verify {written_by}");
            assert!(message.contains(&named), "cluster {cluster}: {message}");
            if layout < LAYOUT {
                assert!(matches!(e, Refusal::OlderLayout { .. }), "{e}");
                assert!(message.contains("has no migration from it"), "{message}");
            } else {
                assert!(matches!(e, Refusal::NewerLayout { .. }), "{e}");
                assert!(message.contains("Run that release or a later one"), "{message}");
            }
            assert_eq!(meta(&mut c, &prefix).await, before, "the stamp is unchanged");
            assert_eq!(all_keys(&url, cluster, &prefix).await, keys_before, "a refused start changed the store");
            let exists: bool = redis::cmd("EXISTS").arg(&record).query_async(&mut c).await.unwrap();
            assert!(exists);
        }
    }
}

#[tokio::test]
async fn a_start_refused_for_another_reason_leaves_the_stamp_as_it_was() {
    for (url, cluster) in topologies() {
        // A store of this layout that an earlier release started on last.
        let prefix = fresh_prefix();
        let mut c = conn(&url, cluster).await;
        spawn_with(on(&url, cluster, &prefix)).await;
        let key = Keys::new(&prefix, 4).meta();
        let _: () = redis::cmd("HSET").arg(&key).arg("written_by").arg("0.0.1").query_async(&mut c).await.unwrap();
        let before = meta(&mut c, &prefix).await;
        // This release under another pseudonym key is refused after the layout check.
        let tweak = on(&url, cluster, &prefix);
        let e = refused_start(move |s| {
            tweak(s);
            s.secrets.pseudonym_key = "another-pseudonym-key-0123456789abcdef".into();
        })
        .await;
        assert!(matches!(e, StartupError::PseudonymKeyChanged), "cluster {cluster}: {e}");
        assert_eq!(meta(&mut c, &prefix).await, before, "written_by names a release that never ran");

        // An empty store refused for its pseudonym key is not stamped either.
        let prefix = fresh_prefix();
        let meta_key = Keys::new(&prefix, 4).meta();
        let _: () =
            redis::cmd("HSET").arg(&meta_key).arg("pseudonym_key_fp").arg("f").query_async(&mut c).await.unwrap();
        let e = refused_start(on(&url, cluster, &prefix)).await;
        assert!(matches!(e, StartupError::PseudonymKeyChanged), "cluster {cluster}: {e}");
        assert_eq!(meta(&mut c, &prefix).await, BTreeMap::from([("pseudonym_key_fp".to_string(), "f".to_string())]));
    }
}

#[tokio::test]
async fn two_starts_at_once_on_an_empty_store_both_start_and_stamp_it_once() {
    for (url, cluster) in topologies() {
        let prefix = fresh_prefix();
        let (a, b) = tokio::join!(spawn_with(on(&url, cluster, &prefix)), spawn_with(on(&url, cluster, &prefix)));
        for app in [a, b] {
            let r = app.post("/v1/verifications", &crate::harness::start_body("code", "sms")).await;
            assert_eq!(r.status().as_u16(), 201, "cluster {cluster}");
        }
        let stamp = meta(&mut conn(&url, cluster).await, &prefix).await;
        assert_eq!(stamp["layout"], LAYOUT.to_string());
    }
}
