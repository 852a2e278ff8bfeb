//! The scripts driven through the `Store` API, without HTTP: each reply a script gives and each
//! refusal, with what Redis holds afterwards, on standalone Redis and on the 3-master cluster.
//! Every key is named through `store::Keys`.

use std::time::Duration;

use optin_verify::{
    domain::{
        Channel, Context, InitiatedBy, Locale, Method, Partition, Status, VerificationId, WebhookOutcome, WebhookState,
    },
    store::{
        CheckOutcome, CheckSource, ConsentState, CreateOutcome, DISPATCH_GROUP, DeliveryOutcome, Fanout, Keys, Limit,
        OptOutOutcome, OptOutScope, PaceMode, RateSlot, RateSubject, Retention, SimpleOutcome, Store, WithdrawOutcome,
        event_id,
    },
};
use rand::RngCore;
use redis::aio::ConnectionLike;
use serde_json::json;

use crate::harness::{cluster_urls, standalone_url};

const PARTITIONS: u16 = 4;
const TENANT: &str = "acme";
const RIGHT: &str = "mac-of-the-right-code";
const OPT_OUT: &str = "hash-of-the-opt-out-token";

/// A store under a key prefix of its own.
struct Fixture {
    store: Store,
    keys: Keys,
}

impl Fixture {
    async fn on(url: &str, cluster: bool) -> Self {
        let mut rnd = [0u8; 6];
        rand::rng().fill_bytes(&mut rnd);
        let keys = Keys::new(&format!("s{}", hex::encode(rnd)), PARTITIONS);
        let retention = Retention { default_ms: 3_600_000, receipt_ms: 7_200_000, suppression_ms: 600_000 };
        let store = Store::connect(url, cluster, Duration::from_secs(2), keys.clone(), retention).await.unwrap();
        Self { store, keys }
    }

    async fn standalone() -> Self {
        Self::on(&standalone_url(), false).await
    }

    async fn cluster() -> Self {
        Self::on(&cluster_urls(), true).await
    }

    /// A plain command on the store's own connection (routed by key on the cluster).
    async fn cmd<T: redis::FromRedisValue>(&self, c: &mut redis::Cmd) -> T {
        let mut conn = self.store.conn();
        let v = conn.req_packed_command(c).await.unwrap();
        redis::from_redis_value(v).unwrap()
    }

    async fn exists(&self, key: &str) -> bool {
        self.cmd::<i64>(redis::cmd("EXISTS").arg(key)).await == 1
    }

    async fn field(&self, id: &VerificationId, field: &str) -> Option<String> {
        self.cmd(redis::cmd("HGET").arg(self.keys.verification(id)).arg(field)).await
    }

    /// The event types in a partition's stream about `id`.
    async fn events_about(&self, p: Partition, id: &str) -> Vec<String> {
        let reply: redis::streams::StreamRangeReply =
            self.cmd(redis::cmd("XRANGE").arg(self.keys.events(p)).arg("-").arg("+")).await;
        reply
            .ids
            .iter()
            .filter(|e| e.get::<String>("vid").as_deref() == Some(id))
            .map(|e| e.get::<String>("type").unwrap())
            .collect()
    }

    async fn stream_len(&self, key: &str) -> u64 {
        self.cmd(redis::cmd("XLEN").arg(key)).await
    }

    /// A verification of `pseudonym`'s number, as a start would build it (the code's MAC is
    /// `RIGHT`, the opt-out token's hash `OPT_OUT`).
    fn verification(&self, pseudonym: &str, by: InitiatedBy, purpose: &str) -> optin_verify::store::NewVerification {
        let p = self.store.partition_of_number(pseudonym);
        let now = now_ms();
        let context: Context = serde_json::from_value(json!({
            "purpose": {"id": purpose, "text": "Aanbiedingen per telefoon"},
            "caller": "Acme Energie",
            "consent_text": {"version": "v1", "text": "Ja, Acme mag mij bellen over aanbiedingen."},
            "privacy_statement": null, "collection": null, "metadata": null,
            "controller": {"name": "Acme Energie B.V.", "kvk": "12345678", "contact_email": "privacy@acme.example"},
            "issuer": "http://127.0.0.1"
        }))
        .unwrap();
        optin_verify::store::NewVerification {
            id: VerificationId::random(PARTITIONS).with_partition(p),
            tenant: TENANT.into(),
            method: Method::Code,
            channel: Channel::Sms,
            phone: "+31612345678".into(),
            to: "+31612345678".into(),
            seed_hex: "00".repeat(16),
            code_mac: RIGHT.into(),
            confirm_token_hash: "hash-of-the-confirm-token".into(),
            optout_token_hash: OPT_OUT.into(),
            code_length: 6,
            max_attempts: 3,
            created_ms: now,
            expires_ms: now + 600_000,
            locale: Locale::Nl,
            initiated_by: by,
            context,
            pseudonym: pseudonym.into(),
            batch: None,
            body_hash: None,
            call: None,
            reask: false,
        }
    }

