//! The leases this process holds for its running jobs, and when each was claimed or renewed.
//!
//! A lease (in the store, with an expiry) keeps processes on one PostgreSQL from working the same
//! entity at once and hands an entity over when its process dies; the stream's version check
//! stays the real guard (G9). Every call is one statement for the whole batch.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use syncledger_store::Store;
use uuid::Uuid;

pub(crate) struct Leases {
    store: Store,
    owner: String,
    ttl: Duration,
    held: HashMap<Uuid, Instant>,
}

impl Leases {
    pub fn new(store: Store, owner: String, ttl: Duration) -> Self {
        Self {
            store,
            owner,
            ttl,
            held: HashMap::new(),
        }
    }

    /// Claims the leases of `start`; returns the entities now held, or `None` when the store
    /// could not be asked.
    pub async fn claim(&mut self, start: &[Uuid]) -> Option<Vec<Uuid>> {
        if start.is_empty() {
            return Some(Vec::new());
        }
        match self.store.claim_leases(start, &self.owner, self.ttl).await {
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

    /// Renews the leases among `running` claimed a third of the TTL ago.
    pub async fn renew(&mut self, running: impl Iterator<Item = Uuid>) {
        let stale: Vec<Uuid> = running
            .filter(|id| {
                self.held
                    .get(id)
                    .is_some_and(|at| at.elapsed() >= self.ttl / 3)
            })
            .collect();
        if stale.is_empty() {
            return;
        }
        match self.store.claim_leases(&stale, &self.owner, self.ttl).await {
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

    /// Gives back the leases of the jobs that ended (emptying `ended`).
    pub async fn give_back(&mut self, ended: &mut Vec<Uuid>) {
        if ended.is_empty() {
            return;
        }
        match self.store.release_leases(ended, &self.owner).await {
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
