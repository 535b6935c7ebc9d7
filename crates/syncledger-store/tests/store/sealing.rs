//! Sealing and erasure (docs/privacy.md): values are sealed in the database and read back in
//! clear; an erased entity's values read as null everywhere and its receipt is verified; a
//! rotated key still opens what it sealed; a re-wrapped database opens with its new master key
//! only. Both backends.

use serde_json::{Value, json};
use std::sync::Arc;
use syncledger_core::events::{RecordFetched, SyncEvent};

use syncledger_core::log::{
    EventMeta, ExpectedVersion, LogFilter, NewEvent, Position, RecordedEvent,
};
use syncledger_core::projection::{Mode, Projection, Row, RowOp};
use syncledger_store::{MasterKey, Store, StoreOptions};
use syncledger_test_support::{ExampleConfig, TestDb, db::store_options};
use uuid::Uuid;

use crate::both;
use crate::fixtures::to;
use crate::harness::Harness;

both!(
    values_are_sealed_in_the_database_and_read_back_in_clear,
    an_event_is_sealed_whole_in_fewer_bytes_than_its_values_one_by_one,
    an_erased_entity_reads_as_null_and_its_receipt_is_verified,
    a_rotated_key_still_opens_what_it_sealed,
    a_rewrapped_database_opens_with_its_new_master_key_only,
);

pub fn sealed_options(master: &MasterKey) -> StoreOptions {
    StoreOptions {
        master_key: Some(master.clone()),
        ..with_copies()
    }
}

/// The product's projections and [`RecordCopies`], values unsealed.
pub fn with_copies() -> StoreOptions {
    let mut options = store_options(&ExampleConfig::default().parse());
    options.projections.push(Arc::new(RecordCopies));
    options
}

/// A projection that copies each fetched record's fields into a row of its entity (what
/// `entity_state` did before it kept only its header row): the value-holding rows these tests
/// check the store seals, erases and rebuilds.
pub struct RecordCopies;

impl Projection for RecordCopies {
    fn name(&self) -> &'static str {
        "record_copies"
    }
    fn mode(&self) -> Mode {
        Mode::CatchUp
    }
    fn holds_values(&self) -> bool {
        true
    }
    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let Ok(SyncEvent::RecordFetched(fetched)) = SyncEvent::from_recorded(event) else {
            return vec![];
        };
        let key = format!("{}/{}", event.stream_id, fetched.system);
        vec![RowOp::Put(Row {
            key: key.clone(),
            tenant: event.meta.tenant.clone(),
            entity_id: Some(event.stream_id),
            sort_key: key,
            doc: json!({"record_id": fetched.record_id, "fields": fetched.fields}),
            n: 0,
        })]
    }
}

pub fn fetched(record_id: &str, email: &str, name: &str) -> NewEvent {
    fetched_fields(
        record_id,
        [
            ("email".to_string(), json!(email)),
            ("name".to_string(), json!(name)),
        ]
        .into(),
    )
}

pub fn fetched_fields(record_id: &str, fields: syncledger_core::events::Fields) -> NewEvent {
    let fetched = RecordFetched {
        system: "crm".into(),
        record_id: record_id.into(),
        found: true,
        fields,
        etag: None,
    };
    SyncEvent::RecordFetched(fetched).to_new(EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    })
}

pub async fn record(store: &Store, entity: Uuid, record_id: &str, email: &str, name: &str) {
    let part = to(
        entity,
        ExpectedVersion::Any,
        vec![fetched(record_id, email, name)],
    );
    store.append(vec![part]).await.unwrap();
}

/// Every payload and row document as the database holds it, as text.
pub async fn raw_text(db: &TestDb) -> String {
    let sql = "SELECT CAST(payload AS TEXT) FROM events UNION ALL \
               SELECT CAST(doc AS TEXT) FROM record_copies UNION ALL \
               SELECT CAST(doc AS TEXT) FROM match_index";
    raw_texts(db, sql).await
}

/// The texts a query of one text column gives, as the database holds them, one a line.
pub async fn raw_texts(db: &TestDb, sql: &'static str) -> String {
    let texts: Vec<String> = match db {
        TestDb::Sqlite { url, .. } => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let texts = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            texts
        }
        TestDb::Postgres { pool } => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    };
    texts.join("\n")
}

fn fields(store_events: &[syncledger_core::log::RecordedEvent]) -> Vec<Value> {
    store_events
        .iter()
        .filter(|e| e.event_type == "RecordFetched")
        .map(|e| e.payload["fields"].clone())
        .collect()
}