    async fn created(&self, pseudonym: &str, by: InitiatedBy) -> VerificationId {
        let v = self.verification(pseudonym, by, "energie");
        assert_eq!(self.store.create(&v, None).await.unwrap(), CreateOutcome::Created);
        v.id
    }

    async fn check(&self, id: &VerificationId, tenant: &str, mac: &str) -> CheckOutcome {
        self.store.check(id, tenant, &[mac.to_string()], now_ms(), CheckSource::API).await.unwrap()
    }

    async fn confirmed(&self, pseudonym: &str) -> VerificationId {
        let id = self.created(pseudonym, InitiatedBy::Consumer).await;
        let got = self.check(&id, TENANT, RIGHT).await;
        // The right code is an attempt too.
        assert_eq!(got, CheckOutcome::Final { status: Status::Confirmed, attempts_remaining: 2 });
        id
    }

    async fn consent_states(&self, pseudonym: &str) -> Vec<ConsentState> {
        self.store.consents(TENANT, pseudonym, None, None).await.unwrap().into_iter().map(|r| r.state).collect()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn pseudonym() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Runs a scenario once on standalone Redis and once on the cluster.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod standalone {
            $(#[tokio::test] async fn $name() { super::$name(super::Fixture::standalone().await).await })*
        }
        mod cluster {
            $(#[tokio::test] async fn $name() { super::$name(super::Fixture::cluster().await).await })*
        }
    };
}

on_both!(
    create_answers_created_exists_suppressed_consented_and_limited,
    check_counts_wrong_codes_confirms_the_right_one_and_fails_when_exhausted,
    check_finds_another_tenants_and_an_expired_verification,
    cancel_and_resend_answer_missing_done_and_final,
    opt_out_declines_withdraws_and_refuses_a_wrong_token,
    withdrawal_by_number_withdraws_each_consent_or_names_the_number,
    withdrawal_of_one_verification_answers_each_case,
    fanout_stores_a_message_once_and_delivery_results_move_it,
    sweep_expires_what_came_due_and_nothing_else,
    pacing_grants_up_to_the_rate_and_gives_back,
);

async fn create_answers_created_exists_suppressed_consented_and_limited(f: Fixture) {
    let who = pseudonym();
    let v = f.verification(&who, InitiatedBy::Marketer, "energie");
    let p = v.id.partition();
    assert_eq!(f.store.create(&v, None).await.unwrap(), CreateOutcome::Created);
    assert!(f.exists(&f.keys.verification(&v.id)).await);
    assert_eq!(f.stream_len(&f.keys.send_stream(p)).await, 1, "the first message is queued in the same step");
    assert_eq!(f.field(&v.id, "st").await.as_deref(), Some("pending"));

    // The same id again (an Idempotency-Key's second request): what it holds, nothing written.
    match f.store.create(&v, None).await.unwrap() {
        CreateOutcome::Exists { tenant, .. } => assert_eq!(tenant, TENANT),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.stream_len(&f.keys.send_stream(p)).await, 1);

    // Declined by opt-out: a campaign start to the number is suppressed and writes nothing.
    let got = f.store.opt_out(&v.id, OPT_OUT, now_ms(), ("", ""), OptOutScope::Purpose).await.unwrap();
    assert_eq!(got, OptOutOutcome::Declined { withdrawn: 0 });
    let again = f.verification(&who, InitiatedBy::Marketer, "energie");
    assert_eq!(f.store.create(&again, None).await.unwrap(), CreateOutcome::Suppressed);
    assert!(!f.exists(&f.keys.verification(&again.id)).await);
    // The person asks themselves: not suppressed.
    let own = f.verification(&who, InitiatedBy::Consumer, "energie");
    assert_eq!(f.store.create(&own, None).await.unwrap(), CreateOutcome::Created);

    // An active consent for the purpose and caller: a campaign does not ask again.
    let other = pseudonym();
    let consent = f.confirmed(&other).await;
    let ask = f.verification(&other, InitiatedBy::Marketer, "energie");
    assert_eq!(
        f.store.create(&ask, None).await.unwrap(),
        CreateOutcome::AlreadyConsented { verification_id: consent.as_str().to_string() }
    );
    assert!(!f.exists(&f.keys.verification(&ask.id)).await);
    // Another purpose is asked.
    let ask = f.verification(&other, InitiatedBy::Marketer, "verzekering");
    assert_eq!(f.store.create(&ask, None).await.unwrap(), CreateOutcome::Created);

    // The destination's counters, counted in the same step: the second start is limited.
    let dest = pseudonym();
    let first = f.verification(&dest, InitiatedBy::Consumer, "energie");
    let subject = RateSubject { slot: RateSlot::Partition(first.id.partition()), scope: "destination", subject: &dest };
    let limits = [Limit { max: 1, window_secs: 600 }];
    let windows = f.store.rate_windows(subject, &limits, now_ms());
    assert_eq!(f.store.create(&first, Some(&windows)).await.unwrap(), CreateOutcome::Created);
    let second = f.verification(&dest, InitiatedBy::Consumer, "energie");
    match f.store.create(&second, Some(&windows)).await.unwrap() {
        CreateOutcome::Limited { retry_after_secs } => assert!((1..=600).contains(&retry_after_secs)),
        other => panic!("{other:?}"),
    }
    assert!(!f.exists(&f.keys.verification(&second.id)).await);
}

async fn check_counts_wrong_codes_confirms_the_right_one_and_fails_when_exhausted(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    assert_eq!(
        f.check(&id, TENANT, "wrong").await,
        CheckOutcome::Counted { status: Status::Pending, attempts_remaining: 2 }
    );
    assert_eq!(f.field(&id, "att").await.as_deref(), Some("1"));
    // The right code, typed under a previous server key (rotation overlap), confirms.
    let got = f.store.check(&id, TENANT, &["new-key-mac".into(), RIGHT.into()], now_ms(), CheckSource::API).await;
    assert_eq!(got.unwrap(), CheckOutcome::Final { status: Status::Confirmed, attempts_remaining: 1 });
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["consent.confirmed"]);
    // Once final, nothing changes: a further code is not counted.
    assert_eq!(
        f.check(&id, TENANT, RIGHT).await,
        CheckOutcome::Final { status: Status::Confirmed, attempts_remaining: 1 }
    );
    assert_eq!(f.field(&id, "att").await.as_deref(), Some("2"));

    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    for left in [2, 1] {
        let got = f.check(&id, TENANT, "wrong").await;
        assert_eq!(got, CheckOutcome::Counted { status: Status::Pending, attempts_remaining: left });
    }
    assert_eq!(
        f.check(&id, TENANT, "wrong").await,
        CheckOutcome::Final { status: Status::Failed, attempts_remaining: 0 }
    );
    // Exhausted: even the right code no longer confirms.
    assert_eq!(
        f.check(&id, TENANT, RIGHT).await,
        CheckOutcome::Final { status: Status::Failed, attempts_remaining: 0 }
    );
    assert_eq!(f.field(&id, "st").await.as_deref(), Some("failed"));
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["verification.failed"]);
}

