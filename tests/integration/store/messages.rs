//! The scripts that move messages: mark_sent, send_failed, hold and due_retries, to_campaign and
//! release_campaign, pace, ack, outbox_push, and for webhooks fanout, delivery_result,
//! redeliver and sweep.

use optin_verify::{
    domain::{InitiatedBy, MessageState, WebhookOutcome, WebhookState},
    store::{
        CreateOutcome, DISPATCH_GROUP, DeliveryOutcome, Fanout, OutboxMessage, PaceMode, Recorded, Report, SEND_GROUP,
        Sent, StreamEntry, event_id, fields as F,
    },
};

use super::{Fixture, TENANT, now_ms, pseudonym};

on_both!(
    mark_sent_records_the_send_and_takes_its_entry_off_the_stream,
    delivery_states_and_reports_are_recorded_once_for_the_send_they_name,
    held_messages_wait_and_come_back_when_released,
    campaign_messages_wait_for_tokens_and_go_out_paced,
    ack_and_outbox_push_do_their_one_thing,
    fanout_stores_a_message_once_and_delivery_results_move_it,
    redeliver_queues_every_endpoint_again_or_finds_the_message_gone,
    sweep_expires_what_came_due_and_nothing_else,
    pacing_grants_up_to_the_rate_and_gives_back,
);

impl Fixture {
    /// The send stream's consumer group, made as a worker would, and the entry id of the
    /// first message queued for `id`.
    async fn queued_entry(&self, id: &optin_verify::domain::VerificationId) -> String {
        let stream = self.keys.send_stream(id.partition());
        // BUSYGROUP when an earlier verification of the partition made it: fine.
        let mut create = redis::cmd("XGROUP");
        create.arg("CREATE").arg(&stream).arg(SEND_GROUP).arg("0");
        let _ = redis::aio::ConnectionLike::req_packed_command(&mut self.store.conn(), &create).await;
        let entries: redis::streams::StreamRangeReply =
            self.cmd(redis::cmd("XRANGE").arg(&stream).arg("-").arg("+")).await;
        let entry = entries.ids.iter().find(|e| e.get::<String>("vid").as_deref() == Some(id.as_str())).unwrap();
        // Read through the group, so the entry is pending as a worker's would be.
        let _: redis::Value = self
            .cmd(redis::cmd("XREADGROUP").arg("GROUP").arg(SEND_GROUP).arg("w").arg("STREAMS").arg(&stream).arg(">"))
            .await;
        entry.id.clone()
    }

    async fn pending_in(&self, stream: &str, group: &str) -> i64 {
        let summary: redis::Value = self.cmd(redis::cmd("XPENDING").arg(stream).arg(group)).await;
        match summary {
            redis::Value::Array(v) => redis::from_redis_value(v[0].clone()).unwrap(),
            other => panic!("{other:?}"),
        }
    }
}

fn sent<'a>(reference: &'a str, attempts: &'a [String]) -> Sent<'a> {
    Sent {
        now_ms: now_ms(),
        announcement_sha256: None,
        new_expiry_ms: None,
        provider: "twilio",
        reference: Some(reference),
        attempts,
    }
}

async fn mark_sent_records_the_send_and_takes_its_entry_off_the_stream(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    let entry = f.queued_entry(&id).await;
    let stream = f.keys.send_stream(id.partition());
    let at = StreamEntry { stream: &stream, group: SEND_GROUP, id: &entry };
    f.store.mark_sent(&id, &sent("SM1", &["line-1".to_string()]), &at).await.unwrap();
    let v = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!((v.delivery, v.sends, v.provider.as_deref()), (MessageState::Sent, 1, Some("twilio")));
    assert_eq!(v.provider_reference.as_deref(), Some("SM1"));
    assert_eq!(f.stream_len(&stream).await, 0, "acknowledged and deleted in the same step");
    assert_eq!(f.pending_in(&stream, SEND_GROUP).await, 0);
    // A record that went meanwhile is not written back.
    let gone = optin_verify::domain::VerificationId::random(super::PARTITIONS).with_partition(id.partition());
    f.store.mark_sent(&gone, &sent("SM2", &[]), &at).await.unwrap();
    assert!(!f.exists(&f.keys.verification(&gone)).await);
}

