//! Every query root field, against histories recorded the way the engine records them.

use serde_json::{Value, json};
use syncledger_core::events::Action;
use syncledger_core::log::{LogFilter, Position};

use crate::both;
use crate::recorder::{Recorder, phone_story};
use crate::support::{ACME, App};

const ENTITY: &str = r#"query($id: ID!) { entity(id: $id) {
    id tenant entityType version
    links { system recordId collection }
    state
    history(first: 50) { edges { cursor node { sequence position type eventId causationId correlationId recordedAt payload explanation } } }
} }"#;

async fn an_entity_shows_its_links_state_and_explained_history(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;

    let data = app.admin(ENTITY, json!({"id": id})).await;
    let entity = &data["entity"];
    assert_eq!(entity["id"], json!(id.to_string()));
    assert_eq!(entity["tenant"], "acme");
    assert_eq!(entity["entityType"], "customer");
    let links = entity["links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert!(
        links.contains(&json!({"system": "crm", "recordId": "c-42", "collection": "contacts"}))
    );
    assert!(links.contains(&json!({"system": "erp", "recordId": "E7", "collection": "customers"})));
    assert_eq!(entity["state"]["erp"]["phone"], "555-0101");
    assert_eq!(entity["state"]["crm"]["email"], "ann@acme.io");

    let edges = entity["history"]["edges"].as_array().unwrap();
    let stream = recorder.stream(id).await;
    assert_eq!(edges.len(), stream.len());
    assert_eq!(entity["version"], json!(stream.len()));
    for (edge, event) in edges.iter().zip(&stream) {
        assert_eq!(edge["node"]["sequence"], json!(event.sequence));
        assert_eq!(edge["node"]["position"], json!(event.position.0));
        assert_eq!(edge["node"]["type"], json!(event.event_type));
        assert_eq!(edge["node"]["eventId"], json!(event.event_id.to_string()));
        assert_eq!(edge["node"]["payload"], event.payload);
        assert_eq!(edge["cursor"], json!(event.sequence.to_string()));
        assert!(!edge["node"]["explanation"].as_str().unwrap().is_empty());
    }
    let explanations: Vec<&str> = edges
        .iter()
        .map(|e| e["node"]["explanation"].as_str().unwrap())
        .collect();
    assert!(
        explanations.contains(&"erp customer E7: phone written 555-0101 because crm contact c-42 changed it (webhook crm-evt-9)"),
        "{explanations:#?}"
    );
}

async fn history_pages_in_sequence_order_across_many_pages(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;
    for n in 0..6 {
        let phone = format!("555-02{n:02}");
        let record = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": phone});
        recorder
            .sync(
                "crm",
                "c-42",
                Action::Updated,
                &format!("crm-evt-{}", 20 + n),
                Some(record),
                "-",
            )
            .await;
    }
    let total = recorder.stream(id).await.len();
    assert!(total > 30, "a history longer than several pages: {total}");

    let query = r#"query($id: ID!, $after: String) { entity(id: $id) {
        history(first: 7, after: $after) {
            edges { cursor node { sequence explanation } }
            pageInfo { hasNextPage hasPreviousPage endCursor }
        } } }"#;
    let mut after = Value::Null;
    let mut sequences = Vec::new();
    let mut pages = 0;
    loop {
        let data = app.admin(query, json!({"id": id, "after": after})).await;
        let history = &data["entity"]["history"];
        pages += 1;
        assert_eq!(history["pageInfo"]["hasPreviousPage"], json!(pages > 1));
        for edge in history["edges"].as_array().unwrap() {
            sequences.push(edge["node"]["sequence"].as_u64().unwrap());
        }
        if !history["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = history["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(sequences, (1..=total as u64).collect::<Vec<_>>());
    assert_eq!(pages, total.div_ceil(7));
}

async fn a_record_leads_to_its_entity_linked_or_only_observed(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let id = phone_story(&recorder).await;
    let (waiting, _) = recorder
        .observe("crm", "c-99", Action::Created, "crm-evt-99")
        .await;

    let query = r#"query($t: String!, $s: String!, $r: String!) {
        entityByRecord(tenant: $t, system: $s, recordId: $r) { id entityType } }"#;
    let data = app
        .admin(query, json!({"t": "acme", "s": "erp", "r": "E7"}))
        .await;
    assert_eq!(data["entityByRecord"]["id"], json!(id.to_string()));
    let data = app
        .admin(query, json!({"t": "acme", "s": "crm", "r": "c-99"}))
        .await;
    assert_eq!(data["entityByRecord"]["id"], json!(waiting.to_string()));

    let (_, body) = app
        .gql(
            Some(ACME),
            query,
            json!({"t": "acme", "s": "erp", "r": "nope"}),
        )
        .await;
    assert_eq!(body["data"]["entityByRecord"], Value::Null);
    assert_eq!(crate::support::codes(&body), vec!["NOT_FOUND"]);
}

