//! Reads: filters, limits, upcasting, and subscriptions.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use syncledger_core::log::{ExpectedVersion, LogFilter, Position};
use syncledger_store::{StoreError, StoreOptions};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{event, event_for, some_events, to};
use crate::harness::{Harness, wait_until};

both!(
    the_global_log_filters_by_tenant_type_and_time,
    stream_reads_start_at_a_sequence_and_stop_at_the_limit,
    a_subscription_replays_then_wakes_on_a_new_append,
    a_filtered_subscription_skips_other_events,
    a_subscriber_on_another_handle_sees_appends,
    counting_events_after_a_position_per_tenant,
);

async fn counting_events_after_a_position_per_tenant(h: Harness) {
    let store = h.store().await;
    assert_eq!(store.count_events(Position::START, None).await.unwrap(), 0);
    let s = Uuid::now_v7();
    let batch = vec![
        event_for("acme", "observed", json!({})),
        event_for("other", "observed", json!({})),
        event_for("acme", "decided", json!({})),
        event_for("acme", "decided", json!({})),
    ];
    let at = store
        .append(vec![to(s, ExpectedVersion::Any, batch)])
        .await
        .unwrap();
    let count = |after: Position, tenant: Option<&'static str>| {
        let store = store.clone();
        async move { store.count_events(after, tenant).await.unwrap() }
    };
    assert_eq!(count(Position::START, None).await, 4);
    assert_eq!(count(Position::START, Some("acme")).await, 3);
    assert_eq!(count(Position::START, Some("other")).await, 1);
    assert_eq!(count(Position::START, Some("nobody")).await, 0);
    // Strictly after: the event at the position itself is not counted.
    assert_eq!(count(at[1].position, Some("acme")).await, 2);
    assert_eq!(count(at[1].position, Some("other")).await, 0);
    assert_eq!(count(at[3].position, None).await, 0);
}

async fn the_global_log_filters_by_tenant_type_and_time(h: Harness) {
    let store = h.store().await;
    let s = Uuid::now_v7();
    let batch = vec![
        event_for("acme", "observed", json!({})),
        event_for("other", "observed", json!({})),
        event_for("acme", "decided", json!({})),
    ];
    let at = store
        .append(vec![to(s, ExpectedVersion::Any, batch)])
        .await
        .unwrap();
    let types = |f: LogFilter| {
        let store = store.clone();
        async move {
            let events = store.read_all(Position::START, &f, 100).await.unwrap();
            events
                .into_iter()
                .map(|e| (e.meta.tenant, e.event_type))
                .collect::<Vec<_>>()
        }
    };
    let acme = LogFilter {
        tenant: Some("acme".into()),
        ..LogFilter::default()
    };
    assert_eq!(
        types(acme.clone()).await,
        [
            ("acme".into(), "observed".into()),
            ("acme".into(), "decided".into())
        ]
    );
    let decided = LogFilter {
        types: vec!["decided".into(), "nothing".into()],
        ..acme
    };
    assert_eq!(types(decided).await, [("acme".into(), "decided".into())]);

    let recorded = store
        .event(at[0].event_id)
        .await
        .unwrap()
        .unwrap()
        .recorded_at;
    let from_then = LogFilter {
        recorded_from: Some(recorded),
        ..LogFilter::default()
    };
    assert_eq!(types(from_then).await.len(), 3);
    let before_then = LogFilter {
        recorded_to: Some(recorded),
        ..LogFilter::default()
    };
    assert!(types(before_then).await.is_empty());

    let after_first = store
        .read_all(at[0].position, &LogFilter::default(), 1)
        .await
        .unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(after_first[0].event_id, at[1].event_id);
    let negative = store
        .read_all(Position::START, &LogFilter::default(), -1)
        .await;
    assert!(matches!(negative, Err(StoreError::InvalidInput(_))));
}

