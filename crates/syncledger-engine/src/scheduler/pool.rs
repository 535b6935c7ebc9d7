//! The worker pool's bookkeeping: the running jobs and the work each was given, the entities
//! cooling down, the leases to give back, and the brakes of the places that are down.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use syncledger_core::decide::retry::RetryPolicy;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::breaker::Brakes;
use super::cooling::Cooling;
use super::fair::{Due, Place};
use crate::error::EngineError;
use crate::job;

/// Why a job ended without finishing its work, as the pool needs it: which brake counts it,
/// and how long its entity is left alone.
#[derive(Debug)]
pub(crate) enum Down {
    /// A connected system was unavailable, and asked for this long (its `Retry-After`).
    System {
        system: String,
        retry_after: Option<Duration>,
    },
    /// The store was unavailable.
    Store,
    /// Anything else a job hands back (a concurrent change it could not settle, say).
    Other,
}

impl From<&EngineError> for Down {
    fn from(e: &EngineError) -> Self {
        match e {
            EngineError::SystemUnavailable {
                system,
                retry_after,
                ..
            } => Down::System {
                system: system.clone(),
                retry_after: *retry_after,
            },
            EngineError::Unavailable(_) => Down::Store,
            _ => Down::Other,
        }
    }
}

type Outcome = Result<(), Down>;

pub(crate) struct Pool {
    pub jobs: JoinSet<Outcome>,
    pub running: HashMap<tokio::task::Id, Due>,
    pub cooling: Cooling,
    /// Entities whose lease goes back (their jobs ended).
    pub ended: Vec<Uuid>,
    pub brakes: Brakes,
}

impl Pool {
    pub fn new(workers: usize, policy: RetryPolicy) -> Self {
        Self {
            jobs: JoinSet::new(),
            running: HashMap::new(),
            cooling: Cooling::new(policy),
            ended: Vec::new(),
            brakes: Brakes::new(workers),
        }
    }

    /// Starts the job of `work`'s entity.
    pub fn start(&mut self, jobs: &job::Env, work: Due) {
        let env = jobs.clone();
        let entity = work.entity;
        let handle = self.jobs.spawn(async move {
            job::run(&env, entity).await.map_err(|e| {
                tracing::warn!(entity = %entity, error = %e, "entity job failed; cooling down");
                Down::from(&e)
            })
        });
        self.running.insert(handle.id(), work);
    }

    /// Reaps every job that ended, and lets entities whose cool-down is over go.
    pub fn reap(&mut self) {
        while let Some(result) = self.jobs.try_join_next_with_id() {
            self.ended(result);
        }
        self.cooling.release(Instant::now());
    }

    /// Bookkeeping when a job ends: its worker is free; if it failed (or its task died, which
    /// `job::run` is there to prevent) its entity cools down (`cooling`), and a place that was
    /// down counts it (`breaker`); if it ended well, the brakes of its places are lifted.
    pub fn ended(&mut self, result: Result<(tokio::task::Id, Outcome), tokio::task::JoinError>) {
        let (task, outcome) = match result {
            Ok((task, outcome)) => (task, outcome),
            Err(e) => {
                tracing::error!(error = %e, "an entity job's task died");
                (e.id(), Err(Down::Other))
            }
        };
        let Some(work) = self.running.remove(&task) else {
            return;
        };
        let now = Instant::now();
        match outcome {
            Err(down) => {
                let retry_after = match &down {
                    Down::System { retry_after, .. } => *retry_after,
                    Down::Store | Down::Other => None,
                };
                let jitter = rand::rng().random_range(0.0..=1.0);
                self.cooling.failed(work.entity, retry_after, now, jitter);
                match down {
                    Down::System { system, .. } => {
                        let place = Place::new(&work.tenant, &system);
                        self.brakes.failed(Some(&place), now);
                    }
                    Down::Store => self.brakes.failed(None, now),
                    Down::Other => {}
                }
            }
            Ok(()) => {
                self.cooling.succeeded(work.entity);
                self.brakes.succeeded(work.places());
            }
        }
        self.ended.push(work.entity);
    }
}
