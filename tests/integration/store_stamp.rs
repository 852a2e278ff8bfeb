//! A start compares the store's layout stamp with its own: an empty store is stamped, a store of
//! this layout starts, and a store holding data without a stamp, or of another layout, is
//! refused with a message that says what to do, and left exactly as it was. On standalone
//! Redis and on the 3-master cluster.

use std::collections::BTreeMap;

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

/// A record as a build from before the stamp left it: a verification hash in partition 1.
async fn unstamped_record(c: &mut Conn, prefix: &str) -> String {
    let key = format!("{{{prefix}:p1}}:v:old");
    let _: () = redis::cmd("HSET").arg(&key).arg("st").arg("confirmed").query_async(c).await.unwrap();
    key
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
        let record = unstamped_record(&mut c, &prefix).await;
        let e = refusal(refused_start(on(&url, cluster, &prefix)).await);
        assert!(matches!(e, Refusal::Unstamped { .. }), "{e}");
        let message = e.to_string();
        for part in [format!("key prefix `{prefix}`"), "no layout stamp".into(), "Nothing was changed".into()] {
            assert!(message.contains(&part), "cluster {cluster}: {part:?} not in {message}");
        }
        assert!(message.contains("another `redis.key_prefix`") && message.contains("\"Upgrading\""), "{message}");
        let kept = meta(&mut c, &prefix).await;
        assert_eq!(kept, BTreeMap::from([("pseudonym_key_fp".to_string(), "f".to_string())]));
        let st: String = redis::cmd("HGET").arg(&record).arg("st").query_async(&mut c).await.unwrap();
        assert_eq!(st, "confirmed");
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
            let record = unstamped_record(&mut c, &prefix).await;
            let before = meta(&mut c, &prefix).await;
            let e = refusal(refused_start(on(&url, cluster, &prefix)).await);
            let message = e.to_string();
            let named = format!("has layout {layout}, written by optin-verify {written_by}");
            assert!(message.contains(&named), "cluster {cluster}: {message}");
            if layout < LAYOUT {
                assert!(matches!(e, Refusal::OlderLayout { .. }), "{e}");
                assert!(message.contains("has no migration from it"), "{message}");
            } else {
                assert!(matches!(e, Refusal::NewerLayout { .. }), "{e}");
                assert!(message.contains(&format!("Run optin-verify {written_by} or later")), "{message}");
            }
            assert_eq!(meta(&mut c, &prefix).await, before, "the stamp is unchanged");
            let exists: bool = redis::cmd("EXISTS").arg(&record).query_async(&mut c).await.unwrap();
            assert!(exists);
        }
    }
}
