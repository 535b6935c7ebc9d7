//! Recording what a write attempt came to. The core decides it (`decide::attempt::after_attempt`:
//! succeeded with the target's record and the link a create makes, refused with 412, failed and
//! retried or dead-lettered, a resync when the created record announced changes before its
//! link); this module reads what that needs (the answer, whether the created record's
//! first-seen stream holds events, the jitter and the clock) and appends the result, handing
//! over a first-seen stream that claimed the created record first
//! (`round_trip::take_over_first_seen`).

use chrono::Utc;
use syncledger_connector::{ConnectorError, Record};
use syncledger_core::decide::attempt::{
    Answer, Attempted, Failure, after_attempt, first_seen_stream,
};
use syncledger_core::decide::{Effect, round_trip};
use syncledger_core::entity::EntityState;
use syncledger_core::events::{Resolution, SyncEvent, WriteRequested};
use syncledger_core::log::{ExpectedVersion, StreamAppend};
use uuid::Uuid;

use super::env::{Env, chain, meta};
use crate::error::EngineError;

/// Appends what a write attempt came to (the core's `after_attempt`); retries the append until
/// it lands on the entity's current version (an echo may have linked the record meanwhile).
pub(super) async fn record_outcome(
    env: &Env,
    state: &mut EntityState,
    correlation: Uuid,
    write: &WriteRequested,
    attempt: u32,
    result: Result<(Record, Resolution), ConnectorError>,
) -> Result<(), EngineError> {
    let answer = answer_of(result);
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
        let announced_before_link = match &answer {
            Answer::Done { record_id, .. } => match first_seen_stream(state, write, record_id) {
                Some(stream) => env.ctx.store.stream_version(stream).await? > 0,
                None => false,
            },
            _ => false,
        };
        let around = env.around(announced_before_link, linked_elsewhere);
        let config = state
            .entity_type
            .as_deref()
            .and_then(|t| env.ctx.entity_config(t));
        let attempted = Attempted::Write { write, attempt };
        let events = after_attempt(&env.retry, config, state, attempted, &answer, &around);
        let meta = meta(state, correlation, Some(requested));
        let mut appends = vec![StreamAppend {
            stream_id: state.entity_id,
            expected: ExpectedVersion::Exact(state.version),
            events: chain(events.clone(), &meta),
        }];
        appends.extend(hand_over.take().map(|effect| StreamAppend {
            stream_id: effect.stream,
            expected: ExpectedVersion::Exact(effect.expected),
            events: chain(effect.events, &meta),
        }));
        match env.append_here(state, appends).await {
            Ok(_) => {
                count_outcome(&events);
                if matches!(answer, Answer::Done { .. }) {
                    record_latency(correlation);
                }
                return Ok(());
            }
            Err(EngineError::Conflict(_)) => *state = env.ctx.load(state.entity_id).await?,
            Err(EngineError::Claimed(claimed)) => {
                let Answer::Done { record_id, .. } = &answer else {
                    return Err(EngineError::Claimed(claimed));
                };
                let holder = env.ctx.load(claimed.holder).await?;
                let target = (write.target_system.as_str(), record_id.as_str());
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

/// The connector's answer as the core reads it.
fn answer_of(result: Result<(Record, Resolution), ConnectorError>) -> Answer {
    let failure = match result {
        Ok((record, resolution)) => {
            return Answer::Done {
                record_id: record.id,
                body: record.body,
                etag: record.etag,
                resolution,
            };
        }
        Err(ConnectorError::PreconditionFailed { body }) => {
            return Answer::PreconditionFailed { body };
        }
        Err(ConnectorError::Transient {
            status,
            body,
            retry_after,
        }) => Failure::Transient {
            status,
            body,
            retry_after,
        },
        Err(ConnectorError::Permanent { status, body }) => Failure::Refused { status, body },
        Err(ConnectorError::Invalid(reason)) => Failure::Invalid { reason },
    };
    Answer::Failed(failure)
}

/// The metrics of what the core decided an attempt came to.
pub(super) fn count_outcome(events: &[SyncEvent]) {
    for event in events {
        let outcome = match event {
            SyncEvent::WriteSucceeded(_) => "succeeded",
            SyncEvent::WritePreconditionFailed(_) => "precondition_failed",
            SyncEvent::WriteFailed(f) if f.will_retry => "retrying",
            SyncEvent::WriteFailed(_) => "failed",
            SyncEvent::WorkFailed(f) if f.will_retry => {
                metrics::counter!("syncledger_retries_total").increment(1);
                continue;
            }
            SyncEvent::DeadLettered(_) => {
                metrics::counter!("syncledger_dead_letters_total").increment(1);
                continue;
            }
            _ => continue,
        };
        metrics::counter!("syncledger_writes_total", "outcome" => outcome).increment(1);
        if outcome == "retrying" {
            metrics::counter!("syncledger_retries_total").increment(1);
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
