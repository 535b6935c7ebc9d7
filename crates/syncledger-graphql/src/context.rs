//! [`ApiContext`]: what the API needs of the running ledger, and nothing more.
//!
//! The API reads the store, looks at the configuration (tokens, tenants, entity types) and, after
//! appending a person's request, wakes the workers. Holding exactly that, rather than the engine's
//! whole `Ledger`, lets the API run wherever a store and a configuration exist: in the server,
//! where [`ApiContext::from_ledger`] builds it, and in tests and benches without any connector.

use std::sync::Arc;

use syncledger_core::config::{Config, EntityConfig};
use syncledger_engine::Ledger;
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

    /// The server's context: the ledger's store and configuration, waking its workers.
    pub fn from_ledger(ledger: &Ledger) -> Self {
        let waker = ledger.clone();
        ApiContext::new(
            ledger.store().clone(),
            Arc::new(ledger.config().clone()),
            move || waker.wake_workers(),
        )
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

impl From<Ledger> for ApiContext {
    fn from(ledger: Ledger) -> Self {
        ApiContext::from_ledger(&ledger)
    }
}

impl From<&Ledger> for ApiContext {
    fn from(ledger: &Ledger) -> Self {
        ApiContext::from_ledger(ledger)
    }
}
