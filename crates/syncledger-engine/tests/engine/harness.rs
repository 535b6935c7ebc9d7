//! The world a scenario runs in: a ledger over two in-process simulated systems (a CRM with ids
//! `c-N` and an ERP with ids `E-N`) and a store on SQLite or PostgreSQL ([`Db`]).
//!
//! Nothing runs in the background. A scenario delivers webhooks itself, in the order it chooses,
//! and works entities itself, so every interleaving is the scenario's choice.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::Value;
use syncledger_connector::{Connector, sign};
use syncledger_core::config::{Config, OnDelete};
use syncledger_core::events::entity_id_for_record;
use syncledger_engine::{Accepted, Connectors, EngineSettings, Ledger};
use syncledger_sim::{SimSystem, Webhook};
use syncledger_store::Store;
use syncledger_test_support::ExampleConfig;
use uuid::Uuid;

pub use crate::db::Db;
use crate::faulty::FaultyConnector;

pub const TENANT: &str = "acme";
pub const CRM: &str = "crm";
pub const ERP: &str = "erp";
pub const CONTACTS: &str = "contacts";
pub const CUSTOMERS: &str = "customers";
const CRM_SECRET: &str = "crm-webhook-secret-01";
const ERP_SECRET: &str = "erp-webhook-secret-01";

/// The contract's example configuration (CONTRACT §3), with the delete policy chosen per test.
pub fn config(on_delete: OnDelete) -> Config {
    let on_delete = match on_delete {
        OnDelete::Propagate => "propagate",
        OnDelete::Unlink => "unlink",
    };
    config_with(&format!(
        "on_delete = \"{on_delete}\"\nconflict = \"last_observed\""
    ))
}

/// The example configuration with `entity` as the entity's own settings (delete and conflict
/// policies, owners).
pub fn config_with(entity: &str) -> Config {
    ExampleConfig {
        crm_secret: CRM_SECRET.into(),
        erp_secret: ERP_SECRET.into(),
        entity: entity.into(),
        ..ExampleConfig::default()
    }
    .parse()
}

/// Settings for tests: no retry delay (a due retry runs at once), a lease that never blocks a
/// restarted process unless a test asks for one.
pub fn settings(owner: &str) -> EngineSettings {
    EngineSettings {
        workers: 1,
        lease_ttl: Duration::ZERO,
        max_attempts: 5,
        retry_base: Duration::ZERO,
        retry_max: Duration::ZERO,
        max_retry_after: Duration::from_secs(3600),
        poll_interval: Duration::from_millis(10),
        owner: owner.into(),
        initial_sync_page: 50,
        gate: None,
    }
}

struct SimConnectors {
    crm: Arc<FaultyConnector>,
    erp: Arc<FaultyConnector>,
}

impl Connectors for SimConnectors {
    fn get(&self, tenant: &str, system: &str) -> Option<Arc<dyn Connector>> {
        match (tenant, system) {
            (TENANT, CRM) => Some(self.crm.clone()),
            (TENANT, ERP) => Some(self.erp.clone()),
            _ => None,
        }
    }
}

/// A ledger, its store and the two systems it syncs.
pub struct World {
    pub db: Db,
    pub config: Arc<Config>,
    pub crm: Arc<SimSystem>,
    pub erp: Arc<SimSystem>,
    /// The ledger's way to each system: the system itself, plus scripted crashes.
    pub crm_conn: Arc<FaultyConnector>,
    pub erp_conn: Arc<FaultyConnector>,
    pub ledger: Ledger,
    pub settings: EngineSettings,
    generation: u32,
}

impl World {
    pub async fn new(db: Db) -> World {
        World::with(db, OnDelete::Propagate, settings("process-1")).await
    }

    pub async fn with(db: Db, on_delete: OnDelete, settings: EngineSettings) -> World {
        World::with_config(db, config(on_delete), settings).await
    }

    pub async fn with_config(db: Db, config: Config, settings: EngineSettings) -> World {
        let config = Arc::new(config);
        // Logical clocks: webhook times, and so the ids of observed changes, repeat run after run.
        let start = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("a valid time");
        let crm = Arc::new(SimSystem::with_logical_clock(
            "c",
            start,
            Duration::from_millis(7),
        ));
        let erp = Arc::new(SimSystem::with_logical_clock(
            "E",
            start,
            Duration::from_millis(11),
        ));
        let crm_conn = Arc::new(FaultyConnector::new(crm.clone()));
        let erp_conn = Arc::new(FaultyConnector::new(erp.clone()));
        let ledger = ledger(&db, &config, &crm_conn, &erp_conn, settings.clone()).await;
        World {
            db,
            config,
            crm,
            erp,
            crm_conn,
            erp_conn,
            ledger,
            settings,
            generation: 1,
        }
    }