async fn check_finds_another_tenants_and_an_expired_verification(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    assert_eq!(f.check(&id, "other", RIGHT).await, CheckOutcome::Missing);
    assert_eq!(f.field(&id, "att").await.as_deref(), Some("0"), "another tenant's check counts nothing");
    let absent = VerificationId::random(PARTITIONS);
    assert_eq!(f.check(&absent, TENANT, RIGHT).await, CheckOutcome::Missing);
    assert!(!f.exists(&f.keys.verification(&absent)).await);

    // Past its deadline the right code finds it expired, and the sweeper need not come first.
    let _: () = f.cmd(redis::cmd("HSET").arg(f.keys.verification(&id)).arg("exp").arg(now_ms() - 1)).await;
    assert_eq!(
        f.check(&id, TENANT, RIGHT).await,
        CheckOutcome::Final { status: Status::Expired, attempts_remaining: 3 }
    );
    assert_eq!(f.field(&id, "st").await.as_deref(), Some("expired"));
}

async fn cancel_and_resend_answer_missing_done_and_final(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    let send = f.keys.send_stream(id.partition());
    assert_eq!(f.store.resend(&id, "other", now_ms()).await.unwrap(), SimpleOutcome::Missing);
    assert_eq!(f.stream_len(&send).await, 1);
    assert_eq!(f.store.resend(&id, TENANT, now_ms()).await.unwrap(), SimpleOutcome::Done);
    assert_eq!(f.stream_len(&send).await, 2);
    assert_eq!(f.store.cancel(&id, "other", now_ms()).await.unwrap(), SimpleOutcome::Missing);
    assert_eq!(f.store.cancel(&id, TENANT, now_ms()).await.unwrap(), SimpleOutcome::Done);
    assert_eq!(f.store.cancel(&id, TENANT, now_ms()).await.unwrap(), SimpleOutcome::Final(Status::Canceled));
    assert_eq!(f.store.resend(&id, TENANT, now_ms()).await.unwrap(), SimpleOutcome::Final(Status::Canceled));
    assert_eq!(f.stream_len(&send).await, 2, "a canceled verification is not sent again");
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["verification.canceled"]);
}

