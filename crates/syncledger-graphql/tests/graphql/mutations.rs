//! Mutations: what they append (and that dry runs append nothing), who they name as `by`, and
//! that the workers are woken.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use syncledger_core::events::{Action, SyncEvent, entity_id_for_record};
use syncledger_core::log::{LogFilter, Position};
use syncledger_core::projection::Projection;
use syncledger_core::projections::{dead_letters, entity_state};
use syncledger_store::coalesce::apply_op;
use uuid::Uuid;

use crate::both;
use crate::recorder::{Recorder, phone_story};
use crate::support::{ADMIN, App, codes};

fn decoded(event: &syncledger_core::log::RecordedEvent) -> SyncEvent {
    SyncEvent::from_recorded(event).unwrap()
}

async fn a_dry_replay_reports_and_writes_nothing(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let entity = phone_story(&recorder).await;
    let head = app.store.head().await.unwrap();
    let data = app
        .admin("mutation($id: ID!) { replayEntity(id: $id) { entityId dryRun differences { position } appended { position } } }", json!({"id": entity}))
        .await;
    let result = &data["replayEntity"];
    assert_eq!(result["dryRun"], true);
    assert_eq!(
        result["differences"],
        json!([]),
        "today's code decides as recorded"
    );
    assert_eq!(result["appended"], json!([]));
    assert_eq!(app.store.head().await.unwrap(), head);
    assert_eq!(app.woken(), 0);
}

