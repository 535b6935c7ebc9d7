//! What must hold once changes stop (G5), checked against the two systems themselves and the
//! ledger's projections, and reported as a list of problems so the simulation can print them
//! with its seed and trace.

use std::collections::BTreeMap;

use syncledger_connector::Record;
use syncledger_core::config::OnDelete;
use syncledger_core::entity::EntityState;
use syncledger_core::events::{DeadLetterRequest, ResyncRequested, SyncEvent, WriteOp};
use syncledger_core::log::{LogFilter, Position, RecordedEvent};
use syncledger_core::mapping::{is_blank, to_canonical};
use syncledger_core::projections::dead_letters::{self, DeadLetter};
use syncledger_core::projections::id_mappings::{self, Mapping};
use syncledger_core::replay::replay_entity;
use syncledger_sim::Op;
use uuid::Uuid;

use crate::harness::{CONTACTS, CRM, CUSTOMERS, ERP, World};

/// Each live record of both systems, by (system, record id).
fn live_records(w: &World) -> BTreeMap<(String, String), Record> {
    let crm = w
        .crm
        .records(CONTACTS)
        .into_iter()
        .map(|r| ((CRM.to_string(), r.id.clone()), r));
    let erp = w
        .erp
        .records(CUSTOMERS)
        .into_iter()
        .map(|r| ((ERP.to_string(), r.id.clone()), r));
    crm.chain(erp).collect()
}

async fn mappings(w: &World) -> Vec<Mapping> {
    let rows = w
        .store()
        .all_rows(id_mappings::NAME)
        .await
        .expect("mapping rows");
    rows.into_iter()
        .map(|r| serde_json::from_value(r.doc).expect("a mapping doc"))
        .collect()
}

/// Every problem with the quiet state: duplicates, unlinked or unsynced records, linked pairs
/// that differ, work left in the queue, dead letters. With `on_delete = unlink` a record whose
/// twin was deleted legitimately stays alone.
pub async fn problems(w: &World) -> Vec<String> {
    let alone_ok = w
        .config
        .entity("customer")
        .is_some_and(|e| e.on_delete == OnDelete::Unlink);
    let mut problems = Vec::new();
    let depth = w.queue_depth().await;
    if depth != 0 {
        problems.push(format!("the pending queue holds {depth} rows"));
    }
    w.store().catch_up_once().await.expect("catch up");
    let live = live_records(w);
    for row in w
        .store()
        .all_rows(dead_letters::NAME)
        .await
        .expect("dead letters")
    {
        let letter: DeadLetter = serde_json::from_value(row.doc.clone()).expect("a dead letter");
        // A user deleted the record while the sync's update to it was on its way: the 404 is
        // dead-lettered as the contract says, and the delete itself is synced. Nothing diverges.
        let gone_update = match &letter.letter.request {
            DeadLetterRequest::Write(w) if w.op == WriteOp::Update => w
                .record_id
                .as_ref()
                .is_some_and(|id| !live.contains_key(&(w.target_system.clone(), id.clone()))),
            _ => false,
        };
        if !(letter.letter.status == Some(404) && gone_update) {
            problems.push(format!("dead letter: {}", row.doc));
        }
    }
    let mut by_entity: BTreeMap<Uuid, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for m in mappings(w).await {
        if !live.contains_key(&(m.system.clone(), m.record_id.clone())) {
            problems.push(format!(
                "{} {} is mapped to {} but no longer exists",
                m.system, m.record_id, m.entity_id
            ));
            continue;
        }
        by_entity
            .entry(m.entity_id)
            .or_default()
            .entry(m.system.clone())
            .or_default()
            .push(m.record_id);
    }
    for (system, id) in live.keys() {
        if w.entity_of(system, id).await.is_none() {
            problems.push(format!("{system} {id} is not linked to any entity"));
        }
    }
    let entity = w.config.entity("customer").expect("customer entity");
    for (id, systems) in &by_entity {
        for (system, records) in systems {
            if records.len() > 1 {
                problems.push(format!(
                    "duplicate: entity {id} has {} records in {system}: {records:?}",
                    records.len()
                ));
            }
        }
        let canonical = |system: &str| {
            let record_id = systems.get(system)?.first()?;
            let record = &live[&(system.to_string(), record_id.clone())];
            Some((
                record_id.clone(),
                to_canonical(&entity.systems[system], &record.body),
            ))
        };
        match (canonical(CRM), canonical(ERP)) {
            (Some((c, crm)), Some((e, erp))) if crm != erp => {
                problems.push(format!(
                    "entity {id}: crm {c} holds {crm:?} but erp {e} holds {erp:?}"
                ));
            }
            (Some((c, crm)), None)
                if !alone_ok && crm.get("email").is_some_and(|v| !is_blank(v)) =>
            {
                problems.push(format!(
                    "entity {id}: crm {c} has an email but no erp record"
                ));
            }
            (None, Some((e, _))) if !alone_ok => {
                problems.push(format!("entity {id}: erp {e} has no crm record"))
            }
            _ => {}
        }
    }
    problems
}

