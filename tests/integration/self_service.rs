//! The consents page, `/t/{tenant}/consents`, over HTTP and in Redis: a code only for a number
//! the tenant holds something for (and the same pages either way), its limits, the session
//! cookie, and withdrawals and suppressions that the lookup and the webhooks agree with.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    consent_truth::{consent, consented},
    harness::{TestApp, csrf_in, fresh_phone, spawn, spawn_with, start_body},
};

const PROBLEM: &str = "https://optin-verify.eu/problems/";

/// One person's visit: the session cookie once they have one.
pub struct Visit<'a> {
    pub app: &'a TestApp,
    pub tenant: &'a str,
    pub cookie: Option<String>,
}

pub struct Answer {
    pub status: u16,
    pub location: String,
    pub set_cookie: Vec<String>,
    pub body: String,
}

impl<'a> Visit<'a> {
    pub fn new(app: &'a TestApp, tenant: &'a str) -> Self {
        Self { app, tenant, cookie: None }
    }

    fn url(&self, rest: &str) -> String {
        self.app.url(&format!("/t/{}/consents{rest}", self.tenant))
    }

    async fn answer(&mut self, r: reqwest::Response) -> Answer {
        let set_cookie: Vec<String> =
            r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        for c in &set_cookie {
            let value = c.split(';').next().unwrap().trim_start_matches("ov_consents=").to_string();
            self.cookie = Some(value).filter(|v| !v.is_empty());
        }
        Answer {
            status: r.status().as_u16(),
            location: r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default(),
            set_cookie,
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, rest: &str) -> Answer {
        let mut req = self.app.client.get(self.url(rest));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("ov_consents={c}"));
        }
        let r = req.send().await.unwrap();
        self.answer(r).await
    }

    pub async fn post(&mut self, rest: &str, form: &[(&str, &str)]) -> Answer {
        let mut req = self.app.client.post(self.url(rest)).form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("ov_consents={c}"));
        }
        let r = req.send().await.unwrap();
        self.answer(r).await
    }

    /// Enters `phone`; the path of the code page it leads to.
    pub async fn enter(&mut self, phone: &str) -> String {
        let form = self.get("").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let a = self.post("", &[("csrf", &csrf_in(&form.body)), ("phone", phone)]).await;
        assert_eq!(a.status, 303, "{}", a.body);
        let prefix = format!("/t/{}/consents/code/", self.tenant);
        assert!(a.location.starts_with(&prefix), "{}", a.location);
        a.location[format!("/t/{}/consents", self.tenant).len()..].to_string()
    }

    /// Types `code` on the code page at `path`.
    pub async fn type_code(&mut self, path: &str, code: &str) -> Answer {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        self.post(path, &[("csrf", &csrf_in(&page.body)), ("code", code)]).await
    }
}

/// The code the page sent to `phone`, waiting for the background send.
pub async fn code_sent_to(app: &TestApp, phone: &str) -> String {
    nth_code_sent_to(app, phone, 1).await
}

