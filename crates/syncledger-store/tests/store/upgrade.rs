//! A log written before the partitioned table and the archive (under each older schema: up to
//! migration 0004, 0005 (keys) and 0006 (operations samples)) is upgraded in place: every event is still there at its position, appends go on after them
//! with their versions and idempotency, and the upgraded log archives like a new one.

use syncledger_core::log::{ExpectedVersion, LogFilter, Position};
use syncledger_store::archive::{ArchiveRequest, Before, NoSnapshots};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{some_events, to};
use crate::harness::Harness;

both!(upgraded_from_0004, upgraded_from_0005, upgraded_from_0006);

async fn upgraded_from_0004(h: Harness) {
    an_old_log_is_upgraded_in_place(h, 4).await;
}

async fn upgraded_from_0005(h: Harness) {
    an_old_log_is_upgraded_in_place(h, 5).await;
}

async fn upgraded_from_0006(h: Harness) {
    an_old_log_is_upgraded_in_place(h, 6).await;
}

const STREAM: &str = "00000000-0000-0000-0000-0000000000aa";

/// The schema of migration `version` (older than the partitioned log), with 30 events of one
/// stream written the old way.
async fn old_log(h: &Harness, version: i64) {
    match h {
        Harness::Postgres { pool } => {
            sqlx::migrate!("../../migrations/postgres")
                .run_to(version, pool)
                .await
                .unwrap();
            sqlx::raw_sql(
                "INSERT INTO streams VALUES ('00000000-0000-0000-0000-0000000000aa', 30);
                 INSERT INTO events (stream_id, sequence, event_id, event_type, schema_version,
                                     payload, tenant, recorded_at)
                 SELECT '00000000-0000-0000-0000-0000000000aa', g, gen_random_uuid(), 'noted',
                        1, jsonb_build_object('i', g), 'acme', now()
                   FROM generate_series(1, 30) g ORDER BY g;",
            )
            .execute(pool)
            .await
            .unwrap();
        }
        Harness::Sqlite { url, .. } => {
            let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
                .await
                .unwrap();
            sqlx::migrate!("../../migrations/sqlite")
                .run_to(version, &pool)
                .await
                .unwrap();
            sqlx::raw_sql(
                "INSERT INTO streams VALUES (x'000000000000000000000000000000aa', 30);
                 WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 30)
                 INSERT INTO events (stream_id, sequence, event_id, event_type, schema_version,
                                     payload, tenant, recorded_at)
                 SELECT x'000000000000000000000000000000aa', n, randomblob(16), 'noted', 1,
                        json_object('i', n), 'acme', '2026-12-01T00:00:00+00:00' FROM g;",
            )
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
    }
}

async fn an_old_log_is_upgraded_in_place(h: Harness, version: i64) {
    old_log(&h, version).await;
    let store = h.store().await;
    let stream: Uuid = STREAM.parse().unwrap();

    let log = store
        .read_all(Position::START, &LogFilter::default(), 1000)
        .await
        .unwrap();
    assert_eq!(log.len(), 30);
    assert_eq!(
        log.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<u64>>()
    );
    let last = log.last().unwrap().position;
    if let Some(pool) = h.pg() {
        let kind: String =
            sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE relname = 'events'")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(kind, "p", "events is partitioned");
    }

    // Appends go on after the old events, with the stream's version and idempotency.
    let next = to(stream, ExpectedVersion::Exact(30), some_events(2));
    let appended = store.append(vec![next.clone()]).await.unwrap();
    assert_eq!(appended[0].sequence, 31);
    assert!(appended[0].position > last);
    assert_eq!(store.append(vec![next]).await.unwrap(), appended);
    let stale = store
        .append(vec![to(stream, ExpectedVersion::Exact(30), some_events(1))])
        .await;
    assert!(stale.is_err(), "the version check still holds");
    // And the upgraded log archives like a new one.
    store.archives().set_partition_width(8).await.unwrap();
    for round in 0..3u64 {
        store
            .append(vec![to(
                stream,
                ExpectedVersion::Exact(32 + round * 8),
                some_events(8),
            )])
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let head = store.head().await.unwrap();
    let report = store
        .archives()
        .archive(
            &ArchiveRequest {
                before: Before::Position(head.0),
                dir: dir.path().to_path_buf(),
            },
            &NoSnapshots,
            &|_| {},
        )
        .await
        .unwrap();
    assert!(report.removed >= 30, "the old events left: {report:?}");
    let live = store
        .read_all(Position::START, &LogFilter::default(), 1000)
        .await
        .unwrap();
    assert!(live.iter().all(|e| e.position.0 > report.through.unwrap()));
    assert_eq!(live.last().unwrap().position, head);
}
