//! Workers: find entities with work due, lease them, work them, one job per entity at a time.
//!
//! The lease (in the store, with an expiry) keeps processes on one PostgreSQL from working the
//! same entity at once and hands an entity over when its process dies; the stream's version check
//! stays the real guard (G9). A lease is held only while its entity's job runs: it is claimed
//! when the job starts and given back as soon as the scheduler sees the job end, before any new
//! lease is claimed, so this process never holds more leases than it has workers. After a
//! `kill -9` only the entities whose jobs were running (at most `workers`) wait for their
//! leases to expire; everything else queued is taken up at once by the next process. A job
//! whose system is down cools down in memory so one unreachable record does not spin a worker;
//! a job that fails otherwise, or panics, is recorded and retried with backoff (`failures`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use chrono::Utc;
use syncledger_core::projections::pending_queue;
use syncledger_store::RowQuery;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::EngineError;
use crate::ledger::Ledger;

/// How many due queue rows a scheduler pass looks at.
const SCAN: i64 = 512;
/// How long an entity whose job failed is left alone.
const COOL_DOWN: Duration = Duration::from_secs(2);

impl Ledger {
    /// Entities with work due now, oldest first.
    pub async fn due_entities(&self) -> Result<Vec<Uuid>, EngineError> {
        self.due_entities_limited(SCAN).await
    }

    /// The entities of the oldest `rows` due queue rows.
    async fn due_entities_limited(&self, rows: i64) -> Result<Vec<Uuid>, EngineError> {
        let query = RowQuery {
            tenant: None,
            sort_key_from: None,
            sort_key_to: Some(pending_queue::due_sort_key(Utc::now())),
            after: None,
            limit: rows,
        };
        let mut seen = HashSet::new();
        let rows = self
            .store()
            .row_entities(pending_queue::NAME, &query)
            .await?;
        Ok(rows
            .into_iter()
            .flatten()
            .filter(|id| seen.insert(*id))
            .collect())
    }

