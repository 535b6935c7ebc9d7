//! Group commit: appends waiting while another commits share one transaction, and each keeps
//! its own answer (success, conflict, or the positions of an earlier identical append).
//!
//! The interleaving is forced: a held append owns the write lock, a first append waits behind
//! it (the committer is busy with it), and the appends under test queue up one by one, so the
//! committer takes them as one group, in a known order, when the held commit ends.

use std::collections::HashSet;

use serde_json::json;
use syncledger_core::log::{Conflict, ExpectedVersion, LogFilter, Position};
use syncledger_store::{RowQuery, Store, StoreError};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::both;
use crate::fixtures::{event_for, some_events, to};
use crate::harness::{Harness, wait_until};
use crate::order::wait_for_queued_append;
use crate::projections::ledger_options;

both!(
    waiting_appends_commit_as_one_group_with_their_own_answers,
    a_retry_that_hits_a_stored_id_sends_the_group_the_slow_way,
    versions_and_rows_read_in_batches,
);

pub(crate) type Answer = JoinHandle<Result<Vec<syncledger_core::log::Appended>, StoreError>>;

/// Starts an append and waits until it sits in the committer's queue behind `queued_before`.
pub(crate) async fn queue(
    store: &Store,
    queued_before: usize,
    appends: Vec<syncledger_core::log::StreamAppend>,
) -> Answer {
    let racer = store.clone();
    let task = tokio::spawn(async move { racer.append(appends).await });
    wait_until("the append is queued for the committer", || async {
        store.group_commit_stats().queued == queued_before + 1
    })
    .await;
    task
}

/// Holds the write lock with one append and puts a first append behind it, so the committer is
/// busy and later appends queue.
pub(crate) async fn busy_committer(
    h: &Harness,
    store: &Store,
) -> (syncledger_store::PendingAppend, Answer) {
    let held = store
        .begin_append(vec![to(
            Uuid::now_v7(),
            ExpectedVersion::NoStream,
            some_events(1),
        )])
        .await
        .unwrap();
    let racer = store.clone();
    let first = tokio::spawn(async move {
        racer
            .append(vec![to(
                Uuid::now_v7(),
                ExpectedVersion::NoStream,
                some_events(1),
            )])
            .await
    });
    wait_for_queued_append(h, store, &first).await;
    assert_eq!(
        store.group_commit_stats().queued,
        0,
        "the committer took it"
    );
    (held, first)
}

