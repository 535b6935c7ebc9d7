//! Appends: expectations, conflicts, idempotency, atomicity across streams.

use serde_json::json;
use syncledger_core::log::{Conflict, ExpectedVersion, LogFilter, Position};
use syncledger_store::StoreError;
use uuid::Uuid;

use crate::both;
use crate::fixtures::{event, some_events, to};
use crate::harness::Harness;

both!(
    every_expectation_kind_is_checked,
    a_conflict_writes_nothing,
    a_retried_append_returns_the_stored_positions,
    a_partly_stored_append_is_rejected,
    a_conflict_on_one_stream_writes_no_stream,
    a_multi_stream_append_lands_in_order,
    malformed_appends_are_invalid_input,
    stored_events_read_back_as_appended,
);

async fn every_expectation_kind_is_checked(h: Harness) {
    use ExpectedVersion::*;
    let store = h.store().await;
    let s = Uuid::now_v7();
    let conflict = |expected, actual| {
        move |r: Result<_, StoreError>| match r {
            Err(StoreError::Conflict(c)) => assert_eq!(
                c,
                Conflict {
                    stream_id: s,
                    expected,
                    actual
                }
            ),
            other => panic!("expected a conflict, got {other:?}"),
        }
    };
    conflict(StreamExists, 0)(
        store
            .append(vec![to(s, StreamExists, some_events(1))])
            .await,
    );
    conflict(Exact(1), 0)(store.append(vec![to(s, Exact(1), some_events(1))]).await);
    let first = store
        .append(vec![to(s, NoStream, some_events(2))])
        .await
        .unwrap();
    assert_eq!(first.iter().map(|a| a.sequence).collect::<Vec<_>>(), [1, 2]);
    conflict(NoStream, 2)(store.append(vec![to(s, NoStream, some_events(1))]).await);
    conflict(Exact(1), 2)(store.append(vec![to(s, Exact(1), some_events(1))]).await);
    let exact = store
        .append(vec![to(s, Exact(2), some_events(1))])
        .await
        .unwrap();
    assert_eq!(exact[0].sequence, 3);
    let exists = store
        .append(vec![to(s, StreamExists, some_events(1))])
        .await
        .unwrap();
    assert_eq!(exists[0].sequence, 4);
    let any = store
        .append(vec![to(s, Any, some_events(1))])
        .await
        .unwrap();
    assert_eq!(any[0].sequence, 5);
    let fresh = store
        .append(vec![to(Uuid::now_v7(), Any, some_events(1))])
        .await
        .unwrap();
    assert_eq!(fresh[0].sequence, 1);
    assert_eq!(store.stream_version(s).await.unwrap(), 5);
}

async fn a_conflict_writes_nothing(h: Harness) {
    let store = h.store().await;
    let s = Uuid::now_v7();
    store
        .append(vec![to(s, ExpectedVersion::NoStream, some_events(3))])
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let refused = store
        .append(vec![to(s, ExpectedVersion::Exact(2), some_events(2))])
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict(c)) if c.actual == 3));
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(store.stream_version(s).await.unwrap(), 3);
    assert_eq!(store.read_stream(s, 1, 100).await.unwrap().len(), 3);
    // The refused append did not consume the sequence numbers it would have used.
    let next = store
        .append(vec![to(s, ExpectedVersion::Exact(3), some_events(1))])
        .await
        .unwrap();
    assert_eq!(next[0].sequence, 4);
}

async fn a_retried_append_returns_the_stored_positions(h: Harness) {
    let store = h.store().await;
    let s = Uuid::now_v7();
    let batch = vec![to(s, ExpectedVersion::NoStream, some_events(2))];
    let stored = store.append(batch.clone()).await.unwrap();
    store
        .append(vec![to(s, ExpectedVersion::Exact(2), some_events(1))])
        .await
        .unwrap();
    let head = store.head().await.unwrap();

    // The same append again: its expectation no longer holds, yet it is a no-op success, with
    // the same answer (recorded-at times included, read back from the log this time).
    assert_eq!(store.append(batch.clone()).await.unwrap(), stored);
    // And with an expectation that would pass, it still writes nothing.
    let mut any = batch;
    any[0].expected = ExpectedVersion::Any;
    assert_eq!(store.append(any).await.unwrap(), stored);
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(store.stream_version(s).await.unwrap(), 3);
}

async fn a_partly_stored_append_is_rejected(h: Harness) {
    let store = h.store().await;
    let s = Uuid::now_v7();
    let old = event("noted", json!({}));
    store
        .append(vec![to(s, ExpectedVersion::Any, vec![old.clone()])])
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let mixed = vec![to(
        s,
        ExpectedVersion::Any,
        vec![old, event("noted", json!({}))],
    )];
    assert!(matches!(
        store.append(mixed).await,
        Err(StoreError::PartialDuplicate)
    ));
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(store.stream_version(s).await.unwrap(), 1);
}

