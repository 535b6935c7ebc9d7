//! Erasure meets archiving (CONTRACT G11, docs/privacy.md "Archives"): a snapshot of archived
//! events is sealed like any projection row; erasing the entity replaces it with its value-free
//! part and the receipt is verified (and names `stream_archives` when a snapshot still holds a
//! value); the segments, never rewritten, read back with the erased
//! entity's values as `null` (history from the archive, a rebuild from the archive) while the
//! others' still open. Both backends.

use serde_json::{Value, json};
use syncledger_core::log::RecordedEvent;
use syncledger_core::snapshot::resume_entity;
use syncledger_store::MasterKey;
use syncledger_store::archive::{ArchiveRequest, Before, StreamSnapshots};
use syncledger_test_support::TestDb;
use uuid::Uuid;

use crate::both;
use crate::harness::Harness;
use crate::sealing::{raw_text, raw_texts, record, sealed_options};

both!(an_erased_entity_reads_as_erased_from_its_snapshot_and_its_archive);

/// Every snapshot as the database holds it, as text (a packed one as `packed:<its length>`).
async fn raw_snapshots(db: &TestDb) -> String {
    raw_texts(
        db,
        "SELECT COALESCE(CAST(state AS TEXT), '') || CASE WHEN packed IS NULL THEN '' \
         ELSE 'packed:' || CAST(length(packed) AS TEXT) END FROM stream_archives",
    )
    .await
}

/// The packed snapshots' bytes as stored.
async fn packed_snapshots(db: &TestDb) -> Vec<Vec<u8>> {
    let sql = "SELECT packed FROM stream_archives WHERE packed IS NOT NULL";
    match db {
        TestDb::Sqlite { url, .. } => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let rows = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
        TestDb::Postgres { pool } => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    }
}

fn fields_of(events: &[RecordedEvent]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.event_type == "RecordFetched")
        .map(|e| e.payload["fields"].clone())
        .collect()
}

