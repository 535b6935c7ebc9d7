//! Claims (`RowOp::Claim`, the links of `id_mappings`): a record belongs to one entity by
//! construction. A second entity's link of a held record is refused where it is appended, with
//! nothing written; a link moves only in an append that also writes to the holder's stream; in a
//! group commit the refused member does not take the others down; a rebuild replays what the
//! log says without refusing anything.

use std::sync::Arc;

use syncledger_core::events::{RecordLinked, SyncEvent};
use syncledger_core::log::{EventMeta, ExpectedVersion, NewEvent};
use syncledger_core::projections::id_mappings::{self, IdMappings};
use syncledger_store::{Store, StoreError, StoreOptions};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{some_events, to};
use crate::group::{busy_committer, queue};
use crate::harness::Harness;

both!(
    a_record_linked_to_one_entity_is_refused_to_another_and_nothing_is_written,
    a_link_moves_with_the_holders_stream_in_the_same_append,
    in_a_group_the_second_link_of_a_record_is_refused_and_the_others_commit,
    a_rebuild_replays_an_old_double_link_without_refusing_it,
);

fn options() -> StoreOptions {
    StoreOptions {
        projections: vec![Arc::new(IdMappings)],
        ..StoreOptions::default()
    }
}

fn linked(record_id: &str) -> NewEvent {
    SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: "erp".into(),
        collection: "customers".into(),
        record_id: record_id.into(),
        reason: "first seen in erp".into(),
    })
    .to_new(EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    })
}

async fn holder(store: &Store, record_id: &str) -> Option<Uuid> {
    let key = id_mappings::key("acme", "erp", record_id);
    store
        .row(id_mappings::NAME, &key)
        .await
        .unwrap()
        .and_then(|r| r.entity_id)
}

async fn a_record_linked_to_one_entity_is_refused_to_another_and_nothing_is_written(h: Harness) {
    use ExpectedVersion::*;
    let store = h.open(options()).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    store
        .append(vec![to(a, NoStream, vec![linked("E-1")])])
        .await
        .unwrap();
    // Linking it again from A is no claim on anyone else's.
    store
        .append(vec![to(a, Exact(1), vec![linked("E-1")])])
        .await
        .unwrap();

    let other = Uuid::now_v7();
    let refused = store
        .append(vec![
            to(b, NoStream, vec![linked("E-1")]),
            to(other, NoStream, some_events(1)),
        ])
        .await;
    match refused {
        Err(StoreError::Claimed(c)) => {
            assert_eq!((c.holder, c.claimant), (a, b));
            assert_eq!(c.key, id_mappings::key("acme", "erp", "E-1"));
        }
        other => panic!("expected the claim to be refused, got {other:?}"),
    }
    assert_eq!(holder(&store, "E-1").await, Some(a));
    assert_eq!(store.stream_version(b).await.unwrap(), 0, "nothing of B");
    assert_eq!(
        store.stream_version(other).await.unwrap(),
        0,
        "nothing of the append"
    );
}

async fn a_link_moves_with_the_holders_stream_in_the_same_append(h: Harness) {
    use ExpectedVersion::*;
    let store = h.open(options()).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    store
        .append(vec![to(a, NoStream, vec![linked("E-1")])])
        .await
        .unwrap();
    // A hand-over: B links it, and the same append writes to A (expecting its version).
    store
        .append(vec![
            to(b, NoStream, vec![linked("E-1")]),
            to(a, Exact(1), some_events(1)),
        ])
        .await
        .unwrap();
    assert_eq!(holder(&store, "E-1").await, Some(b));
}

async fn in_a_group_the_second_link_of_a_record_is_refused_and_the_others_commit(h: Harness) {
    use ExpectedVersion::*;
    let store = h.open(options()).await;
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (held, first) = busy_committer(&h, &store).await;
    // Both read "E-7 is unlinked"; A joined the group first. C touches nothing of theirs.
    let wins = queue(&store, 0, vec![to(a, NoStream, vec![linked("E-7")])]).await;
    let loses = queue(&store, 1, vec![to(b, NoStream, vec![linked("E-7")])]).await;
    let bystander = queue(&store, 2, vec![to(c, NoStream, vec![linked("E-8")])]).await;
    held.commit().await.unwrap();

    first.await.unwrap().unwrap();
    wins.await.unwrap().unwrap();
    bystander.await.unwrap().unwrap();
    match loses.await.unwrap() {
        Err(StoreError::Claimed(claimed)) => assert_eq!(claimed.holder, a),
        other => panic!("expected the second link to be refused, got {other:?}"),
    }
    assert_eq!(holder(&store, "E-7").await, Some(a));
    assert_eq!(holder(&store, "E-8").await, Some(c));
    assert_eq!(store.stream_version(b).await.unwrap(), 0);
}

async fn a_rebuild_replays_an_old_double_link_without_refusing_it(h: Harness) {
    use ExpectedVersion::*;
    // A log written before links were claims: the same record linked by two entities.
    let old = h.store().await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    old.append(vec![to(a, NoStream, vec![linked("E-1")])])
        .await
        .unwrap();
    old.append(vec![to(b, NoStream, vec![linked("E-1")])])
        .await
        .unwrap();

    let store = h.open(options()).await;
    store.rebuild(id_mappings::NAME, |_| {}).await.unwrap();
    assert_eq!(
        holder(&store, "E-1").await,
        Some(b),
        "the log's last link, as before"
    );
}
