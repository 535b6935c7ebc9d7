//! The scheduler room: finds entities with work due, leases them, and runs one job per entity
//! at a time (the job room's [`job::run`]).
//!
//! A lease is held only while its entity's job runs: it is claimed when the job starts and given
//! back as soon as the scheduler sees the job end, before any new lease is claimed, so this
//! process never holds more leases than it has workers. After a `kill -9` only the entities
//! whose jobs were running (at most `workers`) wait for their leases to expire; everything else
//! queued is taken up at once by the next process. A job whose system is down cools down in
//! memory, longer with each failure in a row and never sooner than the system's `Retry-After`
//! (`cooling`), so one unreachable record does not spin a worker; a job that fails otherwise, or
//! panics, is recorded and retried with backoff by the job room itself.
//!
//! Workers are shared fairly (`fair`): each tenant's due work is read on its own, tenants take
//! turns for free workers, then each tenant's systems, and a (tenant, system) that is down
//! gets no worker while its brake holds (`breaker`). One tenant's outage or backlog never stops
//! another's sync.
//!
//! At start-up, writes a dead process left unanswered are settled before anything else
//! (`resume_unanswered_writes`): the record such a create made is found by its match keys or
//! its idempotency key and linked before its echo is looked at. If a user changed the record's
//! match keys meanwhile, deciding the echo's stream first would take the record for a new one
//! and create its twin in the origin: a duplicate (G2, G4).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::EngineError;
use crate::job;
use crate::settings::EngineSettings;

mod breaker;
mod cooling;
mod fair;
mod leases;
mod pool;
mod queue;

use fair::{Due, Turns};
use leases::Leases;
use pool::Pool;

/// How many due queue rows a scheduler pass looks at.
const SCAN: i64 = 512;
/// How long an entity whose lease another process holds is left out of this process's backlog.
const HELD_ELSEWHERE: Duration = Duration::from_secs(1);

/// Cheap to clone.
#[derive(Clone)]
pub(crate) struct Scheduler {
    jobs: job::Env,
    settings: EngineSettings,
}

impl Scheduler {
    pub fn new(jobs: job::Env, settings: EngineSettings) -> Self {
        Self { jobs, settings }
    }

    /// Entities with work due now, oldest first.
    pub async fn due_entities(&self) -> Result<Vec<Uuid>, EngineError> {
        queue::due_entities(&self.jobs.ctx.store, SCAN).await
    }

    pub async fn entities_with_unanswered_writes(&self) -> Result<Vec<Uuid>, EngineError> {
        queue::entities_with_unanswered_writes(&self.jobs.ctx.store).await
    }

    /// Leases and works one entity; returns false when another worker holds it.
    pub async fn work_entity(&self, entity_id: Uuid) -> Result<bool, EngineError> {
        let (store, s) = (&self.jobs.ctx.store, &self.settings);
        if !store.try_lease(entity_id, &s.owner, s.lease_ttl).await? {
            return Ok(false);
        }
        let result = job::run(&self.jobs, entity_id).await;
        store.release_lease(entity_id, &s.owner).await?;
        result.map(|_| true)
    }

