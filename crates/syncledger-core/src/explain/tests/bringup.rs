//! The bring-up events in words, and a decision caused by a record the initial sync found.

use serde_json::json;
use uuid::Uuid;

use super::Stream;
use crate::events::{
    Basis, DecisionKind, DecisionMade, Fields, InitialSyncCompleted, InitialSyncPageRead,
    InitialSyncStarted, RecordDiscovered, SyncEvent, WorkHeld, WorkReleased,
};
use crate::explain::explain_stream;

const RUN: Uuid = Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0007);

fn discovered() -> SyncEvent {
    SyncEvent::RecordDiscovered(RecordDiscovered {
        entity_type: "customer".into(),
        system: "crm".into(),
        collection: "contacts".into(),
        record_id: "c-7".into(),
        run_id: RUN,
        fields: Fields::from([("email".to_string(), json!("ada@example.com"))]),
    })
}

/// One of each bring-up event (pushed into the every-type test's stream).
pub(super) fn bringup_events(s: &mut Stream) {
    s.push(SyncEvent::InitialSyncStarted(InitialSyncStarted {
        entity_type: "customer".into(),
        run_id: RUN,
        systems: vec!["crm".into(), "erp".into()],
        by: "first start".into(),
    }));
    s.push(SyncEvent::InitialSyncPageRead(InitialSyncPageRead {
        run_id: RUN,
        system: "crm".into(),
        cursor: None,
        next_cursor: Some("200".into()),
        records: 200,
    }));
    let trigger = s.push(discovered());
    s.push(SyncEvent::WorkHeld(WorkHeld {
        trigger_id: trigger,
        system: Some("crm".into()),
        record_id: Some("c-7".into()),
        target_system: "erp".into(),
        initial_sync: Uuid::from_u128(0x5),
        run_id: RUN,
    }));
    s.push(SyncEvent::WorkReleased(WorkReleased {
        trigger_id: trigger,
        system: Some("crm".into()),
        record_id: Some("c-7".into()),
    }));
    s.push(SyncEvent::InitialSyncCompleted(InitialSyncCompleted {
        run_id: RUN,
        records: 200,
        pages: 1,
    }));
}

#[test]
fn a_discovered_record_and_the_decision_it_caused_read_as_the_initial_sync() {
    let mut s = Stream(Vec::new());
    let trigger = s.push(discovered());
    s.push(SyncEvent::WorkHeld(WorkHeld {
        trigger_id: trigger,
        system: Some("crm".into()),
        record_id: Some("c-7".into()),
        target_system: "erp".into(),
        initial_sync: Uuid::from_u128(0x5),
        run_id: RUN,
    }));
    s.push(SyncEvent::DecisionMade(DecisionMade {
        trigger_id: Some(trigger),
        kind: DecisionKind::Link,
        source_system: "crm".into(),
        target_system: "erp".into(),
        basis: Basis::EqualMatchKeys {
            record_id: "E-1".into(),
            keys: vec!["email".into()],
        },
        diff: vec![],
        request_id: None,
        write: None,
    }));
    let lines = explain_stream("customer", &s.0);
    assert_eq!(
        lines[0],
        "the initial sync found crm contact c-7 holding email=ada@example.com (run 01910000); \
         it is synced like a change"
    );
    assert_eq!(
        lines[1],
        "held this work until the initial sync has listed erp: a record there may have the same \
         match keys, and creating one now could duplicate it"
    );
}
