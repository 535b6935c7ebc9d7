//! Where the log lives: SQLite on a temporary file, or the fresh PostgreSQL database that
//! `#[sqlx::test]` gives each test (`DATABASE_URL` from the environment or the crate's `.env`),
//! as `syncledger-test-support` makes them. Its `both!` (imported in `main.rs`) turns each
//! `async fn scenario(db: Db)` into a module with a `sqlite` and a `postgres` test, so a scenario
//! is written once and run on both backends.

pub use syncledger_test_support::TestDb as Db;
