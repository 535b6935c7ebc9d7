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
    on_an_archived_log_a_new_version_waits_for_a_rebuild_from_the_archive,
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

/// No snapshots: the fixture projection needs none.
struct NoSnapshots;

impl syncledger_store::archive::Snapshotter for NoSnapshots {
    fn snapshot(
        &self,
        _: Uuid,
        _: Option<&serde_json::Value>,
        _: &[RecordedEvent],
    ) -> Option<serde_json::Value> {
        None
    }
}

/// Once the log's first events are archived, folding the live log alone would lose what they
/// gave: the rows keep their earlier form (nothing emptied, the version not recorded) until a
/// rebuild from the archive folds everything again in the new form and records it.
async fn on_an_archived_log_a_new_version_waits_for_a_rebuild_from_the_archive(h: Harness) {
    let mode = Mode::CatchUp;
    let old = open(
        &h,
        Ledger {
            name: "ledger",
            mode,
        },
    )
    .await;
    old.archives().set_partition_width(2).await.unwrap();
    for _ in 0..3 {
        old.append(vec![to(
            Uuid::now_v7(),
            ExpectedVersion::NoStream,
            some_events(2),
        )])
        .await
        .unwrap();
    }
    old.catch_up_once().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let head = old.head().await.unwrap().0;
    old.archives()
        .archive(
            &syncledger_store::archive::ArchiveRequest {
                before: syncledger_store::archive::Before::Position(head - 1),
                dir: dir.path().to_path_buf(),
            },
            &NoSnapshots,
            &|_| {},
        )
        .await
        .unwrap();
    let before = old.all_rows("ledger").await.unwrap();
    assert!(before.iter().any(|r| r.key.starts_with("stream:")));

    let leaner = || {
        Leaner(Ledger {
            name: "ledger",
            mode,
        })
    };
    let new = open(&h, leaner()).await;
    new.catch_up_once().await.unwrap();
    assert_eq!(
        new.all_rows("ledger").await.unwrap(),
        before,
        "kept as they were"
    );

    new.archives()
        .rebuild("ledger", dir.path(), |_| {})
        .await
        .unwrap();
    let rows = new.all_rows("ledger").await.unwrap();
    assert!(
        !rows.iter().any(|r| r.key.starts_with("stream:")),
        "{rows:?}"
    );
    assert!(!rows.is_empty());
    // The rebuild recorded the version it wrote.
    let recorded = crate::sealing::raw_texts(
        &h,
        "SELECT value FROM store_settings WHERE name = 'projection_version/ledger'",
    )
    .await;
    assert_eq!(recorded.trim(), "2", "{recorded:?}");
    let again = open(&h, leaner()).await;
    assert_eq!(again.all_rows("ledger").await.unwrap(), rows);
    let status = again.projection_status().await.unwrap();
    assert_eq!(
        status[0].checkpoint,
        again.head().await.unwrap(),
        "{status:?}"
    );
}
