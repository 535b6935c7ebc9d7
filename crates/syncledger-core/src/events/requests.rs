//! Work that failed for good or may be retried, and what people asked for: dead letters, failed
//! work items, replays, resyncs, and a person's retry or discard of a dead letter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::WriteRequested;

/// Work that will not succeed by retrying: kept with its request and response for a person.
///
/// Version 2: `request` is typed ([`DeadLetterRequest`]) and `target_system` is absent for a
/// work item that names no system; version 1 kept the request as untyped JSON and an empty
/// system (brought up by [`DeadLetterToTyped`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLettered {
    pub request_id: Option<Uuid>,
    /// The system the failed write or work was about, when it names one.
    #[serde(default)]
    pub target_system: Option<String>,
    pub reason: String,
    #[serde(deserialize_with = "read_request")]
    pub request: DeadLetterRequest,
    pub status: Option<u16>,
    /// The target's answer, when there was one (empty when the work failed before any answer);
    /// `None` once the entity is erased (docs/privacy.md).
    pub body: Option<String>,
}

/// A record of a connected system, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub system: String,
    pub record_id: String,
}

/// What a dead letter holds for a person's retry (`decide::dead_letter`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadLetterRequest {
    /// A write refused for good or out of attempts: a retry requests it again under a new id.
    Write(WriteRequested),
    /// A work item that failed for good: a retry fetches its record again, when it names one.
    Work {
        trigger_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<RecordRef>,
    },
    /// A version-1 letter whose request was neither a write nor a work item: kept as recorded,
    /// for a person to read. A retry has nothing to retry.
    Unreadable { recorded: Value },
}

impl DeadLetterRequest {
    /// Whether a person's retry has something to do: a write to request again, or a record to
    /// fetch again.
    pub fn can_retry(&self) -> bool {
        matches!(
            self,
            DeadLetterRequest::Write(_)
                | DeadLetterRequest::Work {
                    record: Some(_),
                    ..
                }
        )
    }
}

/// Reads a dead letter's request as stored by either version (a `dead_letters` row written
/// before version 2 holds the version-1 shape too).
fn read_request<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DeadLetterRequest, D::Error> {
    let value = Value::deserialize(d)?;
    serde_json::from_value(typed_request(value)).map_err(serde::de::Error::custom)
}

/// A request in the version-1 shape (a `WriteRequested`, or `{trigger_id, system, record_id}`)
/// in the version-2 shape; a version-2 request as it is.
fn typed_request(value: Value) -> Value {
    use serde_json::json;
    let Some(object) = value.as_object() else {
        return json!({"kind": "unreadable", "recorded": value});
    };
    if object.contains_key("kind") {
        return value;
    }
    if object.contains_key("op") && object.contains_key("request_id") {
        let mut write = object.clone();
        write.insert("kind".into(), json!("write"));
        return Value::Object(write);
    }
    if let Some(trigger_id) = object.get("trigger_id") {
        let text = |key: &str| object.get(key).and_then(Value::as_str);
        let record = match (text("system"), text("record_id")) {
            (Some(system), Some(record_id)) => json!({"system": system, "record_id": record_id}),
            _ => Value::Null,
        };
        return json!({"kind": "work", "trigger_id": trigger_id, "record": record});
    }
    json!({"kind": "unreadable", "recorded": value})
}

/// Version 1 of `DeadLettered` to version 2: the request typed, an empty system absent.
pub struct DeadLetterToTyped;

impl crate::log::Upcaster for DeadLetterToTyped {
    fn event_type(&self) -> &str {
        "DeadLettered"
    }

    fn source_version(&self) -> i32 {
        1
    }

    fn upcast(&self, mut payload: Value) -> Value {
        if let Some(object) = payload.as_object_mut() {
            let request = object.remove("request").unwrap_or(Value::Null);
            object.insert("request".into(), typed_request(request));
            if object.get("target_system").and_then(Value::as_str) == Some("") {
                object.insert("target_system".into(), Value::Null);
            }
        }
        payload
    }
}

