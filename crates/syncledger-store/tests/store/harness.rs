//! Where a scenario runs: a fresh database from `syncledger-test-support` (SQLite on a temporary
//! file, or the PostgreSQL database `#[sqlx::test]` made). Its `both!` (imported in `main.rs`)
//! turns each `async fn scenario(h: Harness)` into a module with a `sqlite` and a `postgres` test.

use std::time::Duration;

pub use syncledger_test_support::TestDb as Harness;

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