    /// The process dies and another one starts on the same database: a new store handle and a
    /// new ledger under a new owner name. Whatever the old ledger had in memory is gone.
    pub async fn restart(&mut self) {
        self.generation += 1;
        let settings = EngineSettings {
            owner: format!("process-{}", self.generation),
            ..self.settings.clone()
        };
        let old = std::mem::replace(
            &mut self.ledger,
            ledger(
                &self.db,
                &self.config,
                &self.crm_conn,
                &self.erp_conn,
                settings,
            )
            .await,
        );
        if matches!(self.db, Db::Sqlite { .. }) {
            old.store().close().await;
        }
    }

    /// Another process on the same database, running beside this one.
    pub async fn second_process(&self, owner: &str, lease_ttl: Duration) -> Ledger {
        let settings = EngineSettings {
            owner: owner.into(),
            lease_ttl,
            ..self.settings.clone()
        };
        ledger(
            &self.db,
            &self.config,
            &self.crm_conn,
            &self.erp_conn,
            settings,
        )
        .await
    }

    /// Another process on the same database, started with another configuration.
    pub async fn process_with_config(&self, owner: &str, config: Config) -> Ledger {
        let settings = EngineSettings {
            owner: owner.into(),
            ..self.settings.clone()
        };
        ledger(
            &self.db,
            &Arc::new(config),
            &self.crm_conn,
            &self.erp_conn,
            settings,
        )
        .await
    }

    pub fn store(&self) -> &Store {
        self.ledger.store()
    }

    pub fn sim(&self, system: &str) -> &Arc<SimSystem> {
        if system == CRM { &self.crm } else { &self.erp }
    }

    // ----- webhooks in -----

    /// Delivers one signed webhook body (one notice or a batch) from `system`.
    pub async fn ingest(&self, system: &str, notices: &[Webhook]) -> Accepted {
        ingest_on(&self.ledger, system, notices).await
    }

    /// Takes `system`'s outbox and delivers it one notice at a time, in order.
    pub async fn deliver(&self, system: &str) -> Vec<Webhook> {
        let drained = self.sim(system).drain_webhooks();
        for w in &drained {
            self.ingest(system, std::slice::from_ref(w)).await;
        }
        drained
    }

    // ----- work -----

    /// Works one entity to the end of what is due.
    pub async fn work(&self, entity: Uuid) {
        assert!(
            self.ledger.work_entity(entity).await.expect("entity job"),
            "lease refused for {entity}"
        );
    }

    /// Works every due entity until none is due.
    pub async fn run(&self) {
        self.ledger
            .run_until_idle(1000)
            .await
            .expect("run until idle");
    }

    /// Delivers every webhook and works everything, until neither system has anything to
    /// announce and nothing is due.
    pub async fn settle(&self) {
        for _ in 0..50 {
            let crm = self.deliver(CRM).await;
            let erp = self.deliver(ERP).await;
            let due = self.ledger.due_entities().await.expect("due entities");
            if crm.is_empty() && erp.is_empty() && due.is_empty() {
                return;
            }
            self.run().await;
        }
        panic!("the ledger did not settle within 50 rounds");
    }
}

async fn ledger(
    db: &Db,
    config: &Arc<Config>,
    crm: &Arc<FaultyConnector>,
    erp: &Arc<FaultyConnector>,
    settings: EngineSettings,
) -> Ledger {
    let store = db.open_for(config).await;
    let connectors = Arc::new(SimConnectors {
        crm: crm.clone(),
        erp: erp.clone(),
    });
    Ledger::new(store, config.clone(), connectors, settings)
}

/// The stream a record's first webhook opens while nobody has linked the record yet.
pub fn first_stream(system: &str, record_id: &str) -> Uuid {
    entity_id_for_record(TENANT, "customer", system, record_id)
}

/// The first record of `collection` whose top-level `field` equals `value`.
pub fn only(
    sim: &SimSystem,
    collection: &str,
    field: &str,
    value: &str,
) -> syncledger_connector::Record {
    let found = sim.find_by_field(collection, field, &Value::String(value.into()));
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {collection} record with {field} = {value}, found {found:?}"
    );
    found.into_iter().next().expect("one record")
}

/// Delivers one signed webhook body (one notice or a batch) from `system` to `ledger`'s process.
pub async fn ingest_on(ledger: &Ledger, system: &str, notices: &[Webhook]) -> Accepted {
    let body = match notices {
        [one] => serde_json::to_vec(one),
        many => serde_json::to_vec(many),
    }
    .expect("webhooks serialize");
    let secret = if system == CRM {
        CRM_SECRET
    } else {
        ERP_SECRET
    };
    let signature = sign(secret.as_bytes(), &body);
    ledger
        .ingest(TENANT, system, &body, Some(&signature))
        .await
        .expect("webhook accepted")
}
