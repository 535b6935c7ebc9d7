//! Bringing a tenant up on systems that already hold records: the initial sync, durable and
//! resumable, through the same door as a webhook.
//!
//! Why it is built this way (issue 16): an initial sync that linked records on its own, with
//! `ExpectedVersion::Any`, beside live webhooks opening the records' deterministic streams, gave
//! one business record two entities and a duplicate in each system; one that ran "when the
//! tenant's log is empty" skipped tenants whose first webhook came first and re-ran at every
//! start. So:
//!
//! - **One path.** Every record a page lists is filed as `RecordDiscovered` where a webhook for
//!   it would go (`observe::route`: the mapped entity, else the deterministic one, expecting the
//!   version read just before). The ordinary workers decide it like an `updated` webhook. This
//!   module never links anything.
//! - **Durable and resumable.** A stream per (tenant, entity type) holds the run
//!   (`core::initial_sync`). Each page's `InitialSyncPageRead` and its discoveries are one append
//!   expecting the initial-sync stream's exact version: two processes cannot both record a page,
//!   and after a crash the fold says which page is next. A lease on that stream keeps a second
//!   process from listing the same pages meanwhile (the version check stays the guarantee).
//! - **Creates wait for the listing** (`hold`): a create towards a system the run has not
//!   listed yet could duplicate a record the listing has not reached, so it is held and
//!   released once that system is listed.
//!
//! Every (tenant, entity type) runs as its own task beside the server; each stops at the next
//! await when the service shuts down, and the next start resumes it.

use std::time::Duration;

use rand::Rng;
use syncledger_core::config::{Config, EntityConfig};
use syncledger_core::decide::retry::RetryPolicy;
use syncledger_core::events::{InitialSyncCompleted, InitialSyncStarted, SyncEvent};
use syncledger_core::initial_sync::{self, InitialSync, Step};
use syncledger_core::log::{EventMeta, StreamAppend};
use syncledger_store::{Store, StoreError};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::context::Context;
use crate::error::EngineError;
use crate::held::{initial_sync_state, release_held};
use crate::settings::EngineSettings;

mod page;

use page::expected;

/// The longest wait between two tries of a page while its system is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The wait before the next try of a page after `failures` tries failed in a row: the one
/// backoff function of the engine (`decide::retry`), with no budget (a listing waits for its
/// system however long it is down), at most 30 s, never sooner than the system's `Retry-After`.
fn page_backoff(
    failures: u32,
    retry_after: Option<Duration>,
    max_retry_after: Duration,
) -> Duration {
    let policy = RetryPolicy {
        max_attempts: u32::MAX,
        base: Duration::from_millis(200),
        max: MAX_BACKOFF,
        max_retry_after,
    };
    policy.wait(failures, retry_after, rand::rng().random_range(0.0..=1.0))
}

/// When an initial sync runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Resume the run in progress, or start the first one; a completed run stays completed.
    Resume,
    /// Start a new run even after a completed one (`reconcile --repair`), `by` whom.
    NewRun { by: String },
}

/// `by` of the runs the service starts by itself.
pub const FIRST_START: &str = "first start";

/// Every configured entity type's initial sync of `tenant`, as the log holds it now (for
/// `syncStatus` and `/metrics`).
pub async fn initial_sync_states(
    store: &Store,
    config: &Config,
    tenant: &str,
) -> Result<Vec<(String, InitialSync)>, StoreError> {
    let mut states = Vec::with_capacity(config.entities.len());
    for entity in &config.entities {
        let stream = initial_sync::stream_id(tenant, &entity.name);
        let state = crate::snapshots::load_initial_sync(store, stream).await?;
        states.push((entity.name.clone(), state));
    }
    Ok(states)
}

/// The bring-up room: every configured initial sync, one task per tenant and entity type.
/// Cheap to clone.
#[derive(Clone)]
pub(crate) struct BringUp {
    ctx: Context,
    settings: EngineSettings,
}

