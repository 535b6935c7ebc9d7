//! `whyField`: the causal chain behind a field's value, within one system and across two.

use serde_json::{Value, json};
use syncledger_core::events::Action;

use crate::both;
use crate::recorder::{Recorder, phone_story};
use crate::support::App;

const WHY: &str = r#"query($id: ID!) { entity(id: $id) {
    erp: whyField(field: "phone", system: "erp") { field system value chain { type eventId payload explanation } }
    crm: whyField(field: "phone", system: "crm") { system value chain { type payload } }
    latest: whyField(field: "phone") { system }
    none: whyField(field: "fax") { system }
} }"#;

fn types(provenance: &Value) -> Vec<&str> {
    provenance["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

async fn a_field_written_by_the_sync_traces_back_to_the_webhook_in_the_other_system(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let entity = phone_story(&recorder).await;
    let data = app.admin(WHY, json!({"id": entity})).await;
    let erp = &data["entity"]["erp"];
    assert_eq!(
        (erp["field"].as_str(), erp["system"].as_str(), &erp["value"]),
        (Some("phone"), Some("erp"), &json!("555-0101"))
    );
    assert_eq!(
        types(erp),
        vec![
            "ChangeObserved",
            "RecordFetched",
            "DecisionMade",
            "WriteSucceeded"
        ]
    );
    let chain = erp["chain"].as_array().unwrap();
    assert_eq!(chain[0]["payload"]["webhook_event_id"], "crm-evt-9");
    assert_eq!(chain[1]["payload"]["system"], "crm");
    assert_eq!(chain[2]["payload"]["kind"], "update");
    // The decision carries the write it asked for (its fields: the diff's `after` values).
    assert_eq!(chain[2]["payload"]["write"]["record_id"], "E7");
    assert_eq!(
        chain[3]["explanation"],
        "erp customer E7: phone written 555-0101 because crm contact c-42 changed it (webhook crm-evt-9)"
    );
    // The erp echo fetched afterwards saw the same value: the write keeps the credit.
    let stream = recorder.stream(entity).await;
    let write = stream
        .iter()
        .rev()
        .find(|e| e.event_type == "WriteSucceeded")
        .unwrap();
    assert_eq!(chain[3]["eventId"], json!(write.event_id.to_string()));

    let crm = &data["entity"]["crm"];
    assert_eq!(types(crm), vec!["ChangeObserved", "RecordFetched"]);
    assert_eq!(crm["chain"][0]["payload"]["webhook_event_id"], "crm-evt-9");
    assert_eq!(data["entity"]["latest"]["system"], "erp");
    assert_eq!(data["entity"]["none"], Value::Null);
}

/// A decision on a record G8's first step recorded: its group holds no fetch, it refers to the
/// one recorded before it, and the chain takes that one in its place.
async fn a_field_decided_on_a_fetch_recorded_first_traces_back_through_that_fetch(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let (entity, _) = recorder
        .observe("crm", "c-42", Action::Created, "crm-evt-1")
        .await;
    let contact = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "555-0100"});
    for write in recorder.decide_first_seen(entity, Some(contact)).await {
        recorder.succeed(entity, &write, "E7").await;
    }
    let data = app.admin(WHY, json!({"id": entity})).await;
    let erp = &data["entity"]["erp"];
    assert_eq!(erp["value"], json!("555-0100"));
    assert_eq!(
        types(erp),
        vec![
            "ChangeObserved",
            "RecordFetched",
            "DecisionMade",
            "WriteSucceeded"
        ]
    );
    let fetches = recorder
        .stream(entity)
        .await
        .into_iter()
        .filter(|e| e.event_type == "RecordFetched")
        .count();
    assert_eq!(fetches, 1, "recorded once");
}

async fn a_change_made_in_the_erp_is_traced_into_the_crm(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let entity = phone_story(&recorder).await;
    let in_erp = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "555-0999"});
    recorder
        .sync("erp", "E7", Action::Updated, "erp-evt-7", Some(in_erp), "-")
        .await;

    let data = app.admin(WHY, json!({"id": entity})).await;
    let crm = &data["entity"]["crm"];
    assert_eq!(crm["value"], "555-0999");
    assert_eq!(
        types(crm),
        vec![
            "ChangeObserved",
            "RecordFetched",
            "DecisionMade",
            "WriteSucceeded"
        ]
    );
    assert_eq!(crm["chain"][0]["payload"]["webhook_event_id"], "erp-evt-7");
    assert_eq!(crm["chain"][1]["payload"]["system"], "erp");
    assert_eq!(crm["chain"][2]["payload"]["target_system"], "crm");
    assert_eq!(crm["chain"][2]["payload"]["write"]["op"], "update");
    let erp = &data["entity"]["erp"];
    assert_eq!(
        types(erp),
        vec!["ChangeObserved", "RecordFetched"],
        "changed in the erp by a person"
    );
    assert_eq!(data["entity"]["latest"]["system"], "crm");
}

both!(
    a_field_decided_on_a_fetch_recorded_first_traces_back_through_that_fetch,
    a_field_written_by_the_sync_traces_back_to_the_webhook_in_the_other_system,
    a_change_made_in_the_erp_is_traced_into_the_crm,
);
