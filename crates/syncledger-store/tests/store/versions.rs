//! A projection whose rows change form (`Projection::version`, docs/log.md "Projection
//! versions"): a database whose rows a build of another version wrote is emptied and folded
//! again at migrate, so no row of the old form stays behind; a database already in the form is
//! left alone. Inline and catch-up, both backends.

use syncledger_core::log::{ExpectedVersion, LogFilter, Position, RecordedEvent};
use syncledger_core::projection::{Mode, Projection, RowOp};
use syncledger_store::{Store, StoreOptions};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{Ledger, model, some_events, to};
use crate::harness::Harness;

both!(
    a_catch_up_projection_of_a_new_version_drops_the_old_rows,
    an_inline_projection_of_a_new_version_drops_the_old_rows,
);

/// The fixture projection at version 2: it no longer keeps the per-stream rows.
struct Leaner(Ledger);

impl Projection for Leaner {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn mode(&self) -> Mode {
        self.0.mode()
    }
    fn version(&self) -> u32 {
        2
    }
    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let per_stream = format!("stream:{}", event.stream_id);
        self.0
            .apply(event)
            .into_iter()
            .filter(|op| match op {
                RowOp::Put(row) => row.key != per_stream,
                RowOp::Delete { key } => *key != per_stream,
                _ => true,
            })
            .collect()
    }
}

async fn open(h: &Harness, projection: impl Projection + 'static) -> Store {
    h.open(StoreOptions {
        projections: vec![std::sync::Arc::new(projection)],
        ..StoreOptions::default()
    })
    .await
}

async fn old_rows_go(h: Harness, mode: Mode) {
    let old = open(
        &h,
        Ledger {
            name: "ledger",
            mode,
        },
    )
    .await;
    let stream = Uuid::now_v7();
    old.append(vec![to(stream, ExpectedVersion::NoStream, some_events(5))])
        .await
        .unwrap();
    old.catch_up_once().await.unwrap();
    let before = old.all_rows("ledger").await.unwrap();
    assert!(before.iter().any(|r| r.key.starts_with("stream:")));

    // A build whose projection keeps fewer rows opens the same database.
    let new = open(
        &h,
        Leaner(Ledger {
            name: "ledger",
            mode,
        }),
    )
    .await;
    new.catch_up_once().await.unwrap();
    let log = new
        .read_all(Position::START, &LogFilter::default(), 100)
        .await
        .unwrap();
    let mut rows = new.all_rows("ledger").await.unwrap();
    rows.sort_by(|a, b| (&a.sort_key, &a.key).cmp(&(&b.sort_key, &b.key)));
    assert_eq!(
        rows,
        model(
            &Leaner(Ledger {
                name: "ledger",
                mode
            }),
            &log
        )
    );
    assert!(!rows.iter().any(|r| r.key.starts_with("stream:")));

    // Opened again by the same build: nothing is emptied (the checkpoint stays at the head).
    new.append(vec![to(stream, ExpectedVersion::Exact(5), some_events(1))])
        .await
        .unwrap();
    new.catch_up_once().await.unwrap();
    let again = open(
        &h,
        Leaner(Ledger {
            name: "ledger",
            mode,
        }),
    )
    .await;
    let status = again.projection_status().await.unwrap();
    let head = again.head().await.unwrap();
    assert_eq!(status[0].checkpoint, head, "{status:?}");
}

async fn a_catch_up_projection_of_a_new_version_drops_the_old_rows(h: Harness) {
    old_rows_go(h, Mode::CatchUp).await;
}

async fn an_inline_projection_of_a_new_version_drops_the_old_rows(h: Harness) {
    old_rows_go(h, Mode::Inline).await;
}
