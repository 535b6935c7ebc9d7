//! Workers: find entities with work due, lease them, work them, one job per entity at a time.
//!
//! The lease (in the store, with an expiry) keeps processes on one PostgreSQL from working the
//! same entity at once and hands an entity over when its process dies; the stream's version check
//! stays the real guard (G9). A failing entity cools down in memory so one broken record does not
//! spin a worker.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
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
        let rows = self.store().rows(pending_queue::NAME, &query).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.entity_id)
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
    /// Returns the number of entity jobs run.
    pub async fn run_until_idle(&self, max_jobs: usize) -> Result<usize, EngineError> {
        let mut jobs = 0;
        while jobs < max_jobs {
            let due = self.due_entities().await?;
            if due.is_empty() {
                break;
            }
            for id in due {
                self.work_entity(id).await?;
                jobs += 1;
            }
        }
        Ok(jobs)
    }

    /// The worker pool: runs until `shutdown`, then lets jobs in flight finish.
    ///
    /// One scheduler loop hands due entities to at most `workers` jobs. Leases are taken and
    /// given back in batches: each pass gives back the leases of the jobs that ended since the
    /// last one, renews those of long jobs, and claims the entities it is about to start, all
    /// in a few statements however many jobs that is.
    pub async fn run_workers(&self, shutdown: CancellationToken) {
        // Writes a dead process left unanswered are settled before anything else (see `recovery`).
        if let Err(e) = self.resume_unanswered_writes().await {
            tracing::warn!(error = %e, "resuming unanswered writes failed");
        }
        let s = self.settings().clone();
        let permits = Arc::new(Semaphore::new(s.workers.max(1)));
        // Entities with a job running, and when their lease was last claimed or renewed.
        let busy: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
        let mut cooling: HashMap<Uuid, Instant> = HashMap::new();
        let mut jobs = JoinSet::new();
        let (ended_tx, mut ended_rx) = tokio::sync::mpsc::unbounded_channel::<(Uuid, bool)>();
        let mut to_release: Vec<Uuid> = Vec::new();
        loop {
            while let Ok((id, failed)) = ended_rx.try_recv() {
                to_release.push(id);
                if failed {
                    cooling.insert(id, Instant::now() + COOL_DOWN);
                }
            }
            cooling.retain(|_, until| *until > Instant::now());
            while jobs.try_join_next().is_some() {}
            if !to_release.is_empty() {
                match self.store().release_leases(&to_release, &s.owner).await {
                    Ok(_) => to_release.clear(),
                    Err(e) => tracing::warn!(error = %e, "giving leases back failed"),
                }
            }
            // A pass looks at a few rows per free worker, not the whole due queue: every row
            // read costs, and a pass runs after every job.
            let running = busy.lock().expect("busy set").len() as i64;
            let scan = (permits.available_permits() as i64 * 4).max(8) + running * 4;
            let due = match self.due_entities_limited(scan.min(SCAN)).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the pending queue failed");
                    Vec::new()
                }
            };
            metrics::gauge!("syncledger_due_entities").set(due.len() as f64);
            let start: Vec<Uuid> = {
                let busy = busy.lock().expect("busy set");
                let mut start: Vec<Uuid> = due
                    .into_iter()
                    .filter(|id| !cooling.contains_key(id) && !busy.contains_key(id))
                    .collect();
                start.truncate(permits.available_permits());
                start
            };
            let renew: Vec<Uuid> = busy
                .lock()
                .expect("busy set")
                .iter()
                .filter(|(_, claimed)| claimed.elapsed() >= s.lease_ttl / 3)
                .map(|(id, _)| *id)
                .collect();
            let claim: Vec<Uuid> = start.iter().chain(&renew).copied().collect();
            let claimed = match self
                .store()
                .claim_leases(&claim, &s.owner, s.lease_ttl)
                .await
            {
                Ok(claimed) => claimed.into_iter().collect::<HashSet<_>>(),
                Err(e) => {
                    tracing::warn!(error = %e, "taking leases failed");
                    HashSet::new()
                }
            };
            for id in renew {
                if claimed.contains(&id) {
                    busy.lock().expect("busy set").insert(id, Instant::now());
                } else {
                    tracing::warn!(entity = %id, "a long job lost its lease; the stream's version check still guards it");
                }
            }
            for id in start.into_iter().filter(|id| claimed.contains(id)) {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    to_release.push(id);
                    break;
                };
                busy.lock().expect("busy set").insert(id, Instant::now());
                let (ledger, busy, ended) = (self.clone(), busy.clone(), ended_tx.clone());
                jobs.spawn(async move {
                    let failed = match ledger.process_entity(id).await {
                        Ok(()) => false,
                        Err(e) => {
                            tracing::warn!(entity = %id, error = %e, "entity job failed; cooling down");
                            true
                        }
                    };
                    busy.lock().expect("busy set").remove(&id);
                    let _ = ended.send((id, failed));
                    drop(permit);
                    ledger.wake_workers();
                });
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.woken() => {}
                _ = tokio::time::sleep(s.poll_interval) => {}
            }
        }
        while jobs.join_next().await.is_some() {}
        while let Ok((id, _)) = ended_rx.try_recv() {
            to_release.push(id);
        }
        if let Err(e) = self.store().release_leases(&to_release, &s.owner).await {
            tracing::warn!(error = %e, "giving leases back at shutdown failed");
        }
    }
}
