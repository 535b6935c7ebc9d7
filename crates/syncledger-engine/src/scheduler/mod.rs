//! The scheduler room: finds entities with work due, leases them, and runs one job per entity
//! at a time (the job room's [`job::run`]).
//!
//! A lease is held only while its entity's job runs: it is claimed when the job starts and given
//! back as soon as the scheduler sees the job end, before any new lease is claimed, so this
//! process never holds more leases than it has workers. After a `kill -9` only the entities
//! whose jobs were running (at most `workers`) wait for their leases to expire; everything else
//! queued is taken up at once by the next process. A job whose system is down cools down in
//! memory, longer with each failure in a row and never sooner than the system's `Retry-After`
//! (`cooling`), so one unreachable record does not spin a worker; a job that fails otherwise, or panics, is recorded and retried with backoff by
//! the job room itself.
//!
//! At start-up, writes a dead process left unanswered are settled before anything else
//! (`resume_unanswered_writes`): the record such a create made is found by its match keys or
//! its idempotency key and linked before its echo is looked at. If a user changed the record's
//! match keys meanwhile, deciding the echo's stream first would take the record for a new one
//! and create its twin in the origin: a duplicate (G2, G4).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use rand::Rng;
use syncledger_core::decide::retry::RetryPolicy;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::EngineError;
use crate::job;
use crate::settings::EngineSettings;

mod breaker;
mod cooling;
mod leases;
mod queue;

use breaker::Breaker;
use cooling::{COOL_DOWN, Cooling};
use leases::Leases;

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
    /// 3. reads the due queue (entity ids only) into a backlog when asked to: when the intake
    ///    recorded new work, when the backlog ran dry, and every poll interval;
    /// 4. claims, in one statement, the leases of as many backlog entities as there are free
    ///    workers, and starts a job for each one it got; an entity another process holds (a
    ///    dead one's, until its lease expires) is set aside for a second and the next backlog
    ///    entities are claimed in its place;
    /// 5. renews the leases of jobs that run for a third of the lease's TTL.
    ///
    /// When a whole round of jobs failed because something they depend on is down, no new job
    /// starts for a while (`breaker`), so an outage does not turn into a spin over the backlog.
    pub async fn run_workers(&self, shutdown: CancellationToken) {
        if let Err(e) = self.resume_unanswered_writes().await {
            tracing::warn!(error = %e, "resuming unanswered writes failed");
        }
        let s = self.settings.clone();
        let ctx = self.jobs.ctx.clone();
        let workers = s.workers.max(1);
        let mut leases = Leases::new(ctx.store.clone(), s.owner.clone(), s.lease_ttl);
        let mut pool = Pool::new(workers, self.jobs.retry);
        let mut backlog: VecDeque<Uuid> = VecDeque::new();
        // Entities another process (perhaps a dead one) holds: not asked for again before then.
        let mut elsewhere: HashMap<Uuid, Instant> = HashMap::new();
        let mut read_queue = true;
        loop {
            pool.reap();
            leases.give_back(&mut pool.ended).await;
            elsewhere.retain(|_, until| *until > Instant::now());
            let busy: HashSet<Uuid> = pool.running.values().copied().collect();
            let waiting = |id: &Uuid| {
                !busy.contains(id) && !pool.cooling.contains(id) && !elsewhere.contains_key(id)
            };

            backlog.retain(waiting);
            if read_queue || backlog.is_empty() {
                // A few rows per worker: an entity may have several rows, and the running
                // jobs' entities are at the head of the queue.
                let skipped = (busy.len() + elsewhere.len()) as i64;
                let scan = (workers as i64 * 4 + skipped * 2).min(SCAN);
                match queue::due_entities(&ctx.store, scan).await {
                    Ok(due) => {
                        metrics::gauge!("syncledger_due_entities").set(due.len() as f64);
                        backlog = due.into_iter().filter(waiting).take(workers * 2).collect();
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the pending queue failed"),
                }
            }
            // Claim as many as there are free workers; what another process holds is set
            // aside for a while, and the next ones are tried in its place.
            let mut start = Vec::new();
            let may_start = pool.breaker.may_start(Instant::now());
            while may_start && pool.running.len() + start.len() < workers && !backlog.is_empty() {
                let free = workers - pool.running.len() - start.len();
                let wanted: Vec<Uuid> = backlog.drain(..free.min(backlog.len())).collect();
                let Some(claimed) = leases.claim(&wanted).await else {
                    break;
                };
                for id in wanted.iter().filter(|id| !claimed.contains(id)) {
                    elsewhere.insert(*id, Instant::now() + HELD_ELSEWHERE);
                }
                start.extend(claimed);
            }
            for id in start {
                pool.start(&self.jobs, id);
            }
            leases.renew(pool.running.values().copied()).await;
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

/// The running jobs, the entities cooling down, the entities whose lease goes back, and the
/// brake on starting jobs while what they depend on is down.
struct Pool {
    /// Each job ends with `Err(retry_after)` when something it depends on was down.
    jobs: JoinSet<Result<(), Option<Duration>>>,
    running: HashMap<tokio::task::Id, Uuid>,
    cooling: Cooling,
    ended: Vec<Uuid>,
    breaker: Breaker,
}

impl Pool {
    fn new(workers: usize, policy: RetryPolicy) -> Self {
        Self {
            jobs: JoinSet::new(),
            running: HashMap::new(),
            cooling: Cooling::new(policy),
            ended: Vec::new(),
            breaker: Breaker::new(workers),
        }
    }

    /// Starts the job of `entity`.
    fn start(&mut self, jobs: &job::Env, entity: Uuid) {
        let env = jobs.clone();
        let handle = self.jobs.spawn(async move {
            job::run(&env, entity).await.map_err(|e| {
                tracing::warn!(entity = %entity, error = %e, "entity job failed; cooling down");
                e.retry_after()
            })
        });
        self.running.insert(handle.id(), entity);
    }

    /// Reaps every job that ended, and lets entities whose cool-down is over go.
    fn reap(&mut self) {
        while let Some(result) = self.jobs.try_join_next_with_id() {
            self.ended(result);
        }
        self.cooling.release(Instant::now());
    }

    /// Bookkeeping when a job ends: its worker is free, and if it failed (or its task died,
    /// which `job::run` is there to prevent) its entity cools down (`cooling`).
    fn ended(
        &mut self,
        result: Result<(tokio::task::Id, Result<(), Option<Duration>>), tokio::task::JoinError>,
    ) {
        let (task, outcome) = match result {
            Ok((task, outcome)) => (task, outcome),
            Err(e) => {
                tracing::error!(error = %e, "an entity job's task died");
                (e.id(), Err(Some(COOL_DOWN)))
            }
        };
        let id = self.running.remove(&task).unwrap_or_default();
        let now = Instant::now();
        match outcome {
            Err(retry_after) => {
                let jitter = rand::rng().random_range(0.0..=1.0);
                self.cooling.failed(id, retry_after, now, jitter);
                self.breaker.failed(now);
            }
            Ok(()) => {
                self.cooling.succeeded(id);
                self.breaker.succeeded();
            }
        }
        self.ended.push(id);
    }
}
