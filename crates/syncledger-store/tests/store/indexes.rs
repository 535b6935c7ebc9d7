//! A projection's table carries the indexes of the lookups its readers declare, and no more:
//! after migration and after a rebuild alike. A lookup left without its index still answers.

use serde_json::json;
use syncledger_core::log::ExpectedVersion;
use syncledger_core::projection::{Lookups, Mode};
use syncledger_store::{RowQuery, StoreOptions};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{Ledger, event_for, to};
use crate::harness::Harness;

fn options() -> StoreOptions {
    StoreOptions {
        projections: vec![
            Ledger::arc("ledger_inline", Mode::Inline),
            // The fixture projection, under another name, read only by key and by entity.
            Ledger::with_lookups(
                "ledger_by_entity",
                Mode::Inline,
                Lookups {
                    entity: true,
                    ..Lookups::KEY_ONLY
                },
            ),
        ],
        ..StoreOptions::default()
    }
}

/// The suffixes (`_t`, `_s`, `_e`) of a table's secondary indexes, sorted.
async fn index_kinds(h: &Harness, table: &str) -> Vec<String> {
    let names: Vec<String> = match h {
        Harness::Sqlite { url, .. } => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let names = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 \
                 AND name NOT LIKE 'sqlite_autoindex%'",
            )
            .bind(table)
            .fetch_all(&pool)
            .await
            .unwrap();
            pool.close().await;
            names
        }
        Harness::Postgres { pool } => sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes WHERE tablename = $1 \
             AND indexname NOT LIKE '%_pk'",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    let mut kinds: Vec<String> = names
        .iter()
        .map(|n| n.rsplit('_').next().unwrap().to_string())
        .collect();
    kinds.sort();
    kinds
}

both!(a_table_has_the_indexes_of_its_projections_lookups_only);

async fn a_table_has_the_indexes_of_its_projections_lookups_only(h: Harness) {
    let store = h.open(options()).await;
    assert_eq!(index_kinds(&h, "ledger_inline").await, ["e", "s", "t"]);
    assert_eq!(index_kinds(&h, "ledger_by_entity").await, ["e"]);

    let stream = Uuid::now_v7();
    let events = (0..3)
        .map(|i| event_for("acme", "noted", json!({ "i": i })))
        .collect();
    store
        .append(vec![to(stream, ExpectedVersion::NoStream, events)])
        .await
        .unwrap();
    // A tenant listing has no index on this table, and answers all the same (by a scan).
    let listing = RowQuery {
        tenant: Some("acme".into()),
        limit: 100,
        ..RowQuery::default()
    };
    let everything = store.rows("ledger_inline", &listing).await.unwrap();
    let scanned = store.rows("ledger_by_entity", &listing).await.unwrap();
    assert!(!everything.is_empty());
    assert_eq!(scanned, everything);

    store.rebuild("ledger_by_entity", |_| {}).await.unwrap();
    assert_eq!(
        index_kinds(&h, "ledger_by_entity").await,
        ["e"],
        "a rebuilt generation gets the same indexes"
    );
    assert_eq!(
        store.rows("ledger_by_entity", &listing).await.unwrap(),
        everything
    );
    store.close().await;
}
