//! A one-second cache of a tenant's endpoints for the deliverer, which looks one up for
//! every delivery. The dispatcher always reads fresh, so no new endpoint misses an event.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::store::{EndpointRecord, Store, StoreError};

const TTL: Duration = Duration::from_secs(1);

/// A tenant's endpoints and when they were read.
type Entry = (Instant, Arc<Vec<EndpointRecord>>);

#[derive(Default)]
pub struct EndpointCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl EndpointCache {
    pub async fn get(&self, store: &Store, tenant: &str, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
        let cached = {
            let map = self.entries.lock().expect("cache lock");
            map.get(tenant).filter(|(at, _)| at.elapsed() < TTL).map(|(_, list)| list.clone())
        };
        let list = match cached {
            Some(list) => list,
            None => {
                let list = Arc::new(store.endpoints(tenant).await?);
                self.entries.lock().expect("cache lock").insert(tenant.to_string(), (Instant::now(), list.clone()));
                list
            }
        };
        Ok(list.iter().find(|e| e.id == id).cloned())
    }

    pub fn forget(&self, tenant: &str) {
        self.entries.lock().expect("cache lock").remove(tenant);
    }
}
