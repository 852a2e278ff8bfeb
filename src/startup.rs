//! Builds the application from settings: store, HTTP server, workers; and stops it cleanly.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{App, HttpResponse, HttpServer, dev::Server, web};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    api,
    background::{self, ThreadError},
    channels::Transports,
    config::{ConfigError, Mode, Settings},
    domain::{SecretBox, ServerKey, ServerKeys},
    error::ApiError,
    evidence::ReceiptSigner,
    metrics::Metrics,
    pages,
    state::{AppState, Tenants},
    store::{Conn, Keys, Retention, Stamp, Store, StoreError},
    webhooks::{Deliverer, WebhookDeps, spawn_dispatchers, spawn_schedulers},
    worker::{Pacer, SenderDeps, spawn_senders},
};

/// Which parts this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    All,
    Api,
    Worker,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting refused: the same message `check-config` gives.
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("cannot reach Redis: {0}")]
    Store(#[from] StoreError),
    #[error("cannot bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("configuration key `secrets.server_key`: {0}")]
    Secret(String),
    #[error("{0}")]
    Channel(String),
    #[error("configuration key `receipts.signing_key`: {0}")]
    ReceiptKey(String),
    #[error("{0}")]
    Thread(String),
    /// The webhook deliverer's HTTP client could not be built (its TLS roots, its resolver).
    #[error("cannot build the webhook HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error(
        "configuration key `secrets.pseudonym_key`: this store was written under another pseudonym key \
         (the oldest server key when `secrets.pseudonym_key` is empty). Under this one every number's \
         consents and suppression would read as absent. Configure the key the store was written under \
         (see docs/OPERATIONS.md, \"Rotating keys\"), or start over on an empty store (another `redis.key_prefix`)"
    )]
    PseudonymKeyChanged,
    /// The store or its Redis is not one this release may start on; the message says why.
    #[error("{0}")]
    Refused(crate::preflight::Refusal),
}

