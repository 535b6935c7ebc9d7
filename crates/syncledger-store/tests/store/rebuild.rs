//! Rebuilds: same answers as the incremental path, appends during a rebuild, the old table
//! serving until the swap, crash leftovers, progress.

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use serde_json::json;
use syncledger_core::log::{ExpectedVersion, LogFilter, Position, RecordedEvent};
use syncledger_core::projection::Mode;
use syncledger_store::{ProjectionState, RebuildProgress, Store, StoreError, StoreOptions};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{Ledger, event, model, to};
use crate::harness::Harness;

both!(
    a_rebuilt_table_equals_the_incremental_one,
    appends_during_a_rebuild_are_not_lost,
    a_shadow_left_by_a_crash_is_replaced,
    back_to_back_rebuilds_do_not_refuse_each_other,
);

fn options() -> StoreOptions {
    StoreOptions {
        projections: vec![
            Ledger::arc("ledger_inline", Mode::Inline),
            Ledger::arc("ledger_later", Mode::CatchUp),
        ],
        batch_size: 7,
        ..StoreOptions::default()
    }
}

async fn all_events(store: &Store) -> Vec<RecordedEvent> {
    store
        .read_all(Position::START, &LogFilter::default(), 100_000)
        .await
        .unwrap()
}

fn want(events: &[RecordedEvent]) -> Vec<syncledger_core::projection::Row> {
    model(
        &Ledger {
            name: "x",
            mode: Mode::Inline,
        },
        events,
    )
}

async fn fill(store: &Store, streams: usize, per_stream: usize) {
    for i in 0..streams {
        let events = (0..per_stream)
            .map(|j| {
                let ty = if j == per_stream - 1 && i % 3 == 0 {
                    "deleted"
                } else {
                    "noted"
                };
                event(ty, json!({ "amount": (i * j) as i64 - 4 }))
            })
            .collect();
        store
            .append(vec![to(Uuid::now_v7(), ExpectedVersion::NoStream, events)])
            .await
            .unwrap();
    }
}

async fn a_rebuilt_table_equals_the_incremental_one(h: Harness) {
    let store = h.open(options()).await;
    fill(&store, 9, 5).await;
    store.catch_up_once().await.unwrap();
    let incremental_inline = store.all_rows("ledger_inline").await.unwrap();
    let incremental_later = store.all_rows("ledger_later").await.unwrap();
    assert_eq!(incremental_inline, want(&all_events(&store).await));
    assert_eq!(incremental_later, incremental_inline);

    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let done = store
        .rebuild("ledger_inline", move |p| seen.lock().unwrap().push(p))
        .await
        .unwrap();
    assert_eq!(
        done,
        RebuildProgress {
            done: 45,
            total: 45
        }
    );
    let reports = reports.lock().unwrap().clone();
    assert_eq!(
        reports.first(),
        Some(&RebuildProgress { done: 0, total: 45 })
    );
    assert!(
        reports.windows(2).all(|w| w[0].done <= w[1].done),
        "{reports:?}"
    );
    assert!(reports.len() >= 45 / 7, "one report per batch: {reports:?}");
    assert_eq!(
        store.all_rows("ledger_inline").await.unwrap(),
        incremental_inline
    );

    store.rebuild("ledger_later", |_| {}).await.unwrap();
    assert_eq!(
        store.all_rows("ledger_later").await.unwrap(),
        incremental_later
    );
    // Replay is deterministic, and the rebuilt tables keep working incrementally.
    store.rebuild("ledger_later", |_| {}).await.unwrap();
    assert_eq!(
        store.all_rows("ledger_later").await.unwrap(),
        incremental_later
    );
    fill(&store, 2, 3).await;
    store.catch_up_once().await.unwrap();
    let now = want(&all_events(&store).await);
    assert_eq!(store.all_rows("ledger_inline").await.unwrap(), now);
    assert_eq!(store.all_rows("ledger_later").await.unwrap(), now);
    let status = store.projection_status().await.unwrap();
    assert!(
        status
            .iter()
            .all(|p| p.status == ProjectionState::Live && p.lag == 0)
    );
}

