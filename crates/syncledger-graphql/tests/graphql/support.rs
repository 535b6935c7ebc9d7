//! The test application: a store with the product's projections, on SQLite or PostgreSQL, a
//! two-tenant configuration, the API's router, and helpers to send GraphQL over HTTP. `both!`
//! runs each `async fn scenario(app: App)` once on each backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use syncledger_core::config::Config;
use syncledger_graphql::ApiContext;
use syncledger_store::Store;
use syncledger_test_support::{ExampleConfig, TestDb};
use tower::ServiceExt;

pub const ADMIN: &str = "admin-token-123456";
pub const ACME: &str = "acme-token-1234567";
pub const GLOBEX: &str = "globex-token-12345";

/// The contract's example for tenant `acme` (no field required) and a second tenant, `globex`,
/// on the same two systems; customers sync both ways.
pub static CONFIG: LazyLock<String> = LazyLock::new(|| {
    ExampleConfig {
        admin_token: ADMIN.into(),
        api_token: ACME.into(),
        server: r#"database_url = "sqlite://unused.db""#.into(),
        crm: r#"headers = { Authorization = "Bearer crm-api-secret" }"#.into(),
        erp_requires_email: false,
        more: GLOBEX_TENANT.into(),
        ..ExampleConfig::default()
    }
    .toml()
});

const GLOBEX_TENANT: &str = r#"
[[tenants]]
id = "globex"
api_token = "globex-token-12345"
[tenants.systems.crm]
base_url = "http://127.0.0.1:9011"
webhook_secret = "g-crm-webhook-secret-01"
[tenants.systems.erp]
base_url = "http://127.0.0.1:9012"
webhook_secret = "g-erp-webhook-secret-01"
"#;

pub fn config(text: &str) -> Arc<Config> {
    Arc::new(Config::from_toml_str(text, Vec::new()).expect("test configuration"))
}

pub struct App {
    pub store: Store,
    pub context: ApiContext,
    pub router: Router,
    /// How often the API woke the workers.
    pub wakes: Arc<AtomicUsize>,
    /// The database, a SQLite file's folder removed with the app.
    pub _db: TestDb,
}

/// Generates a `sqlite` and a `postgres` test for each named scenario. The PostgreSQL one gets a
/// fresh database from `#[sqlx::test]` (`DATABASE_URL` from the environment or the crate's
/// `.env`), dropped when the test passes.
#[macro_export]
macro_rules! both {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::support::App::sqlite().await;
                $crate::support::run(super::$scenario, app).await
            }

            #[sqlx::test(migrations = false)]
            async fn postgres(
                pool_opts: sqlx::postgres::PgPoolOptions,
                conn: sqlx::postgres::PgConnectOptions,
            ) {
                let app = $crate::support::App::postgres(pool_opts, conn).await;
                $crate::support::run(super::$scenario, app).await
            }
        }
    )+};
}

/// `both!` for scenarios that need values sealed ([`App::sealed`]).
#[macro_export]
macro_rules! both_sealed {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                let db = syncledger_test_support::TestDb::sqlite();
                let app = $crate::support::App::sealed(db).await;
                $crate::support::run(super::$scenario, app).await
            }

            #[sqlx::test(migrations = false)]
            async fn postgres(
                pool_opts: sqlx::postgres::PgPoolOptions,
                conn: sqlx::postgres::PgConnectOptions,
            ) {
                let db = syncledger_test_support::TestDb::postgres(pool_opts, conn).await;
                let app = $crate::support::App::sealed(db).await;
                $crate::support::run(super::$scenario, app).await
            }
        }
    )+};
}

/// Runs `scenario` on `app`, then closes the store: tasks the scenario left running (a server,
/// a subscription) must not keep connections that stop the test database from being dropped.
pub async fn run<F, Fut>(scenario: F, app: App)
where
    F: FnOnce(App) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = app.store.clone();
    scenario(app).await;
    store.close().await;
}

impl App {
    /// On a SQLite file in a temporary folder.
    pub async fn sqlite() -> App {
        App::over(TestDb::sqlite()).await
    }

    /// On the PostgreSQL database `#[sqlx::test]` made for this test.
    pub async fn postgres(pool_opts: PgPoolOptions, conn: PgConnectOptions) -> App {
        App::over(TestDb::postgres(pool_opts, conn).await).await
    }

    async fn over(db: TestDb) -> App {
        App::over_with(db, None).await
    }

    /// As [`App::sqlite`] or [`App::postgres`], values sealed under a fresh master key
    /// (docs/privacy.md): erasure works, and lookups compare keyed digests.
    pub async fn sealed(db: TestDb) -> App {
        App::over_with(db, Some(syncledger_store::MasterKey::generate())).await
    }

    pub async fn over_with(db: TestDb, master_key: Option<syncledger_store::MasterKey>) -> App {
        let config = config(&CONFIG);
        let store = db
            .open(syncledger_store::StoreOptions {
                master_key,
                ..syncledger_test_support::db::store_options(&config)
            })
            .await;
        let (context, wakes) = context_with(&store, config);
        let router = syncledger_graphql::routes(context.clone());
        App {
            store,
            context,
            router,
            wakes,
            _db: db,
        }
    }

    pub fn woken(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }

    /// Sends `query` with `variables` as `POST /graphql` (JSON), with a bearer token if given.
    pub async fn gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let body = json!({"query": query, "variables": variables}).to_string();
        let mut request =
            Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// As the admin; the response must have no errors. Returns `data`.
    pub async fn admin(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql(Some(ADMIN), query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, _, body) = self.send_raw(request).await;
        let value = serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into()));
        (status, value)
    }

    pub async fn send_raw(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, headers, body.to_vec())
    }
}

/// An API context over `store` with its own configuration, counting wake-ups.
pub fn context_with(store: &Store, config: Arc<Config>) -> (ApiContext, Arc<AtomicUsize>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = wakes.clone();
    let context = ApiContext::new(store.clone(), config, move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (context, wakes)
}

/// The `extensions.code` of every error of a response.
pub fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}
