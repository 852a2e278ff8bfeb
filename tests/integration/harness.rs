//! Spawns the application for one test and gives it helpers.

use std::collections::HashSet;

use optin_verify::{
    config::{Settings, TenantSettings},
    domain::{ApiKey, VerificationId},
    startup::{Application, Role},
    store::Keys,
};
use rand::RngCore;
use redis::AsyncCommands;
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// API key of tenant `acme`.
    pub key: String,
    /// SHA-256 of `key`, for writing config files for other processes.
    pub key_hash: String,
    /// API key of tenant `other`.
    pub other_key: String,
    pub prefix: String,
    partitions: u16,
    redis_url: String,
    cluster: bool,
}

pub fn standalone_url() -> String {
    std::env::var("OPTIN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// The standalone Redis's database `db`: for the tests that write tens of thousands of keys, so
/// that the others' key scans (`keys()`) do not walk them too.
pub fn standalone_db(db: u8) -> String {
    format!("{}/{db}", standalone_url().trim_end_matches('/'))
}

pub fn cluster_urls() -> String {
    std::env::var("OPTIN_TEST_REDIS_CLUSTER")
        .expect("OPTIN_TEST_REDIS_CLUSTER is not set: run the suite with scripts/test, which starts the cluster")
}

fn tenant(id: &str, name: &str, key: &ApiKey) -> TenantSettings {
    TenantSettings {
        id: id.into(),
        name: name.into(),
        kvk: "12345678".into(),
        contact_email: format!("privacy@{id}.example"),
        api_key_sha256: key.hash().as_str().to_string(),
        allowed_countries: vec!["NL".into()],
        send_window: optin_verify::config::default_send_window(),
        caller_numbers: vec!["+31201234567".into()],
        calling_hours: optin_verify::config::default_calling_hours(),
        branding: Default::default(),
        email_reply_to: None,
        messages: Default::default(),
        legal_basis: optin_verify::config::default_legal_basis(),
        self_service: Default::default(),
        evidence: Default::default(),
    }
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_cluster() -> TestApp {
    spawn_with(|s| {
        s.redis.url = cluster_urls();
        s.redis.cluster = true;
    })
    .await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_role(Role::All, tweak).await
}

/// Test settings on a fresh listener and key prefix, after `tweak`: what every spawn starts from.
fn settings(tweak: impl FnOnce(&mut Settings)) -> (Settings, std::net::TcpListener, ApiKey, ApiKey) {
    let mut s = Settings::load(None).expect("defaults load");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut rnd = [0u8; 6];
    rand::rng().fill_bytes(&mut rnd);
    let prefix = format!("t{}", hex::encode(rnd));
    s.http.bind = format!("127.0.0.1:{port}");
    s.http.public_base_url = format!("http://127.0.0.1:{port}");
    s.redis.url = standalone_url();
    s.redis.key_prefix = prefix;
    s.redis.partitions = 4;
    s.secrets.server_key = "test-server-key-0123456789abcdef0123456789".into();
    s.dev.spawn_redis = false;
    s.dev.secrets_file = String::new();
    s.worker.reclaim_idle_ms = 2000;
    let key = ApiKey::generate();
    let other = ApiKey::generate();
    s.tenants = vec![tenant("acme", "Acme Energie B.V.", &key), tenant("other", "Other B.V.", &other)];
    tweak(&mut s);
    (s, listener, key, other)
}

/// Builds the application as `spawn_with` would, and returns why it refused to start.
pub async fn refused_start(tweak: impl FnOnce(&mut Settings)) -> optin_verify::startup::StartupError {
    let (s, listener, _, _) = settings(tweak);
    match Application::build_on(s, Role::All, listener).await {
        Ok(_) => panic!("the application started"),
        Err(e) => e,
    }
}

pub async fn spawn_role(role: Role, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("OPTIN_LOG").is_ok() {
        optin_verify::telemetry::init(false);
    }
    let (s, listener, key, other) = settings(tweak);
    let port = listener.local_addr().unwrap().port();
    let (prefix, partitions) = (s.redis.key_prefix.clone(), s.redis.partitions);
    let (redis_url, cluster) = (s.redis.url.clone(), s.redis.cluster);
    let app = Application::build_on(s, role, listener).await.expect("application starts");
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        key: key.expose().to_string(),
        key_hash: key.hash().as_str().to_string(),
        other_key: other.expose().to_string(),
        prefix,
        partitions,
        redis_url,
        cluster,
    }
}

/// A key's `{hash tag}`, which decides its slot: keys a script touches share it.
pub fn hash_tag(key: &str) -> &str {
    key.split_once('}').map_or(key, |(tag, _)| tag).trim_start_matches('{')
}

/// A complete start request, as a real form would send it.
pub fn start_body(method: &str, channel: &str) -> Value {
    json!({
        "method": method,
        "channel": channel,
        "phone": "+31612345678",
        "locale": "nl",
        "initiated_by": "consumer",
        "purpose": {"id": "energy-offers", "text": "Telefonische aanbiedingen over energiecontracten"},
        "caller": "Acme Energie B.V.",
        "consent_text": {"version": "2026-03", "text": "Ja, Acme Energie mag mij bellen over energiecontracten."},
        "privacy_statement": {"url": "https://example.nl/privacy", "version": "4.2"},
        "collection": {"url": "https://example.nl/offerte", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 test",
                       "collected_at": "2026-11-27T10:00:00Z", "checkbox_default": "unchecked"},
        "metadata": {"crm_id": "123"}
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_as(&self, key: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(key).json(body).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_as(&self.key, path, body).await
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).bearer_auth(&self.key).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Starts a verification and returns its JSON (asserting 201).
    pub async fn start(&self, body: &Value) -> Value {
        let r = self.post("/v1/verifications", body).await;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "start failed: {v}");
        v
    }

    pub async fn status_of(&self, id: &str) -> String {
        let (code, v) = self.get_json(&format!("/v1/verifications/{id}")).await;
        assert_eq!(code, 200, "{v}");
        v["status"].as_str().unwrap().to_string()
    }

    /// Waits for the worker to put the verification's message in the dev outbox.
    pub async fn outbox_message(&self, vid: &str) -> Value {
        for _ in 0..100 {
            let list: Vec<Value> = self.client.get(self.url("/dev/outbox")).send().await.unwrap().json().await.unwrap();
            if let Some(m) = list.into_iter().find(|m| m["verification_id"] == vid) {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no outbox message for {vid}");
    }

    pub async fn outbox_count(&self, vid: &str) -> usize {
        let list: Vec<Value> = self.client.get(self.url("/dev/outbox")).send().await.unwrap().json().await.unwrap();
        list.iter().filter(|m| m["verification_id"] == vid).count()
    }

    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        assert!(!self.cluster, "key inspection runs against standalone Redis");
        redis::Client::open(self.redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap()
    }

    /// Every key under this test's prefix.
    pub async fn keys(&self) -> HashSet<String> {
        let mut c = self.redis().await;
        let pattern = format!("{{{}:*", self.prefix);
        let mut iter: redis::AsyncIter<String> = c.scan_match(pattern).await.unwrap();
        let mut out = HashSet::new();
        while let Some(k) = iter.next_item().await {
            out.insert(k.unwrap());
        }
        out
    }

    /// Asserts that no key appeared or went since `before` (a refused request writes nothing).
    /// A rate counter's key names its window and expires at its end, which may fall between
    /// the two reads (seen in a full run); no other key may go.
    pub async fn assert_keys_unchanged(&self, before: &HashSet<String>, what: &str) {
        let after = self.keys().await;
        // A request counts against its tenant's per-minute limit even when refused: a new
        // minute's counter may appear between the reads.
        let appeared: Vec<_> = after.difference(before).filter(|k| !k.contains(":rl:tenant:")).collect();
        assert!(appeared.is_empty(), "{what}: {appeared:?} appeared");
        let gone: Vec<_> = before.difference(&after).filter(|k| !k.contains(":rl:")).collect();
        assert!(gone.is_empty(), "{what}: {gone:?} went");
    }

    /// The key names the service uses under this test's prefix: tests name keys only through it.
    pub fn store_keys(&self) -> Keys {
        Keys::new(&self.prefix, self.partitions)
    }

    /// A verification id as the service parses it (its partition comes from the id).
    pub fn vid(&self, id: &str) -> VerificationId {
        VerificationId::parse(id, self.partitions).unwrap_or_else(|| panic!("{id} is no verification id"))
    }

    /// The verification hash as stored.
    pub async fn stored(&self, vid: &str) -> std::collections::HashMap<String, String> {
        let mut c = self.redis().await;
        c.hgetall(self.store_keys().verification(&self.vid(vid))).await.unwrap()
    }

    /// Events written to the verification's partition stream, as (type, vid) pairs.
    pub async fn events_for(&self, vid: &str) -> Vec<String> {
        let mut c = self.redis().await;
        let reply: redis::streams::StreamRangeReply =
            c.xrange_all(self.store_keys().events(self.vid(vid).partition())).await.unwrap();
        reply
            .ids
            .iter()
            .filter(|e| e.get::<String>("vid").as_deref() == Some(vid))
            .map(|e| e.get::<String>("type").unwrap())
            .collect()
    }
}

/// The first run of `len` digits standing alone in a text.
pub fn code_in(text: &str, len: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || chars[i - 1].is_whitespace()) {
            let j = (i..chars.len()).find(|&j| !chars[j].is_ascii_digit()).unwrap_or(chars.len());
            let clean_end =
                j == chars.len() || !(chars[j].is_ascii_alphanumeric() || chars[j] == '-' || chars[j] == '_');
            if j - i == len && clean_end {
                return chars[i..j].iter().collect();
            }
            i = j;
        } else {
            i += 1;
        }
    }
    panic!("no {len}-digit code in message");
}

/// The path of the first link to `/{kind}/...` in a text, e.g. `/c/abc...`.
pub fn link_in(text: &str, kind: &str) -> String {
    let marker = format!("/{kind}/");
    let start = text.find(&marker).expect("link in message");
    let rest = &text[start..];
    let end = rest.find(|c: char| c.is_whitespace() || c == ')' || c == '"').unwrap_or(rest.len());
    rest[..end].to_string()
}

/// A different code of the same length.
pub fn wrong(code: &str) -> String {
    code.chars().map(|c| if c == '0' { '1' } else { '0' }).collect()
}

/// Pulls the CSRF value out of a page.
pub fn csrf_in(html: &str) -> String {
    let m = "name=\"csrf\" value=\"";
    let s = html.find(m).expect("csrf field") + m.len();
    html[s..s + html[s..].find('"').unwrap()].to_string()
}

impl TestApp {
    /// Creates a webhook endpoint and returns `(id, secret)`.
    pub async fn endpoint_as(&self, key: &str, url: &str, event_types: Option<Vec<&str>>) -> (String, String) {
        let mut body = json!({"url": url, "description": "test store"});
        if let Some(t) = event_types {
            body["event_types"] = json!(t);
        }
        let r = self.post_as(key, "/v1/webhook-endpoints", &body).await;
        assert_eq!(r.status().as_u16(), 201);
        let v: Value = r.json().await.unwrap();
        (v["id"].as_str().unwrap().to_string(), v["secret"].as_str().unwrap().to_string())
    }

    pub async fn endpoint(&self, url: &str) -> (String, String) {
        self.endpoint_as(&self.key, url, None).await
    }

    /// Starts a code verification and confirms it with the right code; returns its id.
    pub async fn confirmed_by_code(&self) -> String {
        let mut body = start_body("code", "sms");
        body["phone"] = json!(fresh_phone());
        let id = self.start(&body).await["id"].as_str().unwrap().to_string();
        let code = code_in(self.outbox_message(&id).await["text"].as_str().unwrap(), 6);
        let r: Value =
            self.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code})).await.json().await.unwrap();
        assert_eq!(r["status"], "confirmed");
        id
    }
}

