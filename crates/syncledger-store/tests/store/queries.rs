//! Projection queries: keyset pages, tenant and sort-key filters, counts, rows by entity.

use serde_json::json;
use syncledger_core::log::ExpectedVersion;
use syncledger_store::RowQuery;
use uuid::Uuid;

use crate::both;
use crate::fixtures::{event_for, to};
use crate::harness::Harness;
use crate::projections::ledger_options;

both!(
    rows_page_by_sort_key_and_filter_by_tenant,
    rows_of_tenants_give_each_tenant_its_own_first_rows_however_long_another_queue_is,
);

async fn rows_page_by_sort_key_and_filter_by_tenant(h: Harness) {
    let store = h.open(ledger_options(1000)).await;
    let mut streams = Vec::new();
    for i in 0..7u64 {
        let tenant = if i % 2 == 0 { "acme" } else { "other" };
        let s = Uuid::now_v7();
        let events = (0..=i)
            .map(|_| event_for(tenant, "noted", json!({})))
            .collect();
        store
            .append(vec![to(s, ExpectedVersion::NoStream, events)])
            .await
            .unwrap();
        streams.push(s);
    }
    // Stream rows sort by "stream:<last sequence>", so stream i sorts as i + 1.
    let page = |after: Option<(String, String)>| RowQuery {
        sort_key_from: Some("stream:".into()),
        sort_key_to: Some("stream:~".into()),
        after,
        limit: 3,
        ..RowQuery::default()
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let rows = store
            .rows("ledger_inline", &page(after.clone()))
            .await
            .unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= 3);
        after = rows.last().map(|r| (r.sort_key.clone(), r.key.clone()));
        seen.extend(rows.into_iter().map(|r| r.entity_id.unwrap()));
    }
    assert_eq!(
        seen, streams,
        "keyset pages cover every row once, in sort order"
    );

    let acme = RowQuery {
        tenant: Some("acme".into()),
        sort_key_from: Some("stream:".into()),
        limit: 100,
        ..RowQuery::default()
    };
    let acme_rows = store.rows("ledger_inline", &acme).await.unwrap();
    assert_eq!(acme_rows.len(), 4);
    assert!(acme_rows.iter().all(|r| r.tenant == "acme"));
    // acme's four stream rows, its four "first:" rows, and "count:noted" (first made by acme).
    assert_eq!(
        store
            .count_rows("ledger_inline", Some("acme"), Some("stream:~"))
            .await
            .unwrap(),
        9
    );
    // Up to and including "stream:00000003": "count:noted", the seven "first:" rows, and the
    // streams with 1, 2 and 3 events.
    assert_eq!(
        store
            .count_rows("ledger_inline", None, Some("stream:00000003"))
            .await
            .unwrap(),
        11
    );
    let by_entity = store
        .rows_by_entity("ledger_inline", streams[2])
        .await
        .unwrap();
    let keys: Vec<_> = by_entity.iter().map(|r| r.key.clone()).collect();
    assert_eq!(
        keys,
        [
            format!("first:{}", streams[2]),
            format!("stream:{}", streams[2])
        ]
    );
}

async fn rows_of_tenants_give_each_tenant_its_own_first_rows_however_long_another_queue_is(
    h: Harness,
) {
    let store = h.open(ledger_options(1000)).await;
    // "busy" writes thirty streams first, "quiet" two after: by sort key alone, busy's rows
    // would fill any page.
    for (tenant, streams) in [("busy", 30), ("quiet", 2)] {
        for _ in 0..streams {
            let events = vec![event_for(tenant, "noted", json!({}))];
            store
                .append(vec![to(Uuid::now_v7(), ExpectedVersion::NoStream, events)])
                .await
                .unwrap();
        }
    }
    // Seventy tenants (more than one statement takes), most of them with no rows at all.
    let mut tenants: Vec<(String, i64)> = vec![("busy".into(), 3), ("quiet".into(), 5)];
    tenants.extend((0..68).map(|i| (format!("nobody-{i}"), 4)));
    tenants.push(("busy-again-never".into(), 0));
    let to_key = Some("stream:~");
    let rows = store
        .rows_of_tenants("ledger_inline", to_key, &tenants)
        .await
        .unwrap();

    let one_by_one = |tenant: &str, limit: i64| RowQuery {
        tenant: Some(tenant.into()),
        sort_key_to: to_key.map(String::from),
        limit,
        ..RowQuery::default()
    };
    let busy = store
        .rows("ledger_inline", &one_by_one("busy", 3))
        .await
        .unwrap();
    let quiet = store
        .rows("ledger_inline", &one_by_one("quiet", 5))
        .await
        .unwrap();
    assert_eq!(busy.len(), 3);
    assert!(!quiet.is_empty() && quiet.iter().all(|r| r.tenant == "quiet"));
    let expected: Vec<_> = busy.into_iter().chain(quiet).collect();
    assert_eq!(
        rows, expected,
        "each tenant's first rows, grouped in the order the tenants were given"
    );
}
