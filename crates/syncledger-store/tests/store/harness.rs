//! Where a scenario runs. `both!` turns each `async fn scenario(h: Harness)` into a module with
//! a `sqlite` and a `postgres` test.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use syncledger_store::{Store, StoreOptions};
use tempfile::TempDir;

pub enum Harness {
    Sqlite { _dir: Arc<TempDir>, url: String },
    Postgres { pool: PgPool },
}

impl Harness {
    pub async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("log.db").display());
        Harness::Sqlite {
            _dir: Arc::new(dir),
            url,
        }
    }

    pub async fn postgres(pool_opts: PgPoolOptions, conn: PgConnectOptions) -> Harness {
        let pool = pool_opts
            .max_connections(10)
            .connect_with(conn)
            .await
            .expect("test pool");
        Harness::Postgres { pool }
    }

    /// A migrated store on this harness's database. Several calls give several independent
    /// handles (own pools on SQLite, own signal and registry on both) on the same data.
    pub async fn open(&self, options: StoreOptions) -> Store {
        let store = match self {
            Harness::Sqlite { url, .. } => Store::connect(url, options).await,
            Harness::Postgres { pool } => Store::from_pg_pool(pool.clone(), options),
        }
        .expect("open store");
        store.migrate().await.expect("migrate");
        store
    }

    pub async fn store(&self) -> Store {
        self.open(StoreOptions::default()).await
    }

    /// Runs raw SQL on the database, outside any store.
    pub async fn execute(&self, sql: &'static str) {
        match self {
            Harness::Sqlite { url, .. } => {
                let pool = sqlx::SqlitePool::connect(url)
                    .await
                    .expect("raw SQLite pool");
                sqlx::raw_sql(sql).execute(&pool).await.expect("raw SQL");
                pool.close().await;
            }
            Harness::Postgres { pool } => {
                sqlx::raw_sql(sql).execute(pool).await.expect("raw SQL");
            }
        }
    }

    pub fn pg(&self) -> Option<&PgPool> {
        match self {
            Harness::Postgres { pool } => Some(pool),
            Harness::Sqlite { .. } => None,
        }
    }
}

/// Polls `condition` until it holds; fails the test after ten seconds. For waiting on a state
/// another task must reach (never for hoping an interleaving happened).
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Generates a `sqlite` and a `postgres` test for each named scenario.
#[macro_export]
macro_rules! both {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                super::$scenario($crate::harness::Harness::sqlite().await).await
            }

            #[sqlx::test(migrations = false)]
            async fn postgres(
                pool_opts: sqlx::postgres::PgPoolOptions,
                conn: sqlx::postgres::PgConnectOptions,
            ) {
                super::$scenario($crate::harness::Harness::postgres(pool_opts, conn).await).await
            }
        }
    )+};
}
