//! Wake-ups across processes. On PostgreSQL appends no longer NOTIFY inside their own
//! transaction (migration 0011): the store sends one NOTIFY after its commits, from a
//! connection of its own. A commit whose NOTIFY never comes (the process died between the two)
//! still reaches other processes' subscribers, by their poll.
//! (`reads::a_subscriber_on_another_handle_sees_appends` shows the NOTIFY waking another
//! handle's subscriber with polling off.)

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use sqlx::postgres::PgListener;
use sqlx::types::Json;
use syncledger_core::log::{ExpectedVersion, LogFilter, Position};
use syncledger_store::StoreOptions;
use uuid::Uuid;

use crate::both;
use crate::fixtures::{some_events, to};
use crate::harness::{Harness, wait_until};

both!(an_append_whose_notify_never_came_reaches_another_process_by_the_poll);

/// A process that commits an append and dies before its NOTIFY: the group append of migration
/// 0011 called as the store calls it, in autocommit mode, from a session that sends nothing
/// else. Returns the event's id.
async fn append_without_notify(pool: &sqlx::PgPool, stream: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "SELECT o_event FROM syncledger_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, now())",
    )
    .bind(vec![0i32])
    .bind(vec![stream])
    .bind(vec![-2i64])
    .bind(vec![1i32])
    .bind(vec![1i32])
    .bind(vec![1i32])
    .bind(vec![id])
    .bind(vec!["noted"])
    .bind(vec![1i32])
    .bind(vec![Json(json!({ "crashed": "before notifying" }))])
    .bind(vec!["acme"])
    .bind(vec![None::<Uuid>])
    .bind(vec![None::<Uuid>])
    .fetch_one(pool)
    .await
    .unwrap();
    id
}

async fn an_append_whose_notify_never_came_reaches_another_process_by_the_poll(h: Harness) {
    let writer = h.store().await;
    let reader = h
        .open(StoreOptions {
            poll_interval: Duration::from_millis(50),
            ..StoreOptions::default()
        })
        .await;
    let mut sub = Box::pin(reader.subscribe(Position::START, LogFilter::default()));
    let pending = tokio::spawn(async move {
        let next = sub.next().await.unwrap().unwrap();
        (next, sub)
    });
    wait_until("the subscription is parked", || async {
        reader.subscribers_parked() == 1
    })
    .await;
    let stream = Uuid::now_v7();
    let appended = match h.pg() {
        Some(pool) => append_without_notify(pool, stream).await,
        // SQLite has no cross-process wake-up at all: the other handle's append is found by
        // the poll the same way.
        None => {
            writer
                .append(vec![to(stream, ExpectedVersion::NoStream, some_events(1))])
                .await
                .unwrap()[0]
                .event_id
        }
    };
    let (next, _sub) = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("the poll did not find the append")
        .unwrap();
    assert_eq!(next.event_id, appended);
    reader.close().await;
}

/// The append statements themselves send no NOTIFY (the lever of issue 33 item 2). The
/// store's notifier sends its NOTIFY with the payload `appended`; an append that notified inside
/// its own transaction would send one with an empty payload, delivered before anything
/// committed after it (notifications arrive in commit order), so before the marker.
#[sqlx::test(migrations = false)]
async fn appends_send_no_notify_of_their_own(
    pool_opts: sqlx::postgres::PgPoolOptions,
    conn: sqlx::postgres::PgConnectOptions,
) {
    let h = Harness::postgres(pool_opts, conn).await;
    let store = h.store().await;
    let pool = h.pg().unwrap();
    let mut listener = PgListener::connect_with(pool).await.unwrap();
    listener.listen("syncledger_events").await.unwrap();
    // A single append (one statement in autocommit mode) and a group append (the function).
    store
        .append(vec![to(
            Uuid::now_v7(),
            ExpectedVersion::NoStream,
            some_events(1),
        )])
        .await
        .unwrap();
    append_without_notify(pool, Uuid::now_v7()).await;
    sqlx::query("NOTIFY syncledger_events, 'marker'")
        .execute(pool)
        .await
        .unwrap();
    loop {
        let got = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("the marker never came")
            .unwrap();
        match got.payload() {
            "marker" => break,
            "appended" => {}
            other => panic!("a notification from inside an append: {other:?}"),
        }
    }
    // The listener's connection is the test pool's, which the store's close would wait for.
    drop(listener);
    store.close().await;
}
