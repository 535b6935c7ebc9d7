//! The resume logic of the initial sync, on plain folded streams.

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::events::{InitialSyncCompleted, InitialSyncPageRead, InitialSyncStarted};
use crate::log::{EventMeta, Position};

const RUN: Uuid = Uuid::from_u128(0x7);

fn stream(events: Vec<SyncEvent>) -> Vec<RecordedEvent> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let n = i as i64 + 1;
            let new = e.to_new(EventMeta {
                tenant: "acme".into(),
                correlation_id: None,
                causation_id: None,
            });
            RecordedEvent {
                position: Position(n),
                stream_id: stream_id("acme", "customer"),
                sequence: n as u64,
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

fn started(run_id: Uuid) -> SyncEvent {
    SyncEvent::InitialSyncStarted(InitialSyncStarted {
        entity_type: "customer".into(),
        run_id,
        systems: vec!["crm".into(), "erp".into()],
        by: "first start".into(),
    })
}

fn page(system: &str, cursor: Option<&str>, next: Option<&str>, records: u64) -> SyncEvent {
    SyncEvent::InitialSyncPageRead(InitialSyncPageRead {
        run_id: RUN,
        system: system.into(),
        cursor: cursor.map(String::from),
        next_cursor: next.map(String::from),
        records,
    })
}

#[test]
fn an_empty_stream_is_a_sync_never_started() {
    let sync = InitialSync::fold(&stream(vec![]));
    assert_eq!(sync.phase(), Phase::NotStarted);
    assert_eq!(sync.next_step(), Step::Start);
    assert_eq!(sync.holds_creates_towards("erp"), None);
}

#[test]
fn a_sync_cut_short_resumes_from_the_last_recorded_cursor() {
    let events = stream(vec![
        started(RUN),
        page("crm", None, Some("c2"), 100),
        page("crm", Some("c2"), None, 50),
        page("erp", None, Some("e2"), 100),
    ]);
    let sync = InitialSync::fold(&events);
    assert_eq!(sync.phase(), Phase::Running);
    assert_eq!(sync.version, 4);
    assert_eq!(
        sync.next_step(),
        Step::ReadPage {
            system: "erp".into(),
            cursor: Some("e2".into())
        }
    );
    let run = sync.run.as_ref().unwrap();
    assert_eq!((run.pages(), run.records()), (3, 250));
    // crm is listed: creates towards it may go; erp is not.
    assert_eq!(sync.holds_creates_towards("crm"), None);
    assert_eq!(sync.holds_creates_towards("erp"), Some(RUN));
}

#[test]
fn a_completed_sync_has_nothing_left_and_holds_nothing() {
    let events = stream(vec![
        started(RUN),
        page("crm", None, None, 3),
        page("erp", None, None, 0),
        SyncEvent::InitialSyncCompleted(InitialSyncCompleted {
            run_id: RUN,
            records: 3,
            pages: 2,
        }),
    ]);
    let sync = InitialSync::fold(&events);
    assert_eq!(sync.phase(), Phase::Completed);
    assert_eq!(sync.next_step(), Step::Done);
    assert_eq!(sync.holds_creates_towards("erp"), None);
    assert!(sync.run.unwrap().finished_at.is_some());
}

#[test]
fn every_system_listed_asks_for_completion() {
    let events = stream(vec![
        started(RUN),
        page("crm", None, None, 3),
        page("erp", None, None, 0),
    ]);
    assert_eq!(InitialSync::fold(&events).next_step(), Step::Complete);
}

#[test]
fn a_new_run_starts_over_and_counts_the_earlier_one() {
    let second = Uuid::from_u128(0x8);
    let events = stream(vec![
        started(RUN),
        page("crm", None, None, 3),
        page("erp", None, None, 0),
        SyncEvent::InitialSyncCompleted(InitialSyncCompleted {
            run_id: RUN,
            records: 3,
            pages: 2,
        }),
        started(second),
    ]);
    let sync = InitialSync::fold(&events);
    assert_eq!(sync.earlier_runs, 1);
    assert_eq!(sync.phase(), Phase::Running);
    assert_eq!(
        sync.next_step(),
        Step::ReadPage {
            system: "crm".into(),
            cursor: None
        }
    );
}

#[test]
fn a_system_answering_its_own_cursor_again_counts_as_listed() {
    let events = stream(vec![started(RUN), page("crm", Some("x"), Some("x"), 0)]);
    // Only the crm's first page is the "x" page here; what matters is that it does not loop.
    let sync = InitialSync::fold(&events);
    assert_eq!(
        sync.next_step(),
        Step::ReadPage {
            system: "erp".into(),
            cursor: None
        }
    );
}

#[test]
fn stream_ids_are_per_tenant_and_entity_type() {
    assert_eq!(stream_id("acme", "customer"), stream_id("acme", "customer"));
    assert_ne!(stream_id("acme", "customer"), stream_id("beta", "customer"));
    assert_ne!(stream_id("acme", "customer"), stream_id("acme", "order"));
}