/// The `n`th code the page sent to `phone` (from 1), waiting for it.
pub async fn nth_code_sent_to(app: &TestApp, phone: &str, n: usize) -> String {
    for _ in 0..100 {
        if let Some(t) = page_messages(app, phone).await.get(n - 1) {
            return t.split(' ').next().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no consents-page code sent to {phone}");
}

/// The page's messages to `phone`, oldest first (the outbox lists newest first).
async fn page_messages(app: &TestApp, phone: &str) -> Vec<String> {
    let list: Vec<Value> = app.client.get(app.url("/dev/outbox")).send().await.unwrap().json().await.unwrap();
    list.iter()
        .rev()
        .filter(|m| m["verification_id"] == "self-service" && m["to"] == phone)
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

/// Signs in as the holder of `phone`.
pub async fn signed_in<'a>(app: &'a TestApp, phone: &str) -> Visit<'a> {
    let mut v = Visit::new(app, "acme");
    let sent = page_messages(app, phone).await.len();
    let path = v.enter(phone).await;
    let code = nth_code_sent_to(app, phone, sent + 1).await;
    let a = v.type_code(&path, &code).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/t/acme/consents"), "{}", a.body);
    v
}

fn other_code(code: &str) -> String {
    let last = code.chars().last().unwrap().to_digit(10).unwrap();
    format!("{}{}", &code[..5], (last + 1) % 10)
}

#[tokio::test]
async fn a_right_code_opens_a_strict_cookie_session_showing_every_consent_newest_first() {
    let app = spawn().await;
    let phone = fresh_phone();
    let (energy, _, _) = consent(&app, &phone, "energy").await;
    let (insurance, _, _) = consent(&app, &phone, "insurance").await;
    let mut v = Visit::new(&app, "acme");
    let path = v.enter(&phone).await;
    let code = code_sent_to(&app, &phone).await;
    let text = page_messages(&app, &phone).await.pop().unwrap();
    assert!(text.contains("Acme Energie B.V.") && text.contains("Deel deze code met niemand"), "{text}");

    let wrong = v.type_code(&path, &other_code(&code)).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("Deze code klopt niet. Nog 4 poging(en)."), "{}", wrong.body);
    assert!(v.cookie.is_none());

    let right = v.type_code(&path, &code).await;
    assert_eq!((right.status, right.location.as_str()), (303, "/t/acme/consents"));
    let cookie = &right.set_cookie[0];
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/t/acme/consents", "Max-Age=900"] {
        assert!(cookie.contains(attr), "{attr} missing from {cookie}");
    }
    let page = v.get("").await;
    assert_eq!(page.status, 200);
    let at = |s: &str| page.body.find(s).unwrap_or_else(|| panic!("{s} not on the page"));
    assert!(at("Aanbiedingen over insurance") < at("Aanbiedingen over energy"), "newest first");
    assert!(page.body.contains(&energy) && page.body.contains(&insurance));
    assert_eq!(page.body.matches("Trek deze toestemming in").count(), 2);
    assert!(page.body.contains("Trek al mijn toestemmingen in") && page.body.contains("href=\"/r/rcpt_"));
    assert!(page.body.contains("+31 6** ***"), "the number is masked");
    assert!(!page.body.contains(&phone), "the full number is not on the page");

    // The code is spent: the session needs no second one, and the challenge is gone.
    let again = v.type_code(&path, &code).await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn withdrawing_on_the_page_is_what_the_lookup_the_events_and_the_evidence_say() {
    let app = spawn().await;
    let phone = fresh_phone();
    let (energy, _, _) = consent(&app, &phone, "energy").await;
    let (insurance, _, _) = consent(&app, &phone, "insurance").await;
    let mut v = signed_in(&app, &phone).await;
    let csrf = csrf_in(&v.get("").await.body);

    let a = v.post("/withdraw", &[("csrf", &csrf), ("verification_id", &energy)]).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/t/acme/consents?done=withdrawn"));
    assert!(!consented(&app, &phone, "energy").await);
    assert!(consented(&app, &phone, "insurance").await, "only the one consent");
    assert_eq!(app.events_for(&energy).await, ["consent.confirmed", "consent.withdrawn"]);
    assert_eq!(app.stored(&energy).await["wsrc"], "self_service");
    let page = v.get("?done=withdrawn").await.body;
    assert!(page.contains("Uw toestemming is ingetrokken") && page.contains("Ingetrokken op"), "{page}");
    assert_eq!(page.matches("Trek deze toestemming in").count(), 1);

    let a = v.post("/withdraw", &[("csrf", &csrf), ("verification_id", "all")]).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/t/acme/consents?done=withdrawn_all"));
    assert!(!consented(&app, &phone, "insurance").await);
    assert_eq!(app.events_for(&insurance).await, ["consent.confirmed", "consent.withdrawn"]);
    let page = v.get("").await.body;
    assert!(!page.contains("Trek deze toestemming in") && !page.contains("Trek al mijn"), "{page}");

    // The proof says the same.
    let (_, proof) = app.get_json(&format!("/v1/consents/proof?phone={}", phone.replace('+', "%2B"))).await;
    for c in proof["consents"].as_array().unwrap() {
        assert_eq!(c["status"], "withdrawn");
        assert_eq!(c["withdrawal"]["source"], "self_service");
    }
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("optin_verify_withdrawals_total{source=\"self_service\"} 2"), "{metrics}");
    assert!(metrics.contains("optin_verify_self_service_sessions_total{stage=\"verified\"} 1"), "{metrics}");
}

#[tokio::test]
async fn dont_ask_me_again_refuses_marketer_starts_until_it_is_undone() {
    let app = spawn().await;
    let phone = fresh_phone();
    consent(&app, &phone, "energy").await;
    let mut v = signed_in(&app, &phone).await;
    let csrf = csrf_in(&v.get("").await.body);
    let a = v.post("/suppress", &[("csrf", &csrf), ("action", "on")]).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/t/acme/consents?done=suppressed"));
    let page = v.get("").await.body;
    assert!(page.contains("mag u tot") && page.contains("Ongedaan maken"), "{page}");

    let mut body = start_body("link", "sms");
    body["phone"] = json!(phone);
    body["to"] = json!(phone);
    body["initiated_by"] = json!("marketer");
    let r = app.post("/v1/verifications", &body).await;
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["type"], format!("{PROBLEM}number-suppressed"));

    let a = v.post("/suppress", &[("csrf", &csrf), ("action", "off")]).await;
    assert_eq!(a.location, "/t/acme/consents?done=unsuppressed");
    let r = app.post("/v1/verifications", &body).await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let page = v.get("").await.body;
    assert!(page.contains("Vraag het mij niet meer"), "{page}");
}

