//! The [`Ledger`]: the engine as the rest of the product sees it (the HTTP server, the command
//! line, tests). It holds the rooms and passes each call to the one room that owns it; the rooms
//! never reach one another through it.

use std::sync::Arc;

use syncledger_core::config::Config;
use syncledger_core::entity::EntityState;
use syncledger_core::initial_sync::{InitialSync, Step};
use syncledger_store::Store;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bringup::{BringUp, Start};
use crate::context::Context;
use crate::error::EngineError;
use crate::intake::{Accepted, IngestError, Intake};
use crate::job;
use crate::scheduler::Scheduler;
use crate::settings::{Connectors, EngineSettings};

/// Cheap to clone: every room lives behind `Arc`s.
#[derive(Clone)]
pub struct Ledger {
    ctx: Context,
    settings: EngineSettings,
    intake: Intake,
    scheduler: Scheduler,
    bringup: BringUp,
}

impl Ledger {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        connectors: Arc<dyn Connectors>,
        settings: EngineSettings,
    ) -> Self {
        let ctx = Context::new(store, config, connectors);
        let jobs = job::Env {
            ctx: ctx.clone(),
            retry: settings.retry_policy(),
            gate: settings.gate.clone(),
        };
        Self {
            intake: Intake::new(ctx.clone()),
            scheduler: Scheduler::new(jobs, settings.clone()),
            bringup: BringUp::new(ctx.clone(), settings.clone()),
            ctx,
            settings,
        }
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    pub fn config(&self) -> &Config {
        &self.ctx.config
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Tells idle workers that new work may be due.
    pub fn wake_workers(&self) {
        self.ctx.wake_workers();
    }

    /// Reads and folds an entity's stream.
    pub async fn load(&self, entity_id: Uuid) -> Result<EntityState, EngineError> {
        self.ctx.load(entity_id).await
    }

    // The intake room.

    /// Checks, parses and records one webhook request (`intake`).
    pub async fn ingest(
        &self,
        tenant: &str,
        system: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Accepted, IngestError> {
        self.intake.ingest(tenant, system, body, signature).await
    }

    // The scheduler room (which runs the job room).

    /// Entities with work due now, oldest first.
    pub async fn due_entities(&self) -> Result<Vec<Uuid>, EngineError> {
        self.scheduler.due_entities().await
    }

    /// Leases and works one entity; returns false when another worker holds it.
    pub async fn work_entity(&self, entity_id: Uuid) -> Result<bool, EngineError> {
        self.scheduler.work_entity(entity_id).await
    }

    /// Works every due entity until none is due, one at a time (tests, the simulator, the CLI).
    pub async fn run_until_idle(&self, max_jobs: usize) -> Result<usize, EngineError> {
        self.scheduler.run_until_idle(max_jobs).await
    }

    /// Entities holding a write that was requested and never answered.
    pub async fn entities_with_unanswered_writes(&self) -> Result<Vec<Uuid>, EngineError> {
        self.scheduler.entities_with_unanswered_writes().await
    }

    /// Works every entity holding an unanswered write, before anything else.
    pub async fn resume_unanswered_writes(&self) -> Result<usize, EngineError> {
        self.scheduler.resume_unanswered_writes().await
    }

    /// The worker pool: runs until `shutdown`, then lets jobs in flight finish.
    pub async fn run_workers(&self, shutdown: CancellationToken) {
        self.scheduler.run_workers(shutdown).await
    }

    // The bring-up room.

    /// The initial sync of `entity_type` for `tenant`, as its stream holds it now.
    pub async fn initial_sync_state(
        &self,
        tenant: &str,
        entity_type: &str,
    ) -> Result<InitialSync, EngineError> {
        self.bringup.state(tenant, entity_type).await
    }

    /// Records the start of every configured initial sync never started.
    pub async fn begin_initial_syncs(&self) -> Result<(), EngineError> {
        self.bringup.begin().await
    }

    /// Runs every configured tenant's initial syncs until each is completed or `shutdown` fires.
    pub async fn run_initial_syncs(&self, shutdown: CancellationToken) {
        self.bringup.run_all(shutdown).await
    }

    /// Runs one initial sync until it is completed or `shutdown` fires.
    pub async fn initial_sync(
        &self,
        tenant: &str,
        entity_type: &str,
        start: Start,
        shutdown: &CancellationToken,
    ) -> Result<InitialSync, EngineError> {
        self.bringup.run(tenant, entity_type, start, shutdown).await
    }

    /// Takes the next step of one initial sync, without a lease (tests, the simulation).
    pub async fn initial_sync_step(
        &self,
        tenant: &str,
        entity_type: &str,
    ) -> Result<Step, EngineError> {
        self.bringup.step(tenant, entity_type).await
    }
}
