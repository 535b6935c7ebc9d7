//! What is stuck and how far behind: the pending queue, dead letters, `syncStatus` and
//! `projections`.

use serde_json::{Value, json};
use syncledger_core::events::Action;
use syncledger_core::log::{LogFilter, Position};
use syncledger_graphql::status::tenant_lag;

use crate::both;
use crate::recorder::{Recorder, phone_story};
use crate::support::App;

/// A write waiting for its retry shows the body its target answered with, read from the sealed
/// `WriteFailed` event: the unsealed queue row never holds it (docs/privacy.md).
async fn a_write_awaiting_its_retry_shows_its_last_error_from_the_log_not_the_queue(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;
    recorder
        .observe("crm", "c-42", Action::Updated, "crm-evt-50")
        .await;
    let changed = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "+1 555 0199"});
    let requests = recorder.decide(id, Some(changed)).await;
    let body = r#"{"error":"busy","echo":"+1 555 0199"}"#;
    recorder
        .fail_for_retry(id, requests[0].request_id, body)
        .await;
    app.store.catch_up_once().await.unwrap();

    let data = app
        .admin(
            r#"{ pendingQueue { edges { node { kind lastStatus lastError } } } }"#,
            json!({}),
        )
        .await;
    let queue = data["pendingQueue"]["edges"].as_array().unwrap();
    let failed: Vec<&Value> = queue
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["kind"] == "WriteFailed")
        .collect();
    assert_eq!(failed.len(), 1, "{queue:?}");
    assert_eq!(
        (
            failed[0]["lastStatus"].as_i64(),
            failed[0]["lastError"].as_str()
        ),
        (Some(503), Some(body))
    );
    let rows = app
        .store
        .all_rows(syncledger_core::projections::pending_queue::NAME)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        assert!(!row.doc.to_string().contains("555 0199"), "{}", row.doc);
    }
}
both!(a_write_awaiting_its_retry_shows_its_last_error_from_the_log_not_the_queue);

