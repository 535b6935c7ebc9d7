//! What an attempt came to: the events that record the outcome of a write, or of a work item
//! whose job failed, as one pure function ([`after_attempt`]). The engine makes the call (or
//! catches the failure), reads what it needs around it ([`Around`]) and appends what this
//! returns; the choice of retry, dead letter, link or unlink is made here.
//!
//! 1. **Done** (the target answered, or a recovery step found the record, G4): `WriteSucceeded`
//!    with the canonical values the target holds (read through its mapping; a delete's as
//!    requested). A create of a record not yet linked here links it (`RecordLinked`), unless
//!    another entity already pairs it ([`Around::linked_elsewhere`]); a delete of the linked
//!    record unlinks it (`RecordUnlinked`). A created record that announced changes before
//!    its link ([`Around::announced_before_link`]: webhooks landed in its own first-seen
//!    stream, see [`first_seen_stream`]) is fetched again where it belongs (`ResyncRequested`).
//! 2. **Refused with `412`** (an update or delete whose `If-Match` no longer held): the record
//!    changed since the decision saw it. `WritePreconditionFailed` opens the work of fetching
//!    it again, at once the first time in a row and after a growing wait then
//!    (`RetryPolicy::after_refusal`). Not a failure, not an attempt, never a dead letter.
//! 3. **Failed**: the one retry policy decides (`RetryPolicy::after_failure`): a failure that
//!    retrying may mend ([`Failure::may_mend`]) is retried until `max_attempts`, never sooner
//!    than the system's `Retry-After`; otherwise, or once the budget is spent, `WriteFailed` /
//!    `WorkFailed` says it will not be retried and `DeadLettered` keeps the typed request for a
//!    person, with the reason.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::retry::{AfterFailure, RetryPolicy};
use crate::config::EntityConfig;
use crate::entity::{EntityState, Trigger};
use crate::events::{
    DeadLetterRequest, DeadLettered, RecordLinked, RecordRef, RecordUnlinked, Resolution,
    ResyncRequested, SyncEvent, WorkFailed, WriteFailed, WriteOp, WritePreconditionFailed,
    WriteRequested, WriteSucceeded, entity_id_for_record,
};
use crate::mapping::to_canonical;

/// The work an attempt was made at.
#[derive(Debug, Clone, Copy)]
pub enum Attempted<'a> {
    /// Attempt number `attempt` (1 for the first) at a requested write.
    Write {
        write: &'a WriteRequested,
        attempt: u32,
    },
    /// A work item whose job failed (its next attempt is `trigger.attempts + 1`).
    Work { trigger: &'a Trigger },
}

/// What an attempt came to, as the engine observed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The target holds the record: its id, its body as the target gave it, its `ETag`.
    Done {
        record_id: String,
        body: Value,
        etag: Option<String>,
        resolution: Resolution,
    },
    /// `412 Precondition Failed`, with the body of the answer.
    PreconditionFailed {
        body: String,
    },
    Failed(Failure),
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// 429, 5xx, a timeout, no connection.
    Transient {
        status: Option<u16>,
        body: String,
        retry_after: Option<Duration>,
    },
    /// Another 4xx: the target refused the write.
    Refused { status: u16, body: String },
    /// The answer broke the connector contract, or the configuration no longer knows the
    /// target: the write cannot be sent as it is.
    Invalid { reason: String },
    /// The job failed around the work (it panicked, or a fetch broke the connector contract):
    /// retried with backoff, since a fixed bug, a mended system or configuration mends it.
    Job { reason: String },
}

impl Failure {
    /// Step 3: whether retrying may mend it.
    pub fn may_mend(&self) -> bool {
        matches!(self, Failure::Transient { .. } | Failure::Job { .. })
    }

    fn status_and_body(&self) -> (Option<u16>, String) {
        match self {
            Failure::Transient { status, body, .. } => (*status, body.clone()),
            Failure::Refused { status, body } => (Some(*status), body.clone()),
            Failure::Invalid { reason } | Failure::Job { reason } => (None, reason.clone()),
        }
    }

