//! A fresh database for each test, so no test shares state with another and none needs a fixed
//! name: SQLite on a file in a temporary folder, or PostgreSQL on the database `#[sqlx::test]`
//! made for the test (`DATABASE_URL` from the environment or the crate's `.env`), or, where no
//! `#[sqlx::test]` can hand one over (property tests, benches), a [`ScratchDb`].
//!
//! Each test crate keeps its own `both!` macro: what a scenario receives differs per crate (a
//! database, a world, an application); the database under it is this one.

use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};
use syncledger_core::config::Config;
use syncledger_store::{Store, StoreOptions};
use tempfile::TempDir;

/// Connections of a test's PostgreSQL pool: enough for the store's writer, readers and
/// catch-up, few enough for many tests at once on one server.
const TEST_POOL_CONNECTIONS: u32 = 10;

/// Where a test's log lives. Cloning gives another handle on the same database.
#[derive(Clone)]
pub enum TestDb {
    Sqlite { _dir: Arc<TempDir>, url: String },
    Postgres { pool: PgPool },
}

impl TestDb {
    /// A SQLite file (not yet created) in a temporary folder removed with the last handle.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        TestDb::Sqlite {
            _dir: Arc::new(dir),
            url,
        }
    }

    /// The PostgreSQL database `#[sqlx::test(migrations = false)]` made for this test.
    pub async fn postgres(pool_opts: PgPoolOptions, conn: PgConnectOptions) -> TestDb {
        let pool = pool_opts
            .max_connections(TEST_POOL_CONNECTIONS)
            .connect_with(conn)
            .await
            .expect("test pool");
        TestDb::Postgres { pool }
    }

    /// A migrated store on this database: what a freshly started process opens. Several calls
    /// give several independent handles (own pools on SQLite, own signal and registry on both)
    /// on the same data.
    pub async fn open(&self, options: StoreOptions) -> Store {
        let store = match self {
            TestDb::Sqlite { url, .. } => Store::connect(url, options).await,
            TestDb::Postgres { pool } => Store::from_pg_pool(pool.clone(), options),
        }
        .expect("open store");
        store.migrate().await.expect("migrate");
        store
    }

    /// A migrated store with the product's projections for `config`.
    pub async fn open_for(&self, config: &Config) -> Store {
        self.open(store_options(config)).await
    }

    /// A migrated store without projections.
    pub async fn store(&self) -> Store {
        self.open(StoreOptions::default()).await
    }

    /// Runs raw SQL on the database, outside any store.
    pub async fn execute(&self, sql: &'static str) {
        match self {
            TestDb::Sqlite { url, .. } => {
                let pool = sqlx::SqlitePool::connect(url)
                    .await
                    .expect("raw SQLite pool");
                sqlx::raw_sql(sql).execute(&pool).await.expect("raw SQL");
                pool.close().await;
            }
            TestDb::Postgres { pool } => {
                sqlx::raw_sql(sql).execute(pool).await.expect("raw SQL");
            }
        }
    }

    pub fn pg(&self) -> Option<&PgPool> {
        match self {
            TestDb::Postgres { pool } => Some(pool),
            TestDb::Sqlite { .. } => None,
        }
    }
}

/// The store options a process opens with: the product's projections for `config` and its
/// upcasters.
pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        projections: syncledger_core::projections::configured(config),
        upcasters: syncledger_core::events::upcasters(),
        ..StoreOptions::default()
    }
}

/// A PostgreSQL database of its own, made on the server `DATABASE_URL` names (default: the local
/// server of README.md's test command) and dropped by [`ScratchDb::drop`].
pub struct ScratchDb {
    admin_url: String,
    name: String,
    /// The new database's URL.
    pub url: String,
}

impl ScratchDb {
    /// Makes the database `name` afresh (one left by an interrupted run is dropped first).
    pub async fn create(name: String) -> ScratchDb {
        let admin_url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("admin connection");
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        admin.execute(AssertSqlSafe(drop)).await.expect("drop");
        let create = format!("CREATE DATABASE {name}");
        admin.execute(AssertSqlSafe(create)).await.expect("create");
        admin.close().await.expect("close");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        ScratchDb {
            admin_url,
            name,
            url,
        }
    }

    /// Drops the database, closing whatever is still connected to it.
    pub async fn drop(self) {
        let mut admin = PgConnection::connect(&self.admin_url)
            .await
            .expect("admin connection");
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        admin.execute(AssertSqlSafe(drop)).await.expect("drop");
    }
}

/// Turns each `async fn scenario(db: TestDb)` into a module with a `sqlite` and a `postgres`
/// test, so a scenario is written once and run on both backends. The calling crate needs
/// `tokio` and `sqlx` (the PostgreSQL test is a `#[sqlx::test]`, dropped when it passes).
#[macro_export]
macro_rules! both {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                super::$scenario($crate::TestDb::sqlite()).await
            }

            #[sqlx::test(migrations = false)]
            async fn postgres(
                pool_opts: sqlx::postgres::PgPoolOptions,
                conn: sqlx::postgres::PgConnectOptions,
            ) {
                super::$scenario($crate::TestDb::postgres(pool_opts, conn).await).await
            }
        }
    )+};
}
