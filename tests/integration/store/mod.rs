//! The scripts driven through the `Store` API, without HTTP: each reply a script gives and each
//! refusal, with what Redis holds afterwards, on standalone Redis and on the 3-master cluster.
//! Every key is named through `store::Keys`.

use std::time::Duration;

use optin_verify::{
    domain::{Channel, Context, InitiatedBy, Locale, Method, Partition, Status, VerificationId},
    store::{CheckOutcome, CheckSource, ConsentState, CreateOutcome, Keys, NewVerification, Retention, Store},
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
    fn verification(&self, pseudonym: &str, by: InitiatedBy, purpose: &str) -> NewVerification {
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
        NewVerification {
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
            email_pseudonym: None,
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

mod messages;
mod self_service;
mod tenants;
mod verifications;
