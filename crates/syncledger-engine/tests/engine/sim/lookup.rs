//! Jobs overlapping between two reads: a job is held at the engine's gate between its lookups
//! of whose a record is (`GatePoint::OwnerLookup`: `id_mappings` read, `round_trip_context` not
//! yet), while the world goes on around it: webhooks, user edits, a paused write answering (see
//! `overlap`), and other processes working any entity, the held one included. Then it goes on
//! with what it read.
//!
//! This is the interleaving of issue 27's duplicate (two processes linking one record to two
//! entities), chosen by the seed; only one job runs at a time, so a seed replays exactly.

use rand::Rng;
use rand::seq::IndexedRandom;
use syncledger_engine::{EngineError, GatePoint};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::driver::{Sim, short};
use crate::gates::Held;
use crate::harness::{CRM, ERP};

/// A job held between its lookups.
pub(super) struct AtLookup {
    entity: Uuid,
    before: u64,
    held: Held,
    job: JoinHandle<Result<bool, EngineError>>,
}

impl Sim {
    pub(super) async fn overlap_at_lookup(&mut self) -> String {
        let at = match self.hold_at_lookup(None).await {
            Ok(at) => at,
            Err(line) => return line,
        };
        let mut lines = Vec::new();
        for _ in 0..self.rng.random_range(1..=3) {
            let line = match self.rng.random_range(0..4) {
                0 => self.user_op(),
                1 => self.deliver_some().await,
                _ => self.work_elsewhere().await,
            };
            lines.push(line);
        }
        let meanwhile = lines.join("; ");
        self.release_lookup(at, &meanwhile).await
    }

    /// Starts a job on `entity` (or a random due one) and waits until it is held between its
    /// lookups; or says why it is not (nothing due, finished without looking, a crash).
    pub(super) async fn hold_at_lookup(
        &mut self,
        entity: Option<Uuid>,
    ) -> Result<AtLookup, String> {
        let due = self.due().await;
        let Some(entity) = entity.or_else(|| due.choose(&mut self.rng).copied()) else {
            return Err("lookup overlap: nothing due".into());
        };
        let mut held = self.gates.hold_at(GatePoint::OwnerLookup, entity);
        let before = self.w.state(entity).await.version;
        let ledger = self.w.ledger.clone();
        let mut job = tokio::spawn(async move { ledger.work_entity(entity).await });
        let head = format!("lookup overlap {}", short(entity));
        let crashed = tokio::select! {
            biased;
            () = self.w.crm_conn.crashed() => Some(CRM),
            () = self.w.erp_conn.crashed() => Some(ERP),
            () = held.reached_or_never() => None,
            done = &mut job => {
                if let Ok(Err(e)) = done {
                    self.engine_errors.push(format!("entity {entity}: {e}"));
                }
                let appended = self.appended_since(entity, before).await;
                return Err(format!("{head}: finished without looking -> {appended}"));
            }
        };
        if let Some(at) = crashed {
            job.abort();
            return Err(format!(
                "{head}: CRASH in a write to {at}, {}",
                self.restart().await
            ));
        }
        Ok(AtLookup {
            entity,
            before,
            held,
            job,
        })
    }

    /// Lets the held job go on with what it read, and says what it appended.
    pub(super) async fn release_lookup(&mut self, at: AtLookup, meanwhile: &str) -> String {
        let AtLookup {
            entity,
            before,
            held,
            mut job,
        } = at;
        held.release();
        let crashed = tokio::select! {
            biased;
            () = self.w.crm_conn.crashed() => Some(CRM),
            () = self.w.erp_conn.crashed() => Some(ERP),
            done = &mut job => {
                if let Ok(Err(e)) = done {
                    self.engine_errors.push(format!("entity {entity}: {e}"));
                }
                None
            }
        };
        let appended = self.appended_since(entity, before).await;
        let line = format!(
            "lookup overlap {}: held; meanwhile [{meanwhile}]; released -> {appended}",
            short(entity)
        );
        match crashed {
            Some(at) => {
                job.abort();
                format!(
                    "{line} -> CRASH in a write to {at}, {}",
                    self.restart().await
                )
            }
            None => line,
        }
    }
}