async fn the_queue_dead_letters_and_status_show_what_is_stuck(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;
    recorder
        .observe("crm", "c-42", Action::Updated, "crm-evt-50")
        .await;
    let bad = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "not a phone"});
    let requests = recorder.decide(id, Some(bad)).await;
    let letter = recorder.dead_letter(id, requests[0].request_id).await;
    let (waiting, _) = recorder
        .observe("crm", "c-99", Action::Created, "crm-evt-99")
        .await;
    app.store.catch_up_once().await.unwrap();

    let data = app
        .admin(
            r#"{ pendingQueue { edges { node { kind entityId system recordId } } }
                 deadLetters { edges { node { id entityId targetSystem status body reason request } } }
                 syncStatus(tenant: "acme") { tenant queueDepth dueNow oldestPendingSince oldestPendingAgeSeconds
                     errorRate writesSucceeded writesFailed deadLetters lag counters { name count } } }"#,
            json!({}),
        )
        .await;
    let queue = data["pendingQueue"]["edges"].as_array().unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0]["node"]["kind"], "ChangeObserved");
    assert_eq!(queue[0]["node"]["entityId"], json!(waiting.to_string()));
    assert_eq!(queue[0]["node"]["recordId"], "c-99");

    let letters = data["deadLetters"]["edges"].as_array().unwrap();
    assert_eq!(letters.len(), 1);
    let node = &letters[0]["node"];
    assert_eq!(node["id"], json!(letter.to_string()));
    assert_eq!(
        (node["targetSystem"].as_str(), node["status"].as_i64()),
        (Some("erp"), Some(422))
    );
    assert_eq!(node["request"]["fields"]["phone"], "not a phone");

    let status = &data["syncStatus"];
    assert_eq!(status["queueDepth"], 1);
    assert_eq!(status["dueNow"], 1);
    assert!(status["oldestPendingSince"].is_string());
    assert_eq!(status["writesSucceeded"], 2);
    assert_eq!(status["writesFailed"], 1);
    assert!(
        (status["errorRate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9,
        "{status}"
    );
    assert_eq!(status["deadLetters"], 1);
    assert_eq!(status["lag"], 0);
    let counters = status["counters"].as_array().unwrap();
    assert!(
        counters.contains(&json!({"name": "observed", "count": 5})),
        "{counters:?}"
    );
}

async fn projections_report_checkpoint_lag_and_status(app: App) {
    phone_story(&Recorder::new(&app.store, app.context.config(), "acme")).await;
    let query = "{ projections { name mode checkpoint head lag status rebuildDone } }";
    let before = app.admin(query, json!({})).await;
    let head = app.store.head().await.unwrap().0;
    let entity_state = before["projections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "entity_state")
        .unwrap();
    assert_eq!(
        (entity_state["mode"].as_str(), entity_state["lag"].as_i64()),
        (Some("CATCH_UP"), Some(head))
    );

    app.store.catch_up_once().await.unwrap();
    let after = app.admin(query, json!({})).await;
    let projections = after["projections"].as_array().unwrap();
    let names: Vec<&str> = projections
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in syncledger_core::projections::NAMES {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for p in projections {
        assert_eq!(
            (
                p["checkpoint"].as_i64(),
                p["head"].as_i64(),
                p["lag"].as_i64()
            ),
            (Some(head), Some(head), Some(0))
        );
        assert_eq!(p["status"], "LIVE");
        assert_eq!(p["rebuildDone"], Value::Null);
    }
}

const STATUS: &str = r#"query($t: String!) { syncStatus(tenant: $t) {
    queueDepth dueNow oldestPendingSince errorRate writesSucceeded writesFailed deadLetters lag } }"#;

/// The tenant's events after `after`, counted from the log itself.
async fn events_of(app: &App, tenant: &str, after: i64) -> i64 {
    let filter = LogFilter {
        tenant: Some(tenant.into()),
        ..LogFilter::default()
    };
    let events = app.store.read_all(Position(after), &filter, 10_000).await;
    events.unwrap().len() as i64
}

async fn each_tenant_sees_only_its_own_status(app: App) {
    // acme: a synced story, then a write that dead-letters and a change still waiting.
    let acme = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&acme).await;
    acme.observe("crm", "c-42", Action::Updated, "crm-evt-50")
        .await;
    let bad = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "bad"});
    let requests = acme.decide(id, Some(bad)).await;
    acme.dead_letter(id, requests[0].request_id).await;
    acme.observe("crm", "c-99", Action::Created, "crm-evt-99")
        .await;
    // globex: one change, not settled yet, appended after all of acme's.
    let globex = Recorder::new(&app.store, app.context.config(), "globex");
    globex
        .observe("crm", "g-1", Action::Created, "g-evt-1")
        .await;

    // Nothing caught up yet: each tenant lags by its own events only.
    let a = app.admin(STATUS, json!({"t": "acme"})).await["syncStatus"].clone();
    let g = app.admin(STATUS, json!({"t": "globex"})).await["syncStatus"].clone();
    assert_eq!(a["lag"], json!(events_of(&app, "acme", 0).await));
    assert!(a["lag"].as_i64().unwrap() > 20, "{a}");
    assert_eq!(g["lag"], 1, "{g}");

    app.store.catch_up_once().await.unwrap();
    let a = app.admin(STATUS, json!({"t": "acme"})).await["syncStatus"].clone();
    let g = app.admin(STATUS, json!({"t": "globex"})).await["syncStatus"].clone();
    assert_eq!(
        (
            &a["queueDepth"],
            &a["writesSucceeded"],
            &a["writesFailed"],
            &a["deadLetters"]
        ),
        (&json!(1), &json!(2), &json!(1), &json!(1)),
        "{a}"
    );
    assert!(a["errorRate"].as_f64().unwrap() > 0.3, "{a}");
    assert_eq!(
        g,
        json!({"queueDepth": 1, "dueNow": 1, "oldestPendingSince": g["oldestPendingSince"],
               "errorRate": 0.0, "writesSucceeded": 0, "writesFailed": 0, "deadLetters": 0, "lag": 0})
    );
    assert_ne!(a["oldestPendingSince"], g["oldestPendingSince"]);
    assert_eq!(a["lag"], 0);

    // Only globex moves on: acme's lag stays 0 while globex's counts its new events.
    let head = app.store.head().await.unwrap().0;
    globex
        .observe("erp", "G-7", Action::Created, "g-evt-2")
        .await;
    globex
        .observe("erp", "G-8", Action::Created, "g-evt-3")
        .await;
    let a = app.admin(STATUS, json!({"t": "acme"})).await["syncStatus"].clone();
    let g = app.admin(STATUS, json!({"t": "globex"})).await["syncStatus"].clone();
    assert_eq!((a["lag"].as_i64(), g["lag"].as_i64()), (Some(0), Some(2)));
    assert_eq!(events_of(&app, "globex", head).await, 2);
    // A tenant token reads its own figures, the same as the admin does.
    let (_, own) = app
        .gql(Some(crate::support::GLOBEX), STATUS, json!({"t": "globex"}))
        .await;
    assert_eq!(own["data"]["syncStatus"]["lag"], 2, "{own}");
}

async fn the_lag_counts_every_event_of_the_tenant(app: App) {
    phone_story(&Recorder::new(&app.store, app.context.config(), "acme")).await;
    let all = events_of(&app, "acme", 0).await;
    assert!(all > 3);
    assert_eq!(tenant_lag(&app.store, "acme").await.unwrap(), all);
    assert_eq!(tenant_lag(&app.store, "globex").await.unwrap(), 0);
    // Once every projection has caught up, nothing is left to count.
    app.store.catch_up_once().await.unwrap();
    assert_eq!(tenant_lag(&app.store, "acme").await.unwrap(), 0);
}

both!(
    the_queue_dead_letters_and_status_show_what_is_stuck,
    projections_report_checkpoint_lag_and_status,
    each_tenant_sees_only_its_own_status,
    the_lag_counts_every_event_of_the_tenant,
);
