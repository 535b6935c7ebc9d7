//! The projection engine: inline and catch-up projections, queries, status.

use std::time::Duration;

use serde_json::json;
use syncledger_core::log::{ExpectedVersion, LogFilter, Position};
use syncledger_core::projection::Mode;
use syncledger_store::{ProjectionState, Store, StoreError, StoreOptions};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{Ledger, event, model, some_events, to};
use crate::harness::{Harness, wait_until};

both!(
    an_inline_projection_is_visible_when_the_append_commits,
    a_catch_up_projection_reaches_the_head,
    catch_up_projections_at_one_checkpoint_read_the_log_once_and_one_ahead_waits,
    the_projection_runner_follows_new_appends,
    an_inline_projection_registered_late_is_built_from_the_log,
    unknown_and_malformed_projections_are_refused,
);

pub fn ledger_options(batch_size: usize) -> StoreOptions {
    StoreOptions {
        projections: vec![
            Ledger::arc("ledger_inline", Mode::Inline),
            Ledger::arc("ledger_later", Mode::CatchUp),
        ],
        batch_size,
        ..StoreOptions::default()
    }
}

async fn all_events(store: &Store) -> Vec<syncledger_core::log::RecordedEvent> {
    store
        .read_all(Position::START, &LogFilter::default(), 100_000)
        .await
        .unwrap()
}

async fn an_inline_projection_is_visible_when_the_append_commits(h: Harness) {
    let store = h.open(ledger_options(1000)).await;
    let s = Uuid::now_v7();
    let held = store
        .begin_append(vec![to(
            s,
            ExpectedVersion::NoStream,
            vec![event("created", json!({ "amount": 5 }))],
        )])
        .await
        .unwrap();
    let key = format!("stream:{s}");
    assert_eq!(
        store.row("ledger_inline", &key).await.unwrap(),
        None,
        "visible before commit"
    );
    held.commit().await.unwrap();

    let row = store
        .row("ledger_inline", &key)
        .await
        .unwrap()
        .expect("visible at commit");
    assert_eq!(
        (row.entity_id, row.n, row.doc["type"].clone()),
        (Some(s), 1, json!("created"))
    );
    assert_eq!(
        store.row("ledger_later", &key).await.unwrap(),
        None,
        "catch-up ran inline"
    );
    let status = store.projection_status().await.unwrap();
    let inline = status.iter().find(|p| p.name == "ledger_inline").unwrap();
    assert_eq!(
        (inline.mode, inline.checkpoint, inline.lag),
        (Mode::Inline, store.head().await.unwrap(), 0)
    );

    // A refused append leaves the inline table as it was.
    let refused = store
        .append(vec![to(
            s,
            ExpectedVersion::NoStream,
            vec![event("deleted", json!({}))],
        )])
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))));
    assert!(store.row("ledger_inline", &key).await.unwrap().is_some());
    assert_eq!(
        store.all_rows("ledger_inline").await.unwrap(),
        model(
            &Ledger {
                name: "x",
                mode: Mode::Inline
            },
            &all_events(&store).await
        )
    );
}

async fn a_catch_up_projection_reaches_the_head(h: Harness) {
    let store = h.open(ledger_options(4)).await;
    for i in 0..5 {
        let batch = vec![
            event("noted", json!({ "amount": i })),
            event("noted", json!({})),
        ];
        store
            .append(vec![to(Uuid::now_v7(), ExpectedVersion::NoStream, batch)])
            .await
            .unwrap();
    }
    let lagging = store.projection_status().await.unwrap();
    let later = lagging.iter().find(|p| p.name == "ledger_later").unwrap();
    assert_eq!(
        (later.mode, later.checkpoint, later.lag),
        (Mode::CatchUp, Position::START, 10)
    );
    assert_eq!(later.status, ProjectionState::Live);

    assert_eq!(store.catch_up_once().await.unwrap(), 10);
    assert_eq!(store.catch_up_once().await.unwrap(), 0);
    let head = store.head().await.unwrap();
    let status = store.projection_status().await.unwrap();
    let later = status.iter().find(|p| p.name == "ledger_later").unwrap();
    assert_eq!((later.checkpoint, later.head, later.lag), (head, head, 0));
    let want = model(
        &Ledger {
            name: "x",
            mode: Mode::CatchUp,
        },
        &all_events(&store).await,
    );
    assert_eq!(store.all_rows("ledger_later").await.unwrap(), want);
    assert_eq!(store.all_rows("ledger_inline").await.unwrap(), want);
}