impl BringUp {
    pub fn new(ctx: Context, settings: EngineSettings) -> Self {
        Self { ctx, settings }
    }

    /// The initial sync of `entity_type` for `tenant`, as its stream holds it now.
    pub async fn state(&self, tenant: &str, entity_type: &str) -> Result<InitialSync, EngineError> {
        initial_sync_state(&self.ctx, tenant, entity_type).await
    }

    /// Records the start of every configured initial sync never started. The service calls it
    /// before its workers run, so a webhook worked at first start already finds its sync running
    /// and its creates wait for the listing (a tenant's first webhook may come before its sync).
    pub async fn begin(&self) -> Result<(), EngineError> {
        for tenant in &self.ctx.config.tenants {
            for entity in &self.ctx.config.entities {
                let state = self.state(&tenant.id, &entity.name).await?;
                if state.next_step() == Step::Start {
                    match self
                        .start_run(&tenant.id, entity, &state, FIRST_START)
                        .await
                    {
                        Ok(()) | Err(EngineError::Conflict(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs every configured tenant's initial syncs, one task per tenant and entity type, until
    /// each is completed or `shutdown` fires. A sync that fails for good is logged; the next
    /// start resumes it.
    pub async fn run_all(&self, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        for tenant in &self.ctx.config.tenants {
            for entity in &self.ctx.config.entities {
                let (bringup, stop) = (self.clone(), shutdown.clone());
                let (tenant, entity) = (tenant.id.clone(), entity.name.clone());
                tasks.spawn(async move {
                    let result = bringup
                        .run(&tenant, &entity, Start::Resume, &stop)
                        .await;
                    if let Err(e) = result {
                        tracing::warn!(%tenant, %entity, error = %e, "initial sync stopped; the next start resumes it");
                    }
                });
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Runs one initial sync until it is completed (returning its state) or `shutdown` fires
    /// (returning the state reached, still running).
    pub async fn run(
        &self,
        tenant: &str,
        entity_type: &str,
        start: Start,
        shutdown: &CancellationToken,
    ) -> Result<InitialSync, EngineError> {
        let config = self
            .ctx
            .entity_config(entity_type)
            .ok_or_else(|| EngineError::Invalid(format!("no entity type {entity_type}")))?
            .clone();
        let stream = initial_sync::stream_id(tenant, entity_type);
        let owner = format!("{}-initial-sync", self.settings.owner);
        let mut new_run = match start {
            Start::NewRun { by } => Some(by),
            Start::Resume => None,
        };
        let mut failures = 0;
        loop {
            if shutdown.is_cancelled() {
                let _ = self.ctx.store.release_lease(stream, &owner).await;
                return self.state(tenant, entity_type).await;
            }
            let leased = self
                .ctx
                .store
                .try_lease(stream, &owner, self.settings.lease_ttl)
                .await?;
            if !leased {
                // Another process is running it; its records will show here. Check again later.
                if !pause(shutdown, self.settings.lease_ttl / 3).await {
                    continue;
                }
                return self.state(tenant, entity_type).await;
            }
            let state = self.state(tenant, entity_type).await?;
            if new_run.is_none() && state.next_step() == Step::Done {
                let _ = self.ctx.store.release_lease(stream, &owner).await;
                return Ok(state);
            }
            let result = self
                .advance(tenant, &config, &state, new_run.clone(), shutdown)
                .await;
            match result {
                Ok(()) => {
                    // A new run asked for is started once; from then on, it is resumed.
                    new_run = None;
                    failures = 0;
                }
                // Another writer moved the stream (or a discovered record's stream): fold again.
                Err(EngineError::Conflict(_)) => {}
                Err(e) if e.is_transient() => {
                    failures += 1;
                    let backoff =
                        page_backoff(failures, e.retry_after(), self.settings.max_retry_after);
                    tracing::warn!(%tenant, entity = %entity_type, error = %e, retry_in = ?backoff, "initial sync waits for a system");
                    // Cancelled or not, the loop's first check answers a shutdown.
                    pause(shutdown, backoff).await;
                }
                Err(e) => {
                    let _ = self.ctx.store.release_lease(stream, &owner).await;
                    return Err(e);
                }
            }
        }
    }

    /// Takes the next step of one initial sync, without a lease: for a test or a simulation
    /// that interleaves the sync's steps with other work. Returns the step taken.
    pub async fn step(&self, tenant: &str, entity_type: &str) -> Result<Step, EngineError> {
        let config = self
            .ctx
            .entity_config(entity_type)
            .ok_or_else(|| EngineError::Invalid(format!("no entity type {entity_type}")))?
            .clone();
        let state = self.state(tenant, entity_type).await?;
        let step = state.next_step();
        self.advance(tenant, &config, &state, None, &CancellationToken::new())
            .await?;
        Ok(step)
    }

    /// One step from `state`: start a run (a new one when `new_run` names who asked), read and
    /// record the next page, or complete the run.
    async fn advance(
        &self,
        tenant: &str,
        config: &EntityConfig,
        state: &InitialSync,
        new_run: Option<String>,
        shutdown: &CancellationToken,
    ) -> Result<(), EngineError> {
        match (new_run, state.next_step()) {
            (Some(by), _) => self.start_run(tenant, config, state, &by).await,
            (None, Step::Start) => self.start_run(tenant, config, state, FIRST_START).await,
            (None, Step::Done) => Ok(()),
            (None, Step::Complete) => self.complete_run(tenant, &config.name, state).await,
            (None, Step::ReadPage { system, cursor }) => {
                let read = page::Read {
                    tenant,
                    config,
                    state,
                    system: &system,
                    cursor,
                    page_size: self.settings.initial_sync_page,
                };
                page::read_page(&self.ctx, read, shutdown).await
            }
        }
    }

    async fn start_run(
        &self,
        tenant: &str,
        config: &EntityConfig,
        state: &InitialSync,
        by: &str,
    ) -> Result<(), EngineError> {
        let event = SyncEvent::InitialSyncStarted(InitialSyncStarted {
            entity_type: config.name.clone(),
            run_id: Uuid::now_v7(),
            systems: config.systems.keys().cloned().collect(),
            by: by.to_string(),
        });
        tracing::info!(%tenant, entity = %config.name, %by, "initial sync started");
        self.append_to_sync(tenant, &config.name, state, vec![event])
            .await
    }

    async fn complete_run(
        &self,
        tenant: &str,
        entity_type: &str,
        state: &InitialSync,
    ) -> Result<(), EngineError> {
        let Some(run) = &state.run else {
            return Ok(());
        };
        let event = SyncEvent::InitialSyncCompleted(InitialSyncCompleted {
            run_id: run.run_id,
            records: run.records(),
            pages: run.pages(),
        });
        self.append_to_sync(tenant, entity_type, state, vec![event])
            .await?;
        tracing::info!(%tenant, entity = %entity_type, records = run.records(), pages = run.pages(), "initial sync completed");
        let stream = initial_sync::stream_id(tenant, entity_type);
        release_held(&self.ctx, tenant, stream).await
    }

    async fn append_to_sync(
        &self,
        tenant: &str,
        entity_type: &str,
        state: &InitialSync,
        events: Vec<SyncEvent>,
    ) -> Result<(), EngineError> {
        let meta = EventMeta {
            tenant: tenant.into(),
            correlation_id: None,
            causation_id: None,
        };
        self.ctx
            .store
            .append(vec![StreamAppend {
                stream_id: initial_sync::stream_id(tenant, entity_type),
                expected: expected(state.version),
                events: events.iter().map(|e| e.to_new(meta.clone())).collect(),
            }])
            .await?;
        Ok(())
    }
}

/// Waits `how_long`; true when `shutdown` fired first.
async fn pause(shutdown: &CancellationToken, how_long: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(how_long) => false,
    }
}