async fn opt_out_declines_withdraws_and_refuses_a_wrong_token(f: Fixture) {
    let who = pseudonym();
    let first = f.confirmed(&who).await;
    let second = f.confirmed(&who).await;
    let pending = f.created(&who, InitiatedBy::Consumer).await;
    let client = ("192.0.2.1", "test");

    let got = f.store.opt_out(&pending, "wrong-token", now_ms(), client, OptOutScope::Purpose).await.unwrap();
    assert_eq!(got, OptOutOutcome::Invalid);
    assert_eq!(f.consent_states(&who).await, [ConsentState::Active], "the newest consent per purpose");
    assert_eq!(f.field(&pending, "st").await.as_deref(), Some("pending"));

    // The pending one is declined, and both active consents of the number go with it.
    let got = f.store.opt_out(&pending, OPT_OUT, now_ms(), client, OptOutScope::Purpose).await.unwrap();
    assert_eq!(got, OptOutOutcome::Declined { withdrawn: 2 });
    for id in [&first, &second] {
        assert!(f.field(id, "wd").await.is_some(), "{id} withdrawn");
        assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["consent.confirmed", "consent.withdrawn"]);
    }
    assert_eq!(f.consent_states(&who).await, [ConsentState::Withdrawn]);
    let got = f.store.opt_out(&first, OPT_OUT, now_ms(), client, OptOutScope::All).await.unwrap();
    assert_eq!(got, OptOutOutcome::AlreadyDone);

    // From a confirmed consent's own link: withdrawn.
    let other = pseudonym();
    let id = f.confirmed(&other).await;
    let got = f.store.opt_out(&id, OPT_OUT, now_ms(), client, OptOutScope::All).await.unwrap();
    assert_eq!(got, OptOutOutcome::Withdrawn(1));
    assert_eq!(f.consent_states(&other).await, [ConsentState::Withdrawn]);
}

