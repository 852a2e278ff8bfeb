//! The consents page's scripts: ss_challenge, ss_check, ss_end and suppression, and the
//! history read beside them. A challenge without a code opens for no code; attempts run out;
//! a session is one tenant's; the suppression a person sets or lifts is what starts obey.

use optin_verify::{
    domain::{Channel, InitiatedBy, PageSecret},
    store::{ChallengeOutcome, CreateOutcome, NewChallenge},
};

use super::{Fixture, RIGHT, TENANT, now_ms, pseudonym};
use optin_verify::domain::Status;
use optin_verify::store::{CheckOutcome, CheckSource, Holder};

on_both!(
    a_challenge_opens_one_session_for_its_code_and_closes_after_its_attempts,
    a_challenge_without_a_code_opens_for_none,
    a_session_is_one_tenants_and_ends,
    the_persons_suppression_refuses_marketer_starts_until_lifted,
    the_history_lists_every_consent_newest_first_and_the_suppression,
    a_consent_confirmed_through_an_address_is_found_by_the_address,
);

async fn challenge(f: &Fixture, who: &str, mac: Option<&str>) -> PageSecret {
    let id = PageSecret::random(f.store.partition_of_number(who));
    let c = NewChallenge {
        id: &id,
        tenant: TENANT,
        pseudonym: who,
        code_mac: mac,
        holder: Holder::Phone,
        address: "+31612345678",
        attempts: 3,
        ttl_ms: 600_000,
    };
    f.store.create_challenge(c).await.unwrap();
    id
}

async fn a_challenge_opens_one_session_for_its_code_and_closes_after_its_attempts(f: Fixture) {
    let who = pseudonym();
    let c = challenge(&f, &who, Some(RIGHT)).await;
    let key = f.keys.self_service_challenge(c.partition(), &c.hash());
    let ttl: i64 = f.cmd(redis::cmd("PTTL").arg(&key)).await;
    assert!((590_000..=600_000).contains(&ttl), "{ttl}");
    let stored_phone: String = f.cmd(redis::cmd("HGET").arg(&key).arg("addr")).await;
    assert_eq!(stored_phone, "+31612345678", "this fixture has no sealing key: stored as given");

    let s = PageSecret::random(c.partition());
    let open = |mac: &'static str| {
        let (c, s) = (c.clone(), s.clone());
        let store = f.store.clone();
        async move { store.answer_challenge(&c, &s, TENANT, mac, 900_000).await.unwrap() }
    };
    assert_eq!(open("wrong").await, ChallengeOutcome::Wrong { attempts_left: 2 });
    assert!(!f.exists(&f.keys.self_service_session(s.partition(), &s.hash())).await);
    // Another tenant's answer reads as missing and spends nothing.
    assert_eq!(f.store.answer_challenge(&c, &s, "other", RIGHT, 900_000).await.unwrap(), ChallengeOutcome::Missing);
    assert_eq!(open(RIGHT).await, ChallengeOutcome::Opened);
    assert!(!f.exists(&key).await, "a used challenge is gone");
    let session = f.keys.self_service_session(s.partition(), &s.hash());
    let ttl: i64 = f.cmd(redis::cmd("PTTL").arg(&session)).await;
    assert!((890_000..=900_000).contains(&ttl), "{ttl}");
    let got = f.store.page_session(&s, TENANT).await.unwrap().unwrap();
    assert_eq!((got.pseudonym.as_str(), got.address.as_str()), (who.as_str(), "+31612345678"));
    assert_eq!(got.holder, Holder::Phone);
    // The same code again: the challenge is gone.
    assert_eq!(open(RIGHT).await, ChallengeOutcome::Missing);

    // Attempts run out, and then even the right code does not open it.
    let c2 = challenge(&f, &who, Some(RIGHT)).await;
    let s2 = PageSecret::random(c2.partition());
    let answer = |mac| f.store.answer_challenge(&c2, &s2, TENANT, mac, 900_000);
    assert_eq!(answer("a").await.unwrap(), ChallengeOutcome::Wrong { attempts_left: 2 });
    assert_eq!(answer("b").await.unwrap(), ChallengeOutcome::Wrong { attempts_left: 1 });
    assert_eq!(answer("c").await.unwrap(), ChallengeOutcome::Closed);
    assert_eq!(answer(RIGHT).await.unwrap(), ChallengeOutcome::Closed);
    assert!(f.store.page_session(&s2, TENANT).await.unwrap().is_none());
}

async fn a_challenge_without_a_code_opens_for_none(f: Fixture) {
    let who = pseudonym();
    let c = challenge(&f, &who, None).await;
    let s = PageSecret::random(c.partition());
    // Not even an empty MAC opens it.
    for mac in ["", RIGHT] {
        let got = f.store.answer_challenge(&c, &s, TENANT, mac, 900_000).await.unwrap();
        assert!(matches!(got, ChallengeOutcome::Wrong { .. }), "{got:?}");
    }
    assert_eq!(f.store.answer_challenge(&c, &s, TENANT, "x", 900_000).await.unwrap(), ChallengeOutcome::Closed);
    assert!(f.store.page_session(&s, TENANT).await.unwrap().is_none());
    // Making it wrote nothing about the number beside the challenge.
    let index = f.keys.consent_index(f.store.partition_of_number(&who), TENANT, &who);
    assert!(!f.exists(&index).await);
}