async fn a_real_replay_asks_for_a_resync_of_every_linked_record(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let entity = phone_story(&recorder).await;
    let before = recorder.stream(entity).await.len();
    let data = app
        .admin("mutation($id: ID!) { replayEntity(id: $id, dryRun: false) { dryRun appended { entityId sequence } } }", json!({"id": entity}))
        .await;
    assert_eq!(data["replayEntity"]["dryRun"], false);
    assert_eq!(
        data["replayEntity"]["appended"].as_array().unwrap().len(),
        3
    );
    assert_eq!(app.woken(), 1);

    let stream = recorder.stream(entity).await;
    let tail = &stream[before..];
    let SyncEvent::ReplayRequested(replay) = decoded(&tail[0]) else {
        panic!("{:?}", tail[0].event_type)
    };
    assert_eq!((replay.by.as_str(), replay.dry_run), ("admin", false));
    let mut resynced: Vec<(String, String)> = tail[1..]
        .iter()
        .map(|e| match decoded(e) {
            SyncEvent::ResyncRequested(r) => {
                assert_eq!(r.by, "admin");
                assert_eq!(e.meta.causation_id, Some(tail[0].event_id));
                (r.system, r.record_id)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    resynced.sort();
    assert_eq!(
        resynced,
        vec![("crm".into(), "c-42".into()), ("erp".into(), "E7".into())]
    );
}

async fn a_resync_goes_to_the_mapped_entity_or_to_the_one_the_record_would_open(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let entity = phone_story(&recorder).await;
    let query = r#"mutation($s: String!, $r: String!) { resyncRecord(tenant: "acme", system: $s, recordId: $r) { entityId eventId sequence } }"#;

    let data = app.admin(query, json!({"s": "erp", "r": "E7"})).await;
    assert_eq!(data["resyncRecord"]["entityId"], json!(entity.to_string()));
    let last = recorder.stream(entity).await.pop().unwrap();
    assert_eq!(
        data["resyncRecord"]["eventId"],
        json!(last.event_id.to_string())
    );
    let SyncEvent::ResyncRequested(r) = decoded(&last) else {
        panic!()
    };
    assert_eq!(
        (r.by.as_str(), r.system.as_str(), r.record_id.as_str()),
        ("admin", "erp", "E7")
    );

    let data = app.admin(query, json!({"s": "crm", "r": "c-500"})).await;
    let fresh = entity_id_for_record("acme", "customer", "crm", "c-500");
    assert_eq!(data["resyncRecord"]["entityId"], json!(fresh.to_string()));
    assert_eq!(data["resyncRecord"]["sequence"], 1);
    assert_eq!(app.woken(), 2);

    let pending = app
        .admin(
            "{ pendingQueue(first: 10) { edges { node { kind recordId } } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<&Value> = pending["pendingQueue"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["kind"])
        .collect();
    assert_eq!(kinds, vec!["ResyncRequested", "ResyncRequested"]);

    let (_, body) = app.gql(Some(ADMIN), r#"mutation { resyncRecord(tenant: "initech", system: "crm", recordId: "x") { sequence } }"#, json!({})).await;
    assert_eq!(codes(&body), vec!["NOT_FOUND"]);
}

async fn a_dead_letter_is_retried_once(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let entity = phone_story(&recorder).await;
    recorder
        .observe("crm", "c-42", Action::Updated, "crm-evt-50")
        .await;
    let bad = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "bad"});
    let requests = recorder.decide(entity, Some(bad)).await;
    let letter = recorder.dead_letter(entity, requests[0].request_id).await;
    app.store.catch_up_once().await.unwrap();
    assert_eq!(
        app.store
            .count_rows(dead_letters::NAME, Some("acme"), None)
            .await
            .unwrap(),
        1
    );

    let query = "mutation($id: ID!) { retryDeadLetter(id: $id) { entityId eventId } }";
    let data = app.admin(query, json!({"id": letter})).await;
    assert_eq!(
        data["retryDeadLetter"]["entityId"],
        json!(entity.to_string())
    );
    let last = recorder.stream(entity).await.pop().unwrap();
    let SyncEvent::DeadLetterRetried(retried) = decoded(&last) else {
        panic!()
    };
    assert_eq!(
        (retried.by.as_str(), retried.dead_letter_id),
        ("admin", letter)
    );
    assert_eq!(last.meta.causation_id, Some(letter));
    assert_eq!(app.woken(), 1);
    app.store.catch_up_once().await.unwrap();
    assert_eq!(
        app.store
            .count_rows(dead_letters::NAME, Some("acme"), None)
            .await
            .unwrap(),
        0
    );

    let (_, again) = app.gql(Some(ADMIN), query, json!({"id": letter})).await;
    assert_eq!(codes(&again), vec!["BAD_USER_INPUT"]);
    let (_, unknown) = app
        .gql(Some(ADMIN), query, json!({"id": Uuid::now_v7()}))
        .await;
    assert_eq!(codes(&unknown), vec!["NOT_FOUND"]);
    let (_, not_a_letter) = app
        .gql(Some(ADMIN), query, json!({"id": last.event_id}))
        .await;
    assert_eq!(codes(&not_a_letter), vec!["NOT_FOUND"]);
}

/// A letter of work that named no record holds nothing a retry could do: refused, nothing
/// appended, nobody woken.
async fn a_dead_letter_holding_nothing_to_retry_is_refused(app: App) {
    use syncledger_core::events::{DeadLetterRequest, DeadLettered};
    use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
    let entity = Uuid::now_v7();
    let letter = SyncEvent::DeadLettered(DeadLettered {
        request_id: None,
        target_system: None,
        reason: "gave up after 10 failed attempts: the job panicked".into(),
        request: DeadLetterRequest::Work {
            trigger_id: Uuid::now_v7(),
            record: None,
        },
        status: None,
        body: Some(String::new()),
    })
    .to_new(EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    });
    let letter_id = letter.event_id;
    app.store
        .append(vec![StreamAppend {
            stream_id: entity,
            expected: ExpectedVersion::NoStream,
            events: vec![letter],
        }])
        .await
        .unwrap();
    let head = app.store.head().await.unwrap();
    let query = "mutation($id: ID!) { retryDeadLetter(id: $id) { entityId eventId } }";
    let (_, body) = app.gql(Some(ADMIN), query, json!({"id": letter_id})).await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
    assert_eq!(app.store.head().await.unwrap(), head);
    assert_eq!(app.woken(), 0);
}

async fn a_rebuild_runs_in_the_background_and_rebuilds_from_the_whole_log(app: App) {
    phone_story(&Recorder::new(&app.store, app.context.config(), "acme")).await;
    app.store.catch_up_once().await.unwrap();
    // Appended after the last catch-up: only the rebuild can bring them into the table.
    phone_story(&Recorder::new(&app.store, app.context.config(), "globex")).await;
    let head = app.store.head().await.unwrap().0;
    let mut expected = BTreeMap::new();
    for event in app
        .store
        .read_all(Position::START, &LogFilter::default(), 100_000)
        .await
        .unwrap()
    {
        for op in entity_state::EntityState.apply(&event) {
            apply_op(&mut expected, op);
        }
    }

    let data = app
        .admin(
            r#"mutation { rebuildProjection(name: "entity_state") { name mode } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["rebuildProjection"],
        json!({"name": "entity_state", "mode": "CATCH_UP"})
    );
    let rebuilt = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let data = app
                .admin("{ projections { name status checkpoint } }", json!({}))
                .await;
            let projections = data["projections"].as_array().unwrap().clone();
            let p = projections
                .into_iter()
                .find(|p| p["name"] == "entity_state")
                .unwrap();
            if p["status"] == "LIVE" && p["checkpoint"] == head {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(rebuilt.is_ok(), "the rebuild reached the head");
    let mut rows = app.store.all_rows(entity_state::NAME).await.unwrap();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(rows, expected.into_values().collect::<Vec<_>>());

    let (_, body) = app
        .gql(
            Some(ADMIN),
            r#"mutation { rebuildProjection(name: "no_such") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(codes(&body), vec!["NOT_FOUND"]);
}

both!(
    a_dry_replay_reports_and_writes_nothing,
    a_real_replay_asks_for_a_resync_of_every_linked_record,
    a_resync_goes_to_the_mapped_entity_or_to_the_one_the_record_would_open,
    a_dead_letter_is_retried_once,
    a_dead_letter_holding_nothing_to_retry_is_refused,
    a_rebuild_runs_in_the_background_and_rebuilds_from_the_whole_log,
);