/// Every file of the archive directory, as bytes.
fn archive_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        // Segments are zstd frames: what a reader of the file sees is the decompressed text.
        all.extend(zstd::decode_all(&bytes[..]).unwrap_or(bytes));
    }
    all
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn an_erased_entity_reads_as_erased_from_its_snapshot_and_its_archive(h: Harness) {
    let master = MasterKey::generate();
    let store = h.open(sealed_options(&master)).await;
    // Small partitions on PostgreSQL, so that this short log spans several.
    store.archives().set_partition_width(2).await.unwrap();
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    record(&store, ann, "c-1", "ann@example.com", "Ann Archer").await;
    record(&store, bob, "c-2", "bob@example.com", "Bob Baker").await;
    record(&store, ann, "c-1", "ann.archer@example.com", "Ann Archer").await;
    record(&store, bob, "c-2", "bob.baker@example.com", "Bob Baker").await;
    let carl = Uuid::now_v7();
    record(&store, carl, "c-3", "carl@example.com", "Carl Clay").await;
    store.catch_up_once().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let head = store.head().await.unwrap().0;
    // Everything but the newest event (Carl's) is archived: Ann's and Bob's streams wholly.
    let report = store
        .archives()
        .archive(
            &ArchiveRequest {
                before: Before::Position(head),
                dir: dir.path().to_path_buf(),
            },
            &StreamSnapshots,
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.snapshots, 2, "{report:?}");

    // The snapshot is packed (compressed, then sealed) and stored as bytes, and opens for its
    // readers.
    let raw = raw_snapshots(&h).await;
    assert_eq!(raw.matches("packed:").count(), 2, "{raw}");
    assert!(!raw.contains("known") && !raw.contains("crm"), "{raw}");
    for bytes in packed_snapshots(&h).await {
        for value in [
            "ann.archer@example.com",
            "Ann Archer",
            "bob@example.com",
            "crm",
        ] {
            assert!(
                !holds(&bytes, value),
                "{value} in clear in a packed snapshot"
            );
        }
    }
    for value in ["ann.archer@example.com", "Ann Archer", "bob@example.com"] {
        assert!(
            !raw.contains(value),
            "{value} in clear in a snapshot: {raw}"
        );
    }
    let archived = store.archives().stream(ann).await.unwrap().unwrap();
    let state = resume_entity(ann, archived.state.as_ref(), &[]);
    assert_eq!(state.version, 2);
    assert_eq!(state.known["crm"]["email"], json!("ann.archer@example.com"));
    // The segments hold values sealed as they were stored: each event's in one blob.
    let bytes = archive_bytes(dir.path());
    assert!(holds(&bytes, "\"$s2\""));
    for value in ["ann@example.com", "Ann Archer", "bob@example.com"] {
        assert!(!holds(&bytes, value), "{value} in clear in the archive");
    }
    let segments_before = archive_bytes(dir.path());

    let receipt = store
        .erase_entity(ann, "GDPR Art. 17 request", "admin")
        .await
        .unwrap();
    assert!(receipt.verified, "{receipt:?}");
    assert_eq!(receipt.residue, Vec::<String>::new());

    // Its snapshot keeps what it is and where its record is, no value (in clear, not packed).
    let raw = raw_snapshots(&h).await;
    assert_eq!(
        raw.matches("packed:").count(),
        1,
        "only bob's stays packed: {raw}"
    );
    for value in ["ann@example.com", "ann.archer@example.com", "Ann Archer"] {
        assert!(
            !raw.contains(value),
            "{value} in a snapshot after erasure: {raw}"
        );
    }
    let archived = store.archives().stream(ann).await.unwrap().unwrap();
    // (What it keeps, links included, is core's `snapshot::without_values`, tested there.)
    let state = resume_entity(ann, archived.state.as_ref(), &[]);
    assert_eq!((state.tenant.as_str(), state.version), ("acme", 2));
    assert!(state.known.is_empty(), "{:?}", state.known);
    assert_eq!(archived.version, 2, "the note still says what was archived");

    // The archive is not rewritten, and reads back erased for Ann, in clear for Bob.
    assert_eq!(archive_bytes(dir.path()), segments_before);
    let anns = store.archives().read_stream(dir.path(), ann).await.unwrap();
    assert_eq!(
        fields_of(&anns),
        vec![json!({"email": null, "name": null}); 2]
    );
    let bobs = store.archives().read_stream(dir.path(), bob).await.unwrap();
    assert_eq!(
        fields_of(&bobs),
        [
            json!({"email": "bob@example.com", "name": "Bob Baker"}),
            json!({"email": "bob.baker@example.com", "name": "Bob Baker"})
        ]
    );

    // Asked again: the same receipt, the snapshot checked too.
    let again = store
        .erase_entity(ann, "asked twice", "admin")
        .await
        .unwrap();
    assert!(again.verified, "{again:?}");
    assert_eq!(again.erased_at, receipt.erased_at);

    // A rebuild from the archive gives back no value of Ann's.
    for name in ["record_copies", "match_index"] {
        store
            .archives()
            .rebuild(name, dir.path(), |_| {})
            .await
            .unwrap();
    }
    let raw = raw_text(&h).await;
    for value in ["ann@example.com", "ann.archer@example.com", "Ann Archer"] {
        assert!(
            !raw.contains(value),
            "{value} after a rebuild from the archive"
        );
    }
    let rows = store.all_rows("record_copies").await.unwrap();
    let text = serde_json::to_string(&rows.iter().map(|r| &r.doc).collect::<Vec<_>>()).unwrap();
    assert!(
        text.contains("bob.baker@example.com"),
        "Bob's rows open: {text}"
    );
    assert!(!text.contains("Ann Archer"), "{text}");

    // A fresh process reads the same.
    let other = h.open(sealed_options(&master)).await;
    let archived = other.archives().stream(bob).await.unwrap().unwrap();
    let bob_state = resume_entity(bob, archived.state.as_ref(), &[]);
    assert_eq!(
        bob_state.known["crm"]["email"],
        json!("bob.baker@example.com")
    );

    // A snapshot holding values in clear under an erased entity (written by hand here) is
    // residue the receipt names, asked again.
    let in_clear = archived.state.clone().unwrap();
    put_snapshot(&h, ann, &in_clear).await;
    let again = store
        .erase_entity(ann, "asked again", "admin")
        .await
        .unwrap();
    assert!(!again.verified, "{again:?}");
    assert!(
        again.residue.contains(&"stream_archives".to_string()),
        "{again:?}"
    );
}

/// Writes `state` as the stream's snapshot, as is.
async fn put_snapshot(db: &TestDb, stream: Uuid, state: &Value) {
    let sql = "UPDATE stream_archives SET state = $1 WHERE stream_id = $2";
    let done = match db {
        TestDb::Sqlite { url, .. } => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let done = sqlx::query(sql)
                .bind(sqlx::types::Json(state))
                .bind(stream)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            done.rows_affected()
        }
        TestDb::Postgres { pool } => sqlx::query(sql)
            .bind(sqlx::types::Json(state))
            .bind(stream)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected(),
    };
    assert_eq!(done, 1);
}