async fn a_session_is_one_tenants_and_ends(f: Fixture) {
    let who = pseudonym();
    let c = challenge(&f, &who, Some(RIGHT)).await;
    let s = PageSecret::random(c.partition());
    assert_eq!(f.store.answer_challenge(&c, &s, TENANT, RIGHT, 900_000).await.unwrap(), ChallengeOutcome::Opened);
    assert!(f.store.page_session(&s, "other").await.unwrap().is_none(), "another tenant's page");
    assert!(f.store.page_session(&PageSecret::random(c.partition()), TENANT).await.unwrap().is_none());
    f.store.end_page_session(&s).await.unwrap();
    assert!(f.store.page_session(&s, TENANT).await.unwrap().is_none());
    assert!(!f.exists(&f.keys.self_service_session(s.partition(), &s.hash())).await);
}

async fn the_persons_suppression_refuses_marketer_starts_until_lifted(f: Fixture) {
    let who = pseudonym();
    let index = f.keys.consent_index(f.store.partition_of_number(&who), TENANT, &who);
    let until = now_ms() + 86_400_000;
    f.store.set_suppression(TENANT, &who, Some(until)).await.unwrap();
    let stored: String = f.cmd(redis::cmd("HGET").arg(&index).arg("!")).await;
    assert_eq!(stored, until.to_string());
    let pexpire: i64 = f.cmd(redis::cmd("PEXPIRETIME").arg(&index)).await;
    assert!(pexpire >= until, "the index is kept while the suppression lasts");
    let marketer = f.verification(&who, InitiatedBy::Marketer, "energie");
    assert_eq!(f.store.create(&marketer, None).await.unwrap(), CreateOutcome::Suppressed);
    assert!(!f.exists(&f.keys.verification(&marketer.id)).await);
    // An earlier end does not shorten it; lifting removes it, whatever set it.
    f.store.set_suppression(TENANT, &who, Some(until - 1000)).await.unwrap();
    let stored: String = f.cmd(redis::cmd("HGET").arg(&index).arg("!")).await;
    assert_eq!(stored, until.to_string());
    f.store.set_suppression(TENANT, &who, None).await.unwrap();
    assert_eq!(f.store.create(&marketer, None).await.unwrap(), CreateOutcome::Created);
    let history = f.store.consent_history(TENANT, &who).await.unwrap();
    assert_eq!(history.suppressed_until_ms, None);
}

async fn the_history_lists_every_consent_newest_first_and_the_suppression(f: Fixture) {
    let who = pseudonym();
    assert!(!f.store.consent_history(TENANT, &who).await.unwrap().holds_anything(now_ms()));
    let first = f.confirmed(&who).await;
    let second = f.confirmed(&who).await;
    let history = f.store.consent_history(TENANT, &who).await.unwrap();
    assert_eq!(history.purposes, [("energie".to_string(), vec![second.to_string(), first.to_string()])]);
    assert!(history.holds_anything(now_ms()));
    assert!(f.store.consent_history("other", &who).await.unwrap().purposes.is_empty(), "one tenant's only");
    // A suppression alone is something held too.
    let alone = pseudonym();
    f.store.set_suppression(TENANT, &alone, Some(now_ms() + 60_000)).await.unwrap();
    assert!(f.store.consent_history(TENANT, &alone).await.unwrap().holds_anything(now_ms()));
}

async fn a_consent_confirmed_through_an_address_is_found_by_the_address(f: Fixture) {
    let address = pseudonym();
    // Two numbers, most likely in two partitions, both confirmed through the one address.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut v = f.verification(&pseudonym(), InitiatedBy::Consumer, "energie");
        v.channel = Channel::Email;
        v.to = "jan@example.nl".into();
        v.email_pseudonym = Some(address.clone());
        assert_eq!(f.store.create(&v, None).await.unwrap(), CreateOutcome::Created);
        assert!(f.store.email_consent_ids(TENANT, &address).await.unwrap().len() == ids.len(), "only once confirmed");
        let got = f.store.check(&v.id, TENANT, &[RIGHT.to_string()], now_ms(), CheckSource::API).await.unwrap();
        assert!(matches!(got, CheckOutcome::Final { status: Status::Confirmed, .. }), "{got:?}");
        ids.push(v.id.to_string());
    }
    let mut found = f.store.email_consent_ids(TENANT, &address).await.unwrap();
    found.sort();
    ids.sort();
    assert_eq!(found, ids);
    assert!(f.store.email_consent_ids("other", &address).await.unwrap().is_empty());
    // Kept as long as the consents: an expiry is set.
    let p = optin_verify::domain::VerificationId::parse(&ids[0], 4).unwrap().partition();
    let ttl: i64 = f.cmd(redis::cmd("PTTL").arg(f.keys.email_consents(p, TENANT, &address))).await;
    assert!(ttl > 0, "{ttl}");
}
