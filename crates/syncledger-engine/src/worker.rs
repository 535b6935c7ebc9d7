//! Workers: find entities with work due, lease them, work them, one job per entity at a time.
//!
//! The lease (in the store, with an expiry) keeps processes on one PostgreSQL from working the
//! same entity at once and hands an entity over when its process dies; the stream's version check
//! stays the real guard (G9). A failing entity cools down in memory so one broken record does not
//! spin a worker.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use syncledger_core::projections::pending_queue;
use syncledger_store::RowQuery;
use tokio::sync::Semaphore;
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
        let result = self.process_entity(entity_id).await;
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
    /// One scheduler loop hands due entities to at most `workers` jobs. It reads the due queue
    /// (entity ids only) into a backlog and claims the backlog's leases in one statement; a job
    /// that ends frees a worker for the next entity of the backlog without another read. The
    /// queue is read again when the backlog runs dry, when the intake records new work, and
    /// every poll interval. Leases are kept while an entity has work (its echo usually follows
    /// within milliseconds), renewed for long jobs, and given back in batches once an entity has
    /// been idle for [`LINGER`], and at shutdown.
    pub async fn run_workers(&self, shutdown: CancellationToken) {
        // Writes a dead process left unanswered are settled before anything else (see `recovery`).
        if let Err(e) = self.resume_unanswered_writes().await {
            tracing::warn!(error = %e, "resuming unanswered writes failed");
        }
        let s = self.settings().clone();
        let workers = s.workers.max(1);
        let permits = Arc::new(Semaphore::new(workers));
        let mut leases = Leases::default();
        let mut busy: HashSet<Uuid> = HashSet::new();
        let mut backlog: VecDeque<Uuid> = VecDeque::new();
        let mut cooling: HashMap<Uuid, Instant> = HashMap::new();
        let mut jobs = JoinSet::new();
        let (ended_tx, mut ended_rx) = tokio::sync::mpsc::unbounded_channel::<(Uuid, bool)>();
        let mut read_queue = true;
        loop {
            while let Ok(ended) = ended_rx.try_recv() {
                job_ended(ended, &mut busy, &mut leases, &mut cooling);
            }
            cooling.retain(|_, until| *until > Instant::now());
            while jobs.try_join_next().is_some() {}
            leases.give_back_lingering(self).await;

            backlog.retain(|id| !busy.contains(id) && !cooling.contains_key(id));
            if read_queue || backlog.is_empty() {
                // A few rows per worker: an entity may have several rows, and the running
                // jobs' entities are at the head of the queue.
                let scan = (workers as i64 * 4 + busy.len() as i64 * 2).min(SCAN);
                match self.due_entities_limited(scan).await {
                    Ok(due) => {
                        metrics::gauge!("syncledger_due_entities").set(due.len() as f64);
                        backlog = due
                            .into_iter()
                            .filter(|id| !busy.contains(id) && !cooling.contains_key(id))
                            .take(workers * 2)
                            .collect();
                        let wanted: Vec<Uuid> = backlog.iter().copied().collect();
                        let held = leases.claim(self, &wanted, &busy).await;
                        backlog.retain(|id| held.contains(id));
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the pending queue failed"),
                }
            } else {
                // Long jobs keep their leases even when no read happens.
                leases.claim(self, &[], &busy).await;
            }
            while let Some(&id) = backlog.front() {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    break;
                };
                backlog.pop_front();
                busy.insert(id);
                leases.busy(id);
                let (ledger, ended) = (self.clone(), ended_tx.clone());
                jobs.spawn(async move {
                    let failed = match ledger.process_entity(id).await {
                        Ok(()) => false,
                        Err(e) => {
                            tracing::warn!(entity = %id, error = %e, "entity job failed; cooling down");
                            true
                        }
                    };
                    drop(permit);
                    let _ = ended.send((id, failed));
                });
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.woken() => read_queue = true,
                ended = ended_rx.recv() => {
                    if let Some(ended) = ended {
                        job_ended(ended, &mut busy, &mut leases, &mut cooling);
                    }
                    read_queue = false;
                }
                _ = tokio::time::sleep(s.poll_interval) => read_queue = true,
            }
        }
        while jobs.join_next().await.is_some() {}
        while let Ok((id, _)) = ended_rx.try_recv() {
            leases.idle(id);
        }
        leases.give_back(self, |_| true).await;
    }
}