async fn delivery_states_and_reports_are_recorded_once_for_the_send_they_name(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    let entry = f.queued_entry(&id).await;
    let stream = f.keys.send_stream(id.partition());
    let at = StreamEntry { stream: &stream, group: SEND_GROUP, id: &entry };
    f.store.mark_sent(&id, &sent("SM1", &[]), &at).await.unwrap();
    let record = |state: MessageState, report: Option<Report<'static>>| {
        let (store, id) = (f.store.clone(), id.clone());
        async move {
            store.record_delivery_state(&id, state, &["line".to_string()], now_ms(), report.as_ref()).await.unwrap()
        }
    };
    // Another send's reference, or another provider: settles nothing.
    let stale = Report { provider: "twilio", reference: "SM0", send_number: None };
    assert_eq!(record(MessageState::Failed, Some(stale)).await, Recorded::Ignored);
    let other = Report { provider: "cm", reference: "SM1", send_number: None };
    assert_eq!(record(MessageState::Failed, Some(other)).await, Recorded::Ignored);
    // CM names the send: one after the last recorded is early, and the provider tries again.
    let early = Report { provider: "twilio", reference: "SM1", send_number: Some(2) };
    assert_eq!(record(MessageState::Delivered, Some(early)).await, Recorded::TooEarly);
    let right = Report { provider: "twilio", reference: "SM1", send_number: None };
    assert_eq!(record(MessageState::Delivered, Some(right)).await, Recorded::Yes);
    let again = Report { provider: "twilio", reference: "SM1", send_number: None };
    assert_eq!(record(MessageState::Failed, Some(again)).await, Recorded::Ignored, "one verdict per send");
    assert_eq!(f.store.get(&id).await.unwrap().unwrap().delivery, MessageState::Delivered);
    assert_eq!(f.field(&id, F::STATUS).await.as_deref(), Some("pending"));

    // The worker's own verdict: failed fails a pending verification, once.
    assert_eq!(record(MessageState::Failed, None).await, Recorded::Yes);
    assert_eq!(f.field(&id, F::STATUS).await.as_deref(), Some("failed"));
    assert_eq!(f.events_about(id.partition(), id.as_str()).await, ["verification.failed"]);
    let gone = optin_verify::domain::VerificationId::random(super::PARTITIONS);
    let r = f.store.record_delivery_state(&gone, MessageState::Failed, &[], now_ms(), None).await.unwrap();
    assert_eq!(r, Recorded::Ignored);
    assert!(!f.exists(&f.keys.verification(&gone)).await);
}

async fn held_messages_wait_and_come_back_when_released(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Marketer).await;
    let p = id.partition();
    let entry = f.queued_entry(&id).await;
    let release = now_ms() + 3_600_000;
    f.store.hold_send(&id, &entry, "initial", release, Some(release + 600_000)).await.unwrap();
    let held: Vec<String> = f.cmd(redis::cmd("ZRANGE").arg(f.keys.held(p)).arg(0).arg(-1)).await;
    assert_eq!(held, [format!("{id}|held-initial")]);
    assert_eq!(f.stream_len(&f.keys.send_stream(p)).await, 0);
    let v = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!((v.delivery, v.expires_ms), (MessageState::Held, release + 600_000), "it cannot expire while held");
    assert_eq!(f.store.release_held(p, now_ms(), 10).await.unwrap(), 0, "the window is not open yet");
    assert_eq!(f.store.release_held(p, release, 10).await.unwrap(), 1);
    let entries: redis::streams::StreamRangeReply =
        f.cmd(redis::cmd("XRANGE").arg(f.keys.send_stream(p)).arg("-").arg("+")).await;
    let e = &entries.ids[0];
    assert_eq!((e.get::<String>("vid"), e.get::<String>("kind")), (Some(id.to_string()), Some("held-initial".into())));
}