    /// Works every due entity until none is due, one at a time (tests, the simulator, the CLI).
    /// Returns the number of entity jobs run. An entity whose system is unavailable for now
    /// (a transient failure) is left for later while the others are worked; the first such
    /// failure is returned once nothing else is due. Any other failure stops the run.
    pub async fn run_until_idle(&self, max_jobs: usize) -> Result<usize, EngineError> {
        let mut jobs = 0;
        let mut unavailable: Option<EngineError> = None;
        let mut skipped: HashSet<Uuid> = HashSet::new();
        while jobs < max_jobs {
            let due: Vec<Uuid> = self
                .due_entities()
                .await?
                .into_iter()
                .filter(|id| !skipped.contains(id))
                .collect();
            if due.is_empty() {
                break;
            }
            for id in due {
                jobs += 1;
                match self.work_entity(id).await {
                    Ok(_) => {}
                    Err(e) if e.is_transient() => {
                        skipped.insert(id);
                        unavailable.get_or_insert(e);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        match unavailable {
            Some(e) => Err(e),
            None => Ok(jobs),
        }
    }

    /// Works every entity holding an unanswered write (see the module doc). Entities another
    /// live process holds are left to it; one entity failing does not stop the others. Returns
    /// the number of entities worked.
    pub async fn resume_unanswered_writes(&self) -> Result<usize, EngineError> {
        let mut worked = 0;
        for entity in self.entities_with_unanswered_writes().await? {
            match self.work_entity(entity).await {
                Ok(true) => worked += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(entity = %entity, error = %e, "resuming an unanswered write failed")
                }
            }
        }
        Ok(worked)
    }

    /// The worker pool: runs until `shutdown`, then lets jobs in flight finish.
    ///
    /// One scheduler loop hands due entities to at most `workers` jobs. Each round it:
    ///
    /// 1. reaps the jobs that ended (a job that failed transiently cools its entity down);
    /// 2. gives back, in one statement, the leases of the jobs that ended;
    /// 3. reads each tenant's oldest due work (`queue::due_work`, one statement) into a backlog
    ///    when asked to: when the intake recorded new work, when the backlog ran dry, and every
    ///    poll interval;
    /// 4. gives the free workers to backlog entities by the fairness rule (`fair`: tenants take
    ///    turns, then each tenant's systems; a place whose brake holds gets none), claims their
    ///    leases in one statement and starts a job for each one it got; an entity another
    ///    process holds (a dead one's, until its lease expires) is set aside for a second and
    ///    the next ones are picked in its place;
    /// 5. renews the leases of jobs that run for a third of the lease's TTL.
    ///
    /// When a whole round of jobs failed because a system of a tenant is down, that (tenant,
    /// system) gets no new job for a while (`breaker`), so its outage neither turns into a spin
    /// over its backlog nor takes the workers of anyone else.
    pub async fn run_workers(&self, shutdown: CancellationToken) {
        if let Err(e) = self.resume_unanswered_writes().await {
            tracing::warn!(error = %e, "resuming unanswered writes failed");
        }
        let s = self.settings.clone();
        let ctx = self.jobs.ctx.clone();
        let workers = s.workers.max(1);
        let tenants: Vec<String> = ctx.config.tenants.iter().map(|t| t.id.clone()).collect();
        let mut leases = Leases::new(ctx.store.clone(), s.owner.clone(), s.lease_ttl);
        let mut pool = Pool::new(workers, self.jobs.retry);
        let mut turns = Turns::default();
        let mut backlog: Vec<Due> = Vec::new();
        // Per tenant, the due entities the last read found that could not start (running,
        // cooling, held by a brake or by another process): the next read looks further.
        let mut passed_over: HashMap<String, i64> = HashMap::new();
        // Entities another process (perhaps a dead one) holds: not asked for again before then.
        let mut elsewhere: HashMap<Uuid, Instant> = HashMap::new();
        let mut read_queue = true;
        loop {
            pool.reap();
            leases.give_back(&mut pool.ended).await;
            let now = Instant::now();
            elsewhere.retain(|_, until| *until > now);
            let busy: HashSet<Uuid> = pool.running.values().map(|d| d.entity).collect();
            let waiting = |d: &Due| {
                !busy.contains(&d.entity)
                    && !pool.cooling.contains(&d.entity)
                    && !elsewhere.contains_key(&d.entity)
            };

            backlog.retain(waiting);
            if read_queue || backlog.is_empty() {
                // A few rows per worker and tenant (an entity may have several rows), and
                // twice as many more as were passed over last time.
                let scan: Vec<(String, i64)> = tenants
                    .iter()
                    .map(|t| {
                        let skipped = passed_over.get(t).copied().unwrap_or(0);
                        (t.clone(), (workers as i64 * 4 + skipped * 2).min(SCAN))
                    })
                    .collect();
                match queue::due_work(&ctx.store, &scan).await {
                    Ok(due) => {
                        metrics::gauge!("syncledger_due_entities").set(due.len() as f64);
                        passed_over.clear();
                        for d in &due {
                            if !waiting(d) || d.places().any(|p| pool.brakes.holds(&p, now)) {
                                *passed_over.entry(d.tenant.clone()).or_insert(0) += 1;
                            }
                        }
                        backlog = due.into_iter().filter(waiting).collect();
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the pending queue failed"),
                }
            }
            // Give the free workers out fairly; what another process holds is set aside for a
            // while, and the next ones are picked in its place.
            let mut start: Vec<Due> = Vec::new();
            while pool.running.len() + start.len() < workers && !backlog.is_empty() {
                let free = workers - pool.running.len() - start.len();
                let running: Vec<&Due> = pool.running.values().chain(&start).collect();
                let total = running.len();
                let admits = |p: &fair::Place, n: usize| pool.brakes.admits(p, n, now, total);
                let wanted = turns.pick(&backlog, &running, free, admits);
                if wanted.is_empty() {
                    break;
                }
                backlog.retain(|d| !wanted.iter().any(|w| w.entity == d.entity));
                let ids: Vec<Uuid> = wanted.iter().map(|d| d.entity).collect();
                let Some(claimed) = leases.claim(&ids).await else {
                    break;
                };
                for work in wanted {
                    if claimed.contains(&work.entity) {
                        start.push(work);
                    } else {
                        elsewhere.insert(work.entity, now + HELD_ELSEWHERE);
                    }
                }
            }
            for work in start {
                pool.start(&self.jobs, work);
            }
            leases.renew(pool.running.values().map(|d| d.entity)).await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ctx.woken() => read_queue = true,
                Some(result) = pool.jobs.join_next_with_id(), if !pool.jobs.is_empty() => {
                    pool.ended(result);
                    read_queue = false;
                }
                _ = tokio::time::sleep(s.poll_interval) => read_queue = true,
            }
        }
        while let Some(result) = pool.jobs.join_next_with_id().await {
            pool.ended(result);
        }
        leases.give_back(&mut pool.ended).await;
    }
}
