//! Erasure as the API meets it, with values sealed (docs/privacy.md): `findEntities` finds a
//! person by an exact match key and by words while the lookup tables hold only keyed digests, an
//! erasure leaves none of the person's rows in them, and a conflict recorded before the erasure
//! cannot be resolved (its values are gone).

use chrono::Utc;
use serde_json::{Value, json};
use syncledger_core::config::ConflictPolicy;
use syncledger_core::events::{Candidate, ConflictDetected, SyncEvent, conflict_id};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_core::lookup::term_digest;
use syncledger_core::mapping::match_value_hash;
use syncledger_core::privacy::KEYED_PREFIX;
use syncledger_core::projections::{conflicts, match_index, round_trip_context, word_index};
use uuid::Uuid;

use crate::both_sealed;
use crate::recorder::{Recorder, phone_story};
use crate::support::App;

const FIND: &str = r#"query($tenant: String!, $value: String!) {
  findEntities(tenant: $tenant, value: $value) { id } }"#;
const ERASE: &str = r#"mutation($id: ID!) {
  eraseEntity(id: $id, reason: "GDPR request 7") { entityId verified residue } }"#;
const RESOLVE: &str = r#"mutation($id: ID!) {
  resolveConflict(id: $id, system: "erp") { id open } }"#;

async fn found(app: &App, value: &str) -> Vec<String> {
    let data = app
        .admin(FIND, json!({"tenant": "acme", "value": value}))
        .await;
    data["findEntities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every row of the lookup projections, as `(projection, sort key, entity)`.
async fn lookup_rows(app: &App) -> Vec<(&'static str, String, Option<Uuid>)> {
    let mut rows = Vec::new();
    for name in [
        match_index::NAME,
        round_trip_context::NAME,
        word_index::NAME,
    ] {
        for row in app.store.all_rows(name).await.unwrap() {
            rows.push((name, row.sort_key, row.entity_id));
        }
    }
    rows
}

async fn find_entities_works_by_match_key_and_by_words_over_keyed_digests_and_not_after_erasure(
    app: App,
) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;
    app.store.catch_up_once().await.unwrap();

    assert_eq!(found(&app, "  ANN@acme.io ").await, [id.to_string()]);
    assert_eq!(found(&app, "lee ANN").await, [id.to_string()]);
    assert_eq!(found(&app, "bob@acme.io").await, Vec::<String>::new());

    // The tables hold keyed digests only: neither a value nor its plain digest.
    let rows = lookup_rows(&app).await;
    assert!(
        rows.iter().any(|(n, _, _)| *n == match_index::NAME),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|(n, _, _)| *n == word_index::NAME),
        "{rows:?}"
    );
    let plain = [
        match_value_hash(&json!("ann@acme.io")).unwrap(),
        term_digest("ann"),
        term_digest("lee"),
    ];
    for (name, sort_key, _) in &rows {
        let last = sort_key.rsplit('/').next().unwrap();
        assert!(last.starts_with(KEYED_PREFIX), "{name}: {sort_key}");
        assert!(
            !plain.iter().any(|p| sort_key.contains(p.as_str())) && !sort_key.contains("ann"),
            "{name}: {sort_key}"
        );
    }

    let data = app.admin(ERASE, json!({"id": id.to_string()})).await;
    assert_eq!(data["eraseEntity"]["verified"], true, "{data}");
    assert_eq!(data["eraseEntity"]["residue"], json!([]));
    app.store.catch_up_once().await.unwrap();
    let left: Vec<_> = lookup_rows(&app)
        .await
        .into_iter()
        .filter(|(_, _, entity)| *entity == Some(id))
        .collect();
    assert_eq!(left, vec![], "the erased entity's digests are gone");
    assert_eq!(found(&app, "ann@acme.io").await, Vec::<String>::new());
    assert_eq!(found(&app, "Ann Lee").await, Vec::<String>::new());

    // Rebuilt from the log (whose values are now erased), they bring no digest back.
    for name in [
        match_index::NAME,
        round_trip_context::NAME,
        word_index::NAME,
    ] {
        app.store.rebuild(name, |_| {}).await.unwrap();
    }
    assert_eq!(found(&app, "ann@acme.io").await, Vec::<String>::new());
    assert_eq!(found(&app, "Ann Lee").await, Vec::<String>::new());
}

