//! What the engine is configured with: how hard it tries, how long it waits, and where it finds
//! the connected systems. A leaf: every room reads it, it reads nothing of theirs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use syncledger_connector::Connector;
use syncledger_core::decide::retry::RetryPolicy;

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
    /// Attempts of one write (or one work item) before it goes to dead letters. The connector
    /// tries each call once; this is the only retry budget (see `decide::retry`).
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
    /// A test seam: awaited by a job at each [`GatePoint`], so tests can force another job in
    /// between. `None` in production.
    #[doc(hidden)]
    pub gate: Option<Gate>,
}

/// Where a job may be held at the [`Gate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[doc(hidden)]
pub enum GatePoint {
    /// A job that recorded a record first (G8), before it decides on it.
    Decide,
    /// A job looking for the entity a record belongs to (G2), after it read `id_mappings` and
    /// before it reads `round_trip_context`.
    OwnerLookup,
}

/// What a job waiting at the [`Gate`] awaits.
#[doc(hidden)]
pub type GateWait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// See [`EngineSettings::gate`]: called with the point and the entity whose job waits.
#[derive(Clone)]
#[doc(hidden)]
pub struct Gate(pub Arc<dyn Fn(GatePoint, uuid::Uuid) -> GateWait + Send + Sync>);

impl Gate {
    /// Waits at `point` if the test holds `entity` there.
    pub(crate) async fn pass(gate: &Option<Gate>, point: GatePoint, entity: uuid::Uuid) {
        if let Some(gate) = gate {
            (gate.0)(point, entity).await;
        }
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            workers: 8,
            lease_ttl: Duration::from_secs(30),
            max_attempts: 10,
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(3600),
            poll_interval: Duration::from_millis(250),
            owner: format!("{}-{}", hostname(), std::process::id()),
            initial_sync_page: 200,
            gate: None,
        }
    }
}

impl EngineSettings {
    /// The one retry policy of writes and work items.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            base: self.retry_base,
            max: self.retry_max,
            max_retry_after: self.max_retry_after,
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "syncledger".into())
}