async fn campaign_messages_wait_for_tokens_and_go_out_paced(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Marketer).await;
    let p = id.partition();
    let entry = f.queued_entry(&id).await;
    f.store.to_campaign(&id, &entry, "initial", "sms", now_ms(), None).await.unwrap();
    assert_eq!(f.store.campaign_len(p, "sms").await.unwrap(), 1);
    assert_eq!(f.stream_len(&f.keys.send_stream(p)).await, 0);
    assert_eq!(f.store.release_campaign(p, "whatsapp", 5).await.unwrap(), 0, "another channel's queue");
    assert_eq!(f.store.release_campaign(p, "sms", 5).await.unwrap(), 1);
    assert_eq!(f.store.campaign_len(p, "sms").await.unwrap(), 0);
    let entries: redis::streams::StreamRangeReply =
        f.cmd(redis::cmd("XRANGE").arg(f.keys.send_stream(p)).arg("-").arg("+")).await;
    let e = &entries.ids[0];
    assert_eq!(e.get::<String>("vid"), Some(id.to_string()));
    assert!(e.get::<String>("paced").is_some(), "its token is taken: {:?}", e.map);
}

async fn ack_and_outbox_push_do_their_one_thing(f: Fixture) {
    let id = f.created(&pseudonym(), InitiatedBy::Consumer).await;
    let entry = f.queued_entry(&id).await;
    let stream = f.keys.send_stream(id.partition());
    assert_eq!(f.pending_in(&stream, SEND_GROUP).await, 1);
    f.store.ack(&stream, SEND_GROUP, &entry).await.unwrap();
    assert_eq!((f.stream_len(&stream).await, f.pending_in(&stream, SEND_GROUP).await), (0, 0));

    let message = |n: u32| OutboxMessage {
        id: format!("m{n}"),
        verification_id: id.to_string(),
        channel: "sms".into(),
        to: "+31612345678".into(),
        subject: None,
        text: format!("Uw code is {n}"),
        html: None,
        headers: Default::default(),
        created_at: "2026-12-03T00:00:00Z".into(),
    };
    f.store.outbox_push(&message(1)).await.unwrap();
    f.store.outbox_push(&message(2)).await.unwrap();
    let listed: Vec<String> = f.store.outbox_list(None).await.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(listed, ["m2", "m1"], "newest first");
    assert!(f.store.outbox_list(Some("+31600000000")).await.unwrap().is_empty());
    let len: i64 = f.cmd(redis::cmd("LLEN").arg(f.keys.outbox())).await;
    assert_eq!(len, 2);
}