async fn catch_up_projections_at_one_checkpoint_read_the_log_once_and_one_ahead_waits(h: Harness) {
    let store = h
        .open(StoreOptions {
            projections: vec![
                Ledger::arc("ledger_a", Mode::CatchUp),
                Ledger::arc("ledger_b", Mode::CatchUp),
            ],
            batch_size: 4,
            ..StoreOptions::default()
        })
        .await;
    let append = |n: usize| {
        let store = store.clone();
        async move {
            for i in 0..n {
                let batch = vec![event("noted", json!({ "amount": i }))];
                store
                    .append(vec![to(Uuid::now_v7(), ExpectedVersion::NoStream, batch)])
                    .await
                    .unwrap();
            }
        }
    };
    let want = |events: &[syncledger_core::log::RecordedEvent]| {
        model(
            &Ledger {
                name: "x",
                mode: Mode::CatchUp,
            },
            events,
        )
    };
    // Both stand at 0: each page is read once for the two of them, so 10 events count 10.
    append(10).await;
    assert_eq!(store.catch_up_once().await.unwrap(), 10);
    // ledger_b rebuilt after 6 more: it stands at the head, ledger_a 6 behind and alone.
    append(6).await;
    store.rebuild("ledger_b", |_| {}).await.unwrap();
    assert_eq!(store.catch_up_once().await.unwrap(), 6);
    // Together again from here.
    append(3).await;
    assert_eq!(store.catch_up_once().await.unwrap(), 3);
    assert_eq!(store.catch_up_once().await.unwrap(), 0);
    let expected = want(&all_events(&store).await);
    assert_eq!(store.all_rows("ledger_a").await.unwrap(), expected);
    assert_eq!(store.all_rows("ledger_b").await.unwrap(), expected);
    let head = store.head().await.unwrap();
    for status in store.projection_status().await.unwrap() {
        assert_eq!(
            (status.name.as_str(), status.checkpoint),
            (status.name.as_str(), head)
        );
    }
}

async fn the_projection_runner_follows_new_appends(h: Harness) {
    let store = h
        .open(StoreOptions {
            poll_interval: Duration::from_secs(120),
            ..ledger_options(100)
        })
        .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = store.clone();
    let running = tokio::spawn(async move {
        runner
            .run_projections(async { stopped.await.unwrap_or(()) })
            .await
    });
    let s = Uuid::now_v7();
    store
        .append(vec![to(s, ExpectedVersion::NoStream, some_events(3))])
        .await
        .unwrap();
    let key = format!("stream:{s}");
    wait_until("the runner applied the append", || async {
        store
            .row("ledger_later", &key)
            .await
            .unwrap()
            .is_some_and(|r| r.n == 3)
    })
    .await;
    store
        .append(vec![to(
            s,
            ExpectedVersion::Exact(3),
            vec![event("deleted", json!({}))],
        )])
        .await
        .unwrap();
    wait_until("the runner applied the delete", || async {
        store.row("ledger_later", &key).await.unwrap().is_none()
    })
    .await;
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

async fn an_inline_projection_registered_late_is_built_from_the_log(h: Harness) {
    let plain = h.store().await;
    for _ in 0..3 {
        plain
            .append(vec![to(
                Uuid::now_v7(),
                ExpectedVersion::NoStream,
                some_events(2),
            )])
            .await
            .unwrap();
    }
    let store = h.open(ledger_options(2)).await;
    let want = model(
        &Ledger {
            name: "x",
            mode: Mode::Inline,
        },
        &all_events(&store).await,
    );
    assert_eq!(store.all_rows("ledger_inline").await.unwrap(), want);
    let status = store.projection_status().await.unwrap();
    let inline = status.iter().find(|p| p.name == "ledger_inline").unwrap();
    assert_eq!(
        (inline.checkpoint, inline.lag),
        (store.head().await.unwrap(), 0)
    );
}

async fn unknown_and_malformed_projections_are_refused(h: Harness) {
    let store = h.store().await;
    assert!(matches!(
        store.row("nope", "k").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.rebuild("nope", |_| {}).await,
        Err(StoreError::NotFound)
    ));
    for bad in ["events", "Robert'); DROP TABLE events;--", "a__b"] {
        let name: &'static str = Box::leak(bad.to_owned().into_boxed_str());
        let options = StoreOptions {
            projections: vec![Ledger::arc(name, Mode::Inline)],
            ..StoreOptions::default()
        };
        let opened = match &h {
            Harness::Sqlite { url, .. } => Store::connect(url, options).await,
            Harness::Postgres { pool } => Store::from_pg_pool(pool.clone(), options),
        };
        assert!(
            matches!(opened, Err(StoreError::InvalidInput(_))),
            "{bad:?} accepted"
        );
    }
    let twice = StoreOptions {
        projections: vec![
            Ledger::arc("dup", Mode::Inline),
            Ledger::arc("dup", Mode::CatchUp),
        ],
        ..StoreOptions::default()
    };
    let opened = match &h {
        Harness::Sqlite { url, .. } => Store::connect(url, twice).await,
        Harness::Postgres { pool } => Store::from_pg_pool(pool.clone(), twice),
    };
    assert!(matches!(opened, Err(StoreError::InvalidInput(_))));
}
