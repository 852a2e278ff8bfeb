//! What every handler and worker shares.

use std::{collections::HashMap, sync::Arc};

use crate::{
    channels::Transports,
    config::{Settings, TenantSettings},
    domain::{ApiKeyHash, ServerKeys},
    evidence::ReceiptSigner,
    metrics::Metrics,
    store::Store,
};

/// Tenants by the SHA-256 of their API key. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Tenants(Arc<TenantIndex>);

#[derive(Debug, Default)]
struct TenantIndex {
    by_key_hash: HashMap<String, Arc<TenantSettings>>,
    by_id: HashMap<String, Arc<TenantSettings>>,
}

impl Tenants {
    pub fn from_settings(list: &[TenantSettings]) -> Self {
        let mut t = TenantIndex::default();
        for tenant in list {
            let tenant = Arc::new(tenant.clone());
            t.by_key_hash.insert(ApiKeyHash::from_hex(&tenant.api_key_sha256).as_str().to_string(), tenant.clone());
            t.by_id.insert(tenant.id.clone(), tenant);
        }
        Self(Arc::new(t))
    }

    pub fn by_key_hash(&self, hash: &ApiKeyHash) -> Option<Arc<TenantSettings>> {
        self.0.by_key_hash.get(hash.as_str()).cloned()
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<TenantSettings>> {
        self.0.by_id.get(id).cloned()
    }

    /// Every tenant's id.
    pub fn ids(&self) -> Vec<String> {
        self.0.by_id.keys().cloned().collect()
    }
}

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub key: ServerKeys,
    pub signer: ReceiptSigner,
    pub tenants: Tenants,
    pub metrics: Arc<Metrics>,
    /// For the codes that open the consents page; verifications go through the send worker.
    pub transports: Transports,
}

impl AppState {
    pub fn now_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}
