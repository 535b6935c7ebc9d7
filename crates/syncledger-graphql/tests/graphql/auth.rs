//! The auth matrix: no token, a wrong token, a tenant's token on its own and on another tenant's
//! data, a tenant's token on a mutation, and the admin token.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::recorder::{Recorder, phone_story};
use crate::support::{ACME, ADMIN, App, GLOBEX, codes};

const ENTITY: &str = "query($id: ID!) { entity(id: $id) { id tenant } }";

async fn a_request_without_a_token_is_unauthenticated(app: App) {
    let (status, body) = app.gql(None, "{ projections { name } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(codes(&body), vec!["UNAUTHENTICATED"]);
    assert!(body.get("data").is_none());
}

async fn a_wrong_token_is_unauthenticated_and_so_is_another_scheme(app: App) {
    let (status, body) = app
        .gql(
            Some("acme-token-guess"),
            "{ projections { name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (status, codes(&body)),
        (
            StatusCode::UNAUTHORIZED,
            vec!["UNAUTHENTICATED".to_string()]
        )
    );

    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Basic {ACME}"))
        .body(Body::from(
            json!({"query": "{ projections { name } }"}).to_string(),
        ))
        .unwrap();
    let (status, headers, _) = app.send_raw(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
}

async fn another_tenants_entity_answers_exactly_like_a_missing_one(app: App) {
    let globex_entity =
        phone_story(&Recorder::new(&app.store, app.context.config(), "globex")).await;
    let acme_entity = phone_story(&Recorder::new(&app.store, app.context.config(), "acme")).await;

    let (status, theirs) = app
        .gql(Some(ACME), ENTITY, json!({"id": globex_entity}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, missing) = app
        .gql(Some(ACME), ENTITY, json!({"id": Uuid::now_v7()}))
        .await;
    assert_eq!(codes(&theirs), vec!["NOT_FOUND"]);
    assert_eq!(strip_locations(theirs), strip_locations(missing));

    let (_, own) = app
        .gql(Some(ACME), ENTITY, json!({"id": acme_entity}))
        .await;
    assert_eq!(own["data"]["entity"]["tenant"], "acme");
    let (_, admin) = app
        .gql(Some(ADMIN), ENTITY, json!({"id": globex_entity}))
        .await;
    assert_eq!(admin["data"]["entity"]["tenant"], "globex");

    let by_record = r#"query($t: String!) { entityByRecord(tenant: $t, system: "erp", recordId: "E7") { id } }"#;
    let (_, theirs) = app.gql(Some(ACME), by_record, json!({"t": "globex"})).await;
    let (_, missing) = app
        .gql(Some(ACME), by_record, json!({"t": "initech"}))
        .await;
    assert_eq!(strip_locations(theirs), strip_locations(missing));
    let status = r#"query($t: String!) { syncStatus(tenant: $t) { queueDepth } }"#;
    let (_, theirs) = app.gql(Some(GLOBEX), status, json!({"t": "acme"})).await;
    let (_, missing) = app.gql(Some(GLOBEX), status, json!({"t": "initech"})).await;
    assert_eq!(codes(&theirs), vec!["NOT_FOUND"]);
    assert_eq!(strip_locations(theirs), strip_locations(missing));
}

async fn a_tenant_token_lists_only_its_own_tenant(app: App) {
    phone_story(&Recorder::new(&app.store, app.context.config(), "globex")).await;
    phone_story(&Recorder::new(&app.store, app.context.config(), "acme")).await;
    let query = r#"query($t: String) {
        events(first: 200, tenant: $t) { edges { node { tenant } } }
        mappings(first: 50, tenant: $t) { edges { node { tenant } } } }"#;

    let data = tenants_seen(&app, ACME, query, Value::Null).await;
    assert_eq!(data, vec!["acme".to_string()]);
    let data = tenants_seen(&app, ACME, query, json!("globex")).await;
    assert!(
        data.is_empty(),
        "another tenant's listing must be empty: {data:?}"
    );
    let data = tenants_seen(&app, ADMIN, query, Value::Null).await;
    assert_eq!(data, vec!["acme".to_string(), "globex".to_string()]);
}

async fn tenants_seen(app: &App, token: &str, query: &str, tenant: Value) -> Vec<String> {
    let (_, body) = app.gql(Some(token), query, json!({"t": tenant})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let mut tenants: Vec<String> = ["events", "mappings"]
        .iter()
        .flat_map(|list| body["data"][list]["edges"].as_array().unwrap().clone())
        .map(|e| e["node"]["tenant"].as_str().unwrap().to_string())
        .collect();
    tenants.sort();
    tenants.dedup();
    tenants
}

async fn a_tenant_token_may_not_run_mutations(app: App) {
    let entity = phone_story(&Recorder::new(&app.store, app.context.config(), "acme")).await;
    let before = app.store.head().await.unwrap();
    for (mutation, vars) in [
        (
            "mutation($id: ID!) { replayEntity(id: $id, dryRun: false) { dryRun } }",
            json!({"id": entity}),
        ),
        (
            r#"mutation { resyncRecord(tenant: "acme", system: "crm", recordId: "c-42") { position } }"#,
            json!({}),
        ),
        (
            r#"mutation { rebuildProjection(name: "entity_state") { name } }"#,
            json!({}),
        ),
        (
            r#"mutation { replayDecisions(tenant: "acme", fromPosition: 0, toPosition: 100) { entitiesExamined } }"#,
            json!({}),
        ),
    ] {
        let (status, body) = app.gql(Some(ACME), mutation, vars).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(codes(&body), vec!["FORBIDDEN"], "{mutation}: {body}");
    }
    assert_eq!(
        app.store.head().await.unwrap(),
        before,
        "a refused mutation appends nothing"
    );
    assert_eq!(app.woken(), 0);
}

async fn a_tenant_token_may_not_read_the_projections(app: App) {
    phone_story(&Recorder::new(&app.store, app.context.config(), "globex")).await;
    let query = "{ projections { name checkpoint head lag } }";
    let (status, body) = app.gql(Some(ACME), query, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(codes(&body), vec!["FORBIDDEN"], "{body}");
    assert_eq!(
        body["data"],
        Value::Null,
        "no figure of the whole log: {body}"
    );

    // The same error as any other admin-only field, but for where it stands.
    let (_, mutation) = app
        .gql(
            Some(ACME),
            r#"mutation { rebuildProjection(name: "entity_state") { name } }"#,
            json!({}),
        )
        .await;
    let shape = |body: &Value| {
        let error = &body["errors"][0];
        (error["message"].clone(), error["extensions"].clone())
    };
    assert_eq!(shape(&body), shape(&mutation));

    let data = app.admin(query, json!({})).await;
    assert_eq!(
        data["projections"].as_array().unwrap().len(),
        syncledger_core::projections::NAMES.len()
    );
}

/// Error locations depend on the query text only; what must match is everything else.
fn strip_locations(mut body: Value) -> Value {
    if let Some(errors) = body["errors"].as_array_mut() {
        for e in errors {
            e.as_object_mut().unwrap().remove("locations");
        }
    }
    body
}

both!(
    a_request_without_a_token_is_unauthenticated,
    a_wrong_token_is_unauthenticated_and_so_is_another_scheme,
    another_tenants_entity_answers_exactly_like_a_missing_one,
    a_tenant_token_lists_only_its_own_tenant,
    a_tenant_token_may_not_run_mutations,
    a_tenant_token_may_not_read_the_projections,
);
