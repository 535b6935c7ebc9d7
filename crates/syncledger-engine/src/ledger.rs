//! The [`Ledger`]: the store, the configuration and the connected systems, shared by the webhook
//! intake, the workers, the API and the command line.

use std::sync::Arc;
use std::time::Duration;

use syncledger_connector::Connector;
use syncledger_core::config::{Config, EntityConfig};
use syncledger_store::Store;
use tokio::sync::Notify;

/// Finds the connector of a tenant's system: HTTP in production, simulated systems in tests.
pub trait Connectors: Send + Sync {
    fn get(&self, tenant: &str, system: &str) -> Option<Arc<dyn Connector>>;
}

/// How hard the engine tries and how long it waits.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Concurrent entity jobs in this process.
    pub workers: usize,
    /// How long a worker owns an entity before another process may take it over.
    pub lease_ttl: Duration,
    /// Failed attempts of one write before it goes to dead letters.
    pub max_attempts: u32,
    /// First retry delay of a failed write; doubles per attempt, with jitter.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// The longest `Retry-After` honoured; a system asking for more waits this long.
    pub max_retry_after: Duration,
    /// How often idle workers look at the queue without being woken.
    pub poll_interval: Duration,
    /// This process's name in leases.
    pub owner: String,
    /// Records asked of a system per page of the initial sync.
    pub initial_sync_page: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            workers: 8,
            lease_ttl: Duration::from_secs(30),
            max_attempts: 5,
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(3600),
            poll_interval: Duration::from_millis(250),
            owner: format!("{}-{}", hostname(), std::process::id()),
            initial_sync_page: 200,
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "syncledger".into())
}

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: Arc<Config>,
    connectors: Arc<dyn Connectors>,
    settings: EngineSettings,
    wake: Notify,
}

impl Ledger {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        connectors: Arc<dyn Connectors>,
        settings: EngineSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                connectors,
                settings,
                wake: Notify::new(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    pub fn connector(&self, tenant: &str, system: &str) -> Option<Arc<dyn Connector>> {
        self.inner.connectors.get(tenant, system)
    }

    pub fn entity_config(&self, name: &str) -> Option<&EntityConfig> {
        self.inner.config.entities.iter().find(|e| e.name == name)
    }

    /// Tells idle workers that new work may be due. The wake is kept when the scheduler is busy,
    /// so work that becomes due meanwhile is looked at right after, not a poll interval later.
    pub fn wake_workers(&self) {
        self.inner.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.inner.wake.notified().await
    }
}
