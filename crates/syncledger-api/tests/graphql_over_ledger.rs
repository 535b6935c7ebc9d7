//! The server's GraphQL routes over the engine's `Ledger`: [`syncledger_api::graphql_context`]
//! is where the API and the engine meet (the GraphQL crate knows no engine), so the router built
//! from a ledger must answer GraphQL with that ledger's store and tokens, on both backends.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use syncledger_api::{AppState, router};
use syncledger_engine::{EngineSettings, Ledger};
use syncledger_test_support::{ExampleConfig, TestDb};
use tower::ServiceExt;

struct NoConnectors;

impl syncledger_engine::Connectors for NoConnectors {
    fn get(&self, _: &str, _: &str) -> Option<Arc<dyn syncledger_connector::Connector>> {
        None
    }
}

async fn projections_query(app: &axum::Router, token: &str) -> (StatusCode, Value) {
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(
            json!({"query": "{ projections { name } }"}).to_string(),
        ))
        .unwrap();
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn the_server_builds_the_graphql_routes_from_the_engines_ledger(db: TestDb) {
    let example = ExampleConfig::default();
    let config = example.parse();
    let store = db.open_for(&config).await;
    let ledger = Ledger::new(
        store.clone(),
        Arc::new(config),
        Arc::new(NoConnectors),
        EngineSettings::default(),
    );
    let app = router(AppState {
        ledger,
        metrics: None,
        accepting: Arc::new(AtomicBool::new(true)),
    });

    let (status, body) = projections_query(&app, &example.admin_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["projections"].as_array().map(Vec::len),
        Some(syncledger_core::projections::NAMES.len()),
        "{body}"
    );
    let (status, _) = projections_query(&app, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    store.close().await;
}

mod the_server_builds_the_graphql_routes_from_the_engines_ledger {
    use syncledger_test_support::TestDb;

    #[tokio::test]
    async fn sqlite() {
        super::the_server_builds_the_graphql_routes_from_the_engines_ledger(TestDb::sqlite()).await
    }

    #[sqlx::test(migrations = false)]
    async fn postgres(
        pool_opts: sqlx::postgres::PgPoolOptions,
        conn: sqlx::postgres::PgConnectOptions,
    ) {
        let db = TestDb::postgres(pool_opts, conn).await;
        super::the_server_builds_the_graphql_routes_from_the_engines_ledger(db).await
    }
}
