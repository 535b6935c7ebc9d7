//! How a discovered record and a held work item fold into an entity and its queue rows: given
//! the events, then the state and the rows a worker and the initial sync act on.

use chrono::{TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::entity::{EntityState, TriggerKind};
use crate::events::{
    Action, Fields, RecordDiscovered, RecordLinked, SyncEvent, WorkHeld, WorkReleased,
};
use crate::log::{EventMeta, Position, RecordedEvent};
use crate::projection::{Projection, RowOp};
use crate::projections::pending_queue::{self, PendingQueue};

const ENTITY: Uuid = Uuid::from_u128(0xe1);
const SYNC: Uuid = Uuid::from_u128(0x5);

fn given(events: Vec<SyncEvent>) -> Vec<RecordedEvent> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let n = i as u64 + 1;
            let new = e.to_new_with_id(
                Uuid::from_u128(0x100 + n as u128),
                EventMeta {
                    tenant: "acme".into(),
                    correlation_id: None,
                    causation_id: None,
                },
            );
            RecordedEvent {
                position: Position(n as i64),
                stream_id: ENTITY,
                sequence: n,
                event_id: new.event_id,
                event_type: new.event_type,
                schema_version: new.schema_version,
                payload: new.payload,
                meta: new.meta,
                recorded_at: Utc.with_ymd_and_hms(2026, 12, 4, 18, 0, n as u32).unwrap(),
            }
        })
        .collect()
}

fn discovered() -> SyncEvent {
    SyncEvent::RecordDiscovered(RecordDiscovered {
        entity_type: "customer".into(),
        system: "crm".into(),
        collection: "contacts".into(),
        record_id: "c-7".into(),
        run_id: Uuid::from_u128(0x7),
        fields: Fields::from([("email".to_string(), json!("ada@example.com"))]),
    })
}

const TRIGGER: Uuid = Uuid::from_u128(0x101);

fn held() -> SyncEvent {
    SyncEvent::WorkHeld(WorkHeld {
        trigger_id: TRIGGER,
        system: Some("crm".into()),
        record_id: Some("c-7".into()),
        target_system: "erp".into(),
        initial_sync: SYNC,
        run_id: Uuid::from_u128(0x7),
    })
}

#[test]
fn a_discovered_record_is_owed_what_an_updated_webhook_is_owed() {
    let state = EntityState::fold(ENTITY, &given(vec![discovered()]));
    assert_eq!(state.entity_type.as_deref(), Some("customer"));
    assert_eq!(state.open_triggers.len(), 1);
    assert_eq!(
        state.open_triggers[0].kind,
        TriggerKind::Observed {
            system: "crm".into(),
            collection: "contacts".into(),
            record_id: "c-7".into(),
            action: Action::Updated,
        }
    );
    assert_eq!(state.discovered["crm"].0, "c-7");
    assert!(state.first_trigger_held().is_none());
}

#[test]
fn a_link_ends_what_the_discovery_held_for_matching() {
    let linked = SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: "crm".into(),
        collection: "contacts".into(),
        record_id: "c-7".into(),
        reason: "first seen in crm".into(),
    });
    let state = EntityState::fold(ENTITY, &given(vec![discovered(), linked]));
    assert!(state.discovered.is_empty());
}

#[test]
fn held_work_waits_and_is_released() {
    let events = given(vec![discovered(), held()]);
    let state = EntityState::fold(ENTITY, &events);
    assert_eq!(
        state.first_trigger_held().map(|h| h.trigger_id),
        Some(TRIGGER)
    );
    assert!(!state.open_triggers.is_empty(), "held work is still owed");
    let released = SyncEvent::WorkReleased(WorkReleased {
        trigger_id: TRIGGER,
        system: Some("crm".into()),
        record_id: Some("c-7".into()),
    });
    let state = EntityState::fold(ENTITY, &given(vec![discovered(), held(), released]));
    assert!(state.first_trigger_held().is_none());
    assert_eq!(state.open_triggers.len(), 1, "released, still to decide");
}

