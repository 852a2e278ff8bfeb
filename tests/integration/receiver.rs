//! A real consent-store receiver: an HTTP server that checks every signature with the
//! `standardwebhooks` crate (an implementation independent of ours) and records what came.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub webhook_id: String,
    pub signature: String,
    pub timestamp: String,
    pub raw: Vec<u8>,
    pub body: Value,
    /// `Some(true)` when the signature verified against the endpoint's secret.
    pub verified: Option<bool>,
}

/// How a path answers.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Answer 500 this many times first.
    pub fail_first: usize,
    /// Always answer this status.
    pub status: Option<u16>,
    pub delay: Option<Duration>,
    pub retry_after: Option<u64>,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    behaviour: HashMap<String, Behaviour>,
    secrets: HashMap<String, Vec<String>>,
    calls: HashMap<String, usize>,
    /// Requests being answered now, and the most there ever were at once, per path.
    in_flight: HashMap<String, (usize, usize)>,
}

#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

async fn handle(req: HttpRequest, body: web::Bytes, inner: web::Data<Arc<Mutex<Inner>>>) -> HttpResponse {
    let path = req.path().to_string();
    let mut headers = http::HeaderMap::new();
    for (k, v) in req.headers() {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(k.as_str().as_bytes()), http::HeaderValue::from_bytes(v.as_bytes()))
        {
            headers.insert(name, value);
        }
    }
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (behaviour, secrets) = {
        let g = inner.lock().unwrap();
        (g.behaviour.get(&path).cloned().unwrap_or_default(), g.secrets.get(&path).cloned())
    };
    let verified = secrets.map(|list| {
        list.iter()
            .any(|s| standardwebhooks::Webhook::new(s).map(|w| w.verify(&body, &headers).is_ok()).unwrap_or(false))
    });
    let calls = {
        let mut g = inner.lock().unwrap();
        let n = g.calls.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    {
        let mut g = inner.lock().unwrap();
        let (now, peak) = g.in_flight.entry(path.clone()).or_insert((0, 0));
        *now += 1;
        *peak = (*peak).max(*now);
    }
    if let Some(d) = behaviour.delay {
        tokio::time::sleep(d).await;
    }
    inner.lock().unwrap().in_flight.get_mut(&path).expect("counted above").0 -= 1;
    let status = behaviour.status.unwrap_or(if calls <= behaviour.fail_first { 500 } else { 200 });
    if (200..300).contains(&status) {
        inner.lock().unwrap().received.push(Received {
            path,
            webhook_id: header("webhook-id"),
            signature: header("webhook-signature"),
            timestamp: header("webhook-timestamp"),
            raw: body.to_vec(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            verified,
        });
    }
    let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(s) = behaviour.retry_after {
        r.insert_header(("Retry-After", s.to_string()));
    }
    r.finish()
}

impl Received {
    /// Verifies this delivery with `secret` using the independent `standardwebhooks` crate.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let mut h = http::HeaderMap::new();
        h.insert("webhook-id", self.webhook_id.parse().unwrap());
        h.insert("webhook-timestamp", self.timestamp.parse().unwrap());
        h.insert("webhook-signature", self.signature.parse().unwrap());
        standardwebhooks::Webhook::new(secret).unwrap().verify(&self.raw, &h).is_ok()
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let data = web::Data::new(inner.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(handle)))
            .workers(2)
            .listen(listener)
            .unwrap()
            .run();
        tokio::spawn(server);
        Self { base: format!("http://127.0.0.1:{port}"), inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn behave(&self, path: &str, b: Behaviour) {
        self.inner.lock().unwrap().behaviour.insert(path.to_string(), b);
    }

    pub fn trust(&self, path: &str, secret: &str) {
        self.inner.lock().unwrap().secrets.entry(path.to_string()).or_default().push(secret.to_string());
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.inner.lock().unwrap().received.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// The most requests to `path` that were being answered at the same time.
    pub fn peak_in_flight(&self, path: &str) -> usize {
        self.inner.lock().unwrap().in_flight.get(path).map_or(0, |(_, peak)| *peak)
    }

    pub fn calls(&self, path: &str) -> usize {
        self.inner.lock().unwrap().calls.get(path).copied().unwrap_or(0)
    }

    /// Waits until `path` received an event of `event_type` (about `vid`, if given).
    pub async fn wait_for(&self, path: &str, event_type: &str, vid: Option<&str>, timeout: Duration) -> Received {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let hit = self
                .received(path)
                .into_iter()
                .find(|r| r.body["type"] == event_type && vid.is_none_or(|v| r.body["data"]["verification_id"] == v));
            if let Some(r) = hit {
                return r;
            }
            assert!(tokio::time::Instant::now() < deadline, "{path} got no {event_type} within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
