//! The scripts of a verification's life: create, load, check, answer_link, opt_out, cancel,
//! resend, the withdrawals, call_outcome and retention_due.

use optin_verify::{
    domain::{InitiatedBy, Method, Status, VerificationId},
    store::{
        CallOutcome, CallPlan, CallReport, CheckOutcome, CheckSource, ConsentState, CreateOutcome, Limit, LinkAnswer,
        OptOutOutcome, OptOutScope, RateSlot, RateSubject, SimpleOutcome, WithdrawOutcome, fields as F,
    },
};

use super::{Fixture, OPT_OUT, PARTITIONS, RIGHT, TENANT, now_ms, pseudonym};

on_both!(
    create_answers_created_exists_suppressed_consented_and_limited,
    load_reads_the_record_with_its_shared_texts_and_suppression,
    check_counts_wrong_codes_confirms_the_right_one_and_fails_when_exhausted,
    check_finds_another_tenants_and_an_expired_verification,
    answer_link_confirms_or_declines_once_with_the_right_token,
    cancel_and_resend_answer_missing_done_and_final,
    opt_out_declines_withdraws_and_refuses_a_wrong_token,
    withdrawal_by_number_withdraws_each_consent_or_names_the_number,
    withdrawal_of_one_verification_answers_each_case,
    call_outcomes_answer_each_case_and_remind_of_retention_once,
);

async fn create_answers_created_exists_suppressed_consented_and_limited(f: Fixture) {
    let who = pseudonym();
    let v = f.verification(&who, InitiatedBy::Marketer, "energie");
    let p = v.id.partition();
    assert_eq!(f.store.create(&v, None).await.unwrap(), CreateOutcome::Created);
    assert!(f.exists(&f.keys.verification(&v.id)).await);
    assert_eq!(f.stream_len(&f.keys.send_stream(p)).await, 1, "the first message is queued in the same step");
    assert_eq!(f.field(&v.id, F::STATUS).await.as_deref(), Some("pending"));

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
    assert_eq!(f.field(&id, F::ATTEMPTS).await.as_deref(), Some("1"));
    // The right code, typed under a previous server key (rotation overlap), confirms.
    let got = f.store.check(&id, TENANT, &["new-key-mac".into(), RIGHT.into()], now_ms(), CheckSource::API).await;
    assert_eq!(got.unwrap(), CheckOutcome::Final { status: Status::Confirmed, attempts_remaining: 1 });
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["consent.confirmed"]);
    // Once final, nothing changes: a further code is not counted.
    assert_eq!(
        f.check(&id, TENANT, RIGHT).await,
        CheckOutcome::Final { status: Status::Confirmed, attempts_remaining: 1 }
    );
    assert_eq!(f.field(&id, F::ATTEMPTS).await.as_deref(), Some("2"));

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
    assert_eq!(f.field(&id, F::STATUS).await.as_deref(), Some("failed"));
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["verification.failed"]);
}

async fn check_finds_another_tenants_and_an_expired_verification(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    assert_eq!(f.check(&id, "other", RIGHT).await, CheckOutcome::Missing);
    assert_eq!(f.field(&id, F::ATTEMPTS).await.as_deref(), Some("0"), "another tenant's check counts nothing");
    let absent = VerificationId::random(PARTITIONS);
    assert_eq!(f.check(&absent, TENANT, RIGHT).await, CheckOutcome::Missing);
    assert!(!f.exists(&f.keys.verification(&absent)).await);

    // Past its deadline the right code finds it expired, and the sweeper need not come first.
    let _: () = f.cmd(redis::cmd("HSET").arg(f.keys.verification(&id)).arg(F::EXPIRES).arg(now_ms() - 1)).await;
    assert_eq!(
        f.check(&id, TENANT, RIGHT).await,
        CheckOutcome::Final { status: Status::Expired, attempts_remaining: 3 }
    );
    assert_eq!(f.field(&id, F::STATUS).await.as_deref(), Some("expired"));
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
    assert_eq!(f.field(&pending, F::STATUS).await.as_deref(), Some("pending"));

    // The pending one is declined, and both active consents of the number go with it.
    let got = f.store.opt_out(&pending, OPT_OUT, now_ms(), client, OptOutScope::Purpose).await.unwrap();
    assert_eq!(got, OptOutOutcome::Declined { withdrawn: 2 });
    for id in [&first, &second] {
        assert!(f.field(id, F::WITHDRAWN).await.is_some(), "{id} withdrawn");
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

async fn load_reads_the_record_with_its_shared_texts_and_suppression(f: Fixture) {
    let who = pseudonym();
    let v = f.verification(&who, InitiatedBy::Consumer, "energie");
    assert_eq!(f.store.create(&v, None).await.unwrap(), CreateOutcome::Created);
    let got = f.store.get(&v.id).await.unwrap().unwrap();
    assert_eq!((got.status, got.tenant.as_str(), got.phone.as_str()), (Status::Pending, TENANT, "+31612345678"));
    // The consent text is over 64 bytes: kept once outside the record, read back in place.
    assert_eq!(got.context.consent_text.text, v.context.consent_text.text);
    assert!(f.field(&v.id, &format!("{}@", F::NOTICE)).await.is_some(), "the notice is a shared blob");
    assert_eq!(got.suppressed_until_ms, None);
    f.store.opt_out(&v.id, OPT_OUT, now_ms(), ("", ""), OptOutScope::Purpose).await.unwrap();
    let got = f.store.get(&v.id).await.unwrap().unwrap();
    assert!(got.suppressed_until_ms.is_some_and(|u| u > now_ms()), "{:?}", got.suppressed_until_ms);
    assert!(f.store.get(&VerificationId::random(PARTITIONS)).await.unwrap().is_none());
}

async fn answer_link_confirms_or_declines_once_with_the_right_token(f: Fixture) {
    let confirm = "hash-of-the-confirm-token";
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    let got = f.store.answer_link(&id, "wrong", Status::Confirmed, now_ms(), "192.0.2.1", "test").await.unwrap();
    assert_eq!(got, LinkAnswer::Invalid);
    assert_eq!(f.field(&id, F::STATUS).await.as_deref(), Some("pending"));
    let got = f.store.answer_link(&id, confirm, Status::Confirmed, now_ms(), "192.0.2.1", "test").await.unwrap();
    assert_eq!(got, LinkAnswer::Done(Status::Confirmed));
    assert_eq!(f.field(&id, F::CONFIRM_IP).await.as_deref(), Some("192.0.2.1"));
    // Used: the same token again looks like a wrong one.
    let got = f.store.answer_link(&id, confirm, Status::Declined, now_ms(), "192.0.2.1", "test").await.unwrap();
    assert_eq!(got, LinkAnswer::Invalid);
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["consent.confirmed"]);

    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    let got = f.store.answer_link(&id, confirm, Status::Declined, now_ms(), "", "").await.unwrap();
    assert_eq!(got, LinkAnswer::Done(Status::Declined));
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["consent.declined"]);
    // Past its deadline the link finds it expired.
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    let later = now_ms() + 601_000;
    assert_eq!(f.store.answer_link(&id, confirm, Status::Confirmed, later, "", "").await.unwrap(), LinkAnswer::Invalid);
    assert_eq!(f.field(&id, F::STATUS).await.as_deref(), Some("expired"));
}