#[test]
fn a_held_row_is_never_due_until_released() {
    let events = given(vec![discovered(), held()]);
    let put = |event: &RecordedEvent| match PendingQueue.apply(event).as_slice() {
        [RowOp::Put(row)] => row.clone(),
        other => panic!("one put expected, got {other:?}"),
    };
    let trigger_row = put(&events[0]);
    assert_eq!(trigger_row.key, pending_queue::trigger_key(TRIGGER));
    let held_row = put(&events[1]);
    assert_eq!(held_row.key, trigger_row.key, "the same row, moved");
    let far_future =
        pending_queue::due_sort_key(Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap());
    assert!(held_row.sort_key > far_future, "{}", held_row.sort_key);
    assert!(
        held_row
            .sort_key
            .starts_with(&pending_queue::held_prefix(SYNC))
    );
    let released = given(vec![
        discovered(),
        held(),
        SyncEvent::WorkReleased(WorkReleased {
            trigger_id: TRIGGER,
            system: Some("crm".into()),
            record_id: Some("c-7".into()),
        }),
    ]);
    let due_row = put(&released[2]);
    assert_eq!(due_row.key, trigger_row.key);
    let now = pending_queue::due_sort_key(Utc.with_ymd_and_hms(2026, 12, 4, 19, 0, 0).unwrap());
    assert!(due_row.sort_key <= now, "due again: {}", due_row.sort_key);
}

// The hold as a decision (`initial_sync::hold`), step by step.

mod steps {
    use super::*;
    use crate::decide::Outcome;
    use crate::events::{
        Basis, DecisionKind, DecisionMade, InitialSyncPageRead, InitialSyncStarted,
    };
    use crate::initial_sync::InitialSync;
    use crate::initial_sync::hold::{creates, hold_for_listing, release};

    const RUN: Uuid = Uuid::from_u128(0x7);

    /// The customer sync's run, with the systems listed so far.
    fn sync(listed: &[&str]) -> InitialSync {
        let mut events = vec![SyncEvent::InitialSyncStarted(InitialSyncStarted {
            entity_type: "customer".into(),
            run_id: RUN,
            systems: vec!["crm".into(), "erp".into()],
            by: "first start".into(),
        })];
        events.extend(listed.iter().map(|system| {
            SyncEvent::InitialSyncPageRead(InitialSyncPageRead {
                run_id: RUN,
                system: system.to_string(),
                cursor: None,
                next_cursor: None,
                records: 1,
            })
        }));
        InitialSync::fold(&given(events))
    }

    fn decision(kind: DecisionKind) -> Outcome {
        SyncEvent::DecisionMade(DecisionMade {
            trigger_id: Some(TRIGGER),
            kind,
            source_system: "crm".into(),
            target_system: "erp".into(),
            basis: Basis::NoRecordInTarget {
                record_id: "c-7".into(),
            },
            diff: vec![],
            request_id: None,
            write: None,
        })
        .into()
    }

    #[test]
    fn hold_step1_a_create_towards_a_system_not_listed_yet_is_held() {
        let state = EntityState::fold(ENTITY, &given(vec![discovered()]));
        let trigger = &state.open_triggers[0];
        let create = decision(DecisionKind::Create);
        assert!(creates(&create));
        let held = hold_for_listing(&sync(&["crm"]), &state, "customer", trigger, &create);
        assert_eq!(
            held,
            Some(WorkHeld {
                trigger_id: TRIGGER,
                system: Some("crm".into()),
                record_id: Some("c-7".into()),
                target_system: "erp".into(),
                initial_sync: crate::initial_sync::stream_id("acme", "customer"),
                run_id: RUN,
            })
        );
    }

    #[test]
    fn hold_step1_an_update_or_a_create_towards_a_listed_system_goes_on() {
        let state = EntityState::fold(ENTITY, &given(vec![discovered()]));
        let trigger = &state.open_triggers[0];
        let update = decision(DecisionKind::Update);
        assert!(!creates(&update));
        assert_eq!(
            hold_for_listing(&sync(&["crm"]), &state, "customer", trigger, &update),
            None
        );
        let create = decision(DecisionKind::Create);
        let listed = sync(&["crm", "erp"]);
        assert_eq!(
            hold_for_listing(&listed, &state, "customer", trigger, &create),
            None
        );
    }

    #[test]
    fn hold_step2_held_work_is_released_once_its_target_is_listed() {
        let state = EntityState::fold(ENTITY, &given(vec![discovered(), held()]));
        assert_eq!(release(&sync(&["crm"]), &state), None, "still waiting");
        assert_eq!(
            release(&sync(&["crm", "erp"]), &state),
            Some(WorkReleased {
                trigger_id: TRIGGER,
                system: Some("crm".into()),
                record_id: Some("c-7".into()),
            })
        );
        let nothing_held = EntityState::fold(ENTITY, &given(vec![discovered()]));
        assert_eq!(release(&sync(&["crm", "erp"]), &nothing_held), None);
    }
}
