//! Webhooks to consent stores: signing, fan-out of events, delivery with retries, and the
//! per-partition scheduler that releases retries and expires overdue verifications.

mod delivery;
mod dispatcher;
mod endpoint_cache;
mod example;
mod payload;
mod recover;
mod request;
mod scheduler;
pub mod schema;
mod signer;
mod ssrf;

use std::sync::Arc;

pub use delivery::Deliverer;
pub use dispatcher::spawn_dispatchers;
pub use example::example_body;
pub use recover::spawn_recoverer;
pub use request::{client, signed_post};
pub use scheduler::spawn_schedulers;
pub use signer::{WebhookSecret, signature_header};
pub use ssrf::is_public;

use crate::{
    config::Settings, domain::ServerKeys, evidence::ReceiptSigner, metrics::Metrics, state::Tenants, store::Store,
};

/// The event types a consent store can subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "consent.confirmed",
    "consent.declined",
    "consent.withdrawn",
    "consent.expired",
    "verification.expired",
    "verification.failed",
    "verification.canceled",
    "recording.retention_due",
];

/// What the webhook workers share.
#[derive(Clone)]
pub struct WebhookDeps {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub tenants: Tenants,
    pub signer: ReceiptSigner,
    pub server_key: ServerKeys,
    pub metrics: Arc<Metrics>,
}