#[tokio::test]
async fn a_number_the_tenant_holds_nothing_for_gets_the_same_pages_and_no_code() {
    let app = spawn().await;
    let known = fresh_phone();
    consent(&app, &known, "energy").await;
    let unknown = fresh_phone();
    let before = app.keys().await;

    let mut a = Visit::new(&app, "acme");
    let mut b = Visit::new(&app, "acme");
    let known_path = a.enter(&known).await;
    let unknown_path = b.enter(&unknown).await;
    let (pa, pb) = (a.get(&known_path).await, b.get(&unknown_path).await);
    assert_eq!((pa.status, pb.status), (200, 200));
    let strip = |s: &str, path: &str| s.replace(&csrf_in(s), "").replace(path, "");
    assert_eq!(strip(&pa.body, &known_path), strip(&pb.body, &unknown_path), "the two code pages differ");
    code_sent_to(&app, &known).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(page_messages(&app, &unknown).await.is_empty(), "a code went to a number with nothing here");

    // The unknown number's challenge takes attempts like any other, and no code opens it.
    let r = b.type_code(&unknown_path, "000000").await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Nog 4 poging(en)"), "{}", r.body);
    // In Redis: one challenge per number entered, each in its number's partition, and nothing
    // written to the unknown number's consent index.
    let added: Vec<String> = app.keys().await.difference(&before).cloned().collect();
    let challenges: Vec<&String> = added.iter().filter(|k| k.contains(":sc:")).collect();
    assert_eq!(challenges.len(), 2, "{added:?}");
    assert!(!added.iter().any(|k| k.contains(":cs:")), "{added:?}");
    let mut conn = app.redis().await;
    let macs: Vec<String> = {
        let mut m = Vec::new();
        for k in &challenges {
            let mac: String = redis::cmd("HGET").arg(k.as_str()).arg("mac").query_async(&mut conn).await.unwrap();
            m.push(mac);
        }
        m
    };
    assert_eq!(macs.iter().filter(|m| m.is_empty()).count(), 1, "exactly the unknown number's has no code");
    for k in &challenges {
        let phone_field: String = redis::cmd("HGET").arg(k.as_str()).arg("addr").query_async(&mut conn).await.unwrap();
        assert!(!phone_field.contains(&known[1..]) && !phone_field.contains(&unknown[1..]), "the number is sealed");
    }
}

#[tokio::test]
async fn a_number_with_only_a_suppression_still_gets_in_and_can_lift_it() {
    let app = spawn().await;
    let phone = fresh_phone();
    // An opt-out received elsewhere, for a number with no consent here: a suppression alone.
    let r = app.post("/v1/withdrawals", &json!({"phone": phone, "source": "letter"})).await;
    assert_eq!(r.status().as_u16(), 202);
    let mut v = signed_in(&app, &phone).await;
    let page = v.get("").await.body;
    assert!(page.contains("U heeft Acme Energie B.V. geen toestemming gegeven"), "{page}");
    assert!(page.contains("mag u tot") && page.contains("Ongedaan maken"), "{page}");
    let csrf = csrf_in(&page);
    let a = v.post("/suppress", &[("csrf", &csrf), ("action", "off")]).await;
    assert_eq!(a.location, "/t/acme/consents?done=unsuppressed");
    let mut body = start_body("link", "sms");
    body["phone"] = json!(phone);
    body["to"] = json!(phone);
    body["initiated_by"] = json!("marketer");
    assert_eq!(app.post("/v1/verifications", &body).await.status().as_u16(), 201);
}

/// Confirms a code verification of `phone` sent to `address`; returns its id.
async fn email_consent(app: &TestApp, phone: &str, address: &str, purpose: &str) -> String {
    let mut body = start_body("code", "email");
    body["phone"] = json!(phone);
    body["to"] = json!(address);
    body["purpose"]["id"] = json!(purpose);
    body["purpose"]["text"] = json!(format!("Aanbiedingen over {purpose}"));
    let id = app.start(&body).await["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    let code = crate::harness::code_in(&text, 6);
    let r = app.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "confirmed");
    id
}