pub struct Application {
    server: Server,
    port: u16,
    workers: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

/// The current server key and the previous ones still accepted: parsed by the configuration,
/// exactly as `check-config` parses them, so both refuse the same key under the same name.
fn server_keys(settings: &Settings) -> Result<ServerKeys, StartupError> {
    let mut configured = settings.server_keys()?;
    let current = match configured.current.take() {
        Some(key) => key,
        None => dev_server_key(settings)?,
    };
    Ok(configured.ring(current))
}

/// Dev mode without a configured server key: the kept one (`dev.secrets_file`) or an ephemeral one.
fn dev_server_key(settings: &Settings) -> Result<ServerKey, StartupError> {
    if settings.mode == Mode::Production {
        return Err(StartupError::Secret("production needs a real server key".into()));
    }
    if let Some(kept) = dev_secrets(settings)? {
        return ServerKey::parse(&kept.server_key).map_err(|e| StartupError::Secret(e.to_string()));
    }
    tracing::warn!(
        "DEV MODE: no secrets.server_key configured; using an EPHEMERAL key. Codes and links die with this process."
    );
    Ok(ServerKey::ephemeral())
}

/// The receipt signing key as the configuration parses it; in dev mode without one, the kept
/// or an ephemeral key.
fn receipt_signer(settings: &Settings) -> Result<ReceiptSigner, StartupError> {
    if let Some(signer) = settings.receipt_signer()? {
        return Ok(signer);
    }
    if settings.mode == Mode::Production {
        return Err(StartupError::ReceiptKey("production needs a receipt signing key".into()));
    }
    if let Some(kept) = dev_secrets(settings)? {
        return ReceiptSigner::parse(&kept.receipt_signing_key).map_err(|e| StartupError::ReceiptKey(e.to_string()));
    }
    tracing::warn!("DEV MODE: no receipts.signing_key configured; receipts are signed with an EPHEMERAL key.");
    Ok(ReceiptSigner::ephemeral())
}

/// Reading a tenant's endpoints seals any secret still in plain text or under a previous
/// server key: done once at start so that quiet tenants migrate too, before an old key goes.
async fn reseal_endpoint_secrets(store: &Store, settings: &Settings) {
    for t in &settings.tenants {
        if let Err(e) = store.endpoints(&t.id).await {
            tracing::warn!(tenant = %t.id, error = %e, "could not read webhook endpoints to seal their secrets");
        }
    }
}

/// Dev mode with `dev.secrets_file`: the generated keys, kept across restarts.
fn dev_secrets(settings: &Settings) -> Result<Option<crate::dev_secrets::DevSecrets>, StartupError> {
    let path = &settings.dev.secrets_file;
    if settings.mode == Mode::Production || path.is_empty() {
        return Ok(None);
    }
    let (kept, created) = crate::dev_secrets::load_or_create(std::path::Path::new(path))
        .map_err(|e| StartupError::Secret(format!("dev.secrets_file {path}: {e}")))?;
    let verb = if created { "generated and saved to" } else { "read from" };
    tracing::warn!(file = %path, "DEV MODE: secrets {verb} {path}; codes and links survive a restart. Not for production.");
    Ok(Some(kept))
}

/// The store as the settings describe it. The webhook pipeline connects its own on its thread.
async fn connect_store(settings: &Settings, key: &ServerKeys) -> Result<Store, StartupError> {
    Ok(open_store(settings).await?.with_secret_box(SecretBox::new(key)))
}

/// The store without the server key: enough to read it (`optin-verify store-info`), not to
/// open endpoint secrets.
pub async fn open_store(settings: &Settings) -> Result<Store, StoreError> {
    let r = &settings.redis;
    let v = &settings.verification;
    let retention = Retention {
        default_ms: (v.retention_days * 86_400_000) as i64,
        receipt_ms: (v.receipt_retention_days * 86_400_000) as i64,
        suppression_ms: (v.suppression_days * 86_400_000) as i64,
    };
    let keys = Keys::new(&r.key_prefix, r.partitions);
    Store::connect(&r.url, r.cluster, Duration::from_millis(r.timeout_ms), keys, retention).await
}

/// Each HTTP worker thread gets the state with a Redis connection of its own, made on that
/// thread: its replies are then read where the request waits for them, with no hand-over from
/// the thread that runs the background work (measured: see docs/PERFORMANCE.md). If Redis does
/// not answer at that moment, the worker shares the process's connection, which reconnects.
/// (actix wraps the result in `web::Data`.)
async fn worker_state(state: AppState) -> Result<AppState, std::convert::Infallible> {
    let r = &state.settings.redis;
    let store = match Conn::connect(&r.url, r.cluster, Duration::from_millis(r.timeout_ms)).await {
        Ok(conn) => state.store.on(conn),
        Err(e) => {
            tracing::warn!(error = %e, "HTTP worker shares the process's Redis connection");
            state.store.clone()
        }
    };
    Ok(AppState { store, ..state })
}

impl Application {
    pub async fn build(settings: Settings, role: Role) -> Result<Self, StartupError> {
        let listener =
            TcpListener::bind(&settings.http.bind).map_err(|e| StartupError::Bind(settings.http.bind.clone(), e))?;
        Self::build_on(settings, role, listener).await
    }