/// A random valid Dutch mobile number, so tests stay under the per-destination limit.
pub fn fresh_phone() -> String {
    format!("+316{}{:07}", 1 + rand::random::<u32>() % 5, rand::random::<u32>() % 10_000_000)
}

impl TestApp {
    /// Waits until background work (fan-out, sends) has stopped changing Redis.
    pub async fn settle(&self) {
        let mut last = self.dump().await;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let now = self.dump().await;
            if now == last {
                return;
            }
            last = now;
        }
        panic!("Redis did not settle");
    }

    /// Every key of this test with everything stored under it, keys in order: `(key, text)` for
    /// the key's name and for each value, field, member and stream entry. What a Redis dump shows.
    pub async fn dump(&self) -> Vec<(String, String)> {
        let mut c = self.redis().await;
        let mut keys: Vec<String> = self.keys().await.into_iter().collect();
        keys.sort();
        let mut all = Vec::new();
        for k in keys {
            let kind: String = redis::cmd("TYPE").arg(&k).query_async(&mut c).await.unwrap();
            let mut cmd = match kind.as_str() {
                "string" => redis::cmd("GET"),
                "hash" => redis::cmd("HGETALL"),
                "list" => redis::cmd("LRANGE"),
                "set" => redis::cmd("SMEMBERS"),
                "zset" => redis::cmd("ZRANGE"),
                "stream" => redis::cmd("XRANGE"),
                "none" => continue, // expired since the scan
                other => panic!("{k}: a key of type {other}"),
            };
            cmd.arg(&k);
            match kind.as_str() {
                "list" | "zset" => cmd.arg(0).arg(-1),
                "stream" => cmd.arg("-").arg("+"),
                _ => &mut cmd,
            };
            let reply: redis::Value = cmd.query_async(&mut c).await.unwrap();
            let mut texts = Vec::new();
            flatten(reply, &mut texts);
            all.push((k.clone(), k.clone()));
            all.extend(texts.into_iter().map(|t| (k.clone(), t)));
        }
        all
    }
}

/// Every string a reply holds, however nested (hash fields, stream entries, members).
fn flatten(v: redis::Value, out: &mut Vec<String>) {
    match v {
        redis::Value::BulkString(b) => out.push(String::from_utf8_lossy(&b).into_owned()),
        redis::Value::SimpleString(s) => out.push(s),
        redis::Value::Array(items) | redis::Value::Set(items) => items.into_iter().for_each(|i| flatten(i, out)),
        redis::Value::Map(pairs) => {
            for (k, v) in pairs {
                flatten(k, out);
                flatten(v, out);
            }
        }
        redis::Value::Int(i) => out.push(i.to_string()),
        redis::Value::Nil | redis::Value::Okay => {}
        other => out.push(format!("{other:?}")),
    }
}
