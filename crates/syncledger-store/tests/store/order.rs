//! The global order under concurrency: racing appenders on one stream, and a commit held open
//! while another append tries to pass it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use syncledger_core::log::{ExpectedVersion, LogFilter, Position};
use syncledger_store::{Store, StoreError};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::both;
use crate::fixtures::{some_events, to};
use crate::harness::{Harness, wait_until};

both!(
    racing_appenders_on_one_stream_land_exactly_once_each,
    a_held_commit_keeps_later_appends_invisible_and_behind_it,
    a_rolled_back_append_does_not_stall_readers,
);

async fn racing_appenders_on_one_stream_land_exactly_once_each(h: Harness) {
    const TASKS: usize = 16;
    const ATTEMPTS: usize = 20;
    let store = h.store().await;
    let s = Uuid::now_v7();
    let (landed, conflicts) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (store, landed, conflicts) = (store.clone(), landed.clone(), conflicts.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..ATTEMPTS {
                let version = store.stream_version(s).await.unwrap();
                let expected = ExpectedVersion::Exact(version);
                match store.append(vec![to(s, expected, some_events(1))]).await {
                    Ok(a) => {
                        assert_eq!(a[0].sequence, version + 1);
                        landed.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(StoreError::Conflict(c)) => {
                        assert!(
                            c.actual > version,
                            "conflict without a newer version: {c:?}"
                        );
                        conflicts.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(other) => panic!("unexpected error: {other:?}"),
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let landed = landed.load(Ordering::SeqCst);
    let conflicts = conflicts.load(Ordering::SeqCst);
    assert_eq!(landed + conflicts, (TASKS * ATTEMPTS) as u64);
    assert!(landed > 0);
    let events = store.read_stream(s, 1, 10_000).await.unwrap();
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=landed).collect::<Vec<_>>(),
        "sequences must be gap-free"
    );
    assert_eq!(store.stream_version(s).await.unwrap(), landed);
    assert!(events.windows(2).all(|w| w[0].position < w[1].position));
}

/// Waits until a second append is queued behind the held one: on PostgreSQL, until the server
/// shows its advisory-lock request waiting; on SQLite, until it waits for the write connection.
/// Returns early if the racer finished instead (a broken lock): the caller's checks then fail
/// on what a reader sees, which is the point of the test.
pub async fn wait_for_queued_append<T>(h: &Harness, store: &Store, racer: &JoinHandle<T>) {
    wait_until("the second append waits for the lock", || async {
        store.appends_waiting() == 1 || racer.is_finished()
    })
    .await;
    if let Some(pool) = h.pg() {
        wait_until(
            "PostgreSQL shows the advisory lock request waiting",
            || async {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .fetch_one(pool)
                .await
                .unwrap();
                waiting == 1 || racer.is_finished()
            },
        )
        .await;
    }
}

async fn a_held_commit_keeps_later_appends_invisible_and_behind_it(h: Harness) {
    let store = h.store().await;
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let held = store
        .begin_append(vec![to(first, ExpectedVersion::NoStream, some_events(1))])
        .await
        .unwrap();
    let held_at = held.appended()[0].position;

    let racer = store.clone();
    let late = tokio::spawn(async move {
        racer
            .append(vec![to(second, ExpectedVersion::NoStream, some_events(1))])
            .await
    });
    wait_for_queued_append(&h, &store, &late).await;

    // Neither append is visible, and a reader's cursor cannot move past the held position.
    let all = LogFilter::default();
    assert!(
        store
            .read_all(Position::START, &all, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.head().await.unwrap(), Position::START);
    assert!(!late.is_finished());

    held.commit().await.unwrap();
    let late = late.await.unwrap().unwrap();
    assert!(
        late[0].position > held_at,
        "the later commit got the later position"
    );
    let log = store.read_all(Position::START, &all, 10).await.unwrap();
    let order: Vec<_> = log.iter().map(|e| (e.stream_id, e.position)).collect();
    assert_eq!(order, [(first, held_at), (second, late[0].position)]);
}

async fn a_rolled_back_append_does_not_stall_readers(h: Harness) {
    let store = h.store().await;
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let before = store
        .append(vec![to(first, ExpectedVersion::NoStream, some_events(1))])
        .await
        .unwrap();
    let held = store
        .begin_append(vec![to(first, ExpectedVersion::Exact(1), some_events(1))])
        .await
        .unwrap();
    let racer = store.clone();
    let late = tokio::spawn(async move {
        racer
            .append(vec![to(second, ExpectedVersion::NoStream, some_events(1))])
            .await
    });
    wait_for_queued_append(&h, &store, &late).await;
    let all = LogFilter::default();
    let seen = store.read_all(Position::START, &all, 10).await.unwrap();
    assert_eq!(seen.len(), 1);

    held.rollback().await.unwrap();
    let late = late.await.unwrap().unwrap();
    // The reader continues from what it saw and finds the later append; the rolled-back
    // position is simply never used.
    let next = store.read_all(seen[0].position, &all, 10).await.unwrap();
    assert_eq!(
        next.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [late[0].event_id]
    );
    assert!(late[0].position > before[0].position);
    assert_eq!(store.stream_version(first).await.unwrap(), 1);
}