/// The write requests both systems have received so far.
pub fn writes(w: &World) -> [usize; 6] {
    let count = |sim: &syncledger_sim::SimSystem| {
        [
            sim.requests(Op::Create),
            sim.requests(Op::Update),
            sim.requests(Op::Delete),
        ]
    };
    let [a, b, c] = count(&w.crm);
    let [d, e, f] = count(&w.erp);
    [a, b, c, d, e, f]
}

/// Asks for a resync of every linked record (as a person would) and works it all: a quiet,
/// converged ledger decides to write nothing. With `on_delete = unlink` only pairs are resynced:
/// a record left alone by its twin's deletion is synced anew when asked, by design.
pub async fn resync_writes_nothing(w: &World) -> Vec<String> {
    let before = writes(w);
    let pairs_only = w
        .config
        .entity("customer")
        .is_some_and(|e| e.on_delete == OnDelete::Unlink);
    let all = mappings(w).await;
    let paired = |m: &Mapping| all.iter().filter(|o| o.entity_id == m.entity_id).count() > 1;
    for m in all.iter().filter(|m| !pairs_only || paired(m)).cloned() {
        let ask = SyncEvent::ResyncRequested(ResyncRequested {
            by: "test".into(),
            system: m.system,
            record_id: m.record_id,
        });
        w.ask(m.entity_id, ask).await;
    }
    w.settle().await;
    let after = writes(w);
    let mut problems = Vec::new();
    if before != after {
        problems.push(format!(
            "a resync of a converged ledger wrote: {before:?} -> {after:?} (crm c/u/d, erp c/u/d)"
        ));
    }
    let depth = w.queue_depth().await;
    if depth != 0 {
        problems.push(format!(
            "the pending queue holds {depth} rows after the resync"
        ));
    }
    problems
}

/// Replays every entity's whole history with the build that recorded it: exact replay reports
/// no difference, and every decision recorded since its inputs were kept is replayed.
pub async fn replay_is_silent(w: &World) -> Vec<String> {
    let events = w
        .store()
        .read_all(Position(0), &LogFilter::default(), i64::MAX)
        .await
        .expect("the log");
    let mut streams: BTreeMap<Uuid, Vec<RecordedEvent>> = BTreeMap::new();
    for event in events {
        streams.entry(event.stream_id).or_default().push(event);
    }
    let ttl = w.config.server.round_trip_ttl();
    let mut problems = Vec::new();
    for (entity, stream) in streams {
        let state = EntityState::fold(entity, &stream);
        let Some(config) = state
            .entity_type
            .as_deref()
            .and_then(|t| w.config.entity(t))
        else {
            continue;
        };
        let report = replay_entity(config, &stream, Position(0), Position(i64::MAX), ttl);
        for d in report.differences {
            problems.push(format!(
                "replay differs for entity {entity} at position {}: recorded {:?}, replayed {:?}",
                d.position.0, d.recorded, d.replayed
            ));
        }
        if report.without_inputs > 0 {
            problems.push(format!(
                "{} decisions of entity {entity} were recorded without their inputs",
                report.without_inputs
            ));
        }
    }
    problems
}