async fn a_conflict_recorded_before_the_erasure_cannot_be_resolved_and_nothing_is_appended(
    app: App,
) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;
    let conflict = conflict_id(Uuid::now_v7(), "name");
    let candidate = |system: &str, value: &str| Candidate {
        system: system.into(),
        value: json!(value),
        observed_at: Utc::now(),
    };
    let detected = SyncEvent::ConflictDetected(ConflictDetected {
        conflict_id: conflict,
        trigger_id: Uuid::now_v7(),
        field: "name".into(),
        candidates: vec![candidate("crm", "Ann Lee"), candidate("erp", "Ann Leigh")],
        policy: ConflictPolicy::Review,
        chosen: None,
        detected_at: Utc::now(),
    });
    let meta = EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    };
    app.store
        .append(vec![StreamAppend {
            stream_id: id,
            expected: ExpectedVersion::Any,
            events: vec![detected.to_new(meta)],
        }])
        .await
        .unwrap();
    app.store.catch_up_once().await.unwrap();
    app.admin(ERASE, json!({"id": id.to_string()})).await;
    let version = recorder.stream(id).await.len();

    // The conflict's row went with the erasure; rebuilt from the log, it is back (its values
    // null) and its entity is known: the refusal then comes from the entity's erasure.
    for rebuilt in [false, true] {
        if rebuilt {
            app.store.rebuild(conflicts::NAME, |_| {}).await.unwrap();
            assert!(
                app.store
                    .row(conflicts::NAME, &conflicts::key(conflict))
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        let (_, body) = app
            .gql(
                Some(crate::support::ADMIN),
                RESOLVE,
                json!({"id": conflict.to_string()}),
            )
            .await;
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        if rebuilt {
            assert_eq!(crate::support::codes(&body), ["BAD_USER_INPUT"], "{body}");
            assert!(message.contains("erased"), "{body}");
        } else {
            assert_eq!(crate::support::codes(&body), ["NOT_FOUND"], "{body}");
        }
        assert_eq!(body["data"], Value::Null, "{body}");
        assert_eq!(recorder.stream(id).await.len(), version, "nothing appended");
    }
}

both_sealed!(
    find_entities_works_by_match_key_and_by_words_over_keyed_digests_and_not_after_erasure,
    a_conflict_recorded_before_the_erasure_cannot_be_resolved_and_nothing_is_appended,
);

/// A database that ran unsealed (or was written before keyed digests) files plain digests;
/// opened with a master key, its migration rebuilds the lookup projections keyed, and both
/// kinds of search find what they found before.
async fn an_unsealed_database_opened_with_a_master_key_rebuilds_its_lookups_keyed(
    db: syncledger_test_support::TestDb,
) {
    let plain = App::over_with(db.clone(), None).await;
    let recorder = Recorder::new(&plain.store, plain.context.config(), "acme");
    let id = phone_story(&recorder).await;
    plain.store.catch_up_once().await.unwrap();
    assert_eq!(found(&plain, "ann@acme.io").await, [id.to_string()]);
    let before = lookup_rows(&plain).await;
    assert!(
        before
            .iter()
            .all(|(_, sort_key, _)| !sort_key.contains(KEYED_PREFIX))
    );
    // (Not closed: on PostgreSQL both handles share the test's pool.)

    let sealed = App::over_with(db, Some(syncledger_store::MasterKey::generate())).await;
    sealed.store.catch_up_once().await.unwrap();
    let after = lookup_rows(&sealed).await;
    assert_eq!(after.len(), before.len(), "{before:?}\n{after:?}");
    for (name, sort_key, _) in &after {
        let last = sort_key.rsplit('/').next().unwrap();
        assert!(last.starts_with(KEYED_PREFIX), "{name}: {sort_key}");
    }
    assert_eq!(found(&sealed, " Ann@Acme.io").await, [id.to_string()]);
    assert_eq!(found(&sealed, "ann lee").await, [id.to_string()]);
    sealed.store.close().await;
}

mod an_unsealed_database_opened_with_a_master_key {
    use syncledger_test_support::TestDb;

    #[tokio::test]
    async fn sqlite() {
        super::an_unsealed_database_opened_with_a_master_key_rebuilds_its_lookups_keyed(
            TestDb::sqlite(),
        )
        .await
    }

    #[sqlx::test(migrations = false)]
    async fn postgres(
        pool_opts: sqlx::postgres::PgPoolOptions,
        conn: sqlx::postgres::PgConnectOptions,
    ) {
        let db = TestDb::postgres(pool_opts, conn).await;
        super::an_unsealed_database_opened_with_a_master_key_rebuilds_its_lookups_keyed(db).await
    }
}
