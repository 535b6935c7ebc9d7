//! What every room is given: the store, the configuration, the connected systems and the
//! workers' wake-up. A leaf: it knows no room, so no room reaches another through it.

use std::sync::Arc;

use syncledger_connector::Connector;
use syncledger_core::config::{Config, EntityConfig};
use syncledger_core::entity::EntityState;
use syncledger_store::Store;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::EngineError;
use crate::settings::Connectors;

/// Cheap to clone: everything lives behind an `Arc`.
#[derive(Clone)]
pub(crate) struct Context {
    pub store: Store,
    pub config: Arc<Config>,
    connectors: Arc<dyn Connectors>,
    wake: Arc<Notify>,
}

impl Context {
    pub fn new(store: Store, config: Arc<Config>, connectors: Arc<dyn Connectors>) -> Self {
        Self {
            store,
            config,
            connectors,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn connector(&self, tenant: &str, system: &str) -> Option<Arc<dyn Connector>> {
        self.connectors.get(tenant, system)
    }

    pub fn entity_config(&self, name: &str) -> Option<&EntityConfig> {
        self.config.entities.iter().find(|e| e.name == name)
    }

    /// Reads and folds an entity's stream (from its snapshot when its first events were
    /// archived).
    pub async fn load(&self, entity_id: Uuid) -> Result<EntityState, EngineError> {
        Ok(crate::snapshots::load_entity(&self.store, entity_id).await?)
    }

    /// Tells idle workers that new work may be due. The wake is kept when the scheduler is busy,
    /// so work that becomes due meanwhile is looked at right after, not a poll interval later.
    pub fn wake_workers(&self) {
        self.wake.notify_one();
    }

    pub async fn woken(&self) {
        self.wake.notified().await
    }
}