async fn waiting_appends_commit_as_one_group_with_their_own_answers(h: Harness) {
    use ExpectedVersion::*;
    let store = h.store().await;
    let s = Uuid::now_v7();
    let original = vec![to(s, NoStream, some_events(1))];
    let stored = store.append(original.clone()).await.unwrap();
    let before = store.group_commit_stats();

    let (held, first) = busy_committer(&h, &store).await;
    let wins = queue(&store, 0, vec![to(s, Exact(1), some_events(1))]).await;
    // Read version 1 too, but joined after `wins`: it fails as if committed after it.
    let loses = queue(&store, 1, vec![to(s, Exact(1), some_events(1))]).await;
    let retry = queue(&store, 2, original).await;
    let (x, y) = (Uuid::now_v7(), Uuid::now_v7());
    let multi = queue(
        &store,
        3,
        vec![
            to(x, NoStream, some_events(2)),
            to(y, NoStream, some_events(1)),
        ],
    )
    .await;
    held.commit().await.unwrap();

    first.await.unwrap().unwrap();
    let wins = wins.await.unwrap().unwrap();
    assert_eq!(wins[0].sequence, 2);
    match loses.await.unwrap() {
        Err(StoreError::Conflict(c)) => assert_eq!(
            c,
            Conflict {
                stream_id: s,
                expected: Exact(1),
                actual: 2
            }
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        retry.await.unwrap().unwrap(),
        stored,
        "a retry of a stored append gets where it landed"
    );
    let multi = multi.await.unwrap().unwrap();
    assert_eq!(
        multi
            .iter()
            .map(|a| (a.stream_id, a.sequence))
            .collect::<Vec<_>>(),
        [(x, 1), (x, 2), (y, 1)]
    );
    assert!(
        multi[0].position > wins[0].position,
        "joining order is log order"
    );

    let after = store.group_commit_stats();
    assert_eq!(
        after.groups - before.groups,
        1,
        "one transaction for the group"
    );
    assert_eq!(after.appends - before.appends, 4);
    let s_events = store.read_stream(s, 1, 10).await.unwrap();
    assert_eq!(s_events.len(), 2, "the conflicting append wrote nothing");
    let all = store
        .read_all(Position::START, &LogFilter::default(), 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    let ids: HashSet<_> = all.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 7);
}

async fn a_retry_that_hits_a_stored_id_sends_the_group_the_slow_way(h: Harness) {
    use ExpectedVersion::*;
    let store = h.store().await;
    let s = Uuid::now_v7();
    // `Any` passes the version check, so the stored id only shows as a unique violation.
    let original = vec![to(s, Any, some_events(2))];
    let stored = store.append(original.clone()).await.unwrap();
    let before = store.group_commit_stats();

    let (held, first) = busy_committer(&h, &store).await;
    let retry = queue(&store, 0, original).await;
    let other = Uuid::now_v7();
    let fresh = queue(&store, 1, vec![to(other, NoStream, some_events(1))]).await;
    held.commit().await.unwrap();

    first.await.unwrap().unwrap();
    assert_eq!(retry.await.unwrap().unwrap(), stored);
    assert_eq!(fresh.await.unwrap().unwrap()[0].sequence, 1);
    assert_eq!(
        store.group_commit_stats().groups,
        before.groups,
        "the group was rolled back and its appends committed one by one"
    );
    assert_eq!(store.stream_version(s).await.unwrap(), 2);
    assert_eq!(store.stream_version(other).await.unwrap(), 1);
}

async fn versions_and_rows_read_in_batches(h: Harness) {
    let store = h.open(ledger_options(1000)).await;
    let (a, b, missing) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let events = |n: usize| {
        (0..n)
            .map(|_| event_for("acme", "noted", json!({})))
            .collect()
    };
    store
        .append(vec![
            to(a, ExpectedVersion::NoStream, events(3)),
            to(b, ExpectedVersion::NoStream, events(1)),
        ])
        .await
        .unwrap();
    let versions = store.stream_versions(&[a, b, missing]).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!((versions[&a], versions[&b]), (3, 1));

    let rows = store
        .rows(
            "ledger_inline",
            &RowQuery {
                limit: 100,
                ..RowQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(rows.len() >= 2);
    let keys = vec![
        rows[0].key.clone(),
        rows[1].key.clone(),
        "no such key".into(),
    ];
    let mut found = store.rows_by_keys("ledger_inline", &keys).await.unwrap();
    found.sort_by(|x, y| x.key.cmp(&y.key));
    let mut expected = vec![rows[0].clone(), rows[1].clone()];
    expected.sort_by(|x, y| x.key.cmp(&y.key));
    assert_eq!(found, expected);
    assert!(
        store
            .rows_by_keys("ledger_inline", &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.rows_by_keys("no_such_projection", &keys).await,
        Err(StoreError::NotFound)
    ));
}

/// PostgreSQL only (SQLite has one writer): another process creates a stream while a group
/// that appends to it waits. The group read no row for it, so its version must not be trusted:
/// the group rolls back and its appends are committed one by one, each with a right answer.
#[sqlx::test(migrations = false)]
async fn a_stream_created_elsewhere_while_a_group_waits_sends_it_the_slow_way(
    pool: sqlx::postgres::PgPoolOptions,
    conn: sqlx::postgres::PgConnectOptions,
) {
    use ExpectedVersion::*;
    let h = Harness::postgres(pool, conn).await;
    let store = h.store().await;
    let pg = h.pg().unwrap().clone();
    let (w, s, t) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    store
        .append(vec![to(w, NoStream, some_events(1))])
        .await
        .unwrap();

    // A holds stream w's row, so an append to w keeps the store busy; B is another process
    // half way through creating stream s.
    let mut a = pg.begin().await.unwrap();
    sqlx::query("SELECT version FROM streams WHERE stream_id = $1 FOR UPDATE")
        .bind(w)
        .execute(&mut *a)
        .await
        .unwrap();
    let mut b = pg.begin().await.unwrap();
    sqlx::query("INSERT INTO streams (stream_id, version) VALUES ($1, 1)")
        .bind(s)
        .execute(&mut *b)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events (stream_id, sequence, event_id, event_type, schema_version, \
         payload, tenant, recorded_at) VALUES ($1, 1, $2, 'noted', 1, '{}', 'acme', now())",
    )
    .bind(s)
    .bind(Uuid::now_v7())
    .execute(&mut *b)
    .await
    .unwrap();

    let racer = store.clone();
    let first =
        tokio::spawn(async move { racer.append(vec![to(w, Exact(1), some_events(1))]).await });
    wait_until("the append to w waits for its row", || async {
        store.appends_waiting() == 1
    })
    .await;
    let to_s = queue(&store, 0, vec![to(s, Any, some_events(1))]).await;
    let to_t = queue(&store, 1, vec![to(t, NoStream, some_events(1))]).await;
    let before = store.group_commit_stats();
    a.commit().await.unwrap();
    first.await.unwrap().unwrap();

    // The group's statement now waits for B's new row of s.
    wait_until("the group waits for the other process", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted",
        )
        .fetch_one(&pg)
        .await
        .unwrap();
        waiting == 1
    })
    .await;
    b.commit().await.unwrap();

    let to_s = to_s.await.unwrap().unwrap();
    assert_eq!(to_s[0].sequence, 2, "after the other process's event");
    assert_eq!(to_t.await.unwrap().unwrap()[0].sequence, 1);
    assert_eq!(
        store.group_commit_stats().groups,
        before.groups,
        "the group was rolled back and its appends committed one by one"
    );
    assert_eq!(store.stream_version(s).await.unwrap(), 2);
    let s_events = store.read_stream(s, 1, 10).await.unwrap();
    assert_eq!(
        s_events.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1, 2]
    );
}
