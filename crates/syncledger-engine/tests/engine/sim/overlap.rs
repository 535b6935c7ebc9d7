//! Overlapping jobs: a job is held inside one of its writes (applied, webhook emitted, no answer
//! yet) while the world goes on around it, including a second process that takes over expired
//! leases and may work the very same entity. Then the held write answers and the job finishes.
//!
//! This is how the seed's races look when they happen for real, chosen by the seed instead of by
//! thread timing: only one of the two jobs ever runs at a time, so a seed still replays exactly.

use std::time::Duration;

use rand::Rng;
use rand::seq::IndexedRandom;
use syncledger_sim::Op;

use super::driver::{Sim, short};
use crate::harness::{CRM, ERP, first_stream};

enum Held {
    /// The job reached the paused write.
    Paused,
    Finished,
    Crashed(&'static str),
}

impl Sim {
    pub(super) async fn overlap(&mut self) -> String {
        let due = self.due().await;
        let Some(entity) = due.choose(&mut self.rng).copied() else {
            return "overlap: nothing due".into();
        };
        let system = if self.rng.random_bool(0.5) { CRM } else { ERP };
        let op = *[Op::Create, Op::Update, Op::Delete]
            .choose(&mut self.rng)
            .expect("an op");
        let mut paused = self.w.sim(system).pause_next(op);
        let before = self.w.state(entity).await.version;
        let ledger = self.w.ledger.clone();
        let mut job = tokio::spawn(async move { ledger.work_entity(entity).await });
        let mut written = None;
        let held = tokio::select! {
            biased;
            () = self.w.crm_conn.crashed() => Held::Crashed(CRM),
            () = self.w.erp_conn.crashed() => Held::Crashed(ERP),
            applied = paused.applied() => match applied {
                Some(record) => {
                    written = Some(record);
                    Held::Paused
                }
                None => Held::Finished,
            },
            done = &mut job => {
                if let Ok(Err(e)) = done {
                    self.engine_errors.push(format!("entity {entity}: {e}"));
                }
                Held::Finished
            }
        };
        let head = format!("overlap {} holding the next {system} {op:?}", short(entity));
        match held {
            Held::Finished => {
                // The job never made that request: the pause stays queued but inert.
                drop(paused);
                let appended = self.appended_since(entity, before).await;
                format!("{head}: finished without it -> {appended}")
            }
            Held::Crashed(at) => {
                job.abort();
                // The pause was never reached: it must not hold a write of the next process.
                drop(paused);
                format!("{head}: CRASH in a write to {at}, {}", self.restart().await)
            }
            Held::Paused => {
                // Another job is held between its lookups across what follows (the interleaving
                // of issue 27's duplicate) and goes on after the answer: for a create, always,
                // the job of its record's `created` notice, delivered, in its own stream; else
                // sometimes, a random due one.
                let mut lines = Vec::new();
                let mut at_lookup = None;
                let notice = match (op, &written) {
                    (Op::Create, Some(record)) => {
                        self.deliver_all().await;
                        Some(first_stream(system, &record.id))
                    }
                    _ => None,
                };
                if notice.is_some() || self.rng.random_bool(0.5) {
                    match self.hold_at_lookup(notice).await {
                        Ok(at) => at_lookup = Some(at),
                        Err(line) => lines.push(line),
                    }
                }
                for _ in 0..self.rng.random_range(1..=3) {
                    let line = match self.rng.random_range(0..4) {
                        0 => self.user_op(),
                        1 => self.deliver_some().await,
                        _ => self.work_elsewhere().await,
                    };
                    lines.push(line);
                }
                paused.release();
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
                if let Some(held) = at_lookup {
                    let line = self.release_lookup(held, "the paused write answered").await;
                    lines.push(line);
                }
                let meanwhile = lines.join("; ");
                if let Some(at) = crashed {
                    job.abort();
                    let restart = self.restart().await;
                    return format!(
                        "{head}: paused; meanwhile [{meanwhile}]; released -> {appended} -> CRASH in a write to {at}, {restart}"
                    );
                }
                format!("{head}: paused; meanwhile [{meanwhile}]; released -> {appended}")
            }
        }
    }

    /// Another process works a random due entity (maybe the held one: its lease has expired).
    pub(super) async fn work_elsewhere(&mut self) -> String {
        let due = self.due().await;
        let Some(entity) = due.choose(&mut self.rng).copied() else {
            return "other process: nothing due".into();
        };
        self.others += 1;
        let other = self
            .w
            .second_process(&format!("other-{}", self.others), Duration::ZERO)
            .await;
        let before = self.w.state(entity).await.version;
        let crashed = tokio::select! {
            biased;
            () = self.w.crm_conn.crashed() => Some(CRM),
            () = self.w.erp_conn.crashed() => Some(ERP),
            done = other.work_entity(entity) => {
                if let Err(e) = done {
                    self.engine_errors.push(format!("entity {entity}: {e}"));
                }
                None
            }
        };
        let appended = self.appended_since(entity, before).await;
        match crashed {
            // Only that process died; the held job's process lives on.
            Some(at) => format!(
                "other process works {} -> {appended} -> CRASH in a write to {at}",
                short(entity)
            ),
            None => format!("other process works {} -> {appended}", short(entity)),
        }
    }
}