    /// Leases and works one entity; returns false when another worker holds it.
    pub async fn work_entity(&self, entity_id: Uuid) -> Result<bool, EngineError> {
        let s = self.settings();
        if !self
            .store()
            .try_lease(entity_id, &s.owner, s.lease_ttl)
            .await?
        {
            return Ok(false);
        }
        let result = self.run_job(entity_id).await;
        self.store().release_lease(entity_id, &s.owner).await?;
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
    pub async fn run_workers(&self, shutdown: CancellationToken) {
        // Writes a dead process left unanswered are settled before anything else (see `recovery`).
        if let Err(e) = self.resume_unanswered_writes().await {
            tracing::warn!(error = %e, "resuming unanswered writes failed");
        }
        let s = self.settings().clone();
        let workers = s.workers.max(1);
        let mut leases = Leases::default();
        let mut running: HashMap<tokio::task::Id, Uuid> = HashMap::new();
        let mut backlog: VecDeque<Uuid> = VecDeque::new();
        let mut cooling: HashMap<Uuid, Instant> = HashMap::new();
        // Entities another process (perhaps a dead one) holds: not asked for again before then.
        let mut elsewhere: HashMap<Uuid, Instant> = HashMap::new();
        let mut jobs: JoinSet<bool> = JoinSet::new();
        let mut ended: Vec<Uuid> = Vec::new();
        let mut read_queue = true;
        loop {
            while let Some(result) = jobs.try_join_next_with_id() {
                ended.push(job_ended(result, &mut running, &mut cooling));
            }
            leases.give_back(self, &mut ended).await;
            cooling.retain(|_, until| *until > Instant::now());
            elsewhere.retain(|_, until| *until > Instant::now());
            let busy: HashSet<Uuid> = running.values().copied().collect();
            let waiting = |id: &Uuid| {
                !busy.contains(id) && !cooling.contains_key(id) && !elsewhere.contains_key(id)
            };

            backlog.retain(waiting);
            if read_queue || backlog.is_empty() {
                // A few rows per worker: an entity may have several rows, and the running
                // jobs' entities are at the head of the queue.
                let skipped = (busy.len() + elsewhere.len()) as i64;
                let scan = (workers as i64 * 4 + skipped * 2).min(SCAN);
                match self.due_entities_limited(scan).await {
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
            while running.len() + start.len() < workers && !backlog.is_empty() {
                let free = workers - running.len() - start.len();
                let wanted: Vec<Uuid> = backlog.drain(..free.min(backlog.len())).collect();
                let Some(claimed) = leases.claim(self, &wanted).await else {
                    break;
                };
                for id in wanted.iter().filter(|id| !claimed.contains(id)) {
                    elsewhere.insert(*id, Instant::now() + HELD_ELSEWHERE);
                }
                start.extend(claimed);
            }
            for id in start {
                let ledger = self.clone();
                let handle = jobs.spawn(async move {
                    match ledger.run_job(id).await {
                        Ok(()) => false,
                        Err(e) => {
                            tracing::warn!(entity = %id, error = %e, "entity job failed; cooling down");
                            true
                        }
                    }
                });
                running.insert(handle.id(), id);
            }
            leases.renew(self, &running).await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.woken() => read_queue = true,
                Some(result) = jobs.join_next_with_id(), if !jobs.is_empty() => {
                    ended.push(job_ended(result, &mut running, &mut cooling));
                    read_queue = false;
                }
                _ = tokio::time::sleep(s.poll_interval) => read_queue = true,
            }
        }
        while let Some(result) = jobs.join_next_with_id().await {
            ended.push(job_ended(result, &mut running, &mut cooling));
        }
        leases.give_back(self, &mut ended).await;
    }
}

/// Bookkeeping when a job ends: its worker is free, and if it failed (or its task died, which
/// `run_job` is there to prevent) its entity cools down. Returns the entity, whose lease goes back.
fn job_ended(
    result: Result<(tokio::task::Id, bool), tokio::task::JoinError>,
    running: &mut HashMap<tokio::task::Id, Uuid>,
    cooling: &mut HashMap<Uuid, Instant>,
) -> Uuid {
    let (task, failed) = match result {
        Ok((task, failed)) => (task, failed),
        Err(e) => {
            tracing::error!(error = %e, "an entity job's task died");
            (e.id(), true)
        }
    };
    let id = running.remove(&task).unwrap_or_default();
    if failed {
        cooling.insert(id, Instant::now() + COOL_DOWN);
    }
    id
}

/// How long an entity whose lease another process holds is left out of this process's backlog.
const HELD_ELSEWHERE: Duration = Duration::from_secs(1);

/// The leases this process holds for its running jobs, and when each was claimed or renewed.
#[derive(Default)]
struct Leases {
    held: HashMap<Uuid, Instant>,
}

impl Leases {
    /// Claims, in one statement, the leases of `start`; returns the entities now held, or
    /// `None` when the store could not be asked.
    async fn claim(&mut self, ledger: &Ledger, start: &[Uuid]) -> Option<Vec<Uuid>> {
        if start.is_empty() {
            return Some(Vec::new());
        }
        let s = ledger.settings();
        match ledger
            .store()
            .claim_leases(start, &s.owner, s.lease_ttl)
            .await
        {
            Ok(claimed) => {
                for id in &claimed {
                    self.held.insert(*id, Instant::now());
                }
                Some(claimed)
            }
            Err(e) => {
                tracing::warn!(error = %e, "taking leases failed");
                None
            }
        }
    }

    /// Renews, in one statement, the leases of running jobs claimed a third of the TTL ago.
    async fn renew(&mut self, ledger: &Ledger, running: &HashMap<tokio::task::Id, Uuid>) {
        let s = ledger.settings();
        let stale: Vec<Uuid> = running
            .values()
            .filter(|id| {
                self.held
                    .get(id)
                    .is_some_and(|at| at.elapsed() >= s.lease_ttl / 3)
            })
            .copied()
            .collect();
        if stale.is_empty() {
            return;
        }
        match ledger
            .store()
            .claim_leases(&stale, &s.owner, s.lease_ttl)
            .await
        {
            Ok(claimed) => {
                for id in stale {
                    if claimed.contains(&id) {
                        self.held.insert(id, Instant::now());
                    } else {
                        tracing::warn!(entity = %id, "a long job lost its lease; the stream's version check still guards it");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "renewing leases failed"),
        }
    }

    /// Gives back, in one statement, the leases of the jobs that ended (emptying `ended`).
    async fn give_back(&mut self, ledger: &Ledger, ended: &mut Vec<Uuid>) {
        if ended.is_empty() {
            return;
        }
        match ledger
            .store()
            .release_leases(ended, &ledger.settings().owner)
            .await
        {
            Ok(_) => {
                for id in ended.drain(..) {
                    self.held.remove(&id);
                }
            }
            // Kept for the next round; the leases expire on their own if the store stays away.
            Err(e) => tracing::warn!(error = %e, "giving leases back failed"),
        }
    }
}
