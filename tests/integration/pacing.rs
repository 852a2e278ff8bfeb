//! Pacing: one provider account's rate holds across every instance on the same Redis, and a
//! person waiting on a form goes before the campaign.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use optin_verify::config::{SmsProviderKind, SmsProviderSettings, SmsSettings};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};

use crate::{
    campaign::{always_open, batch, counts_until, item},
    harness::{fresh_phone, spawn_with, start_body},
};

/// A CM.com gateway that notes when each message arrived, and to whom.
#[derive(Clone, Default)]
struct Clock(Arc<Mutex<Vec<(Instant, String)>>>);

impl Respond for Clock {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let to = body["messages"]["msg"][0]["to"][0]["number"].as_str().unwrap_or_default().to_string();
        self.0.lock().unwrap().push((Instant::now(), to));
        ResponseTemplate::new(200).set_body_json(json!({"details": "Created 1 message(s)", "errorCode": 0,
            "messages": [{"to": "", "status": "Accepted", "reference": "x", "parts": 1, "messageErrorCode": 0}]}))
    }
}

fn paced_sms(base: &str, rate: u32) -> SmsSettings {
    SmsSettings {
        sender: "Acme".into(),
        providers: vec![SmsProviderSettings {
            kind: SmsProviderKind::Cm,
            base_url: Some(base.into()),
            product_token: "00000000-0000-0000-0000-000000000001".into(),
            account_sid: String::new(),
            auth_token: String::new(),
            rate_per_second: rate,
        }],
        attempts_per_provider: 1,
        backoff_ms: 10,
        timeout_seconds: 5,
        callback_token: "t".into(),
    }
}

#[tokio::test]
async fn two_instances_share_one_accounts_rate_and_people_on_a_form_go_first() {
    let server = MockServer::start().await;
    let clock = Clock::default();
    Mock::given(method("POST")).respond_with(clock.clone()).mount(&server).await;
    let base = server.uri();
    let first = spawn_with(|s| {
        always_open(s);
        s.channels.sms = Some(paced_sms(&base, 5));
    })
    .await;
    let prefix = first.prefix.clone();
    let _second = spawn_with(|s| {
        always_open(s);
        s.channels.sms = Some(paced_sms(&base, 5));
        // The same Redis and tenants (ids); its own API keys, unused here.
        s.redis.key_prefix = prefix;
    })
    .await;
    let t0 = Instant::now();
    let (status, body) = batch(&first, (0..20).map(item).collect(), None).await;
    assert_eq!((status, body["accepted"].clone()), (200, json!(20)), "{body}");
    // A person fills in a form while the campaign waits: their message goes out at once.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let phone = fresh_phone();
    let mut own = start_body("code", "sms");
    own["phone"] = json!(phone);
    let asked = Instant::now();
    first.start(&own).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while clock.0.lock().unwrap().len() < 21 {
        assert!(Instant::now() < deadline, "sent only {}", clock.0.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = clock.0.lock().unwrap().clone();
    let cm_number = format!("00{}", &phone[1..]);
    let (own_at, _) = sent.iter().find(|(_, to)| *to == cm_number).expect("the consumer's message");
    assert!(
        own_at.duration_since(asked) < Duration::from_millis(1500),
        "the person waited {:?}",
        own_at.duration_since(asked)
    );
    let campaign: Vec<Instant> = sent.iter().filter(|(_, to)| *to != cm_number).map(|(t, _)| *t).collect();
    assert!(campaign.iter().filter(|t| **t > *own_at).count() >= 5, "the consumer went before most of the campaign");
    // 20 campaign messages at 5 a second (plus one second of burst) across both instances:
    // at least about three seconds, and never more than burst + rate in any second.
    let span = campaign.last().unwrap().duration_since(t0);
    assert!(span >= Duration::from_millis(2500), "20 messages in {span:?}: the rate was not shared");
    for (i, t) in campaign.iter().enumerate() {
        let in_window = campaign[i..].iter().filter(|u| u.duration_since(*t) < Duration::from_secs(1)).count();
        assert!(in_window <= 11, "{in_window} messages within one second");
    }
}

/// A send window that opens at the next full minute (Amsterdam time) and stays open all day.
fn opening_next_minute() -> optin_verify::config::HoursSettings {
    use chrono::Timelike;
    let mut local = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Amsterdam);
    if local.hour() == 23 && local.minute() >= 58 {
        // Too close to midnight for a window that opens today: wait for tomorrow's.
        std::thread::sleep(Duration::from_secs(u64::from(61 - local.second()) + 60));
        local = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Amsterdam);
    }
    let next = local + chrono::Duration::minutes(1);
    optin_verify::config::HoursSettings {
        days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| d.to_string()).collect(),
        start: format!("{:02}:{:02}", next.hour(), next.minute()),
        end: "24:00".into(),
        blocked_dates: vec![],
    }
}

#[tokio::test]
async fn messages_held_for_quiet_hours_go_out_at_the_paced_rate_when_the_window_opens() {
    let server = MockServer::start().await;
    let clock = Clock::default();
    Mock::given(method("POST")).respond_with(clock.clone()).mount(&server).await;
    let base = server.uri();
    let window = opening_next_minute();
    let app = spawn_with(|s| {
        s.tenants[0].send_window = window;
        s.channels.sms = Some(paced_sms(&base, 4));
    })
    .await;
    let (_, body) = batch(&app, (0..12).map(item).collect(), None).await;
    assert_eq!(body["accepted"], 12);
    let id = body["id"].as_str().unwrap();
    counts_until(&app, id, |c| c["held"] == 12).await;
    assert!(clock.0.lock().unwrap().is_empty(), "nothing goes out in quiet hours");
    // The window opens within a minute: the scheduler releases all twelve at that moment.
    let deadline = Instant::now() + Duration::from_secs(90);
    while clock.0.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the window never opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t0 = clock.0.lock().unwrap()[0].0;
    while clock.0.lock().unwrap().len() < 12 {
        assert!(Instant::now() < deadline, "sent only {}", clock.0.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // 12 at 4 a second, 4 of them at once: about two seconds, not all at once.
    let last = clock.0.lock().unwrap().last().unwrap().0;
    assert!(last.duration_since(t0) >= Duration::from_millis(1500), "released in {:?}", last.duration_since(t0));
    counts_until(&app, id, |c| c["sent"] == 12).await;
    // Waiting cost none of a link's day: its clock started when it was sent.
    let vid = body["items"][11]["verification"]["id"].as_str().unwrap();
    let (_, v) = app.get_json(&format!("/v1/verifications/{vid}")).await;
    let exp: chrono::DateTime<chrono::Utc> = v["expires_at"].as_str().unwrap().parse().unwrap();
    let left = exp - chrono::Utc::now();
    assert!(left > chrono::Duration::hours(23) && left <= chrono::Duration::hours(24), "{left}");
}
