//! [`ApiContext`]: what the API needs of the running ledger, and nothing more.
//!
//! The API reads the store, looks at the configuration (tokens, tenants, entity types) and, after
//! appending a person's request, wakes the workers. Holding exactly that, rather than the engine's
//! whole `Ledger`, lets the API run wherever a store and a configuration exist: in the server,
//! where `syncledger_api::graphql_context` builds it from the engine's `Ledger`, and in tests and
//! benches without any connector. That is also why this crate does not depend on the engine: the
//! conversion lives in the API crate, where both meet.

use std::sync::Arc;

use syncledger_core::config::{Config, EntityConfig};
use syncledger_store::Store;

#[derive(Clone)]
pub struct ApiContext {
    store: Store,
    config: Arc<Config>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiContext")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl ApiContext {
    /// `wake` tells the workers that new work may be due (the engine's `Ledger::wake_workers`).
    pub fn new(store: Store, config: Arc<Config>, wake: impl Fn() + Send + Sync + 'static) -> Self {
        ApiContext {
            store,
            config,
            wake: Arc::new(wake),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn entity_config(&self, name: &str) -> Option<&EntityConfig> {
        self.config.entity(name)
    }

    pub fn wake_workers(&self) {
        (self.wake)()
    }
}