async fn fanout_stores_a_message_once_and_delivery_results_move_it(f: Fixture) {
    let id = f.confirmed(&pseudonym()).await;
    let p = id.partition();
    // The dispatcher's group, whose entry the fan-out acknowledges.
    let _: () = f.cmd(redis::cmd("XGROUP").arg("CREATE").arg(f.keys.events(p)).arg(DISPATCH_GROUP).arg("0")).await;
    let (eid, _) = f.fanned_out(&id, &["ep_a", "ep_b"]).await;
    let deliver = f.keys.deliver_stream(p);
    assert_eq!(f.stream_len(&deliver).await, 2, "one delivery per endpoint");
    let msg = f.store.message(p, &eid).await.unwrap().unwrap();
    assert_eq!(msg.event_type, "consent.confirmed");
    assert_eq!(msg.deliveries.len(), 2);
    // Twice for the same event: nothing more.
    f.fanned_out(&id, &["ep_a", "ep_b"]).await;
    assert_eq!(f.stream_len(&deliver).await, 2);

    f.store.record_delivery(&f.outcome(p, &eid, "ep_a", WebhookOutcome::Retrying)).await.unwrap();
    f.store.record_delivery(&f.outcome(p, &eid, "ep_b", WebhookOutcome::Dead)).await.unwrap();
    let retries: Vec<String> = f.cmd(redis::cmd("ZRANGE").arg(f.keys.retries(p)).arg(0).arg(-1)).await;
    assert_eq!(retries, [format!("{eid}|ep_a")]);
    let dead: Vec<String> = f.cmd(redis::cmd("ZRANGE").arg(f.keys.dead_letters(p)).arg(0).arg(-1)).await;
    assert_eq!(dead, [format!("{eid}|ep_b")]);
    assert_eq!(f.store.attempt_log(p, &eid).await.unwrap().len(), 2);
    // The retry comes due and goes back onto the deliver stream.
    assert_eq!(f.store.release_due_retries(p, now_ms() + 61_000, 10).await.unwrap(), 1);
    assert_eq!(f.stream_len(&deliver).await, 3);
    f.store.record_delivery(&f.outcome(p, &eid, "ep_a", WebhookOutcome::Delivered)).await.unwrap();
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
    assert_eq!(f.field(&due.id, F::STATUS).await.as_deref(), Some("expired"));
    assert_eq!(f.field(&later.id, F::STATUS).await.as_deref(), Some("pending"));
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

async fn redeliver_queues_every_endpoint_again_or_finds_the_message_gone(f: Fixture) {
    let id = f.confirmed(&pseudonym()).await;
    let p = id.partition();
    let (eid, _) = f.fanned_out(&id, &["ep_a", "ep_b"]).await;
    for ep in ["ep_a", "ep_b"] {
        f.store.record_delivery(&f.outcome(p, &eid, ep, WebhookOutcome::Dead)).await.unwrap();
    }
    let deliver = f.keys.deliver_stream(p);
    let before = f.stream_len(&deliver).await;
    assert_eq!(f.store.redeliver(p, &eid).await.unwrap(), Some(2));
    assert_eq!(f.stream_len(&deliver).await, before + 2);
    let dead: Vec<String> = f.cmd(redis::cmd("ZRANGE").arg(f.keys.dead_letters(p)).arg(0).arg(-1)).await;
    assert!(dead.is_empty(), "{dead:?}");
    let msg = f.store.message(p, &eid).await.unwrap().unwrap();
    assert!(msg.deliveries.iter().all(|(_, s, n)| *s == WebhookState::Pending && *n == 0), "{:?}", msg.deliveries);
    assert_eq!(f.store.redeliver(p, &format!("{eid}9")).await.unwrap(), None);
}

impl Fixture {
    /// Fans the newest event of `id`'s partition out to `endpoints`: (event id, entry id).
    async fn fanned_out(&self, id: &optin_verify::domain::VerificationId, endpoints: &[&str]) -> (String, String) {
        let p = id.partition();
        let entries: redis::streams::StreamRangeReply =
            self.cmd(redis::cmd("XRANGE").arg(self.keys.events(p)).arg("-").arg("+")).await;
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
            verification_key: self.keys.verification(id),
            sealed_contact: None,
            endpoint_ids: endpoints.iter().map(|e| e.to_string()).collect(),
        };
        self.store.fanout(&fan).await.unwrap();
        (eid, entry)
    }

    fn outcome<'a>(
        &self,
        p: optin_verify::domain::Partition,
        eid: &'a str,
        ep: &'a str,
        o: WebhookOutcome,
    ) -> DeliveryOutcome<'a> {
        let due_ms = if o == WebhookOutcome::Retrying { now_ms() + 60_000 } else { now_ms() };
        DeliveryOutcome {
            partition: p,
            entry_id: "0-1",
            event_id: eid,
            endpoint_id: ep,
            outcome: o,
            attempt_json: r#"{"status_code":500}"#,
            due_ms,
            now_ms: now_ms(),
        }
    }
}
