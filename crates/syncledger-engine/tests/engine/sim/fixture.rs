//! Writes the fixture log that `crate::fixture_log` checks every later build against: one
//! operated run with concurrent edits (creates on both sides, updates, conflicts, 412s, dead
//! letters and a person's retries, deletes, a round-trip create's redirect), quiesced and
//! checked like any simulated run, its log stored as JSON lines of whole envelopes.
//!
//! Not run by default: the fixture is a record of one build's format and must not change with
//! later builds. `FIXTURE_SEEDS=0..40 cargo test --workspace --locked --test engine
//! write_the_fixture_log -- --ignored --nocapture` prints what each seed covers and writes the
//! smallest run that covers everything (then regenerate the expected projections, see
//! `crate::fixture_log`).

use std::sync::Arc;

use syncledger_core::config::OnDelete;
use syncledger_core::events::{DecisionKind, SyncEvent, WriteOp, write_request};
use syncledger_core::log::{LogFilter, Position, RecordedEvent};

use super::driver::Sim;
use crate::fixture_log::FIXTURE;
use crate::invariants;

/// What a run's log holds of what the fixture must cover.
#[derive(Debug, Default)]
struct Covered {
    created_in_crm: usize,
    created_in_erp: usize,
    updates: usize,
    deletes: usize,
    conflicts: usize,
    refused_412: usize,
    dead_letters: usize,
    retries_decided: usize,
    redirects: usize,
}

impl Covered {
    fn of(events: &[RecordedEvent]) -> Covered {
        let mut c = Covered::default();
        for event in events
            .iter()
            .filter_map(|e| SyncEvent::from_recorded(e).ok())
        {
            if let Some(w) = write_request(&event).filter(|w| w.op == WriteOp::Create) {
                if w.target_system == "crm" {
                    c.created_in_crm += 1
                } else {
                    c.created_in_erp += 1
                }
            }
            match event {
                SyncEvent::DecisionMade(d) if d.basis.rule().starts_with("retry_") => {
                    c.retries_decided += 1
                }
                SyncEvent::DecisionMade(d) if d.kind == DecisionKind::Update => c.updates += 1,
                SyncEvent::DecisionMade(d) if d.kind == DecisionKind::Delete => c.deletes += 1,
                SyncEvent::ConflictDetected(_) => c.conflicts += 1,
                SyncEvent::WritePreconditionFailed(_) => c.refused_412 += 1,
                SyncEvent::DeadLettered(_) => c.dead_letters += 1,
                SyncEvent::RedirectedTo(_) => c.redirects += 1,
                _ => {}
            }
        }
        c
    }

    fn complete(&self) -> bool {
        [
            self.created_in_crm,
            self.created_in_erp,
            self.updates,
            self.deletes,
            self.conflicts,
            self.refused_412,
            self.dead_letters,
            self.retries_decided,
            self.redirects,
        ]
        .iter()
        .all(|n| *n > 0)
    }
}

/// One seed's run and its log, or the problems it had.
async fn run(seed: u64) -> Result<Vec<RecordedEvent>, Vec<String>> {
    let mut sim = Sim::operated(seed, OnDelete::Propagate, false, Arc::default()).await;
    sim.edits = Some(Vec::new());
    sim.run().await;
    let mut problems: Vec<String> = Vec::new();
    problems.extend(sim.retry_until_no_letters().await.err());
    problems.extend(sim.quiesce().await.err());
    sim.disarm();
    problems.extend(invariants::problems(&sim.w).await);
    problems.extend(invariants::replay_is_silent(&sim.w).await);
    problems.extend(sim.engine_errors.iter().map(|e| format!("engine: {e}")));
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(sim
        .w
        .store()
        .read_all(Position(0), &LogFilter::default(), i64::MAX)
        .await
        .expect("the log"))
}

#[tokio::test]
#[ignore = "writes the fixture log; run by hand (see the module doc)"]
async fn write_the_fixture_log() {
    let seeds = std::env::var("FIXTURE_SEEDS").unwrap_or_else(|_| "0..40".into());
    let (from, to) = seeds.split_once("..").expect("FIXTURE_SEEDS=a..b");
    let (from, to): (u64, u64) = (from.parse().expect("a"), to.parse().expect("b"));
    let mut best: Option<(u64, Vec<RecordedEvent>)> = None;
    for seed in from..to {
        match run(seed).await {
            Ok(events) => {
                let covered = Covered::of(&events);
                println!("seed {seed}: {} events, {covered:?}", events.len());
                if covered.complete() && best.as_ref().is_none_or(|(_, b)| events.len() < b.len()) {
                    best = Some((seed, events));
                }
            }
            Err(problems) => println!("seed {seed}: problems {problems:?}"),
        }
    }
    let (seed, events) = best.expect("no seed covers everything: widen FIXTURE_SEEDS");
    let lines: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("an event serializes"))
        .collect();
    std::fs::write(FIXTURE, lines.join("\n") + "\n").expect("write the fixture");
    println!("wrote seed {seed}: {} events to {FIXTURE}", events.len());
}
