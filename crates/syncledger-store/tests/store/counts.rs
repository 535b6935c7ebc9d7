//! Counted projections: `count_rows` reads the per-tenant count the database keeps beside the
//! table (`projection_counts`, kept by triggers), and that count always equals the rows there:
//! after inserts, deletes, tenant changes, a batch of many rows, a rebuild, an abandoned
//! rebuild, and on a database made before the counts existed.

use proptest::prelude::*;
use serde_json::json;
use sqlx::PgPool;
use syncledger_core::log::{ExpectedVersion, NewEvent};
use syncledger_core::projection::{Lookups, Mode};
use syncledger_store::{Store, StoreOptions};
use syncledger_test_support::ScratchDb;
use uuid::Uuid;

use crate::both;
use crate::fixtures::{Ledger, event_for, runtime, to};
use crate::harness::Harness;

both!(
    counts_follow_inserts_deletes_and_tenant_changes,
    a_batch_of_many_rows_is_counted_per_tenant,
    a_rebuilt_table_brings_its_own_counts,
    an_abandoned_rebuild_leaves_the_live_counts_alone,
    a_database_from_before_the_counts_is_counted_on_upgrade,
);

const INLINE: &str = "counted_inline";
const LATER: &str = "counted_later";
const TENANTS: [&str; 3] = ["acme", "other", "third"];

fn options() -> StoreOptions {
    // The fixture projection, counted. Its rows exercise every path a count can take: `first:`
    // rows inserted once, `stream:` rows replaced (their tenant changes when another tenant
    // appends to the stream) and deleted, shared `count:` rows only ever added to.
    let counted = |name, mode| {
        let lookups = Lookups {
            counted: true,
            ..Lookups::ALL
        };
        Ledger::with_lookups(name, mode, lookups)
    };
    StoreOptions {
        projections: vec![counted(INLINE, Mode::Inline), counted(LATER, Mode::CatchUp)],
        batch_size: 5,
        ..StoreOptions::default()
    }
}

/// Asserts that every count `count_rows` gives for `projection` (all, per tenant, and per
/// tenant up to a few bounds) equals the rows actually in its table.
async fn assert_counts_exact(store: &Store, projection: &str) {
    let rows = store.all_rows(projection).await.unwrap();
    let total = store.count_rows(projection, None, None).await.unwrap();
    assert_eq!(
        total,
        rows.len() as i64,
        "{projection}: every tenant's rows"
    );
    let bounds = ["count:~", "first:", "stream:00000002", "stream:~", "~"];
    for tenant in TENANTS {
        let theirs = || rows.iter().filter(|r| r.tenant == tenant);
        let counted = store
            .count_rows(projection, Some(tenant), None)
            .await
            .unwrap();
        assert_eq!(
            counted,
            theirs().count() as i64,
            "{projection}: {tenant}'s rows"
        );
        for bound in bounds {
            let counted = store
                .count_rows(projection, Some(tenant), Some(bound))
                .await
                .unwrap();
            let want = theirs().filter(|r| r.sort_key.as_str() <= bound).count();
            assert_eq!(
                counted, want as i64,
                "{projection}: {tenant}'s rows up to {bound}"
            );
        }
    }
    for bound in bounds {
        let counted = store
            .count_rows(projection, None, Some(bound))
            .await
            .unwrap();
        let want = rows.iter().filter(|r| r.sort_key.as_str() <= bound).count();
        assert_eq!(counted, want as i64, "{projection}: rows up to {bound}");
    }
}

async fn assert_all_exact(store: &Store) {
    store.catch_up_once().await.unwrap();
    assert_counts_exact(store, INLINE).await;
    assert_counts_exact(store, LATER).await;
}

async fn append(store: &Store, stream: u128, tenant: &str, events: &[&str]) {
    let events = events
        .iter()
        .map(|ty| event_for(tenant, ty, json!({})))
        .collect();
    let part = to(Uuid::from_u128(stream + 1), ExpectedVersion::Any, events);
    store.append(vec![part]).await.unwrap();
}

