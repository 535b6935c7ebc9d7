//! The simulation driver: from one seed, a run of steps that a busy, unreliable world could
//! produce. Users edit both systems; webhooks arrive late, twice, batched or out of order; work
//! runs on a random due entity; writes fail, lose their answers, or kill the process mid-call.
//!
//! Every choice comes from one `StdRng` seeded with the run's seed, and everything the ledger
//! sees is deterministic too (logical webhook clocks, sequential record ids, entity ids derived
//! from records, no retry jitter), so a seed replays the same run. Each step appends a line to
//! the trace that a failing run prints.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use syncledger_core::config::OnDelete;
use syncledger_core::events::SyncEvent;
use syncledger_sim::Webhook;
use uuid::Uuid;

use super::edits::Edit;
use crate::gates::Gates;
use crate::harness::{CRM, Db, ERP, World, settings};

/// Transient faults a run may inject per system and operation: below the retry budget, so no
/// write is dead-lettered (a dead letter waits for a person and is checked as a problem).
pub(super) const FAULT_BUDGET: u32 = 3;

pub type Trace = Arc<Mutex<Vec<String>>>;

pub struct Sim {
    pub w: World,
    pub(super) rng: StdRng,
    trace: Trace,
    /// Taken from the systems' outboxes, not yet delivered.
    undelivered: Vec<(&'static str, Webhook)>,
    delivered: Vec<(&'static str, Webhook)>,
    pub(super) next_email: u32,
    pub(super) faults: BTreeMap<(&'static str, u8), u32>,
    pub engine_errors: Vec<String>,
    /// Processes started beside the main one (by overlapping jobs), for their owner names.
    pub(super) others: u32,
    /// The run started on existing records: initial-sync steps are among its steps.
    pub(super) bringup: bool,
    /// Where jobs are held between their reads (`lookup`).
    pub(super) gates: Gates,
    /// A person retries dead letters, on systems that send ETags (`operator`).
    pub(super) operator: bool,
    /// The user edits noted in a run of concurrent edits ([`super::edits`]), `None` elsewhere.
    pub(super) edits: Option<Vec<Edit>>,
}

impl Sim {
    pub async fn new(seed: u64, on_delete: OnDelete, trace: Trace) -> Sim {
        let mut settings = settings("process-1");
        settings.max_attempts = FAULT_BUDGET + 2;
        settings.initial_sync_page = 3;
        let gates = Gates::default();
        settings.gate = Some(gates.gate());
        let w = World::with(Db::sqlite(), on_delete, settings).await;
        Sim {
            w,
            rng: StdRng::seed_from_u64(seed),
            trace,
            undelivered: Vec::new(),
            delivered: Vec::new(),
            next_email: 0,
            faults: BTreeMap::new(),
            engine_errors: Vec::new(),
            others: 0,
            bringup: false,
            gates,
            operator: false,
            edits: None,
        }
    }

    /// A run where users also edit both records of a linked pair at once, both systems sending
    /// ETags when `etags`, with every user edit noted for G10's check.
    pub async fn with_concurrent_edits(seed: u64, etags: bool, trace: Trace) -> Sim {
        let mut sim = Sim::new(seed, OnDelete::Propagate, trace).await;
        sim.w.crm.set_etags(etags);
        sim.w.erp.set_etags(etags);
        sim.edits = Some(Vec::new());
        sim
    }

    /// A run that starts on systems already holding records, its initial sync read in pages of
    /// three interleaved with everything else.
    pub async fn bringing_up(seed: u64, on_delete: OnDelete, trace: Trace) -> Sim {
        let mut sim = Sim::new(seed, on_delete, trace).await;
        sim.bringup = true;
        sim.existing_records().await;
        sim
    }

    pub(super) fn note(&self, line: String) {
        self.trace.lock().expect("trace").push(line);
    }

    /// Runs 30 to 60 random steps.
    pub async fn run(&mut self) {
        let steps = self.rng.random_range(30..=60);
        for step in 0..steps {
            // Only a bring-up run draws this, so the other runs' seeds replay as before.
            if self.bringup && self.rng.random_bool(0.2) {
                let line = self.initial_sync_step().await;
                self.note(format!("{step:>3}: {line}"));
                continue;
            }
            // Likewise only a run of concurrent edits draws this.
            if self.edits.is_some() && self.rng.random_bool(0.2) {
                let line = self.concurrent_edit().await;
                self.note(format!("{step:>3}: {line}"));
                continue;
            }
            // Only an operated run draws this, so the other runs' seeds replay as before.
            if self.operator && self.rng.random_bool(0.12) {
                let line = self.operator_step().await;
                self.note(format!("{step:>3}: {line}"));
                continue;
            }
            let roll = self.rng.random_range(0..100);
            let line = match roll {
                0..28 => self.user_op(),
                28..56 => self.deliver_some().await,
                56..78 => self.work_one().await,
                78..83 => self.overlap().await,
                83..86 => self.overlap_at_lookup().await,
                86..92 => self.inject_fault(),
                92..97 => self.arm_crash(),
                _ => self.restart().await,
            };
            self.note(format!("{step:>3}: {line}"));
        }
    }

    // ----- webhooks -----

    fn take_outboxes(&mut self) {
        for system in [CRM, ERP] {
            let drained = self.w.sim(system).drain_webhooks();
            self.undelivered
                .extend(drained.into_iter().map(|w| (system, w)));
        }
    }

    pub(super) async fn deliver_some(&mut self) -> String {
        self.take_outboxes();
        let roll = self.rng.random_range(0..100);
        if roll < 8 && !self.delivered.is_empty() {
            let (system, again) = self
                .delivered
                .choose(&mut self.rng)
                .expect("a webhook")
                .clone();
            self.w.ingest(system, std::slice::from_ref(&again)).await;
            return format!("redeliver {system} {}", describe(&again));
        }
        if self.undelivered.is_empty() {
            return "deliver: nothing to deliver".into();
        }
        let system = self.undelivered.choose(&mut self.rng).expect("a webhook").0;
        let of_system: Vec<usize> = (0..self.undelivered.len())
            .filter(|i| self.undelivered[*i].0 == system)
            .collect();
        let picked: Vec<usize> = match roll {
            // In order: the oldest webhook of a system.
            0..60 => vec![of_system[0]],
            // Out of order: any of them.
            60..88 => vec![*of_system.choose(&mut self.rng).expect("one")],
            // A batch of up to three, in outbox order.
            _ => of_system
                .iter()
                .take(self.rng.random_range(1..=3))
                .copied()
                .collect(),
        };
        let batch: Vec<Webhook> = picked
            .iter()
            .map(|i| self.undelivered[*i].1.clone())
            .collect();
        for i in picked.iter().rev() {
            let taken = self.undelivered.remove(*i);
            self.delivered.push(taken);
        }
        self.w.ingest(system, &batch).await;
        let names: Vec<String> = batch.iter().map(describe).collect();
        format!("deliver {system} [{}]", names.join(", "))
    }

    /// Delivers everything taken or waiting, in order.
    pub async fn deliver_all(&mut self) -> usize {
        self.take_outboxes();
        let all = std::mem::take(&mut self.undelivered);
        for (system, w) in &all {
            self.w.ingest(system, std::slice::from_ref(w)).await;
        }
        let n = all.len();
        self.delivered.extend(all);
        n
    }

    // ----- work -----

    pub async fn due(&self) -> Vec<Uuid> {
        let mut due = self.w.ledger.due_entities().await.expect("due entities");
        due.sort();
        due
    }

    pub(super) async fn work_one(&mut self) -> String {
        let due = self.due().await;
        let Some(entity) = due.choose(&mut self.rng).copied() else {
            return "work: nothing due".into();
        };
        self.work(entity).await
    }

    /// Works one entity; if an armed crash goes off, the job dies with the process, which restarts.
    pub async fn work(&mut self, entity: Uuid) -> String {
        let (line, crashed) = self.run_job(entity).await;
        match crashed {
            Some(system) => format!(
                "{line} -> CRASH in a write to {system}, {}",
                self.restart().await
            ),
            None => line,
        }
    }

    /// One job of the current process: what it appended, and where it crashed if it did.
    async fn run_job(&mut self, entity: Uuid) -> (String, Option<&'static str>) {
        let before = self.w.state(entity).await.version;
        let ledger = self.w.ledger.clone();
        let mut errors = Vec::new();
        let crashed = tokio::select! {
            biased;
            () = self.w.crm_conn.crashed() => Some(CRM),
            () = self.w.erp_conn.crashed() => Some(ERP),
            done = ledger.work_entity(entity) => {
                done.err().map(|e| format!("entity {entity}: {e}")).into_iter().for_each(|e| errors.push(e));
                None
            }
        };
        self.engine_errors.append(&mut errors);
        let appended = self.appended_since(entity, before).await;
        (format!("work {} -> {appended}", short(entity)), crashed)
    }

    /// A new process starts on the same database and, as `run_workers` does, first settles the
    /// writes the dead one left unanswered (and dies again if an armed crash goes off there).
    pub(super) async fn restart(&mut self) -> String {
        let mut resumed = Vec::new();
        'process: for _ in 0..10 {
            self.w.restart().await;
            let lost = self
                .w
                .ledger
                .entities_with_unanswered_writes()
                .await
                .expect("unanswered writes");
            for entity in lost {
                let (line, crashed) = self.run_job(entity).await;
                resumed.push(line);
                if let Some(system) = crashed {
                    resumed.push(format!("CRASH in a write to {system}, restart"));
                    continue 'process;
                }
            }
            break;
        }
        format!("restart, resume [{}]", resumed.join("; "))
    }

    pub(super) async fn appended_since(&self, entity: Uuid, version: u64) -> String {
        let events = self
            .w
            .store()
            .read_stream(entity, version + 1, i64::MAX)
            .await
            .expect("stream");
        let names: Vec<String> = events
            .iter()
            .filter_map(|e| SyncEvent::from_recorded(e).ok())
            .map(|e| summary(&e))
            .collect();
        names.join(" ")
    }
}

fn describe(w: &Webhook) -> String {
    format!("{} {:?} {}", w.event_id, w.action, w.record_id)
}

pub(super) fn short(id: Uuid) -> String {
    id.to_string()[..8].to_string()
}

/// One event in a trace line: its type, and what a reader needs to follow the run.
fn summary(event: &SyncEvent) -> String {
    match event {
        SyncEvent::DecisionMade(d) => format!(
            "{}({}->{})",
            d.kind.as_str(),
            d.source_system,
            d.target_system
        ),
        SyncEvent::WriteSucceeded(s) => format!("ok({} {})", s.target_system, s.record_id),
        SyncEvent::WriteFailed(f) => format!(
            "failed({} {:?} retry={})",
            f.target_system, f.status, f.will_retry
        ),
        SyncEvent::RecordLinked(l) => format!("link({} {})", l.system, l.record_id),
        SyncEvent::RecordUnlinked(l) => format!("unlink({} {})", l.system, l.record_id),
        SyncEvent::RedirectedTo(r) => format!("redirect({})", short(r.entity_id)),
        other => other.event_type().to_string(),
    }
}
