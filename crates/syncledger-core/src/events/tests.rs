use super::*;

#[test]
fn every_catalog_name_round_trips_through_an_envelope() {
    let event = SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: "erp".into(),
        collection: "customers".into(),
        record_id: "E7".into(),
        reason: "created by sync".into(),
    });
    let meta = EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    };
    let new = event.to_new(meta.clone());
    let recorded = RecordedEvent {
        position: crate::log::Position(1),
        stream_id: Uuid::nil(),
        sequence: 1,
        event_id: new.event_id,
        event_type: new.event_type.clone(),
        schema_version: new.schema_version,
        payload: new.payload.clone(),
        meta,
        recorded_at: Utc::now(),
    };
    assert_eq!(SyncEvent::from_recorded(&recorded).unwrap(), event);
    assert!(EVENT_TYPES.contains(&event.event_type()));
}

#[test]
fn entity_ids_are_stable_and_distinct_per_record() {
    let a = entity_id_for_record("acme", "customer", "crm", "c-42");
    assert_eq!(a, entity_id_for_record("acme", "customer", "crm", "c-42"));
    assert_ne!(a, entity_id_for_record("acme", "customer", "erp", "c-42"));
    assert_ne!(a, entity_id_for_record("acme", "customer", "crm", "c-43"));
}
