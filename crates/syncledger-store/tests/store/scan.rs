//! `Store::scan`: the log in one streaming read gives exactly what pages give (filters, range,
//! upcasting, sealed values opened before anyone sees them), never passes a held commit, and
//! stops when dropped.

use serde_json::{Value, json};
use syncledger_core::log::{ExpectedVersion, LogFilter, Position, RecordedEvent};
use syncledger_store::MasterKey;
use syncledger_store::store::Scan;
use uuid::Uuid;

use crate::both;
use crate::fixtures::{event_for, some_events, to};
use crate::harness::Harness;
use crate::order::wait_for_queued_append;
use crate::sealing::{record, sealed_options};

both!(
    a_scan_reads_what_pages_read,
    a_scan_opens_sealed_values_before_anyone_sees_them,
    a_scan_never_passes_a_held_commit,
    a_dropped_scan_stops_and_the_store_reads_on,
);

/// The fields of each `RecordFetched`, as read.
fn fields(events: &[RecordedEvent]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.event_type == "RecordFetched")
        .map(|e| e.payload["fields"].clone())
        .collect()
}

/// Every batch of a scan, with the size of each.
async fn collect<T>(mut scan: Scan<T>) -> (Vec<T>, Vec<usize>) {
    let (mut all, mut sizes) = (Vec::new(), Vec::new());
    while let Some(batch) = scan.next_batch().await {
        let batch = batch.unwrap();
        sizes.push(batch.len());
        all.extend(batch);
    }
    (all, sizes)
}

async fn a_scan_reads_what_pages_read(h: Harness) {
    let store = h.store().await;
    for i in 0..6 {
        let tenant = if i % 2 == 0 { "acme" } else { "globex" };
        let events = (0..5)
            .map(|j| {
                event_for(
                    tenant,
                    if j % 2 == 0 { "a" } else { "b" },
                    json!({ "j": j }),
                )
            })
            .collect();
        let part = to(Uuid::now_v7(), ExpectedVersion::NoStream, events);
        store.append(vec![part]).await.unwrap();
    }
    let all = store
        .read_all(Position::START, &LogFilter::default(), 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 30);
    let filters = [
        LogFilter::default(),
        LogFilter {
            tenant: Some("globex".into()),
            ..LogFilter::default()
        },
        LogFilter {
            types: vec!["b".into()],
            ..LogFilter::default()
        },
    ];
    let ranges = [
        (Position::START, None),
        (all[3].position, Some(all[21].position)),
        (all[29].position, None),
    ];
    for filter in &filters {
        for (after, up_to) in ranges {
            let paged: Vec<RecordedEvent> = store
                .read_all(after, filter, 1000)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| up_to.is_none_or(|to| e.position <= to))
                .collect();
            let scan = store.scan((after, up_to), filter.clone(), 4, |e| e);
            let (scanned, sizes) = collect(scan).await;
            assert_eq!(scanned, paged, "{filter:?} after {after} up to {up_to:?}");
            // Full batches of 4, then what is left; nothing at all for an empty range.
            let (last, full) = sizes.split_last().unwrap_or((&0, &[]));
            assert!(full.iter().all(|&n| n == 4) && (1..=4).contains(last) || sizes.is_empty());
            assert_eq!(sizes.iter().sum::<usize>(), paged.len());
        }
    }
}

async fn a_scan_opens_sealed_values_before_anyone_sees_them(h: Harness) {
    let master = MasterKey::generate();
    let store = h.open(sealed_options(&master)).await;
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    record(&store, ann, "c-1", "ann@example.com", "Ann Archer").await;
    record(&store, bob, "c-2", "bob@example.com", "Bob Baker").await;
    store.catch_up_once().await.unwrap();
    // A store opened afresh has no key cached: the scan loads the keys its rows name.
    let reader = h.open(sealed_options(&master)).await;
    let scan = reader.scan((Position::START, None), LogFilter::default(), 1, |e| e);
    let (scanned, _) = collect(scan).await;
    assert_eq!(
        fields(&scanned),
        [
            json!({"email": "ann@example.com", "name": "Ann Archer"}),
            json!({"email": "bob@example.com", "name": "Bob Baker"}),
        ]
    );
    store
        .erase_entity(ann, "GDPR Art. 17 request", "admin")
        .await
        .unwrap();
    let scan = store.scan((Position::START, None), LogFilter::default(), 10, |e| e);
    let (scanned, _) = collect(scan).await;
    assert_eq!(
        fields(&scanned),
        [
            json!({"email": null, "name": null}),
            json!({"email": "bob@example.com", "name": "Bob Baker"}),
        ]
    );
}

async fn a_scan_never_passes_a_held_commit(h: Harness) {
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
    let held_at = held.appended()[0].position;
    let racer = store.clone();
    let late = tokio::spawn(async move {
        racer
            .append(vec![to(second, ExpectedVersion::NoStream, some_events(1))])
            .await
    });
    wait_for_queued_append(&h, &store, &late).await;

    // Neither the held append nor the one queued behind it: only what had committed.
    let positions = |after| {
        let scan = store.scan((after, None), LogFilter::default(), 10, |e| e.position);
        async move { collect(scan).await.0 }
    };
    assert_eq!(positions(Position::START).await, [before[0].position]);
    assert!(!late.is_finished());

    held.commit().await.unwrap();
    let late = late.await.unwrap().unwrap();
    assert!(late[0].position > held_at);
    assert_eq!(
        positions(before[0].position).await,
        [held_at, late[0].position],
        "a scan from where the last one stopped meets both, in commit order"
    );
}

async fn a_dropped_scan_stops_and_the_store_reads_on(h: Harness) {
    let store = h.store().await;
    for _ in 0..4 {
        let part = to(Uuid::now_v7(), ExpectedVersion::NoStream, some_events(50));
        store.append(vec![part]).await.unwrap();
    }
    // Many scans, each dropped after its first batch, hold no connection afterwards.
    for _ in 0..20 {
        let mut scan = store.scan((Position::START, None), LogFilter::default(), 1, |e| e);
        assert_eq!(scan.next_batch().await.unwrap().unwrap().len(), 1);
    }
    let all = store
        .read_all(Position::START, &LogFilter::default(), 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 200);
    let (scanned, _) =
        collect(store.scan((Position::START, None), LogFilter::default(), 64, |e| e)).await;
    assert_eq!(scanned, all);
}