async fn appends_during_a_rebuild_are_not_lost(h: Harness) {
    let store = h.open(options()).await;
    fill(&store, 6, 5).await;
    let before = store.all_rows("ledger_inline").await.unwrap();
    let batches = Arc::new(Mutex::new(0usize));
    let appender = store.clone();
    let checks = Arc::new(Mutex::new(Vec::new()));
    let checks_in_hook = checks.clone();
    let result = store
        .rebuild_with_hook("ledger_inline", move |progress| {
            let (store, batches, checks) =
                (appender.clone(), batches.clone(), checks_in_hook.clone());
            async move {
                let n = {
                    let mut b = batches.lock().unwrap();
                    *b += 1;
                    *b
                };
                // The live table still serves, and status shows the rebuild.
                let live = store.all_rows("ledger_inline").await.unwrap();
                let status = store.projection_status().await.unwrap();
                let inline = status
                    .into_iter()
                    .find(|p| p.name == "ledger_inline")
                    .unwrap();
                checks
                    .lock()
                    .unwrap()
                    .push((n, live.len(), inline.status, progress));
                let again = store.rebuild("ledger_inline", |_| {}).await;
                assert!(
                    matches!(again, Err(StoreError::InvalidInput(_))),
                    "second rebuild ran"
                );
                if n <= 6 {
                    let events = vec![
                        event("noted", json!({ "amount": n })),
                        event("deleted", json!({})),
                    ];
                    store
                        .append(vec![to(Uuid::now_v7(), ExpectedVersion::NoStream, events)])
                        .await
                        .unwrap();
                }
            }
            .boxed()
        })
        .await
        .unwrap();
    let checks = checks.lock().unwrap().clone();
    assert!(
        checks.len() >= 5,
        "the rebuild ran in several batches: {checks:?}"
    );
    let (_, live_rows, status, progress) = checks[0];
    assert!(live_rows >= before.len(), "the old table kept serving");
    assert_eq!(
        status,
        ProjectionState::Rebuilding {
            done: progress.done,
            total: progress.total
        }
    );

    let events = all_events(&store).await;
    assert_eq!(events.len(), 30 + 2 * 6.min(checks.len()));
    assert_eq!(result.done as usize, events.len());
    assert_eq!(
        store.all_rows("ledger_inline").await.unwrap(),
        want(&events)
    );
    let status = store.projection_status().await.unwrap();
    let inline = status.iter().find(|p| p.name == "ledger_inline").unwrap();
    assert_eq!((inline.status, inline.lag), (ProjectionState::Live, 0));
}

async fn a_shadow_left_by_a_crash_is_replaced(h: Harness) {
    let store = h.open(options()).await;
    fill(&store, 3, 2).await;
    h.execute(
        "CREATE TABLE ledger_inline__rebuild (key TEXT PRIMARY KEY, junk TEXT); \
         INSERT INTO ledger_inline__rebuild VALUES ('stale', 'x'); \
         UPDATE projection_checkpoints SET status = 'rebuilding' WHERE name = 'ledger_inline'",
    )
    .await;
    let status = store.projection_status().await.unwrap();
    assert!(matches!(
        status[0].status,
        ProjectionState::Rebuilding { .. }
    ));
    store.rebuild("ledger_inline", |_| {}).await.unwrap();
    assert_eq!(
        store.all_rows("ledger_inline").await.unwrap(),
        want(&all_events(&store).await)
    );
    let status = store.projection_status().await.unwrap();
    assert!(status.iter().all(|p| p.status == ProjectionState::Live));
}

/// A finished rebuild releases its claim (on PostgreSQL a session lock) before it returns, so
/// the next one may start at once.
async fn back_to_back_rebuilds_do_not_refuse_each_other(h: Harness) {
    let store = h.open(options()).await;
    fill(&store, 2, 3).await;
    for _ in 0..20 {
        store.rebuild("ledger_inline", |_| {}).await.unwrap();
    }
    assert_eq!(
        store.all_rows("ledger_inline").await.unwrap(),
        want(&all_events(&store).await)
    );
}