/// Work on a trigger failed for a reason other than a write's answer: a fetch answered in a way
/// that breaks the connector contract (a hostile id, another record), the configuration no
/// longer knows the system, or the job panicked. Like a failed write, the work is retried with
/// backoff (`will_retry`, `retry_at`) and, once the budget is spent, closed and dead-lettered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkFailed {
    /// The work item that failed (see [`super::DecisionMade::trigger_id`]).
    pub trigger_id: Uuid,
    pub reason: String,
    pub attempt: u32,
    pub will_retry: bool,
    pub retry_at: Option<DateTime<Utc>>,
    /// The record the work item names, when it names one (the queue row and a later retry
    /// of the dead letter fetch it again).
    pub system: Option<String>,
    pub record_id: Option<String>,
}

/// A person asked for something; `by` names them (the token's owner, never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayRequested {
    pub by: String,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResyncRequested {
    pub by: String,
    pub system: String,
    pub record_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterRetried {
    pub by: String,
    /// The event id of the `DeadLettered` event being retried.
    pub dead_letter_id: Uuid,
    /// The letter's request, carried when the retry is handed over to another entity (whose
    /// stream does not hold the letter): what `decide::dead_letter` retries there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<DeadLetterRequest>,
}

/// A person set a dead letter aside for good, saying why: it leaves the dead-letter list and
/// nothing is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterDiscarded {
    pub by: String,
    /// The event id of the `DeadLettered` event being discarded.
    pub dead_letter_id: Uuid,
    pub reason: String,
}

/// A letter's request for tests: a refused update of `erp` `e-1`.
#[cfg(test)]
pub(crate) fn refused_update(request_id: Uuid) -> DeadLetterRequest {
    DeadLetterRequest::Write(WriteRequested {
        request_id,
        target_system: "erp".into(),
        collection: "customers".into(),
        op: super::WriteOp::Update,
        record_id: Some("e-1".into()),
        fields: super::Fields::from([("email".to_string(), serde_json::json!("a@b.c"))]),
        match_fingerprint: None,
        if_match: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::log::Upcaster;

    fn upcast(old: Value) -> DeadLettered {
        serde_json::from_value(DeadLetterToTyped.upcast(old)).expect("a version-2 letter")
    }

    #[test]
    fn a_version_1_letter_of_a_write_reads_as_the_typed_write() {
        let write = refused_update(Uuid::from_u128(0xaa));
        let DeadLetterRequest::Write(w) = &write else {
            unreachable!()
        };
        let old = json!({
            "request_id": w.request_id, "target_system": "erp", "reason": "refused",
            "request": serde_json::to_value(w).unwrap(), "status": 422, "body": "no",
        });
        let letter = upcast(old);
        assert_eq!(letter.request, write);
        assert_eq!(letter.target_system.as_deref(), Some("erp"));
        assert!(letter.request.can_retry());
    }

    #[test]
    fn a_version_1_letter_of_failed_work_reads_as_work_with_its_record_and_no_empty_system() {
        let trigger = Uuid::from_u128(0x1);
        let old = json!({
            "request_id": null, "target_system": "", "reason": "gave up", "status": null,
            "body": "", "request": {"trigger_id": trigger, "system": null, "record_id": null},
        });
        let letter = upcast(old);
        assert_eq!(letter.target_system, None);
        assert_eq!(
            letter.request,
            DeadLetterRequest::Work {
                trigger_id: trigger,
                record: None
            }
        );
        assert!(!letter.request.can_retry());
        let old = json!({
            "request_id": null, "target_system": "crm", "reason": "gave up", "status": null,
            "body": "", "request": {"trigger_id": trigger, "system": "crm", "record_id": "c-1"},
        });
        let record = RecordRef {
            system: "crm".into(),
            record_id: "c-1".into(),
        };
        assert_eq!(
            upcast(old).request,
            DeadLetterRequest::Work {
                trigger_id: trigger,
                record: Some(record)
            }
        );
    }

    #[test]
    fn a_version_1_letter_of_neither_shape_is_kept_as_recorded_with_nothing_to_retry() {
        let old = json!({
            "request_id": null, "target_system": "erp", "reason": "?", "status": null,
            "body": "", "request": {"email_address": "x"},
        });
        let letter = upcast(old);
        assert_eq!(
            letter.request,
            DeadLetterRequest::Unreadable {
                recorded: json!({"email_address": "x"})
            }
        );
        assert!(!letter.request.can_retry());
    }

    #[test]
    fn a_typed_request_is_stored_with_its_kind() {
        let stored = serde_json::to_value(refused_update(Uuid::from_u128(0xaa))).unwrap();
        assert_eq!(stored["kind"], "write");
        assert_eq!(stored["op"], "update");
    }
}
