//! `Store::seal_old_values` (`syncledger migrate --seal`, docs/privacy.md): values written before
//! the database had a master key are sealed in place, read back the same, and once rebuilt no
//! projection row keeps them in clear; a second run seals nothing; an entity erased before the
//! pass has its old values sealed under no kept key, so they read as erased. Both backends.

use std::sync::Mutex;

use serde_json::{Value, json};
use syncledger_store::{MasterKey, SealProgress, Store};
use syncledger_test_support::TestDb;
use uuid::Uuid;

use crate::both;
use crate::harness::Harness;
use crate::sealing::{raw_text, raw_texts, record, sealed_options, with_copies};

both!(
    old_values_are_sealed_in_place_once_and_read_back_the_same,
    an_entity_erased_before_the_pass_has_its_old_values_read_as_erased,
);

/// The payloads of the `events` table as the database holds them, as text.
async fn raw_events(db: &TestDb) -> String {
    raw_texts(db, "SELECT CAST(payload AS TEXT) FROM events").await
}

async fn fields(store: &Store, entity: Uuid) -> Vec<Value> {
    store
        .read_stream(entity, 1, 100)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type == "RecordFetched")
        .map(|e| e.payload["fields"].clone())
        .collect()
}

/// A store that seals nothing, as before the upgrade.
async fn unsealed(h: &Harness) -> Store {
    h.open(with_copies()).await
}

async fn rebuild_all(store: &Store) {
    for status in store.projection_status().await.unwrap() {
        store.rebuild(&status.name, |_| {}).await.unwrap();
    }
}

async fn old_values_are_sealed_in_place_once_and_read_back_the_same(h: Harness) {
    let plain = unsealed(&h).await;
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    record(&plain, ann, "c-1", "ann@old.example", "Ann Oldvalue").await;
    record(&plain, bob, "c-2", "bob@old.example", "Bob Oldvalue").await;
    plain.catch_up_once().await.unwrap();
    let before = (fields(&plain, ann).await, fields(&plain, bob).await);

    let store = h.open(sealed_options(&MasterKey::generate())).await;
    record(&store, ann, "c-1", "ann@new.example", "Ann Newvalue").await;
    assert!(raw_events(&h).await.contains("Ann Oldvalue"));
    let seen = Mutex::new(Vec::<SealProgress>::new());
    let done = store
        .seal_old_values(|p| seen.lock().unwrap().push(p))
        .await
        .unwrap();
    assert_eq!(
        (
            done.scanned,
            done.total,
            done.events_sealed,
            done.values_sealed
        ),
        (3, 3, 2, 4),
        "the new event was sealed already"
    );
    assert_eq!(seen.lock().unwrap().last(), Some(&done));

    let events = raw_events(&h).await;
    for value in [
        "ann@old.example",
        "Ann Oldvalue",
        "bob@old.example",
        "Bob Oldvalue",
    ] {
        assert!(!events.contains(value), "{value} in clear: {events}");
    }
    assert!(
        events.contains("\"c-1\"") && events.contains("\"email\""),
        "ids stay"
    );
    // Read back the same, by this process and by a fresh one.
    let after = (fields(&store, ann).await, fields(&store, bob).await);
    assert_eq!(after.0[..1], before.0[..]);
    assert_eq!(after.1, before.1);
    assert_eq!(
        after.0[1],
        json!({"email": "ann@new.example", "name": "Ann Newvalue"})
    );

    // The projections still hold copies in clear until rebuilt; then none does.
    rebuild_all(&store).await;
    let raw = raw_text(&h).await;
    for value in ["Ann Oldvalue", "bob@old.example"] {
        assert!(!raw.contains(value), "{value} in clear: {raw}");
    }

    // Idempotent.
    let again = store.seal_old_values(|_| {}).await.unwrap();
    assert_eq!((again.events_sealed, again.values_sealed), (0, 0));

    // Ann can now be erased for good.
    let receipt = store.erase_entity(ann, "request 9", "admin").await.unwrap();
    assert!(receipt.verified, "{receipt:?}");
    assert_eq!(fields(&store, bob).await, before.1);
}

async fn an_entity_erased_before_the_pass_has_its_old_values_read_as_erased(h: Harness) {
    let plain = unsealed(&h).await;
    let ann = Uuid::now_v7();
    record(&plain, ann, "c-1", "ann@old.example", "Ann Oldvalue").await;

    let store = h.open(sealed_options(&MasterKey::generate())).await;
    record(&store, ann, "c-1", "ann@new.example", "Ann Newvalue").await;
    let receipt = store
        .erase_entity(ann, "request 10", "admin")
        .await
        .unwrap();
    assert!(!receipt.verified, "old plaintext is left: {receipt:?}");
    assert!(
        receipt.residue.contains(&"events".to_string()),
        "{receipt:?}"
    );
    assert_eq!(fields(&store, ann).await[0]["name"], "Ann Oldvalue");

    let done = store.seal_old_values(|_| {}).await.unwrap();
    assert_eq!(done.events_sealed, 1);
    assert_eq!(
        fields(&store, ann).await,
        vec![json!({"email": null, "name": null}); 2]
    );
    assert!(!raw_events(&h).await.contains("Ann Oldvalue"));
}