async fn the_global_log_filters_by_type_and_tenant_and_pages_by_position(app: App) {
    phone_story(&Recorder::new(&app.store, app.context.config(), "acme")).await;
    phone_story(&Recorder::new(&app.store, app.context.config(), "globex")).await;

    let query = r#"query($after: String, $tenant: String, $types: [String!]) {
        events(first: 2, after: $after, tenant: $tenant, types: $types) {
            edges { cursor node { position type tenant explanation } }
            pageInfo { hasNextPage endCursor } } }"#;
    let mut after = Value::Null;
    let mut positions = Vec::new();
    loop {
        let vars =
            json!({"after": after, "tenant": "acme", "types": ["DecisionMade", "WriteSucceeded"]});
        let data = app.admin(query, vars).await;
        for edge in data["events"]["edges"].as_array().unwrap() {
            let node = &edge["node"];
            assert_eq!(node["tenant"], "acme");
            assert!(["DecisionMade", "WriteSucceeded"].contains(&node["type"].as_str().unwrap()));
            assert_eq!(
                edge["cursor"],
                json!(node["position"].as_i64().unwrap().to_string())
            );
            positions.push(node["position"].as_i64().unwrap());
        }
        if !data["events"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = data["events"]["pageInfo"]["endCursor"].clone();
    }
    let filter = LogFilter {
        tenant: Some("acme".into()),
        types: vec!["DecisionMade".into(), "WriteSucceeded".into()],
        ..LogFilter::default()
    };
    let expected: Vec<i64> = app
        .store
        .read_all(Position::START, &filter, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position.0)
        .collect();
    assert!(expected.len() > 2);
    assert_eq!(positions, expected);
}

async fn mappings_list_by_system_with_keyset_cursors(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    phone_story(&recorder).await;
    let other = json!({"name": "Bo", "email": "bo@acme.io", "phone": "555-0300"});
    recorder
        .sync(
            "crm",
            "c-43",
            Action::Created,
            "crm-evt-43",
            Some(other),
            "E8",
        )
        .await;

    let query = r#"query($after: String) { mappings(first: 1, after: $after, system: "erp") {
        edges { node { tenant system recordId collection entityType entityId reason entity { id } } }
        pageInfo { hasNextPage endCursor } } }"#;
    let first = app.admin(query, json!({"after": null})).await;
    let node = &first["mappings"]["edges"][0]["node"];
    assert_eq!(
        (node["system"].as_str(), node["recordId"].as_str()),
        (Some("erp"), Some("E7"))
    );
    assert_eq!(node["entity"]["id"], node["entityId"]);
    assert_eq!(first["mappings"]["pageInfo"]["hasNextPage"], true);
    let after = first["mappings"]["pageInfo"]["endCursor"].clone();
    let second = app.admin(query, json!({"after": after})).await;
    assert_eq!(second["mappings"]["edges"][0]["node"]["recordId"], "E8");
    assert_eq!(second["mappings"]["pageInfo"]["hasNextPage"], false);

    let all = app
        .admin(
            "{ mappings(first: 10) { edges { node { system recordId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(all["mappings"]["edges"].as_array().unwrap().len(), 4);
}

both!(
    an_entity_shows_its_links_state_and_explained_history,
    history_pages_in_sequence_order_across_many_pages,
    a_record_leads_to_its_entity_linked_or_only_observed,
    the_global_log_filters_by_type_and_tenant_and_pages_by_position,
    mappings_list_by_system_with_keyset_cursors,
);
