//! `syncStatus.initialSyncs`: each entity type's initial sync, as its stream in the log says.

use serde_json::json;
use syncledger_core::events::{
    InitialSyncCompleted, InitialSyncPageRead, InitialSyncStarted, SyncEvent,
};
use syncledger_core::initial_sync;
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use uuid::Uuid;

use crate::both;
use crate::support::App;

const QUERY: &str = r#"{ syncStatus(tenant: "acme") { initialSyncs {
    entityType state recordsSeen pages startedAt finishedAt startedBy earlierRuns } } }"#;

async fn append(app: &App, version: u64, event: SyncEvent) {
    let meta = EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    };
    let expected = match version {
        0 => ExpectedVersion::NoStream,
        v => ExpectedVersion::Exact(v),
    };
    app.store
        .append(vec![StreamAppend {
            stream_id: initial_sync::stream_id("acme", "customer"),
            expected,
            events: vec![event.to_new(meta)],
        }])
        .await
        .unwrap();
}

fn page(run_id: Uuid, next: Option<&str>, records: u64) -> SyncEvent {
    SyncEvent::InitialSyncPageRead(InitialSyncPageRead {
        run_id,
        system: "crm".into(),
        cursor: None,
        next_cursor: next.map(String::from),
        records,
    })
}

async fn the_status_shows_each_initial_sync_not_started_running_then_completed(app: App) {
    let status = app.admin(QUERY, json!({})).await;
    let sync = &status["syncStatus"]["initialSyncs"][0];
    assert_eq!(sync["entityType"], "customer");
    assert_eq!(sync["state"], "not_started");
    assert_eq!(
        (sync["recordsSeen"].as_i64(), sync["pages"].as_i64()),
        (Some(0), Some(0))
    );
    assert!(sync["startedAt"].is_null());

    let run_id = Uuid::now_v7();
    append(
        &app,
        0,
        SyncEvent::InitialSyncStarted(InitialSyncStarted {
            entity_type: "customer".into(),
            run_id,
            systems: vec!["crm".into(), "erp".into()],
            by: "first start".into(),
        }),
    )
    .await;
    append(&app, 1, page(run_id, Some("200"), 200)).await;
    let status = app.admin(QUERY, json!({})).await;
    let sync = &status["syncStatus"]["initialSyncs"][0];
    assert_eq!(sync["state"], "running");
    assert_eq!(
        (sync["recordsSeen"].as_i64(), sync["pages"].as_i64()),
        (Some(200), Some(1))
    );
    assert!(sync["startedAt"].is_string() && sync["finishedAt"].is_null());
    assert_eq!(sync["startedBy"], "first start");

    append(&app, 2, page(run_id, None, 17)).await;
    append(
        &app,
        3,
        SyncEvent::InitialSyncCompleted(InitialSyncCompleted {
            run_id,
            records: 217,
            pages: 2,
        }),
    )
    .await;
    let status = app.admin(QUERY, json!({})).await;
    let sync = &status["syncStatus"]["initialSyncs"][0];
    assert_eq!(sync["state"], "completed");
    assert_eq!(
        (sync["recordsSeen"].as_i64(), sync["pages"].as_i64()),
        (Some(217), Some(2))
    );
    assert!(sync["finishedAt"].is_string());
    assert_eq!(sync["earlierRuns"], 0);
}

both!(the_status_shows_each_initial_sync_not_started_running_then_completed);