async fn a_conflict_on_one_stream_writes_no_stream(h: Harness) {
    let store = h.store().await;
    let (x, y) = (Uuid::now_v7(), Uuid::now_v7());
    store
        .append(vec![to(y, ExpectedVersion::NoStream, some_events(1))])
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let both = vec![
        to(x, ExpectedVersion::NoStream, some_events(2)),
        to(y, ExpectedVersion::Exact(5), some_events(1)),
    ];
    match store.append(both).await {
        Err(StoreError::Conflict(c)) => assert_eq!((c.stream_id, c.actual), (y, 1)),
        other => panic!("expected a conflict on y, got {other:?}"),
    }
    assert_eq!(store.stream_version(x).await.unwrap(), 0);
    assert!(store.read_stream(x, 1, 10).await.unwrap().is_empty());
    assert_eq!(store.stream_version(y).await.unwrap(), 1);
    assert_eq!(store.head().await.unwrap(), head);
}

async fn a_multi_stream_append_lands_in_order(h: Harness) {
    let store = h.store().await;
    // Ids chosen so the lock order (by id) differs from the input order.
    let (x, y) = (Uuid::from_u128(2), Uuid::from_u128(1));
    store
        .append(vec![to(y, ExpectedVersion::NoStream, some_events(1))])
        .await
        .unwrap();
    let appended = store
        .append(vec![
            to(x, ExpectedVersion::NoStream, some_events(2)),
            to(y, ExpectedVersion::Exact(1), some_events(2)),
        ])
        .await
        .unwrap();
    let shape: Vec<_> = appended.iter().map(|a| (a.stream_id, a.sequence)).collect();
    assert_eq!(shape, [(x, 1), (x, 2), (y, 2), (y, 3)]);
    assert!(appended.windows(2).all(|w| w[0].position < w[1].position));
    let log = store
        .read_all(Position::START, &LogFilter::default(), 100)
        .await
        .unwrap();
    let ids: Vec<_> = log.iter().skip(1).map(|e| e.event_id).collect();
    assert_eq!(ids, appended.iter().map(|a| a.event_id).collect::<Vec<_>>());
}

async fn malformed_appends_are_invalid_input(h: Harness) {
    let store = h.store().await;
    let s = Uuid::now_v7();
    let invalid = |r: Result<_, StoreError>| assert!(matches!(r, Err(StoreError::InvalidInput(_))));
    invalid(
        store
            .append(vec![to(s, ExpectedVersion::Any, vec![])])
            .await,
    );
    invalid(
        store
            .append(vec![
                to(s, ExpectedVersion::Any, some_events(1)),
                to(s, ExpectedVersion::Any, some_events(1)),
            ])
            .await,
    );
    let e = event("noted", json!({}));
    invalid(
        store
            .append(vec![to(s, ExpectedVersion::Any, vec![e.clone(), e])])
            .await,
    );
    assert_eq!(store.append(vec![]).await.unwrap(), vec![]);
    assert_eq!(store.head().await.unwrap(), Position::START);
}

async fn stored_events_read_back_as_appended(h: Harness) {
    let store = h.store().await;
    let s = Uuid::now_v7();
    let mut sent = event(
        "observed",
        json!({ "nested": { "list": [1, 2.5, "x", null] } }),
    );
    sent.meta.causation_id = Some(Uuid::now_v7());
    let at = store
        .append(vec![to(s, ExpectedVersion::NoStream, vec![sent.clone()])])
        .await
        .unwrap();
    let read = store.event(sent.event_id).await.unwrap().expect("stored");
    assert_eq!(read.position, at[0].position);
    assert_eq!(
        read.recorded_at, at[0].recorded_at,
        "the append answers the recorded-at time the log holds"
    );
    assert_eq!((read.stream_id, read.sequence), (s, 1));
    assert_eq!(read.event_type, sent.event_type);
    assert_eq!(read.schema_version, sent.schema_version);
    assert_eq!(read.payload, sent.payload);
    assert_eq!(read.meta, sent.meta);
    let age = chrono::Utc::now() - read.recorded_at;
    assert!(age >= chrono::Duration::zero() && age < chrono::Duration::seconds(60));
    assert_eq!(
        store.read_stream(s, 1, 10).await.unwrap(),
        vec![read.clone()]
    );
    assert_eq!(
        store
            .events_by_id(&[Uuid::now_v7(), sent.event_id])
            .await
            .unwrap(),
        vec![read]
    );
    assert_eq!(store.event(Uuid::now_v7()).await.unwrap(), None);
}
