//! A database written by an older version opens with the product's upcasters: an event recorded
//! at an older schema version reads as today's type, on both backends (`app::open_store`, the
//! one door `serve`, `rebuild`, `history` and `reconcile` open the store through).

use serde_json::json;
use syncledger_cli::app::open_store;
use syncledger_core::events::{Basis, DeadLetterRequest, DecisionKind, RecordRef, SyncEvent};
use syncledger_core::log::{EventMeta, ExpectedVersion, NewEvent, StreamAppend};
use syncledger_test_support::ScratchDb;
use uuid::Uuid;

/// A `DecisionMade` as version 1 stored it: its reason as text, no basis.
fn version_1_decision() -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "DecisionMade".into(),
        schema_version: 1,
        payload: json!({
            "trigger_id": Uuid::now_v7(),
            "kind": "skip",
            "source_system": "crm",
            "target_system": "erp",
            "reason": "erp already holds these values",
            "diff": [],
            "request_id": null,
        }),
        meta: EventMeta {
            tenant: "acme".into(),
            correlation_id: None,
            causation_id: None,
        },
    }
}

async fn a_version_1_decision_reads_with_its_reason_as_a_recorded_basis(url: &str) {
    let store = open_store(url, None).await.expect("open the store");
    let stream = Uuid::now_v7();
    store
        .append(vec![StreamAppend {
            stream_id: stream,
            expected: ExpectedVersion::NoStream,
            events: vec![version_1_decision()],
        }])
        .await
        .expect("append");
    let events = store.read_stream(stream, 1, i64::MAX).await.expect("read");
    assert_eq!(events.len(), 1);
    let SyncEvent::DecisionMade(decision) = SyncEvent::from_recorded(&events[0]).expect("decode")
    else {
        panic!("not a decision: {:?}", events[0]);
    };
    assert_eq!(decision.kind, DecisionKind::Skip);
    assert_eq!(
        decision.basis,
        Basis::Recorded {
            reason: "erp already holds these values".into()
        }
    );
    assert_eq!(decision.reason(), "erp already holds these values");
}

#[tokio::test]
async fn sqlite_opens_a_version_1_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    a_version_1_decision_reads_with_its_reason_as_a_recorded_basis(&url).await;
}

#[tokio::test]
async fn postgres_opens_a_version_1_log() {
    let db = ScratchDb::create(format!("old_events_{}", std::process::id())).await;
    a_version_1_decision_reads_with_its_reason_as_a_recorded_basis(&db.url).await;
    db.drop().await;
}

/// A `DeadLettered` as version 1 stored it: the failed work's request as untyped JSON, and an
/// empty system.
fn version_1_dead_letter(trigger_id: Uuid) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "DeadLettered".into(),
        schema_version: 1,
        payload: json!({
            "request_id": null,
            "target_system": "",
            "reason": "gave up after 10 failed attempts: the job panicked",
            "request": {"trigger_id": trigger_id, "system": "crm", "record_id": "c-42"},
            "status": null,
            "body": "",
        }),
        meta: EventMeta {
            tenant: "acme".into(),
            correlation_id: None,
            causation_id: None,
        },
    }
}

async fn a_version_1_dead_letter_reads_with_a_typed_request(url: &str) {
    let store = open_store(url, None).await.expect("open the store");
    let stream = Uuid::now_v7();
    let trigger_id = Uuid::now_v7();
    store
        .append(vec![StreamAppend {
            stream_id: stream,
            expected: ExpectedVersion::NoStream,
            events: vec![version_1_dead_letter(trigger_id)],
        }])
        .await
        .expect("append");
    let events = store.read_stream(stream, 1, i64::MAX).await.expect("read");
    let SyncEvent::DeadLettered(letter) = SyncEvent::from_recorded(&events[0]).expect("decode")
    else {
        panic!("not a dead letter: {:?}", events[0]);
    };
    assert_eq!(events[0].schema_version, 2);
    assert_eq!(letter.target_system, None);
    assert_eq!(
        letter.request,
        DeadLetterRequest::Work {
            trigger_id,
            record: Some(RecordRef {
                system: "crm".into(),
                record_id: "c-42".into()
            }),
        }
    );
}

#[tokio::test]
async fn sqlite_reads_a_version_1_dead_letter() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    a_version_1_dead_letter_reads_with_a_typed_request(&url).await;
}

#[tokio::test]
async fn postgres_reads_a_version_1_dead_letter() {
    let db = ScratchDb::create(format!("old_letters_{}", std::process::id())).await;
    a_version_1_dead_letter_reads_with_a_typed_request(&db.url).await;
    db.drop().await;
}