    fn gave_up(&self, attempt: u32) -> String {
        match self {
            Failure::Transient { .. } => format!("gave up after {attempt} attempts"),
            Failure::Refused { .. } => "the target refused the write".into(),
            Failure::Invalid { reason } => reason.clone(),
            Failure::Job { reason } => {
                format!("gave up after {attempt} failed attempts: {reason}")
            }
        }
    }
}

/// What the engine read around the attempt: each an input of the choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Around {
    /// When the outcome is recorded: retry times count from it.
    pub now: DateTime<Utc>,
    /// A number in `[0, 1]` the engine draws: the backoff's jitter.
    pub jitter: f64,
    /// The created record's first-seen stream ([`first_seen_stream`]) holds events.
    pub announced_before_link: bool,
    /// Another entity already pairs the created record with other records: no link here.
    pub linked_elsewhere: bool,
}

/// The events that record what `attempted` came to.
pub fn after_attempt(
    policy: &RetryPolicy,
    config: Option<&EntityConfig>,
    state: &EntityState,
    attempted: Attempted<'_>,
    answer: &Answer,
    around: &Around,
) -> Vec<SyncEvent> {
    match (attempted, answer) {
        (Attempted::Write { write, .. }, Answer::Done { .. }) => {
            done(config, state, write, answer, around)
        }
        (Attempted::Write { write, attempt }, Answer::PreconditionFailed { body }) => {
            match (&write.record_id, write.op) {
                (Some(record_id), WriteOp::Update | WriteOp::Delete) => {
                    refused(policy, state, write, record_id, around)
                }
                // A condition on a create (which carries none): the target refused it.
                _ => {
                    let failure = Failure::Refused {
                        status: 412,
                        body: body.clone(),
                    };
                    write_failed(policy, write, attempt, &failure, around)
                }
            }
        }
        (Attempted::Write { write, attempt }, Answer::Failed(failure)) => {
            write_failed(policy, write, attempt, failure, around)
        }
        (Attempted::Work { trigger }, Answer::Failed(failure)) => {
            work_failed(policy, trigger, failure, around)
        }
        // A work item's job answers nothing but its failure.
        (Attempted::Work { .. }, _) => vec![],
    }
}

/// The stream a record `record_id` just created in the write's target was filed under by its
/// own webhooks, when they came before its link here (step 1): asked only for a create whose
/// record this entity does not link yet.
pub fn first_seen_stream(
    state: &EntityState,
    write: &WriteRequested,
    record_id: &str,
) -> Option<Uuid> {
    let linked = state
        .links
        .get(&write.target_system)
        .is_some_and(|l| l.record_id == record_id);
    if write.op != WriteOp::Create || linked {
        return None;
    }
    let entity_type = state.entity_type.as_deref()?;
    Some(entity_id_for_record(
        &state.tenant,
        entity_type,
        &write.target_system,
        record_id,
    ))
}

/// Step 1.
fn done(
    config: Option<&EntityConfig>,
    state: &EntityState,
    write: &WriteRequested,
    answer: &Answer,
    around: &Around,
) -> Vec<SyncEvent> {
    let Answer::Done {
        record_id,
        body,
        etag,
        resolution,
    } = answer
    else {
        return vec![];
    };
    let target = &write.target_system;
    let map = config.and_then(|c| c.systems.get(target));
    let fields = match (write.op, map) {
        (WriteOp::Delete, _) | (_, None) => write.fields.clone(),
        (_, Some(map)) => to_canonical(map, body),
    };
    let mut events = vec![SyncEvent::WriteSucceeded(WriteSucceeded {
        request_id: write.request_id,
        target_system: target.clone(),
        record_id: record_id.clone(),
        fields,
        resolution: *resolution,
        etag: etag.clone(),
    })];
    let linked = state
        .links
        .get(target)
        .is_some_and(|l| l.record_id == *record_id);
    let entity_type = config
        .map(|c| c.name.clone())
        .or_else(|| state.entity_type.clone());
    match (write.op, entity_type) {
        (WriteOp::Create, Some(entity_type)) if !linked && !around.linked_elsewhere => {
            events.push(SyncEvent::RecordLinked(RecordLinked {
                entity_type,
                system: target.clone(),
                collection: write.collection.clone(),
                record_id: record_id.clone(),
                reason: format!("created by the sync (request {})", write.request_id),
            }))
        }
        (WriteOp::Delete, _) if linked => events.push(SyncEvent::RecordUnlinked(RecordUnlinked {
            system: target.clone(),
            record_id: record_id.clone(),
            reason: "deleted by the sync".into(),
        })),
        _ => {}
    }
    if around.announced_before_link && first_seen_stream(state, write, record_id).is_some() {
        events.push(SyncEvent::ResyncRequested(ResyncRequested {
            by: "sync (webhooks before the link)".into(),
            system: target.clone(),
            record_id: record_id.clone(),
        }));
    }
    events
}