/// How many count rows are kept under keys other than the live generations' (what an
/// abandoned rebuild or a swapped-out generation would leave behind).
async fn stray_count_rows(h: &Harness) -> i64 {
    let sql = "SELECT COUNT(*) FROM projection_counts WHERE key NOT IN \
               (SELECT name || '_g' || generation FROM projection_checkpoints)";
    match h {
        Harness::Sqlite { url, .. } => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
        Harness::Postgres { pool } => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

async fn counts_follow_inserts_deletes_and_tenant_changes(h: Harness) {
    let store = h.open(options()).await;
    assert_all_exact(&store).await;
    append(&store, 1, "acme", &["noted", "changed"]).await;
    append(&store, 2, "other", &["noted"]).await;
    assert_all_exact(&store).await;
    // Stream 1's latest-state row moves to another tenant; then stream 2's goes.
    append(&store, 1, "third", &["changed"]).await;
    append(&store, 2, "other", &["deleted"]).await;
    assert_all_exact(&store).await;
    assert_eq!(
        store.count_rows(INLINE, Some("acme"), None).await.unwrap(),
        3,
        "acme keeps its first: row and the two count: rows it created"
    );
    store.close().await;
}

async fn a_batch_of_many_rows_is_counted_per_tenant(h: Harness) {
    let store = h.open(options()).await;
    let parts = (0..60u128)
        .map(|i| {
            let tenant = TENANTS[i as usize % TENANTS.len()];
            let events: Vec<NewEvent> = (0..3)
                .map(|j| {
                    event_for(
                        tenant,
                        if j == 2 && i % 4 == 0 {
                            "deleted"
                        } else {
                            "noted"
                        },
                        json!({}),
                    )
                })
                .collect();
            to(Uuid::from_u128(1000 + i), ExpectedVersion::Any, events)
        })
        .collect();
    store.append(parts).await.unwrap();
    assert_all_exact(&store).await;
    assert!(store.count_rows(INLINE, None, None).await.unwrap() > 100);
    store.close().await;
}

async fn a_rebuilt_table_brings_its_own_counts(h: Harness) {
    let store = h.open(options()).await;
    for i in 0..12 {
        let ty = if i % 5 == 4 { "deleted" } else { "noted" };
        append(&store, i % 4, TENANTS[i as usize % 3], &[ty, "changed"]).await;
    }
    assert_all_exact(&store).await;
    for name in [INLINE, LATER] {
        store.rebuild(name, |_| {}).await.unwrap();
    }
    assert_all_exact(&store).await;
    // The new generation's triggers count what comes after the swap.
    append(&store, 2, "acme", &["deleted"]).await;
    append(&store, 7, "other", &["noted"]).await;
    assert_all_exact(&store).await;
    assert_eq!(
        stray_count_rows(&h).await,
        0,
        "the old generations' counts are gone"
    );
    store.close().await;
}

async fn an_abandoned_rebuild_leaves_the_live_counts_alone(h: Harness) {
    let store = h.open(options()).await;
    for i in 0..8 {
        append(&store, i % 3, TENANTS[i as usize % 3], &["noted"]).await;
    }
    // A table in the way of the swap's rename: the rebuild fails after loading (and counting)
    // its shadow, and is abandoned.
    h.execute("CREATE TABLE counted_inline__old (x INTEGER)")
        .await;
    assert!(store.rebuild(INLINE, |_| {}).await.is_err());
    h.execute("DROP TABLE counted_inline__old").await;
    assert_eq!(
        stray_count_rows(&h).await,
        0,
        "the shadow's counts went with it"
    );
    append(&store, 1, "other", &["deleted"]).await;
    append(&store, 5, "third", &["noted"]).await;
    assert_all_exact(&store).await;
    store.rebuild(INLINE, |_| {}).await.unwrap();
    assert_all_exact(&store).await;
    store.close().await;
}

async fn a_database_from_before_the_counts_is_counted_on_upgrade(h: Harness) {
    let store = h.open(options()).await;
    for i in 0..10 {
        append(
            &store,
            i % 4,
            TENANTS[i as usize % 3],
            &["noted", "changed"],
        )
        .await;
    }
    store.catch_up_once().await.unwrap();
    // Not closed: on PostgreSQL that would close the test's pool, which the next handle uses.
    drop(store);
    // Back to the schema of migration 0001: no counts, no triggers.
    match &h {
        Harness::Sqlite { .. } => {
            h.execute(
                "DROP TRIGGER counted_inline_g0_count_insert; \
                 DROP TRIGGER counted_inline_g0_count_delete; \
                 DROP TRIGGER counted_inline_g0_count_update; \
                 DROP TRIGGER counted_later_g0_count_insert; \
                 DROP TRIGGER counted_later_g0_count_delete; \
                 DROP TRIGGER counted_later_g0_count_update; \
                 DROP TABLE projection_counts; \
                 DELETE FROM _sqlx_migrations WHERE version = 2",
            )
            .await
        }
        Harness::Postgres { .. } => {
            h.execute(
                "DROP FUNCTION projection_count() CASCADE; \
                 DROP TABLE projection_counts; \
                 DELETE FROM _sqlx_migrations WHERE version = 2",
            )
            .await
        }
    }
    let store = h.open(options()).await;
    assert_all_exact(&store).await;
    append(&store, 2, "other", &["deleted"]).await;
    append(&store, 9, "acme", &["noted"]).await;
    assert_all_exact(&store).await;
    store.close().await;
}

#[derive(Debug, Clone)]
enum Step {
    Append {
        stream: u128,
        tenant: &'static str,
        events: Vec<&'static str>,
    },
    CatchUp,
    Rebuild(&'static str),
}

fn step() -> impl Strategy<Value = Step> {
    let events = prop::collection::vec(
        prop::sample::select(vec!["noted", "changed", "deleted"]),
        1..4,
    );
    prop_oneof![
        8 => (0u128..5, prop::sample::select(TENANTS.to_vec()), events)
            .prop_map(|(stream, tenant, events)| Step::Append { stream, tenant, events }),
        2 => Just(Step::CatchUp),
        1 => prop::sample::select(vec![INLINE, LATER]).prop_map(Step::Rebuild),
    ]
}

/// After every step, the inline projection's counts equal its rows; at the end, after a
/// catch-up, the catch-up projection's too.
async fn check(h: Harness, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let store = h.open(options()).await;
    for step in steps {
        match step {
            Step::Append {
                stream,
                tenant,
                events,
            } => append(&store, stream, tenant, &events).await,
            Step::CatchUp => {
                store.catch_up_once().await.unwrap();
            }
            Step::Rebuild(name) => {
                store.rebuild(name, |_| {}).await.unwrap();
            }
        }
        assert_counts_exact(&store, INLINE).await;
    }
    assert_all_exact(&store).await;
    store.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn counts_equal_the_rows_after_any_appends_and_rebuilds_on_sqlite(
        steps in prop::collection::vec(step(), 0..24),
    ) {
        runtime().block_on(async { check(Harness::sqlite(), steps).await })?;
    }

    #[test]
    fn counts_equal_the_rows_after_any_appends_and_rebuilds_on_postgres(
        steps in prop::collection::vec(step(), 0..24),
    ) {
        runtime().block_on(async {
            let name = format!("syncledger_counts_{}", Uuid::new_v4().simple());
            let scratch = ScratchDb::create(name).await;
            let pool = PgPool::connect(&scratch.url).await.unwrap();
            let result = check(Harness::Postgres { pool: pool.clone() }, steps).await;
            pool.close().await;
            scratch.drop().await;
            result
        })?;
    }
}
