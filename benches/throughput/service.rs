//! The services under load, each laid out as `optin-verify serve` lays itself out: an actix
//! System on a thread of its own (where the background workers run) plus actix's HTTP worker
//! threads. The bench's own runtime only generates load.

use std::{net::TcpListener, sync::Arc};

use actix_web::{App, HttpResponse, HttpServer, web};
use optin_verify::{
    config::{Settings, TenantSettings},
    domain::ApiKey,
    startup::{Application, Role},
};
use serde_json::json;

pub const SERVER_KEY: &str = "bench-server-key-0123456789abcdef0123456789";

/// A listener on a free port, and its port (settings need the port before the service runs).
pub fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Starts the service in `role` on `listener`; returns once it serves.
pub async fn serve(settings: Settings, role: Role, listener: TcpListener) {
    let (ready, started) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build_on(settings, role, listener).await.unwrap();
            ready.send(()).unwrap();
            app.run_until_stopped().await.unwrap();
        })
    });
    started.await.unwrap();
}

/// A service instance under load: where it answers, and the tenant's `Authorization` value.
pub struct Instance {
    pub base: String,
    pub bearer: String,
}

/// Starts an instance in `role` under key prefix `prefix`, with a fresh tenant key; `tweak`
/// adjusts its settings first.
pub async fn instance(redis_url: &str, prefix: &str, role: Role, tweak: impl FnOnce(&mut Settings)) -> Instance {
    let key = ApiKey::generate();
    let (l, port) = listener();
    let mut s = settings(redis_url, &key, port, prefix);
    tweak(&mut s);
    serve(s, role, l).await;
    Instance { base: format!("http://127.0.0.1:{port}"), bearer: format!("Bearer {}", key.expose()) }
}

/// Runs the server `start` builds on an actix System on a thread of its own, as the service
/// runs; returns once it serves.
async fn on_own_system<F, Fut>(start: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<actix_web::dev::Server>>,
{
    let (ready, started) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = start().await.unwrap();
            ready.send(()).unwrap();
            server.await.unwrap();
        })
    });
    started.await.unwrap();
}

/// The ceiling: an actix-web handler doing `trips` EVALSHA round trips (HGET + HINCRBY) on one
/// shared multiplexed connection, and nothing else. Laid out like the service.
pub async fn ceiling(redis_url: &str) -> u16 {
    let (listener, port) = listener();
    let url = redis_url.to_string();
    on_own_system(move || async move {
        let client = redis::Client::open(url).unwrap();
        let conn = client.get_connection_manager().await.unwrap();
        // The ceiling: one EVALSHA doing HGET + HINCRBY.
        let script = Arc::new(redis::Script::new(
            "redis.call('HGET', KEYS[1], 'st'); return redis.call('HINCRBY', KEYS[1], 'n', 1)",
        ));
        HttpServer::new(move || {
            let (conn, script) = (conn.clone(), script.clone());
            App::new().route(
                "/trips/{n}/{k}",
                web::post().to(move |path: web::Path<(u32, u32)>, _body: web::Bytes| {
                    let (mut conn, script) = (conn.clone(), script.clone());
                    async move {
                        let (trips, k) = path.into_inner();
                        for _ in 0..trips {
                            let _: i64 = script
                                .key(format!("{{bench:ceil}}:{}", k % 4096))
                                .invoke_async(&mut conn)
                                .await
                                .unwrap();
                        }
                        HttpResponse::Ok().json(json!({"status": "pending", "attempts_remaining": 4}))
                    }
                }),
            )
        })
        .listen(listener)
        .map(|s| s.run())
    })
    .await;
    port
}

/// A handler that does no work at all: it takes the request's whole body and answers `status`
/// with `body`, laid out like the service. What it reaches is the most any handler of that
/// request and reply could reach on this machine: the rest of its CPU went to the load
/// generator and the HTTP stack.
pub async fn canned(status: u16, body: Vec<u8>) -> u16 {
    let (listener, port) = listener();
    on_own_system(move || async move {
        let body = web::Bytes::from(body);
        let status = actix_web::http::StatusCode::from_u16(status).unwrap();
        HttpServer::new(move || {
            let body = body.clone();
            App::new().default_service(web::to(move |_request: web::Bytes| {
                let body = body.clone();
                async move { HttpResponse::build(status).content_type("application/json").body(body) }
            }))
        })
        .listen(listener)
        .map(|s| s.run())
    })
    .await;
    port
}

/// The bench's settings: one tenant whose key is `key`, no limits in the way, on `prefix`.
pub fn settings(redis_url: &str, key: &ApiKey, port: u16, prefix: &str) -> Settings {
    let mut s = Settings::load(None).unwrap();
    s.http.bind = format!("127.0.0.1:{port}");
    s.http.public_base_url = format!("http://127.0.0.1:{port}");
    s.redis.url = redis_url.into();
    s.redis.key_prefix = prefix.into();
    s.secrets.server_key = SERVER_KEY.into();
    s.dev.spawn_redis = false;
    s.dev.secrets_file = String::new();
    s.limits.tenant_per_minute = u32::MAX;
    s.limits.destination_per_10m = u32::MAX;
    s.limits.destination_per_day = u32::MAX;
    s.tenants = vec![TenantSettings {
        id: "bench".into(),
        name: "Bench Energie B.V.".into(),
        kvk: "12345678".into(),
        contact_email: "privacy@bench.example".into(),
        api_key_sha256: key.hash().as_str().into(),
        allowed_countries: vec!["NL".into()],
        send_window: optin_verify::config::default_send_window(),
        caller_numbers: vec![],
        calling_hours: optin_verify::config::default_calling_hours(),
        branding: Default::default(),
        email_reply_to: None,
        messages: Default::default(),
        legal_basis: optin_verify::config::default_legal_basis(),
        self_service: Default::default(),
        evidence: Default::default(),
    }];
    s
}