async fn values_are_sealed_in_the_database_and_read_back_in_clear(h: Harness) {
    let store = h.open(sealed_options(&MasterKey::generate())).await;
    let ann = Uuid::now_v7();
    record(&store, ann, "c-1", "ann@example.com", "Ann Archer").await;
    store.catch_up_once().await.unwrap();

    let events = store.read_stream(ann, 1, 10).await.unwrap();
    assert_eq!(
        fields(&events),
        [json!({"email": "ann@example.com", "name": "Ann Archer"})]
    );
    let all = store
        .read_all(Position::START, &LogFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(fields(&all), fields(&events));

    let raw = raw_text(&h).await;
    // The event's values in one blob (format 2), the projection's row sealed whole (format 1).
    assert!(raw.contains("\"$s2\"") && raw.contains("$s1:"), "{raw}");
    for value in ["ann@example.com", "Ann Archer"] {
        assert!(!raw.contains(value), "{value} in clear: {raw}");
    }
    // The record id and field names stay in clear.
    assert!(raw.contains("c-1") && raw.contains("\"email\""));
}

async fn an_event_is_sealed_whole_in_fewer_bytes_than_its_values_one_by_one(h: Harness) {
    // Names of different lengths: PostgreSQL's jsonb gives the members back shortest first.
    let values: syncledger_core::events::Fields = [
        (
            "a_much_longer_field_name".to_string(),
            json!("Archer & Sons Ltd"),
        ),
        ("email".to_string(), json!("ann@example.com")),
        ("n".to_string(), json!(42)),
        ("name".to_string(), json!("Ann Archer")),
        ("tags".to_string(), json!(["vip", {"since": 2019}])),
    ]
    .into();
    let (bob, ann) = (Uuid::now_v7(), Uuid::now_v7());
    let plain = h.open(with_copies()).await;
    let one = |entity| {
        to(
            entity,
            ExpectedVersion::Any,
            vec![fetched_fields("c-1", values.clone())],
        )
    };
    plain.append(vec![one(bob)]).await.unwrap();
    let master = MasterKey::generate();
    let store = h.open(sealed_options(&master)).await;
    store.append(vec![one(ann)]).await.unwrap();

    let raw = raw_texts(
        &h,
        "SELECT CAST(payload AS TEXT) FROM events ORDER BY position",
    )
    .await;
    let (in_clear, sealed) = raw.split_once('\n').unwrap();
    assert!(
        sealed.contains("\"$s2\"") && !sealed.contains("$s1:"),
        "{sealed}"
    );
    for value in [
        "Archer & Sons",
        "ann@example.com",
        "Ann Archer",
        "vip",
        "2019",
    ] {
        assert!(!sealed.contains(value), "{value} in clear: {sealed}");
    }
    assert!(sealed.contains("\"a_much_longer_field_name\"") && sealed.contains("\"n\""));
    // One by one, each of the five values would take at least 61 bytes more (prefix, key id,
    // nonce and tag in base64, quotes), over 300 in all, and a third of its text more again
    // (base64). Sealed whole: 60 bytes and the member's name once, and the third (105 here).
    let overhead = sealed.len() - in_clear.len();
    assert!(
        overhead < 5 * 61 / 2,
        "{overhead} bytes: {in_clear} -> {sealed}"
    );

    let events = store.read_stream(ann, 1, 10).await.unwrap();
    let expected = vec![serde_json::to_value(&values).unwrap()];
    assert_eq!(fields(&events), expected);
    assert!(
        events[0].payload.get("$s2").is_none(),
        "no reader sees the blob"
    );
    let other = h.open(sealed_options(&master)).await;
    assert_eq!(
        fields(&other.read_stream(ann, 1, 10).await.unwrap()),
        expected
    );
    assert_eq!(
        fields(&other.read_stream(bob, 1, 10).await.unwrap()),
        expected
    );
}

async fn an_erased_entity_reads_as_null_and_its_receipt_is_verified(h: Harness) {
    let master = MasterKey::generate();
    let store = h.open(sealed_options(&master)).await;
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    record(&store, ann, "c-1", "ann@example.com", "Ann Archer").await;
    record(&store, ann, "c-1", "ann.archer@example.com", "Ann Archer").await;
    record(&store, bob, "c-2", "bob@example.com", "Bob Baker").await;
    store.catch_up_once().await.unwrap();

    let receipt = store
        .erase_entity(ann, "GDPR Art. 17 request", "admin")
        .await
        .unwrap();
    assert!(receipt.verified, "{receipt:?}");
    assert_eq!(receipt.residue, Vec::<String>::new());
    assert_eq!(receipt.reason, "GDPR Art. 17 request");

    let events = store.read_stream(ann, 1, 10).await.unwrap();
    assert_eq!(events.len(), 3, "the history keeps its shape");
    assert_eq!(events[2].event_type, "EntityErased");
    assert_eq!(
        fields(&events),
        vec![json!({"email": null, "name": null}); 2]
    );
    assert_eq!(events[0].payload["record_id"], "c-1");
    let bobs = store.read_stream(bob, 1, 10).await.unwrap();
    assert_eq!(
        fields(&bobs),
        [json!({"email": "bob@example.com", "name": "Bob Baker"})]
    );
    assert!(
        store
            .rows_by_entity("record_copies", ann)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.last_erasure(ann).await.unwrap(), Some(3));

    // Idempotent: the same receipt again.
    let again = store
        .erase_entity(ann, "asked twice", "admin")
        .await
        .unwrap();
    assert_eq!(
        (again.erased_at, again.reason.as_str()),
        (receipt.erased_at, "GDPR Art. 17 request")
    );
    assert!(again.verified);
    assert_eq!(store.read_stream(ann, 1, 10).await.unwrap().len(), 3);

    // The entity lives on: a later value is sealed under a new key and reads back.
    record(&store, ann, "c-1", "new@example.com", "A. Archer").await;
    let events = store.read_stream(ann, 1, 10).await.unwrap();
    assert_eq!(
        fields(&events)[2],
        json!({"email": "new@example.com", "name": "A. Archer"})
    );
    assert!(!raw_text(&h).await.contains("new@example.com"));

    // A fresh handle (another process) reads the same.
    let other = h.open(sealed_options(&master)).await;
    let seen = fields(&other.read_stream(ann, 1, 10).await.unwrap());
    assert_eq!(seen[0], json!({"email": null, "name": null}));
    assert_eq!(seen[2]["email"], "new@example.com");
}

async fn a_rotated_key_still_opens_what_it_sealed(h: Harness) {
    let store = h.open(sealed_options(&MasterKey::generate())).await;
    let ann = Uuid::now_v7();
    record(&store, ann, "c-1", "ann@example.com", "Ann Archer").await;
    assert!(store.rotate_entity_key(ann).await.unwrap());
    record(&store, ann, "c-1", "ann2@example.com", "Ann Archer").await;
    let events = store.read_stream(ann, 1, 10).await.unwrap();
    assert_eq!(fields(&events)[0]["email"], "ann@example.com");
    assert_eq!(fields(&events)[1]["email"], "ann2@example.com");
    let keys: i64 = count(&h, "SELECT COUNT(*) FROM data_keys").await;
    assert_eq!(keys, 2);
    // Erasure destroys every key of the entity, the retired one too.
    assert!(
        store
            .erase_entity(ann, "rotation test", "admin")
            .await
            .unwrap()
            .verified
    );
    let live: i64 = count(
        &h,
        "SELECT COUNT(*) FROM data_keys WHERE wrapped IS NOT NULL",
    )
    .await;
    assert_eq!(live, 0);
}

async fn a_rewrapped_database_opens_with_its_new_master_key_only(h: Harness) {
    let (old, new) = (MasterKey::generate(), MasterKey::generate());
    let store = h.open(sealed_options(&old)).await;
    let ann = Uuid::now_v7();
    record(&store, ann, "c-1", "ann@example.com", "Ann Archer").await;
    // Ann's data key and the tenant's digest key.
    assert_eq!(store.rewrap_keys(&new).await.unwrap(), 2);
    // (Handles are not closed: on PostgreSQL they share the test's pool.)

    let reopened = h.open(sealed_options(&new)).await;
    let events = reopened.read_stream(ann, 1, 10).await.unwrap();
    assert_eq!(fields(&events)[0]["email"], "ann@example.com");

    for wrong in [Some(old), None] {
        let options = StoreOptions {
            master_key: wrong,
            ..store_options(&ExampleConfig::default().parse())
        };
        let store = match &h {
            TestDb::Sqlite { url, .. } => Store::connect(url, options).await.unwrap(),
            TestDb::Postgres { pool } => Store::from_pg_pool(pool.clone(), options).unwrap(),
        };
        assert!(
            store.migrate().await.is_err(),
            "opened without its master key"
        );
    }
}

async fn count(db: &TestDb, sql: &'static str) -> i64 {
    match db {
        TestDb::Sqlite { url, .. } => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
        TestDb::Postgres { pool } => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}
