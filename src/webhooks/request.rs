//! The HTTP side of a delivery, shared by the deliverer and the endpoint test: a client that
//! reaches public addresses only, and a POST signed as Standard Webhooks asks.

use std::{sync::Arc, time::Duration};

use crate::{config::WebhookSettings, store::EndpointRecord};

use super::{WebhookSecret, signature_header};

/// The client deliveries go out with: no redirects, bounded waits, and (unless private
/// targets are allowed) a resolver that refuses private addresses, so DNS cannot steer a
/// delivery inward.
pub fn client(w: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    if !w.allow_private_targets {
        builder = builder.dns_resolver(Arc::new(super::ssrf::PublicOnly));
    }
    builder
        .timeout(Duration::from_secs(w.timeout_seconds))
        .connect_timeout(Duration::from_secs(w.timeout_seconds.min(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("optin-verify/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(64)
        .build()
}

/// The signed POST of one message to one endpoint: `webhook-id`, `webhook-timestamp`, and a
/// signature under its secret (and, during a rotation's overlap, the previous one too).
pub fn signed_post(http: &reqwest::Client, e: &EndpointRecord, msg_id: &str, body: &[u8]) -> reqwest::RequestBuilder {
    let now = chrono::Utc::now();
    let current = WebhookSecret::parse(&e.secret).ok();
    let previous = e
        .previous_secret
        .as_deref()
        .filter(|_| e.previous_until_ms.is_some_and(|until| until > now.timestamp_millis()))
        .and_then(|s| WebhookSecret::parse(s).ok());
    let secrets: Vec<&WebhookSecret> = current.iter().chain(previous.iter()).collect();
    let ts = now.timestamp();
    http.post(&e.url)
        .header("content-type", "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature_header(&secrets, msg_id, ts, body))
        .body(body.to_vec())
}