async fn stream_reads_start_at_a_sequence_and_stop_at_the_limit(h: Harness) {
    let store = h.store().await;
    let (s, other) = (Uuid::now_v7(), Uuid::now_v7());
    store
        .append(vec![to(s, ExpectedVersion::NoStream, some_events(5))])
        .await
        .unwrap();
    store
        .append(vec![to(other, ExpectedVersion::NoStream, some_events(2))])
        .await
        .unwrap();
    let page = store.read_stream(s, 2, 3).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert!(page.iter().all(|e| e.stream_id == s));
    assert!(store.read_stream(s, 6, 10).await.unwrap().is_empty());
    assert!(
        store
            .read_stream(Uuid::now_v7(), 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Long enough that only a wake-up, not the poll, can deliver within the test's timeout.
fn no_polling() -> StoreOptions {
    StoreOptions {
        poll_interval: Duration::from_secs(120),
        ..StoreOptions::default()
    }
}

async fn a_subscription_replays_then_wakes_on_a_new_append(h: Harness) {
    let store = h.open(no_polling()).await;
    let s = Uuid::now_v7();
    let first = store
        .append(vec![to(s, ExpectedVersion::NoStream, some_events(2))])
        .await
        .unwrap();
    let mut sub = Box::pin(store.subscribe(Position::START, LogFilter::default()));
    for a in &first {
        assert_eq!(sub.next().await.unwrap().unwrap().event_id, a.event_id);
    }
    let waiting = tokio::spawn(async move {
        let next = sub.next().await.unwrap().unwrap();
        (next, sub)
    });
    wait_until("the subscription is parked", || async {
        store.subscribers_parked() == 1
    })
    .await;
    let later = store
        .append(vec![to(s, ExpectedVersion::Exact(2), some_events(1))])
        .await
        .unwrap();
    let (next, _sub) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the subscriber was not woken")
        .unwrap();
    assert_eq!(
        (next.event_id, next.position),
        (later[0].event_id, later[0].position)
    );
}

async fn a_filtered_subscription_skips_other_events(h: Harness) {
    let store = h.open(no_polling()).await;
    let s = Uuid::now_v7();
    let filter = LogFilter {
        types: vec!["wanted".into()],
        ..LogFilter::default()
    };
    let mut sub = Box::pin(store.subscribe(Position::START, filter));
    let wanted = event("wanted", json!({}));
    let batch = vec![
        event("noise", json!({})),
        wanted.clone(),
        event("noise", json!({})),
    ];
    store
        .append(vec![to(s, ExpectedVersion::Any, batch)])
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap();
    assert_eq!(got.unwrap().unwrap().event_id, wanted.event_id);
    let second = event("wanted", json!({ "n": 2 }));
    store
        .append(vec![to(
            s,
            ExpectedVersion::Any,
            vec![event("noise", json!({})), second.clone()],
        )])
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap();
    assert_eq!(got.unwrap().unwrap().event_id, second.event_id);
}

/// Another handle shares no in-process signal with the writer: on PostgreSQL the NOTIFY wakes
/// it (polling is off), on SQLite the poll does (other processes have nothing else).
async fn a_subscriber_on_another_handle_sees_appends(h: Harness) {
    let writer = h.store().await;
    let poll = if h.pg().is_some() {
        Duration::from_secs(120)
    } else {
        Duration::from_millis(50)
    };
    let reader = h
        .open(StoreOptions {
            poll_interval: poll,
            ..StoreOptions::default()
        })
        .await;
    let mut sub = Box::pin(reader.subscribe(Position::START, LogFilter::default()));
    let pending = tokio::spawn(async move {
        let next = sub.next().await.unwrap().unwrap();
        (next, sub)
    });
    // Once parked, the subscription has read the (empty) log: only a wake-up can deliver.
    wait_until("the subscription is parked", || async {
        reader.subscribers_parked() == 1
    })
    .await;
    let appended = writer
        .append(vec![to(
            Uuid::now_v7(),
            ExpectedVersion::Any,
            some_events(1),
        )])
        .await
        .unwrap();
    let (next, _sub) = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("the other handle's subscriber was not woken")
        .unwrap();
    assert_eq!(next.event_id, appended[0].event_id);
    // Closing stops the listener task, which holds a pooled connection, instead of waiting on it.
    tokio::time::timeout(Duration::from_secs(10), reader.close())
        .await
        .expect("close waited for the listener's connection");
}