async fn withdrawal_by_number_withdraws_each_consent_or_names_the_number(f: Fixture) {
    let who = pseudonym();
    let a = f.confirmed(&who).await;
    let b = f.confirmed(&who).await;
    let w = f.store.withdraw_phone(TENANT, &who, "+31612345678", None, "phone_call").await.unwrap();
    let mut named: Vec<String> = w.events.iter().filter_map(|(_, v)| v.clone()).collect();
    named.sort();
    let mut expected = vec![a.as_str().to_string(), b.as_str().to_string()];
    expected.sort();
    assert_eq!(named, expected, "one event per consent");
    assert_eq!(f.consent_states(&who).await, [ConsentState::Withdrawn]);
    // Campaigns keep away from the number now.
    let ask = f.verification(&who, InitiatedBy::Marketer, "energie");
    assert_eq!(f.store.create(&ask, None).await.unwrap(), CreateOutcome::Suppressed);

    // Nothing to withdraw: one event names the number, sealed or not, and no verification.
    let nobody = pseudonym();
    let w = f.store.withdraw_phone(TENANT, &nobody, "+31687654321", None, "phone_call").await.unwrap();
    assert_eq!(w.events.len(), 1);
    assert_eq!(w.events[0].1, None);
    let p = f.store.partition_of_number(&nobody);
    assert!(w.events[0].0.starts_with(&format!("evt_{:04x}_", p.0)), "{:?}", w.events);
    let ask = f.verification(&nobody, InitiatedBy::Marketer, "energie");
    assert_eq!(ask.id.partition(), p);
    assert_eq!(f.store.create(&ask, None).await.unwrap(), CreateOutcome::Suppressed);
}

async fn withdrawal_of_one_verification_answers_each_case(f: Fixture) {
    let id = f.confirmed(&pseudonym()).await;
    let pending = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    let got = f.store.withdraw_verification(&id, "other", "api").await.unwrap();
    assert!(matches!(got, WithdrawOutcome::Missing), "{got:?}");
    let got = f.store.withdraw_verification(&pending, TENANT, "api").await.unwrap();
    assert!(matches!(got, WithdrawOutcome::NotConfirmed), "{got:?}");
    match f.store.withdraw_verification(&id, TENANT, "api").await.unwrap() {
        WithdrawOutcome::Withdrawn(event) => {
            assert!(event.starts_with(&format!("evt_{:04x}_", id.partition().0)), "{event}")
        }
        other => panic!("{other:?}"),
    }
    let got = f.store.withdraw_verification(&id, TENANT, "api").await.unwrap();
    assert!(matches!(got, WithdrawOutcome::Already), "{got:?}");
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["consent.confirmed", "consent.withdrawn"]);
}

async fn fanout_stores_a_message_once_and_delivery_results_move_it(f: Fixture) {
    let id = f.confirmed(&pseudonym()).await;
    let p = id.partition();
    let entries: redis::streams::StreamRangeReply =
        f.cmd(redis::cmd("XRANGE").arg(f.keys.events(p)).arg("-").arg("+")).await;
    let entry = entries.ids.last().unwrap().id.clone();
    let eid = event_id(p, &entry);
    let fan = Fanout {
        partition: p,
        entry_id: &entry,
        event_id: &eid,
        event_type: "consent.confirmed",
        tenant: TENANT,
        at_ms: now_ms(),
        body: r#"{"type":"consent.confirmed"}"#,
        seal: None,
        verification_key: f.keys.verification(&id),
        sealed_contact: None,
        endpoint_ids: vec!["ep_a".into(), "ep_b".into()],
    };
    let _: () = f.cmd(redis::cmd("XGROUP").arg("CREATE").arg(f.keys.events(p)).arg(DISPATCH_GROUP).arg("0")).await;
    f.store.fanout(&fan).await.unwrap();
    let deliver = f.keys.deliver_stream(p);
    assert_eq!(f.stream_len(&deliver).await, 2, "one delivery per endpoint");
    let msg = f.store.message(p, &eid).await.unwrap().unwrap();
    assert_eq!(msg.event_type, "consent.confirmed");
    assert_eq!(msg.deliveries.len(), 2);
    // Twice for the same event: nothing more.
    f.store.fanout(&fan).await.unwrap();
    assert_eq!(f.stream_len(&deliver).await, 2);

    let outcome = |endpoint_id, outcome, due_ms| DeliveryOutcome {
        partition: p,
        entry_id: "0-1",
        event_id: &eid,
        endpoint_id,
        outcome,
        attempt_json: r#"{"status_code":500}"#,
        due_ms,
        now_ms: now_ms(),
    };
    f.store.record_delivery(&outcome("ep_a", WebhookOutcome::Retrying, now_ms() + 60_000)).await.unwrap();
    f.store.record_delivery(&outcome("ep_b", WebhookOutcome::Dead, now_ms())).await.unwrap();
    let retries: Vec<String> = f.cmd(redis::cmd("ZRANGE").arg(f.keys.retries(p)).arg(0).arg(-1)).await;
    assert_eq!(retries, [format!("{eid}|ep_a")]);
    let dead: Vec<String> = f.cmd(redis::cmd("ZRANGE").arg(f.keys.dead_letters(p)).arg(0).arg(-1)).await;
    assert_eq!(dead, [format!("{eid}|ep_b")]);
    assert_eq!(f.store.attempt_log(p, &eid).await.unwrap().len(), 2);
    // The retry comes due and goes back onto the deliver stream.
    assert_eq!(f.store.release_due_retries(p, now_ms() + 61_000, 10).await.unwrap(), 1);
    assert_eq!(f.stream_len(&deliver).await, 3);
    f.store.record_delivery(&outcome("ep_a", WebhookOutcome::Delivered, now_ms())).await.unwrap();
    let msg = f.store.message(p, &eid).await.unwrap().unwrap();
    let states: Vec<(&str, WebhookState, u32)> = msg.deliveries.iter().map(|(e, s, n)| (e.as_str(), *s, *n)).collect();
    assert_eq!(states, [("ep_a", WebhookState::Delivered, 2), ("ep_b", WebhookState::Dead, 1)]);
}

