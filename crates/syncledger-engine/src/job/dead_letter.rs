//! A person's retry of a dead letter: the refused write requested again under a new id, or the
//! record of a failed work item fetched again.

use syncledger_core::decide::{Outcome, request_id};
use syncledger_core::entity::{EntityState, Trigger};
use syncledger_core::events::{
    Basis, DecisionKind, DecisionMade, ResyncRequested, SyncEvent, WriteOp, WriteRequested,
};
use syncledger_core::log::{ExpectedVersion, StreamAppend};
use uuid::Uuid;

use super::env::{Env, chain, meta};
use super::writes::perform_writes;
use crate::error::EngineError;

/// A person asked to retry a dead-lettered write: request it again under a new id.
pub(super) async fn retry_dead_letter(
    env: &Env,
    state: &mut EntityState,
    trigger: &Trigger,
    dead_letter_id: Uuid,
) -> Result<(), EngineError> {
    let dead = env.ctx.store.event(dead_letter_id).await?;
    let letter = dead
        .as_ref()
        .and_then(|e| match SyncEvent::from_recorded(e) {
            Ok(SyncEvent::DeadLettered(d)) => Some(d),
            _ => None,
        });
    let original = letter
        .as_ref()
        .and_then(|d| serde_json::from_value::<WriteRequested>(d.request.clone()).ok());
    // A failed trigger's letter names the record its work was about: fetch it again.
    let record = letter.as_ref().and_then(|d| {
        let text = |key: &str| d.request.get(key)?.as_str().map(str::to_string);
        Some((text("system")?, text("record_id")?))
    });
    let mut events = Vec::new();
    let mut outcome = Outcome::default();
    match (original, record) {
        (None, Some((system, record_id))) => {
            events.push(SyncEvent::DecisionMade(DecisionMade {
                trigger_id: Some(trigger.event_id),
                kind: DecisionKind::Skip,
                source_system: system.clone(),
                target_system: system.clone(),
                basis: Basis::RetryRefetch {
                    dead_letter_id,
                    record_id: record_id.clone(),
                },
                diff: vec![],
                request_id: None,
            }));
            events.push(SyncEvent::ResyncRequested(ResyncRequested {
                by: format!("retry of dead letter {dead_letter_id}"),
                system,
                record_id,
            }));
        }
        (Some(original), _) => {
            let id = request_id(trigger.event_id, &original.target_system, original.op);
            // Sent again on the record as the ledger last saw it, not as it was then.
            let if_match = (original.op != WriteOp::Create)
                .then(|| state.conflicts.etags.get(&original.target_system).cloned())
                .flatten();
            let again = WriteRequested {
                if_match,
                request_id: id,
                ..original
            };
            let kind = match again.op {
                WriteOp::Create => DecisionKind::Create,
                WriteOp::Update => DecisionKind::Update,
                WriteOp::Delete => DecisionKind::Delete,
            };
            events.push(SyncEvent::DecisionMade(DecisionMade {
                trigger_id: Some(trigger.event_id),
                kind,
                source_system: again.target_system.clone(),
                target_system: again.target_system.clone(),
                basis: Basis::RetryWrite { dead_letter_id },
                diff: vec![],
                request_id: Some(id),
            }));
            events.push(SyncEvent::WriteRequested(again));
        }
        (None, None) => events.push(SyncEvent::DecisionMade(DecisionMade {
            trigger_id: Some(trigger.event_id),
            kind: DecisionKind::Skip,
            source_system: String::new(),
            target_system: String::new(),
            basis: Basis::RetryNothing { dead_letter_id },
            diff: vec![],
            request_id: None,
        })),
    }
    outcome.own = events.clone();
    let meta = meta(state, trigger.correlation_id, Some(trigger.event_id));
    let append = StreamAppend {
        stream_id: state.entity_id,
        expected: ExpectedVersion::Exact(state.version),
        events: chain(events, &meta),
    };
    env.append_here(state, vec![append]).await?;
    perform_writes(env, state, trigger.correlation_id, &outcome).await
}
