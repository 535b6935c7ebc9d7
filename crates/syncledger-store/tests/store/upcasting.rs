//! Upcasting: stored old versions are read as the newest version on every read path.

use futures::StreamExt;
use serde_json::{Value, json};
use syncledger_core::log::{ExpectedVersion, LogFilter, Position, Upcaster, Upcasters};
use syncledger_store::StoreOptions;
use uuid::Uuid;

use crate::both;
use crate::fixtures::{event, to};
use crate::harness::Harness;

both!(old_schema_versions_are_upcast_on_every_read);

/// v1 `{"name": "Ada Lovelace"}` -> v2 splits the name -> v3 renames `first` to `given`.
struct SplitName;
struct RenameFirst;

impl Upcaster for SplitName {
    fn event_type(&self) -> &str {
        "contact_seen"
    }
    fn source_version(&self) -> i32 {
        1
    }
    fn upcast(&self, payload: Value) -> Value {
        let name = payload["name"].as_str().unwrap_or_default();
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        json!({ "first": first, "last": last })
    }
}

impl Upcaster for RenameFirst {
    fn event_type(&self) -> &str {
        "contact_seen"
    }
    fn source_version(&self) -> i32 {
        2
    }
    fn upcast(&self, mut payload: Value) -> Value {
        let first = payload["first"].take();
        json!({ "given": first, "last": payload["last"] })
    }
}

async fn old_schema_versions_are_upcast_on_every_read(h: Harness) {
    // Written by a store that knows no upcasters: stored as version 1, as sent.
    let writer = h.store().await;
    let s = Uuid::now_v7();
    let old = event("contact_seen", json!({ "name": "Ada Lovelace" }));
    let mut current = event(
        "contact_seen",
        json!({ "given": "Grace", "last": "Hopper" }),
    );
    current.schema_version = 3;
    writer
        .append(vec![to(
            s,
            ExpectedVersion::Any,
            vec![old.clone(), current],
        )])
        .await
        .unwrap();
    assert_eq!(
        writer
            .event(old.event_id)
            .await
            .unwrap()
            .unwrap()
            .schema_version,
        1
    );

    let reader = h
        .open(StoreOptions {
            upcasters: Upcasters::new().with(RenameFirst).with(SplitName),
            ..StoreOptions::default()
        })
        .await;
    let want_old = json!({ "given": "Ada", "last": "Lovelace" });
    let read = reader.read_stream(s, 1, 10).await.unwrap();
    assert_eq!((read[0].schema_version, &read[0].payload), (3, &want_old));
    assert_eq!(read[1].schema_version, 3);
    assert_eq!(read[1].payload["given"], "Grace");
    let all = reader
        .read_all(Position::START, &LogFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(all, read);
    let mut scan = reader.scan((Position::START, None), LogFilter::default(), 10, |e| e);
    assert_eq!(scan.next_batch().await.unwrap().unwrap(), read);
    let by_id = reader.event(old.event_id).await.unwrap().unwrap();
    assert_eq!(by_id.payload, want_old);
    let mut sub = Box::pin(reader.subscribe(Position::START, LogFilter::default()));
    assert_eq!(sub.next().await.unwrap().unwrap().payload, want_old);
}
