//! `Entity` once its first events were archived (docs/log.md, "Archiving"): its state, links,
//! type and version are read from its snapshot with the live events after it, `archived` says
//! where the earlier events went, `history` starts after them; an entity whose events were all
//! archived is still found.

use serde_json::{Value, json};
use syncledger_core::events::Action;
use syncledger_store::archive::{ArchiveRequest, Before, StreamSnapshots};

use crate::both;
use crate::recorder::{Recorder, phone_story};
use crate::support::App;

both!(an_archived_entity_reads_from_its_snapshot_and_says_where_its_history_went);

const ENTITY: &str = r#"query($id: ID!) { entity(id: $id) {
    id tenant entityType version
    links { system recordId collection }
    state
    archived { events segment archivedAt note }
    history(first: 50) { edges { node { sequence } } pageInfo { hasPreviousPage } }
} }"#;

fn without_history(entity: &Value) -> Value {
    let mut entity = entity.clone();
    entity.as_object_mut().unwrap().remove("history");
    entity.as_object_mut().unwrap().remove("archived");
    entity
}

async fn an_archived_entity_reads_from_its_snapshot_and_says_where_its_history_went(app: App) {
    // Small partitions on PostgreSQL, so that the cut falls just below the newest event.
    app.store.archives().set_partition_width(2).await.unwrap();
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let ann = phone_story(&recorder).await;
    let before = app.admin(ENTITY, json!({"id": ann})).await["entity"].clone();
    assert!(before["archived"].is_null());
    // Another entity afterwards: its last event stays live, Ann's are all archived.
    let bob = recorder
        .sync(
            "crm",
            "c-77",
            Action::Created,
            "crm-evt-77",
            Some(json!({"name": "Bob Ray", "email": "bob@acme.io", "phone": "555-0177"})),
            "E77",
        )
        .await;
    let bob_before = app.admin(ENTITY, json!({"id": bob})).await["entity"].clone();
    let dir = tempfile::tempdir().unwrap();
    let head = app.store.head().await.unwrap().0;
    let report = app
        .store
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
    assert!(report.removed > 0, "{report:?}");

    // Ann: every event archived, still found, her state as before.
    let after = app.admin(ENTITY, json!({"id": ann})).await["entity"].clone();
    assert_eq!(without_history(&after), without_history(&before));
    let archived = &after["archived"];
    assert_eq!(archived["events"], before["version"]);
    let note = archived["note"].as_str().unwrap();
    assert!(
        note.starts_with(&format!(
            "{} earlier events archived on ",
            before["version"]
        )) && note.contains(" in segment 0001"),
        "{note}"
    );
    assert_eq!(after["history"]["edges"], json!([]));

    // Bob: his first events archived, the last live; the same state.
    let bob_after = app.admin(ENTITY, json!({"id": bob})).await["entity"].clone();
    assert_eq!(without_history(&bob_after), without_history(&bob_before));
    let archived = bob_after["archived"]["events"].as_u64().unwrap();
    let sequences: Vec<u64> = bob_after["history"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["sequence"].as_u64().unwrap())
        .collect();
    let version = bob_after["version"].as_u64().unwrap();
    assert_eq!(sequences, ((archived + 1)..=version).collect::<Vec<_>>());
    assert!(!sequences.is_empty());

    // A tenant token sees its own archived entity, and the other tenant's does not.
    let (status, body) = app
        .gql(Some(crate::support::GLOBEX), ENTITY, json!({"id": ann}))
        .await;
    assert_eq!(status, axum::http::StatusCode::OK);
    assert!(body["data"]["entity"].is_null(), "{body}");
    let (_, body) = app
        .gql(Some(crate::support::ACME), ENTITY, json!({"id": ann}))
        .await;
    assert_eq!(body["data"]["entity"]["id"], json!(ann.to_string()));
}
