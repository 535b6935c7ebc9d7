//! Where the log lives: SQLite on a temporary file, or the fresh PostgreSQL database that
//! `#[sqlx::test]` gives each test (`DATABASE_URL` from the environment or the crate's `.env`).
//! `both!` turns each `async fn scenario(db: Db)` into a module with a `sqlite` and a `postgres`
//! test, so a scenario is written once and run on both backends.

use std::sync::Arc;

use syncledger_core::config::Config;
use syncledger_core::projections;
use syncledger_store::{Store, StoreOptions};
use tempfile::TempDir;

/// Where the log lives. Cloning gives another handle on the same database.
#[derive(Clone)]
pub enum Db {
    Sqlite { _dir: Arc<TempDir>, url: String },
    Postgres { pool: sqlx::PgPool },
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        Db::Sqlite {
            _dir: Arc::new(dir),
            url,
        }
    }

    pub async fn postgres(
        pool_opts: sqlx::postgres::PgPoolOptions,
        conn: sqlx::postgres::PgConnectOptions,
    ) -> Db {
        let pool = pool_opts
            .max_connections(8)
            .connect_with(conn)
            .await
            .expect("test pool");
        Db::Postgres { pool }
    }

    /// A migrated store on this database: what a freshly started process opens.
    pub async fn open(&self, config: &Config) -> Store {
        let options = StoreOptions {
            projections: projections::configured(config),
            ..Default::default()
        };
        let store = match self {
            Db::Sqlite { url, .. } => Store::connect(url, options).await,
            Db::Postgres { pool } => Store::from_pg_pool(pool.clone(), options),
        }
        .expect("open store");
        store.migrate().await.expect("migrate");
        store
    }
}

/// Generates a `sqlite` and a `postgres` test for each named scenario.
#[macro_export]
macro_rules! both {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                super::$scenario($crate::db::Db::sqlite()).await
            }

            #[sqlx::test(migrations = false)]
            async fn postgres(
                pool_opts: sqlx::postgres::PgPoolOptions,
                conn: sqlx::postgres::PgConnectOptions,
            ) {
                super::$scenario($crate::db::Db::postgres(pool_opts, conn).await).await
            }
        }
    )+};
}
