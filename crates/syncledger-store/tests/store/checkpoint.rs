//! SQLite only: committed WAL frames reach the database file without the writer copying them.

use syncledger_core::log::ExpectedVersion;
use uuid::Uuid;

use crate::fixtures::{some_events, to};
use crate::harness::{Harness, wait_until};

/// The writer's own checkpoint only runs once the WAL holds 10,000 pages; a few hundred events
/// stay far below that, so the database file grows only if the background checkpointer copies
/// the WAL into it.
#[tokio::test]
async fn appended_events_reach_the_database_file_in_the_background() {
    let harness = Harness::sqlite();
    let store = harness.store().await;
    let Harness::Sqlite { url, .. } = &harness else {
        unreachable!("a SQLite harness")
    };
    let file = url.trim_start_matches("sqlite://").to_string();
    let size = || async { std::fs::metadata(&file).expect("db file").len() };
    let before = size().await;

    for _ in 0..20 {
        store
            .append(vec![to(
                Uuid::new_v4(),
                ExpectedVersion::NoStream,
                some_events(20),
            )])
            .await
            .expect("append");
    }

    wait_until("the database file holds the new pages", || async {
        size().await > before
    })
    .await;
    store.close().await;
}
