//! When a job fails: every failure path ends.
//!
//! A job can fail in three ways, and each has one answer:
//!
//! 1. **Something we depend on is down** (the store, or a connected system answering 429/5xx or
//!    not at all while it is read): nothing is recorded, the entity cools down in memory and is
//!    tried again. Nothing about the work itself is wrong.
//! 2. **The work cannot be done as it is**: a system answered in a way that breaks the
//!    connector contract (another record, a hostile id), the configuration no longer knows the
//!    system, or the job **panicked** (a bug). The failure is recorded on the entity's stream
//!    against the work being done, exactly like a failed write: `WorkFailed` for a trigger,
//!    `WriteFailed` for a write, with the attempt number and the retry time from the same
//!    backoff. The work waits for that time (its queue row moves there), and after
//!    `max_attempts` it is closed and kept as a dead letter with the reason (the panic message
//!    included). Other entities never notice.
//! 3. **Recording the failure fails** (the store went down meanwhile): as in 1.
//!
//! A panic is caught around the whole job ([`run`]), so the worker's bookkeeping
//! (its permit, its lease) is released whatever the job did.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use chrono::Utc;
use futures::FutureExt;
use serde_json::json;
use syncledger_core::entity::{NextWork, PendingWrite, Trigger};
use syncledger_core::events::{DeadLettered, SyncEvent, WorkFailed, WriteFailed};
use syncledger_core::log::{ExpectedVersion, StreamAppend};
use uuid::Uuid;

use super::env::{Env, chain, meta};
use super::process::Job;
use crate::error::EngineError;

/// How often recording a failure is tried against concurrent appends before giving up.
const RECORD_TRIES: usize = 8;

/// Works one entity (see `process`), catching a panic. A failure of the work itself is
/// recorded (see the module doc) and the job counts as done; a transient failure, or one that
/// could not be recorded, is returned for the caller to cool the entity down.
pub(crate) async fn run(env: &Env, entity_id: Uuid) -> Result<(), EngineError> {
    let reason = match AssertUnwindSafe(Job::work(env, entity_id))
        .catch_unwind()
        .await
    {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) if !e.is_work_failure() => return Err(e),
        Ok(Err(e)) => {
            metrics::counter!("syncledger_job_failures_total", "kind" => "invalid").increment(1);
            e.to_string()
        }
        Err(panic) => {
            metrics::counter!("syncledger_job_failures_total", "kind" => "panic").increment(1);
            let reason = format!("the job panicked: {}", panic_message(panic.as_ref()));
            tracing::error!(entity = %entity_id, reason = %reason.escape_debug(), "entity job panicked");
            reason
        }
    };
    record_failure(env, entity_id, &reason).await
}

/// Records `reason` against the work the entity would do next (the work that failed).
async fn record_failure(env: &Env, entity_id: Uuid, reason: &str) -> Result<(), EngineError> {
    for _ in 0..RECORD_TRIES {
        let state = env.ctx.load(entity_id).await?;
        let (events, correlation, causation) = match state.next_work(Utc::now()) {
            NextWork::Settle(pending) => (
                write_failed(env, pending, reason),
                pending.correlation_id.unwrap_or(pending.requested_event_id),
                pending.requested_event_id,
            ),
            NextWork::Decide(trigger) | NextWork::Forward { trigger, .. } => (
                work_failed(env, trigger, reason),
                trigger.correlation_id,
                trigger.event_id,
            ),
            NextWork::Wait => {
                tracing::warn!(entity = %entity_id, reason = %reason.escape_debug(), "an entity job failed with no work due");
                return Ok(());
            }
        };
        let meta = meta(&state, correlation, Some(causation));
        let append = StreamAppend {
            stream_id: entity_id,
            expected: ExpectedVersion::Exact(state.version),
            events: chain(events, &meta),
        };
        match env.ctx.store.append(vec![append]).await {
            Ok(_) => return Ok(()),
            Err(e) => match EngineError::from(e) {
                EngineError::Conflict(_) => continue,
                e => return Err(e),
            },
        }
    }
    Err(EngineError::Invalid(format!(
        "the failure of entity {entity_id} could not be recorded: its stream kept moving"
    )))
}

fn work_failed(env: &Env, trigger: &Trigger, reason: &str) -> Vec<SyncEvent> {
    let attempt = trigger.attempts + 1;
    let (will_retry, retry_at) = env.retry_after_failure(attempt, None);
    let (system, record_id) = match trigger.source() {
        Some((s, r)) => (Some(s.to_string()), Some(r.to_string())),
        None => (None, None),
    };
    let mut events = vec![SyncEvent::WorkFailed(WorkFailed {
        trigger_id: trigger.event_id,
        reason: reason.to_string(),
        attempt,
        will_retry,
        retry_at,
        system: system.clone(),
        record_id: record_id.clone(),
    })];
    if !will_retry {
        metrics::counter!("syncledger_dead_letters_total").increment(1);
        events.push(SyncEvent::DeadLettered(DeadLettered {
            request_id: None,
            target_system: system.clone().unwrap_or_default(),
            reason: format!("gave up after {attempt} failed attempts: {reason}"),
            request: json!({
                "trigger_id": trigger.event_id,
                "system": system,
                "record_id": record_id,
            }),
            status: None,
            body: Some(String::new()),
        }));
    }
    events
}

fn write_failed(env: &Env, pending: &PendingWrite, reason: &str) -> Vec<SyncEvent> {
    let attempt = pending.attempts + 1;
    let (will_retry, retry_at) = env.retry_after_failure(attempt, None);
    let write = &pending.request;
    let mut events = vec![SyncEvent::WriteFailed(WriteFailed {
        request_id: write.request_id,
        target_system: write.target_system.clone(),
        status: None,
        body: Some(reason.to_string()),
        will_retry,
        attempt,
        retry_at,
    })];
    if !will_retry {
        metrics::counter!("syncledger_dead_letters_total").increment(1);
        events.push(SyncEvent::DeadLettered(DeadLettered {
            request_id: Some(write.request_id),
            target_system: write.target_system.clone(),
            reason: format!("gave up after {attempt} failed attempts: {reason}"),
            request: serde_json::to_value(write).unwrap_or_default(),
            status: None,
            body: Some(String::new()),
        }));
    }
    events
}

/// The text a panic was raised with.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_str_and_string_payloads() {
        let s: Box<dyn Any + Send> = Box::new("boom");
        assert_eq!(panic_message(s.as_ref()), "boom");
        let s: Box<dyn Any + Send> = Box::new(String::from("bang"));
        assert_eq!(panic_message(s.as_ref()), "bang");
        let s: Box<dyn Any + Send> = Box::new(7u8);
        assert_eq!(panic_message(s.as_ref()), "(no message)");
    }
}
