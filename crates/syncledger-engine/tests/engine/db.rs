//! Where the log lives: SQLite on a temporary file, or the fresh PostgreSQL database that
//! `#[sqlx::test]` gives each test (`DATABASE_URL` from the environment or the crate's `.env`),
//! as `syncledger-test-support` makes them. `both!` turns each `async fn scenario(db: Db)` into
//! a module with a `sqlite` and a `postgres` test, so a scenario is written once and run on both
//! backends.

pub use syncledger_test_support::TestDb as Db;

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