/// A call verification whose window started a minute ago.
async fn call_verification(f: &Fixture) -> (VerificationId, i64) {
    let mut v = f.verification(&pseudonym(), InitiatedBy::Marketer, "energie");
    let start = now_ms() - 60_000;
    v.method = Method::Call;
    v.call = Some(CallPlan { start_ms: start, end_ms: start + 3_600_000, caller_number: "+31201234567".into() });
    assert_eq!(f.store.create(&v, None).await.unwrap(), CreateOutcome::Created);
    (v.id, start)
}

fn report(outcome: &str, window_start: i64, new_window: Option<(i64, i64, i64)>) -> CallReport<'_> {
    CallReport {
        outcome,
        expected_window_start_ms: window_start,
        called_at_ms: now_ms(),
        agent_id: "agent-7",
        recording: Some(("s3://rec/1.wav", "abab", 95)),
        retain_until_ms: now_ms() + 86_400_000,
        remind_at_ms: now_ms() + 1000,
        new_window,
        max_reschedules: 1,
    }
}

async fn call_outcomes_answer_each_case_and_remind_of_retention_once(f: Fixture) {
    let (id, start) = call_verification(&f).await;
    let p = id.partition();
    let outcome = |tenant: &'static str, r: CallReport<'static>| {
        let (store, id) = (f.store.clone(), id.clone());
        async move { store.call_outcome(&id, tenant, &r, now_ms()).await.unwrap() }
    };
    assert_eq!(outcome("other", report("confirmed", start, None)).await, CallOutcome::Missing);
    assert_eq!(outcome(TENANT, report("confirmed", start - 1, None)).await, CallOutcome::Moved);
    assert_eq!(outcome(TENANT, report("unreachable", start, None)).await, CallOutcome::NeedsWindow);
    let next = (start + 7_200_000, start + 9_000_000, start + 9_000_000);
    assert_eq!(outcome(TENANT, report("unreachable", start, Some(next))).await, CallOutcome::Done("rescheduled"));
    assert_eq!(f.field(&id, F::RESCHEDULES).await.as_deref(), Some("1"));
    // The window moved: a report about the old one is refused; out of reschedules it fails.
    assert_eq!(outcome(TENANT, report("confirmed", start, None)).await, CallOutcome::Moved);
    assert_eq!(outcome(TENANT, report("unreachable", next.0, None)).await, CallOutcome::Done("failed"));
    assert_eq!(outcome(TENANT, report("confirmed", next.0, None)).await, CallOutcome::Final(Status::Failed));

    // Declined on the call: campaigns keep away from the number, as after a "not me".
    let (id, start) = call_verification(&f).await;
    let r = report("declined", start, None);
    assert_eq!(f.store.call_outcome(&id, TENANT, &r, now_ms()).await.unwrap(), CallOutcome::Done("declined"));
    let again = f.store.get(&id).await.unwrap().unwrap();
    assert!(again.suppressed_until_ms.is_some_and(|u| u > now_ms()), "suppressed: {:?}", again.suppressed_until_ms);

    // Confirmed: the recording's retention reminder is due once.
    let (id, start) = call_verification(&f).await;
    let r = report("confirmed", start, None);
    assert_eq!(f.store.call_outcome(&id, TENANT, &r, now_ms()).await.unwrap(), CallOutcome::Done("confirmed"));
    assert_eq!(f.field(&id, F::RECORDING_SHA256).await.as_deref(), Some("abab"));
    assert_eq!(f.store.retention_reminders_due(p, now_ms(), 10).await.unwrap(), 0, "not due yet");
    let due = id.partition();
    assert_eq!(f.store.retention_reminders_due(due, now_ms() + 2000, 10).await.unwrap(), 1);
    assert_eq!(f.store.retention_reminders_due(due, now_ms() + 2000, 10).await.unwrap(), 0);
    assert_eq!(f.events_about(due, id.as_str()).await, ["consent.confirmed", "recording.retention_due"]);
}
