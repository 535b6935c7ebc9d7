//! What the audit console asks of the API beyond the contract's roots: `viewer` (who the token
//! is and what it sees), `findEntities` (by a match-key value) and `syncStatus.systems` (each
//! system's recent write outcomes). Each is scoped by the token like everything else.

use serde_json::json;
use syncledger_core::events::Action;

use crate::both;
use crate::recorder::{Recorder, phone_story};
use crate::support::{ACME, App, GLOBEX};

const VIEWER: &str = "{ viewer { admin tenants { id systems } entityTypes { name matchKeys } } }";
const FIND: &str = r#"query($tenant: String!, $value: String!) {
  findEntities(tenant: $tenant, value: $value) { id links { system recordId } } }"#;

async fn the_viewer_names_only_what_the_token_sees(app: App) {
    let admin = app.admin(VIEWER, json!({})).await;
    assert_eq!(admin["viewer"]["admin"], true);
    let tenants: Vec<&str> = admin["viewer"]["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(tenants, ["acme", "globex"]);
    assert!(
        admin["viewer"]["entityTypes"][0]["matchKeys"]
            .as_array()
            .unwrap()
            .contains(&json!("email"))
    );

    let (_, acme) = app.gql(Some(ACME), VIEWER, json!({})).await;
    assert_eq!(acme["data"]["viewer"]["admin"], false, "{acme}");
    assert_eq!(
        acme["data"]["viewer"]["tenants"],
        json!([{"id": "acme", "systems": ["crm", "erp"]}])
    );
    assert!(!acme.to_string().contains("globex"), "{acme}");
}

async fn find_entities_matches_a_key_as_match_keys_compare_within_the_tenant(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;
    let found = app
        .admin(FIND, json!({"tenant": "acme", "value": "  ANN@acme.io "}))
        .await;
    let entities = found["findEntities"].as_array().unwrap();
    assert_eq!(entities.len(), 1, "one entity, though both systems hold it");
    assert_eq!(entities[0]["id"], json!(id.to_string()));

    let (_, acme) = app
        .gql(
            Some(ACME),
            FIND,
            json!({"tenant": "acme", "value": "ann@acme.io"}),
        )
        .await;
    assert_eq!(acme["data"]["findEntities"].as_array().unwrap().len(), 1);
    for (token, tenant) in [(GLOBEX, "acme"), (GLOBEX, "globex"), (ACME, "globex")] {
        let (_, body) = app
            .gql(
                Some(token),
                FIND,
                json!({"tenant": tenant, "value": "ann@acme.io"}),
            )
            .await;
        assert_eq!(
            body["data"]["findEntities"],
            json!([]),
            "{token} {tenant}: {body}"
        );
    }
    let nothing = app
        .admin(FIND, json!({"tenant": "acme", "value": "Ann Lee"}))
        .await;
    assert_eq!(
        nothing["findEntities"],
        json!([]),
        "only match keys are searched"
    );
}

async fn sync_status_names_the_failing_system(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;
    recorder
        .observe("crm", "c-42", Action::Updated, "crm-evt-50")
        .await;
    let bad = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "not a phone"});
    let requests = recorder.decide(id, Some(bad)).await;
    recorder.dead_letter(id, requests[0].request_id).await;
    let data = app
        .admin(
            r#"{ syncStatus(tenant: "acme") { systems { system recentWritesSucceeded recentWritesFailed recentErrorRate } } }"#,
            json!({}),
        )
        .await;
    let systems = data["syncStatus"]["systems"].as_array().unwrap();
    let erp = systems.iter().find(|s| s["system"] == "erp").unwrap();
    assert_eq!(
        (
            erp["recentWritesSucceeded"].as_i64(),
            erp["recentWritesFailed"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert!((erp["recentErrorRate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    let crm = systems.iter().find(|s| s["system"] == "crm").unwrap();
    assert_eq!(crm["recentWritesFailed"], 0, "{systems:?}");
}

both!(
    the_viewer_names_only_what_the_token_sees,
    find_entities_matches_a_key_as_match_keys_compare_within_the_tenant,
    sync_status_names_the_failing_system,
);