#[tokio::test]
async fn a_tenant_that_takes_e_mail_opens_the_page_with_the_address_that_confirmed() {
    let app = spawn_with(|s| s.tenants[0].self_service.email = true).await;
    let (phone, other_phone) = (fresh_phone(), fresh_phone());
    let n = rand::random::<u32>();
    let address = format!("Jan.{n}@Example.NL");
    let energy = email_consent(&app, &phone, &address, "energy").await;
    let insurance = email_consent(&app, &other_phone, &address, "insurance").await;
    // A consent of the same number, but not through this address, is not the address's to see.
    let (by_sms, _, _) = consent(&app, &phone, "solar").await;

    let mut v = Visit::new(&app, "acme");
    let form = v.get("").await.body;
    assert!(form.contains("Uw telefoonnummer of e-mailadres"), "{form}");
    let typed = format!("jan.{n}@example.nl");
    let path = v.enter(&typed).await;
    let code = code_sent_to(&app, &typed).await;
    let list: Vec<Value> = app.client.get(app.url("/dev/outbox")).send().await.unwrap().json().await.unwrap();
    let mail = list.iter().find(|m| m["verification_id"] == "self-service").unwrap();
    assert_eq!(
        (mail["channel"].as_str(), mail["subject"].as_str()),
        (Some("email"), Some("Uw code voor uw toestemmingen bij Acme Energie B.V."))
    );
    let a = v.type_code(&path, &code).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let page = v.get("").await.body;
    assert!(page.contains(&energy) && page.contains(&insurance), "{page}");
    assert!(!page.contains(&by_sms), "a consent not confirmed through the address");
    assert!(!page.contains(&typed) && page.contains("@e***e.nl"), "the address is masked: {page}");

    let csrf = csrf_in(&page);
    let a = v.post("/withdraw", &[("csrf", &csrf), ("verification_id", &by_sms)]).await;
    assert_eq!(a.status, 404, "not the address's consent");
    let a = v.post("/suppress", &[("csrf", &csrf), ("action", "on")]).await;
    assert_eq!(a.location, "/t/acme/consents?done=suppressed");
    assert!(v.get("").await.body.contains("Ongedaan maken"), "both numbers are suppressed");
    let a = v.post("/withdraw", &[("csrf", &csrf), ("verification_id", "all")]).await;
    assert_eq!(a.location, "/t/acme/consents?done=withdrawn_all");
    assert!(!consented(&app, &phone, "energy").await && !consented(&app, &other_phone, "insurance").await);
    assert!(consented(&app, &phone, "solar").await, "withdraw all is all of the address's");
    for id in [&energy, &insurance] {
        assert_eq!(app.events_for(id).await, ["consent.confirmed", "consent.withdrawn"]);
    }

    // An address that confirmed nothing here gets no code; a tenant without the option refuses one.
    let stranger = format!("piet.{n}@example.nl");
    let mut w = Visit::new(&app, "acme");
    w.enter(&stranger).await;
    let mut o = Visit::new(&app, "other");
    let form = o.get("").await.body;
    assert!(form.contains("Uw telefoonnummer") && !form.contains("e-mailadres"), "{form}");
    let r = o.post("", &[("csrf", &csrf_in(&form)), ("phone", &typed)]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Vul een telefoonnummer in"), "{}", r.body);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(page_messages(&app, &stranger).await.is_empty());
}

#[tokio::test]
async fn codes_are_limited_per_number_per_ip_and_per_challenge() {
    let app = spawn_with(|s| s.self_service.codes_per_ip_per_hour = 5).await;
    let phone = fresh_phone();
    consent(&app, &phone, "energy").await;
    let mut v = Visit::new(&app, "acme");
    // Per number: 3 an hour.
    let mut paths = Vec::new();
    for _ in 0..3 {
        paths.push(v.enter(&phone).await);
    }
    let form = v.get("").await;
    let a = v.post("", &[("csrf", &csrf_in(&form.body)), ("phone", &phone)]).await;
    assert_eq!(a.status, 429);
    assert!(a.set_cookie.is_empty());
    // Per IP: 5 an hour over all numbers (4 spent above: the refused one counted too).
    v.enter(&fresh_phone()).await;
    let a = v.post("", &[("csrf", &csrf_in(&form.body)), ("phone", &fresh_phone())]).await;
    assert_eq!(a.status, 429);

    // Per challenge: the verification codes' attempt limit, after which the right code fails.
    let code = nth_code_sent_to(&app, &phone, 3).await;
    let last = paths.pop().unwrap();
    for left in (1..5).rev() {
        let r = v.type_code(&last, &other_code(&code)).await;
        assert!(r.body.contains(&format!("Nog {left} poging(en)")), "{}", r.body);
    }
    let r = v.type_code(&last, &other_code(&code)).await;
    assert!(r.body.contains("Te vaak een verkeerde code"), "{}", r.body);
    let r = v.type_code(&last, &code).await;
    assert!(r.body.contains("Te vaak een verkeerde code"), "{}", r.body);
    assert!(v.cookie.is_none(), "no session after the attempts ran out");
}

#[tokio::test]
async fn a_session_is_one_tenants_and_one_persons_and_ends() {
    let app = spawn().await;
    let phone = fresh_phone();
    consent(&app, &phone, "energy").await;
    let stranger = fresh_phone();
    let (strangers, _, _) = consent(&app, &stranger, "energy").await;
    let mut v = signed_in(&app, &phone).await;
    let csrf = csrf_in(&v.get("").await.body);

    // Someone else's consent id changes nothing.
    let a = v.post("/withdraw", &[("csrf", &csrf), ("verification_id", &strangers)]).await;
    assert_eq!(a.status, 404);
    assert!(consented(&app, &stranger, "energy").await);
    // A form without the session's CSRF value changes nothing.
    let a = v.post("/withdraw", &[("csrf", "0000"), ("verification_id", "all")]).await;
    assert_eq!(a.status, 404);
    assert!(consented(&app, &phone, "energy").await);
    // The same cookie on another tenant's page opens nothing there.
    let mut other = Visit { app: &app, tenant: "other", cookie: v.cookie.clone() };
    let page = other.get("").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Uw sessie is afgelopen") && !page.body.contains("Aanbiedingen"), "{}", page.body);
    // The other tenant holds nothing for the number: no code is sent for its page.
    other.cookie = None;
    other.enter(&phone).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(page_messages(&app, &phone).await.len(), 1, "only acme's code");

    // The session ends when Redis lets it go (15 minutes), and on signing out.
    let sessions: Vec<String> = app.keys().await.into_iter().filter(|k| k.contains(":ss:")).collect();
    assert_eq!(sessions.len(), 1);
    let ttl: i64 = redis::cmd("PTTL").arg(&sessions[0]).query_async(&mut app.redis().await).await.unwrap();
    assert!((890_000..=900_000).contains(&ttl), "{ttl}");
    let _: () = redis::cmd("PEXPIRE").arg(&sessions[0]).arg(1).query_async(&mut app.redis().await).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let page = v.get("").await;
    assert!(page.body.contains("Uw sessie is afgelopen"), "{}", page.body);
    assert!(page.set_cookie[0].contains("Max-Age=0"), "{:?}", page.set_cookie);

    let mut w = signed_in(&app, &phone).await;
    let csrf = csrf_in(&w.get("").await.body);
    let a = w.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/t/acme/consents"));
    assert!(!app.keys().await.iter().any(|k| k.contains(":ss:")), "the session is gone from Redis");
}

#[tokio::test]
async fn a_tenant_can_switch_the_page_off_and_nothing_is_changed_by_a_get_or_bad_input() {
    let app = spawn_with(|s| s.tenants[1].self_service.enabled = false).await;
    let mut off = Visit::new(&app, "other");
    assert_eq!(off.get("").await.status, 404);
    assert_eq!(off.post("", &[("csrf", "x"), ("phone", "0612345678")]).await.status, 404);
    assert_eq!(Visit::new(&app, "nobody").get("").await.status, 404);

    let phone = fresh_phone();
    consent(&app, &phone, "energy").await;
    let mut v = Visit::new(&app, "acme");
    let form = v.get("").await;
    app.settle().await;
    let before = app.keys().await;
    for bad in [vec![("phone", phone.as_str())], vec![("csrf", "0123"), ("phone", phone.as_str())]] {
        assert_eq!(v.post("", &bad).await.status, 404, "{bad:?}");
    }
    let csrf = csrf_in(&form.body);
    let r = v.post("", &[("csrf", &csrf), ("phone", "12")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Vul een telefoonnummer in"), "{}", r.body);
    let huge = "1".repeat(10_000);
    assert_eq!(v.post("", &[("csrf", &csrf), ("phone", &huge)]).await.status, 404);
    let r = app.client.post(app.url("/t/acme/consents")).body("not a form").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(v.get("/code/not-a-challenge").await.status, 404);
    assert_eq!(v.post("/withdraw", &[("csrf", &csrf), ("verification_id", "all")]).await.status, 404);
    // Rate counters aside (a new minute's window may start), nothing appeared.
    let appeared: Vec<String> = app.keys().await.difference(&before).filter(|k| !k.contains(":rl:")).cloned().collect();
    assert_eq!(appeared, Vec::<String>::new());
}