async fn sweep_expires_what_came_due_and_nothing_else(f: Fixture) {
    let who = pseudonym();
    let due = f.verification(&who, InitiatedBy::Consumer, "energie");
    let mut later = f.verification(&who, InitiatedBy::Consumer, "energie");
    later.expires_ms = now_ms() + 3_600_000;
    for v in [&due, &later] {
        assert_eq!(f.store.create(v, None).await.unwrap(), CreateOutcome::Created);
    }
    let p = due.id.partition();
    assert_eq!(f.store.sweep(p, now_ms(), 100).await.unwrap(), 0, "nothing came due yet");
    let taken = f.store.sweep(p, due.expires_ms + 10_000, 100).await.unwrap();
    assert_eq!(taken, 1);
    assert_eq!(f.field(&due.id, "st").await.as_deref(), Some("expired"));
    assert_eq!(f.field(&later.id, "st").await.as_deref(), Some("pending"));
    assert_eq!(f.events_about(p, due.id.as_str()).await, ["verification.expired"]);
    // Swept again: the entry is gone, nothing is expired twice.
    assert_eq!(f.store.sweep(p, due.expires_ms + 10_000, 100).await.unwrap(), 0);
    assert_eq!(f.events_about(p, due.id.as_str()).await.len(), 1);
}

async fn pacing_grants_up_to_the_rate_and_gives_back(f: Fixture) {
    let account = format!("cm-{}", pseudonym());
    let (granted, _) = f.store.pace(&account, 5, 10, PaceMode::Take).await.unwrap();
    assert_eq!(granted, 5, "a full bucket holds one second of the rate");
    let (granted, wait) = f.store.pace(&account, 5, 1, PaceMode::Take).await.unwrap();
    assert_eq!(granted, 0);
    assert!((1..=200).contains(&wait), "a token every 200 ms: {wait}");
    // A person waiting gets a token all the same, below zero.
    let (granted, wait) = f.store.pace(&account, 5, 1, PaceMode::Debt).await.unwrap();
    assert_eq!(granted, 1);
    assert!(wait > 200, "the debt is paid off first: {wait}");
    // Three taken and not used come back: two whole tokens after the debt.
    assert_eq!(f.store.pace(&account, 5, 3, PaceMode::Give).await.unwrap().0, 0);
    assert_eq!(f.store.pace(&account, 5, 10, PaceMode::Take).await.unwrap().0, 2);
    let ttl: i64 = f.cmd(redis::cmd("PTTL").arg(f.keys.pace(&account))).await;
    assert!((1..=3_600_000).contains(&ttl), "an idle account's bucket goes: {ttl}");
}