/// Step 2.
fn refused(
    policy: &RetryPolicy,
    state: &EntityState,
    write: &WriteRequested,
    record_id: &str,
    around: &Around,
) -> Vec<SyncEvent> {
    let refusals = state.conflicts.refusals(&write.target_system) + 1;
    vec![SyncEvent::WritePreconditionFailed(
        WritePreconditionFailed {
            request_id: write.request_id,
            target_system: write.target_system.clone(),
            record_id: record_id.to_string(),
            if_match: write.if_match.clone(),
            attempt: refusals,
            retry_at: policy.after_refusal(refusals, around.now, around.jitter),
        },
    )]
}

/// Step 3 for a write.
fn write_failed(
    policy: &RetryPolicy,
    write: &WriteRequested,
    attempt: u32,
    failure: &Failure,
    around: &Around,
) -> Vec<SyncEvent> {
    let retry_at = retry_at(policy, attempt, failure, around);
    let (status, body) = failure.status_and_body();
    let mut events = vec![SyncEvent::WriteFailed(WriteFailed {
        request_id: write.request_id,
        target_system: write.target_system.clone(),
        status,
        body: Some(body.clone()),
        will_retry: retry_at.is_some(),
        attempt,
        retry_at,
    })];
    if retry_at.is_none() {
        events.push(SyncEvent::DeadLettered(DeadLettered {
            request_id: Some(write.request_id),
            target_system: Some(write.target_system.clone()),
            reason: failure.gave_up(attempt),
            request: DeadLetterRequest::Write(write.clone()),
            status,
            body: Some(answered_body(failure, body)),
        }));
    }
    events
}

/// Step 3 for a work item.
fn work_failed(
    policy: &RetryPolicy,
    trigger: &Trigger,
    failure: &Failure,
    around: &Around,
) -> Vec<SyncEvent> {
    let attempt = trigger.attempts + 1;
    let retry_at = retry_at(policy, attempt, failure, around);
    let record = trigger.source().map(|(system, record_id)| RecordRef {
        system: system.to_string(),
        record_id: record_id.to_string(),
    });
    let (status, body) = failure.status_and_body();
    let mut events = vec![SyncEvent::WorkFailed(WorkFailed {
        trigger_id: trigger.event_id,
        reason: body.clone(),
        attempt,
        will_retry: retry_at.is_some(),
        retry_at,
        system: record.as_ref().map(|r| r.system.clone()),
        record_id: record.as_ref().map(|r| r.record_id.clone()),
    })];
    if retry_at.is_none() {
        events.push(SyncEvent::DeadLettered(DeadLettered {
            request_id: None,
            target_system: record.as_ref().map(|r| r.system.clone()),
            reason: failure.gave_up(attempt),
            request: DeadLetterRequest::Work {
                trigger_id: trigger.event_id,
                record,
            },
            status,
            body: Some(answered_body(failure, body)),
        }));
    }
    events
}

/// When the failed attempt is tried again; `None`: given up.
fn retry_at(
    policy: &RetryPolicy,
    attempt: u32,
    failure: &Failure,
    around: &Around,
) -> Option<DateTime<Utc>> {
    let asked = match failure {
        Failure::Transient { retry_after, .. } => *retry_after,
        _ => None,
    };
    let after = policy.after_failure(
        attempt,
        failure.may_mend(),
        asked,
        around.now,
        around.jitter,
    );
    match after {
        AfterFailure::RetryAt(at) => Some(at),
        AfterFailure::GiveUp => None,
    }
}

/// A dead letter's body is the target's answer; a job's failure had none (its reason is the
/// letter's reason).
fn answered_body(failure: &Failure, body: String) -> String {
    match failure {
        Failure::Job { .. } => String::new(),
        _ => body,
    }
}
