//! The scripts around a tenant: rate_limit, batch_put and batch_skipped, the endpoint scripts,
//! the Idempotency-Key pair, and the store's meta stamp.

use optin_verify::store::{
    EndpointChange, EndpointRecord, IdemClaim, Limit, RateDecision, RateSlot, RateSubject, Stamp,
};

use super::{Fixture, TENANT, now_ms, pseudonym};

on_both!(
    rate_limit_counts_every_window_or_none,
    a_batch_keeps_its_owner_and_the_items_that_started_nothing,
    endpoints_are_capped_replaced_by_compare_and_set_and_deleted,
    an_idempotency_key_is_claimed_once_and_replays_its_answer,
    the_meta_stamp_is_written_once_and_compared_after,
);

async fn rate_limit_counts_every_window_or_none(f: Fixture) {
    let who = pseudonym();
    let subject = RateSubject { slot: RateSlot::Own, scope: "ip", subject: &who };
    let limits = [Limit { max: 2, window_secs: 60 }, Limit { max: 3, window_secs: 3600 }];
    let now = now_ms();
    for _ in 0..2 {
        assert_eq!(f.store.rate_limit(subject, &limits, now).await.unwrap(), RateDecision::Allowed);
    }
    match f.store.rate_limit(subject, &limits, now).await.unwrap() {
        RateDecision::Limited { retry_after_secs } => {
            assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}")
        }
        other => panic!("{other:?}"),
    }
    // The refused use counted in no window: the hour still has room for one.
    let hour = f.store.rate_windows(subject, &limits[1..], now);
    let later = now + 61_000;
    assert_eq!(f.store.count(&hour, later).await.unwrap(), RateDecision::Allowed);
    assert!(matches!(f.store.count(&hour, later).await.unwrap(), RateDecision::Limited { .. }));
    let minute_key = f.keys.rate("ip", &who, 60, (now as u64) / 60_000);
    let used: String = f.cmd(redis::cmd("GET").arg(&minute_key)).await;
    assert_eq!(used, "2");
}

async fn a_batch_keeps_its_owner_and_the_items_that_started_nothing(f: Fixture) {
    let batch = format!("bt_{}", &pseudonym()[..16]);
    assert!(f.store.batch(&batch).await.unwrap().is_none());
    let created = now_ms();
    f.store.put_batch(&batch, TENANT, 4, created, created + 60_000).await.unwrap();
    // A retried batch keeps its first start time.
    f.store.put_batch(&batch, TENANT, 4, created + 5000, created + 60_000).await.unwrap();
    f.store.batch_skipped(&batch, &[(1, "already-consented"), (3, "duplicate-in-batch")]).await.unwrap();
    f.store.batch_skipped(&batch, &[(1, "already-consented")]).await.unwrap();
    let b = f.store.batch(&batch).await.unwrap().unwrap();
    assert_eq!((b.tenant.as_str(), b.items, b.created_ms), (TENANT, 4, created));
    assert_eq!(b.skipped, [("already-consented", 1), ("duplicate-in-batch", 1)], "each index counts once");
    let ttl: i64 = f.cmd(redis::cmd("PTTL").arg(f.keys.batch(&batch))).await;
    assert!(ttl > 60_000, "kept a retention period past its end: {ttl}");
}

fn endpoint(id: &str) -> EndpointRecord {
    EndpointRecord {
        id: id.into(),
        url: "https://crm.example/hook".into(),
        event_types: None,
        description: None,
        secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0".into(),
        previous_secret: None,
        previous_until_ms: None,
        disabled: false,
        disabled_reason: None,
        created_ms: now_ms(),
        recovery: None,
    }
}

async fn endpoints_are_capped_replaced_by_compare_and_set_and_deleted(f: Fixture) {
    let tenant = format!("t{}", &pseudonym()[..8]);
    assert!(f.store.endpoint_create(&tenant, &endpoint("ep_1"), 1).await.unwrap());
    assert!(!f.store.endpoint_create(&tenant, &endpoint("ep_2"), 1).await.unwrap(), "the tenant's maximum");
    assert!(f.store.endpoint(&tenant, "ep_2").await.unwrap().is_none());
    match f.store.endpoint_update(&tenant, "ep_1", |e| e.disabled = true).await.unwrap() {
        EndpointChange::Done(e) => assert!(e.disabled),
        other => panic!("{other:?}"),
    }
    assert!(f.store.endpoint(&tenant, "ep_1").await.unwrap().unwrap().disabled);
    let gone = f.store.endpoint_update(&tenant, "ep_9", |e| e.disabled = true).await.unwrap();
    assert!(matches!(gone, EndpointChange::Gone), "{gone:?}");
    assert!(f.store.endpoint_delete(&tenant, "ep_1").await.unwrap());
    assert!(!f.store.endpoint_delete(&tenant, "ep_1").await.unwrap());
    assert!(!f.exists(&f.keys.endpoints(&tenant)).await);
}

async fn an_idempotency_key_is_claimed_once_and_replays_its_answer(f: Fixture) {
    let key = pseudonym();
    assert_eq!(f.store.idem_begin(TENANT, &key, "req-a").await.unwrap(), IdemClaim::New);
    assert_eq!(f.store.idem_begin(TENANT, &key, "req-a").await.unwrap(), IdemClaim::Running);
    assert_eq!(f.store.idem_begin(TENANT, &key, "req-b").await.unwrap(), IdemClaim::Mismatch);
    // Another tenant's key of the same name is its own.
    assert_eq!(f.store.idem_begin("other", &key, "req-b").await.unwrap(), IdemClaim::New);
    // Only the request that holds the key finishes it.
    f.store.idem_finish(TENANT, &key, "req-b", Some((500, "{}"))).await.unwrap();
    assert_eq!(f.store.idem_begin(TENANT, &key, "req-a").await.unwrap(), IdemClaim::Running);
    f.store.idem_finish(TENANT, &key, "req-a", Some((201, r#"{"id":"x"}"#))).await.unwrap();
    let replay = f.store.idem_begin(TENANT, &key, "req-a").await.unwrap();
    assert_eq!(replay, IdemClaim::Done { status: 201, body: r#"{"id":"x"}"#.into() });
    // Released (the request failed): the next one may run.
    let other = pseudonym();
    assert_eq!(f.store.idem_begin(TENANT, &other, "req-a").await.unwrap(), IdemClaim::New);
    f.store.idem_finish(TENANT, &other, "req-a", None).await.unwrap();
    assert!(!f.exists(&f.keys.idempotency(TENANT, &other)).await);
    assert_eq!(f.store.idem_begin(TENANT, &other, "req-a").await.unwrap(), IdemClaim::New);
}

async fn the_meta_stamp_is_written_once_and_compared_after(f: Fixture) {
    assert_eq!(f.store.stamp_pseudonym_key("fp-1").await.unwrap(), Stamp::New);
    assert_eq!(f.store.stamp_pseudonym_key("fp-1").await.unwrap(), Stamp::Same);
    assert_eq!(f.store.stamp_pseudonym_key("fp-2").await.unwrap(), Stamp::Other);
    let kept: Option<String> = f.cmd(redis::cmd("HGET").arg(f.keys.meta()).arg("pseudonym_key_fp")).await;
    assert_eq!(kept.as_deref(), Some("fp-1"));
}
