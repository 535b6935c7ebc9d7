//! Recording what a write attempt came to: its outcome (succeeded with the target's record and
//! the link a create makes, failed with its status and body, or refused with 412), a resync when
//! the created record announced changes before its link, and the hand-over of a first-seen
//! stream that claimed the created record first (`round_trip::take_over_first_seen`).

use chrono::Utc;
use syncledger_connector::{ConnectorError, Record};
use syncledger_core::decide::{Effect, round_trip};
use syncledger_core::entity::EntityState;
use syncledger_core::events::{
    DeadLettered, RecordLinked, RecordUnlinked, Resolution, ResyncRequested, SyncEvent,
    WriteFailed, WriteOp, WritePreconditionFailed, WriteRequested, WriteSucceeded,
    entity_id_for_record,
};
use syncledger_core::log::{ExpectedVersion, StreamAppend};
use syncledger_core::mapping::to_canonical;
use uuid::Uuid;

use super::env::{Env, chain, meta};
use crate::error::EngineError;

/// Appends what a write attempt came to; retries the append until it lands on the entity's
/// current version (an echo may have linked the record meanwhile).
pub(super) async fn record_outcome(
    env: &Env,
    state: &mut EntityState,
    correlation: Uuid,
    write: &WriteRequested,
    attempt: u32,
    result: Result<(Record, Resolution), ConnectorError>,
) -> Result<(), EngineError> {
    // The first-seen stream that linked the created record before this answer, handed over in
    // the outcome's own append (`round_trip::take_over_first_seen`).
    let mut hand_over: Option<Effect> = None;
    // Set when the record is held by an entity that pairs it with other records already (a
    // create whose round-trip window had passed): the outcome is recorded without the link.
    let mut linked_elsewhere = false;
    loop {
        let Some(pending) = state.pending_writes.get(&write.request_id) else {
            return Ok(()); // another worker recorded it
        };
        let requested = pending.requested_event_id;
        let mut events = outcome_events(env, state, write, attempt, &result);
        events.extend(announced_before_link(env, state, write, &result).await?);
        if linked_elsewhere {
            events.retain(|e| !matches!(e, SyncEvent::RecordLinked(_)));
        }
        let meta = meta(state, correlation, Some(requested));
        let mut appends = vec![StreamAppend {
            stream_id: state.entity_id,
            expected: ExpectedVersion::Exact(state.version),
            events: chain(events, &meta),
        }];
        appends.extend(hand_over.take().map(|effect| StreamAppend {
            stream_id: effect.stream,
            expected: ExpectedVersion::Exact(effect.expected),
            events: chain(effect.events, &meta),
        }));
        match env.append_here(state, appends).await {
            Ok(_) => {
                if result.is_ok() {
                    record_latency(correlation);
                }
                return Ok(());
            }
            Err(EngineError::Conflict(_)) => *state = env.ctx.load(state.entity_id).await?,
            Err(EngineError::Claimed(claimed)) => {
                let Ok((record, _)) = &result else {
                    return Err(EngineError::Claimed(claimed));
                };
                let holder = env.ctx.load(claimed.holder).await?;
                let target = (write.target_system.as_str(), record.id.as_str());
                hand_over = round_trip::take_over_first_seen(
                    state.entity_id,
                    &holder,
                    target,
                    write.request_id,
                );
                if hand_over.is_none() {
                    tracing::error!(
                        entity = %state.entity_id,
                        holder = %claimed.holder,
                        system = %write.target_system,
                        "the record this entity's create made is linked to another entity: \
                         recorded without the link (reconcile lists the pair)"
                    );
                    linked_elsewhere = true;
                }
                *state = env.ctx.load(state.entity_id).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A record the sync just created may have announced changes (even its deletion) before
/// the link existed: those webhooks landed in its own first-seen stream, which did not know
/// the record. A resync here fetches it again where it belongs.
async fn announced_before_link(
    env: &Env,
    state: &EntityState,
    write: &WriteRequested,
    result: &Result<(Record, Resolution), ConnectorError>,
) -> Result<Option<SyncEvent>, EngineError> {
    let Ok((record, _)) = result else {
        return Ok(None);
    };
    let linked = state
        .links
        .get(&write.target_system)
        .is_some_and(|l| l.record_id == record.id);
    if write.op != WriteOp::Create || linked {
        return Ok(None);
    }
    let entity_type = state.entity_type.as_deref().unwrap_or_default();
    let first_seen =
        entity_id_for_record(&state.tenant, entity_type, &write.target_system, &record.id);
    if env.ctx.store.stream_version(first_seen).await? == 0 {
        return Ok(None);
    }
    let (system, record_id) = (write.target_system.clone(), record.id.clone());
    Ok(Some(SyncEvent::ResyncRequested(ResyncRequested {
        by: "sync (webhooks before the link)".into(),
        system,
        record_id,
    })))
}

fn outcome_events(
    env: &Env,
    state: &EntityState,
    write: &WriteRequested,
    attempt: u32,
    result: &Result<(Record, Resolution), ConnectorError>,
) -> Vec<SyncEvent> {
    let target = &write.target_system;
    match result {
        Ok((record, resolution)) => {
            metrics::counter!("syncledger_writes_total", "outcome" => "succeeded").increment(1);
            let map = state
                .entity_type
                .as_deref()
                .and_then(|t| env.ctx.entity_config(t))
                .and_then(|c| c.systems.get(target));
            let fields = match (write.op, map) {
                (WriteOp::Delete, _) | (_, None) => write.fields.clone(),
                (_, Some(map)) => to_canonical(map, &record.body),
            };
            let mut events = vec![SyncEvent::WriteSucceeded(WriteSucceeded {
                request_id: write.request_id,
                target_system: target.clone(),
                record_id: record.id.clone(),
                fields,
                resolution: *resolution,
                etag: record.etag.clone(),
            })];
            let linked = state
                .links
                .get(target)
                .is_some_and(|l| l.record_id == record.id);
            match write.op {
                WriteOp::Create if !linked => events.push(SyncEvent::RecordLinked(RecordLinked {
                    entity_type: state.entity_type.clone().unwrap_or_default(),
                    system: target.clone(),
                    collection: write.collection.clone(),
                    record_id: record.id.clone(),
                    reason: format!("created by the sync (request {})", write.request_id),
                })),
                WriteOp::Delete if linked => {
                    events.push(SyncEvent::RecordUnlinked(RecordUnlinked {
                        system: target.clone(),
                        record_id: record.id.clone(),
                        reason: "deleted by the sync".into(),
                    }))
                }
                _ => {}
            }
            events
        }
        // The record changed since the decision saw it: recorded, fetched again and decided
        // again (the event opens that work); not a failure, not an attempt, never a dead letter.
        Err(ConnectorError::PreconditionFailed { .. }) => {
            metrics::counter!("syncledger_writes_total", "outcome" => "precondition_failed")
                .increment(1);
            let refusals = state.conflicts.refusals(target) + 1;
            let record_id = write.record_id.clone().unwrap_or_default();
            vec![SyncEvent::WritePreconditionFailed(
                WritePreconditionFailed {
                    request_id: write.request_id,
                    target_system: target.clone(),
                    record_id,
                    if_match: write.if_match.clone(),
                    attempt: refusals,
                    retry_at: env.refetch_after_refusal(refusals),
                },
            )]
        }
        Err(error) => {
            let (status, body) = match error {
                ConnectorError::Transient { status, body, .. } => (*status, body.clone()),
                ConnectorError::Permanent { status, body } => (Some(*status), body.clone()),
                ConnectorError::PreconditionFailed { body } => (Some(412), body.clone()),
                ConnectorError::Invalid(reason) => (None, reason.clone()),
            };
            // Never sooner than the system's Retry-After (CONTRACT §1), never later than
            // `max_retry_after`.
            let (will_retry, retry_at) = match error.is_transient() {
                true => env.retry_after_failure(attempt, error.retry_after()),
                false => (false, None),
            };
            let outcome = if will_retry { "retrying" } else { "failed" };
            metrics::counter!("syncledger_writes_total", "outcome" => outcome).increment(1);
            let mut events = vec![SyncEvent::WriteFailed(WriteFailed {
                request_id: write.request_id,
                target_system: target.clone(),
                status,
                body: Some(body.clone()),
                will_retry,
                attempt,
                retry_at,
            })];
            if will_retry {
                metrics::counter!("syncledger_retries_total").increment(1);
            } else {
                metrics::counter!("syncledger_dead_letters_total").increment(1);
                events.push(SyncEvent::DeadLettered(DeadLettered {
                    request_id: Some(write.request_id),
                    target_system: target.clone(),
                    reason: match error {
                        ConnectorError::Transient { .. } => {
                            format!("gave up after {attempt} attempts")
                        }
                        ConnectorError::Permanent { .. }
                        | ConnectorError::PreconditionFailed { .. } => {
                            "the target refused the write".into()
                        }
                        ConnectorError::Invalid(reason) => reason.clone(),
                    },
                    request: serde_json::to_value(write).unwrap_or_default(),
                    status,
                    body: Some(body),
                }));
            }
            events
        }
    }
}

/// The sync latency of a write that succeeded: from the moment the change that started it was
/// recorded (the correlation id is that event's id, a UUID v7 carrying its creation time) to
/// the moment the target confirmed the write.
fn record_latency(correlation: Uuid) {
    let Some((secs, nanos)) = correlation.get_timestamp().map(|t| t.to_unix()) else {
        return;
    };
    let Some(started) = chrono::DateTime::from_timestamp(secs as i64, nanos) else {
        return;
    };
    let seconds = (Utc::now() - started).num_microseconds().unwrap_or(0) as f64 / 1e6;
    metrics::histogram!("syncledger_sync_latency_seconds").record(seconds.max(0.0));
}