    /// Like [`Application::build`] on a listener the caller bound (tests bind port 0 first,
    /// so that `public_base_url` can name the real port).
    pub async fn build_on(settings: Settings, role: Role, listener: TcpListener) -> Result<Self, StartupError> {
        let settings = Arc::new(settings);
        let key = server_keys(&settings)?;
        let signer = receipt_signer(&settings)?;
        let store = connect_store(&settings, &key).await?;
        let checked = crate::preflight::check(&store, settings.mode, AppState::now_ms()).await?;
        if store.stamp_pseudonym_key(&key.pseudonym_fingerprint()).await? == Stamp::Other {
            return Err(StartupError::PseudonymKeyChanged);
        }
        reseal_endpoint_secrets(&store, &settings).await;
        let tenants = Tenants::from_settings(&settings.tenants);
        let metrics = Arc::new(Metrics::new());
        let (stop, stop_rx) = watch::channel(false);

        // The worker sends verifications; the API sends only the codes that open the consents page.
        let transports = Transports::from_settings(&settings, &store)
            .map_err(|e| StartupError::Channel(e.to_string()))?
            .instrumented(&metrics);
        // Nothing below refuses a start for what the store or the settings hold: stamp it now.
        crate::preflight::stamp(&store, checked, AppState::now_ms()).await?;
        let workers = if role != Role::Api {
            let deps = SenderDeps {
                settings: settings.clone(),
                store: store.clone(),
                key: key.clone(),
                tenants: tenants.clone(),
                transports: transports.clone(),
                metrics: metrics.clone(),
                pacer: Pacer::from_settings(&settings, store.clone()),
            };
            let pacer = deps.pacer.clone();
            let mut handles = spawn_senders(deps, stop_rx.clone()).await?;
            handles.extend(pacer.spawn(stop_rx.clone()));
            let (settings, tenants, signer, key, metrics) =
                (settings.clone(), tenants.clone(), signer.clone(), key.clone(), metrics.clone());
            let nice = settings.webhooks.thread_nice;
            let pipeline = move || async move {
                let hooks = WebhookDeps {
                    // A backlog must not queue so much in Redis that API requests wait behind it
                    // (the schedulers below share this store, and so its gate).
                    store: connect_store(&settings, &key).await?.gated(settings.webhooks.redis_in_flight),
                    settings,
                    tenants,
                    signer,
                    server_key: key,
                    metrics,
                };
                let mut handles = spawn_dispatchers(hooks.clone(), stop_rx.clone()).await?;
                handles.extend(Deliverer::spawn(hooks.clone(), stop_rx.clone()).await?);
                handles.push(crate::webhooks::spawn_recoverer(hooks.clone(), stop_rx.clone()));
                handles.extend(spawn_schedulers(hooks, stop_rx));
                Ok::<_, StartupError>(handles)
            };
            let pipeline = background::on_own_thread("optin-webhooks", nice, pipeline).await.map_err(|e| match e {
                ThreadError::Start(e) => e,
                e @ ThreadError::Spawn(..) => StartupError::Thread(e.to_string()),
            })?;
            handles.push(pipeline);
            handles
        } else {
            Vec::new()
        };

        let port = listener.local_addr().map_err(|e| StartupError::Bind(settings.http.bind.clone(), e))?.port();
        let state = AppState { settings: settings.clone(), store, key, signer, tenants, metrics, transports };
        let serve_api = role != Role::Worker;
        let dev_outbox = settings.dev.outbox;
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new()
                .data_factory(move || worker_state(state.clone()))
                .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
                .app_data(
                    web::QueryConfig::default().error_handler(|e, _| ApiError::invalid("query", e.to_string()).into()),
                )
                .configure(|c| api::ops_routes(c, dev_outbox))
                .configure(|c| {
                    if serve_api {
                        api::routes(c);
                        pages::routes(c);
                        crate::hooks::routes(c);
                    }
                })
                .wrap(actix_web::middleware::from_fn(crate::http::idempotency::middleware))
                .wrap(actix_web::middleware::from_fn(crate::http::metrics::middleware))
                .default_service(web::to(not_found))
        })
        .listen(listener)
        .map_err(|e| StartupError::Bind(settings.http.bind.clone(), e))?
        .shutdown_timeout(30)
        .run();
        Ok(Self { server, port, workers, stop })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT (actix drains in-flight requests), then lets every worker
    /// finish its current batch.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let _ = self.stop.send(true);
        for w in self.workers {
            let _ = w.await;
        }
        result
    }
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

impl From<crate::preflight::Refusal> for StartupError {
    /// Redis failing during the checks is a store error, reported as one.
    fn from(r: crate::preflight::Refusal) -> Self {
        match r {
            crate::preflight::Refusal::Store(e) => Self::Store(e),
            r => Self::Refused(r),
        }
    }
}