/// Bookkeeping when a job ends: its worker is free, its lease idles, and if it failed its
/// entity cools down.
fn job_ended(
    (id, failed): (Uuid, bool),
    busy: &mut HashSet<Uuid>,
    leases: &mut Leases,
    cooling: &mut HashMap<Uuid, Instant>,
) {
    busy.remove(&id);
    leases.idle(id);
    if failed {
        cooling.insert(id, Instant::now() + COOL_DOWN);
    }
}

/// How long the pool keeps the lease of an entity whose job ended, in case more work for it
/// follows (the echo of a write usually does). Another process waits at most this long more.
const LINGER: Duration = Duration::from_secs(1);
/// How often the pool gives back the leases that have lingered: each give-back is a write
/// transaction the scheduler waits for (behind the appends on SQLite's one writer), so they are
/// batched instead of sent whenever a job ends. A lease goes back 1 to 1.25 s after its job.
const GIVE_BACK_EVERY: Duration = Duration::from_millis(250);

/// The leases this process holds, as far as the pool knows.
#[derive(Default)]
struct Leases {
    held: HashMap<Uuid, Held>,
    /// When lingering leases were last given back.
    given_back: Option<Instant>,
}

struct Held {
    /// When the lease was last claimed or renewed.
    claimed: Instant,
    /// When its last job ended; `None` while a job runs.
    idle_since: Option<Instant>,
}

impl Held {
    fn idle_for(&self, linger: Duration) -> bool {
        self.idle_since.is_some_and(|at| at.elapsed() >= linger)
    }
}

impl Leases {
    fn busy(&mut self, id: Uuid) {
        if let Some(h) = self.held.get_mut(&id) {
            h.idle_since = None;
        }
    }

    fn idle(&mut self, id: Uuid) {
        if let Some(h) = self.held.get_mut(&id) {
            h.idle_since = Some(Instant::now());
        }
    }

    /// Makes sure this process holds the leases of `start` and of the running jobs in `busy`,
    /// claiming (or renewing) in one batch those not held or held for a third of their TTL.
    /// Returns the entities of `start` it holds.
    async fn claim(
        &mut self,
        ledger: &Ledger,
        start: &[Uuid],
        busy: &HashSet<Uuid>,
    ) -> HashSet<Uuid> {
        let s = ledger.settings();
        let stale = |h: Option<&Held>| h.is_none_or(|h| h.claimed.elapsed() >= s.lease_ttl / 3);
        let wanted: Vec<Uuid> = start
            .iter()
            .chain(busy)
            .filter(|id| stale(self.held.get(id)))
            .copied()
            .collect();
        if !wanted.is_empty() {
            match ledger
                .store()
                .claim_leases(&wanted, &s.owner, s.lease_ttl)
                .await
            {
                Ok(claimed) => {
                    let claimed: HashSet<Uuid> = claimed.into_iter().collect();
                    for id in wanted {
                        if claimed.contains(&id) {
                            let idle_since = (!busy.contains(&id)).then(Instant::now);
                            self.held.insert(
                                id,
                                Held {
                                    claimed: Instant::now(),
                                    idle_since,
                                },
                            );
                        } else if self.held.remove(&id).is_some() && busy.contains(&id) {
                            tracing::warn!(entity = %id, "a long job lost its lease; the stream's version check still guards it");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "taking leases failed"),
            }
        }
        start
            .iter()
            .filter(|id| {
                self.held
                    .get(id)
                    .is_some_and(|h| h.claimed.elapsed() < s.lease_ttl)
            })
            .copied()
            .collect()
    }

    /// Gives back the leases idle for [`LINGER`], at most every [`GIVE_BACK_EVERY`].
    async fn give_back_lingering(&mut self, ledger: &Ledger) {
        if self
            .given_back
            .is_some_and(|at| at.elapsed() < GIVE_BACK_EVERY)
        {
            return;
        }
        self.given_back = Some(Instant::now());
        self.give_back(ledger, |lease| lease.idle_for(LINGER)).await;
    }

    /// Gives back, in one batch, the leases `which` selects.
    async fn give_back(&mut self, ledger: &Ledger, which: impl Fn(&Held) -> bool) {
        let ids: Vec<Uuid> = self
            .held
            .iter()
            .filter(|(_, h)| h.idle_since.is_some() && which(h))
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return;
        }
        match ledger
            .store()
            .release_leases(&ids, &ledger.settings().owner)
            .await
        {
            Ok(_) => ids.iter().for_each(|id| {
                self.held.remove(id);
            }),
            Err(e) => tracing::warn!(error = %e, "giving leases back failed"),
        }
    }
}
