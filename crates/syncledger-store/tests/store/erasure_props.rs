//! Property: nothing erased resurfaces. Whatever the entities, their values, which of them are
//! erased and what they record afterwards, after `rebuild --all` no event and no projection row
//! a reader can get (opened, as the API reads them) holds an erased value, and every value of an
//! entity that was not erased is still there.

use proptest::prelude::*;
use sqlx::PgPool;
use syncledger_core::log::{LogFilter, Position};
use syncledger_store::{MasterKey, Store};
use syncledger_test_support::ScratchDb;
use uuid::Uuid;

use crate::fixtures::runtime;
use crate::harness::Harness;
use crate::sealing::{record, sealed_options};

/// One entity's story: the values it records, whether it is erased after them, and the values it
/// records after that.
#[derive(Debug, Clone)]
struct Story {
    before: Vec<(String, String)>,
    erased: bool,
    after: Vec<(String, String)>,
}

fn story() -> impl Strategy<Value = Story> {
    let value = ("[a-z]{5,9}", "[A-Z][a-z]{4,8}");
    (
        prop::collection::vec(value, 1..4),
        any::<bool>(),
        prop::collection::vec(value, 0..2),
    )
        .prop_map(|(before, erased, after)| Story {
            before,
            erased,
            after,
        })
}

/// Every text a reader can get from the store: events and every projection's rows, opened.
async fn readable(store: &Store) -> String {
    let mut texts = Vec::new();
    let events = store
        .read_all(Position::START, &LogFilter::default(), 100_000)
        .await
        .unwrap();
    texts.extend(events.iter().map(|e| e.payload.to_string()));
    for status in store.projection_status().await.unwrap() {
        for row in store.all_rows(&status.name).await.unwrap() {
            texts.push(format!("{} {} {}", row.key, row.sort_key, row.doc));
        }
    }
    texts.join("\n")
}

async fn check(h: Harness, stories: Vec<Story>) -> Result<(), TestCaseError> {
    let store = h.open(sealed_options(&MasterKey::generate())).await;
    let mut gone = Vec::new();
    let mut kept = Vec::new();
    for (i, story) in stories.iter().enumerate() {
        let entity = Uuid::now_v7();
        let record_id = format!("c-{i}");
        let email = |local: &str| format!("{local}{i}@example.com");
        for (local, name) in &story.before {
            record(
                &store,
                entity,
                &record_id,
                &email(local),
                &format!("{name} {i}"),
            )
            .await;
        }
        if story.erased {
            store.catch_up_once().await.unwrap();
            let receipt = store
                .erase_entity(entity, "property", "test")
                .await
                .unwrap();
            prop_assert!(receipt.verified, "{:?}", receipt);
        }
        for (local, name) in &story.after {
            record(
                &store,
                entity,
                &record_id,
                &email(local),
                &format!("{name} {i}"),
            )
            .await;
        }
        let as_pairs = |values: &[(String, String)]| {
            values
                .iter()
                .map(|(l, n)| (email(l), format!("{n} {i}")))
                .collect::<Vec<_>>()
        };
        match story.erased {
            true => gone.extend(as_pairs(&story.before)),
            false => kept.extend(as_pairs(&story.before)),
        }
        kept.extend(as_pairs(&story.after));
    }
    store.catch_up_once().await.unwrap();
    for status in store.projection_status().await.unwrap() {
        store.rebuild(&status.name, |_| {}).await.unwrap();
    }
    let text = readable(&store).await;
    for (email, name) in &gone {
        // A value recorded again after the erasure is the entity's new value, not a resurfaced one.
        if kept.iter().any(|(e, n)| e == email || n == name) {
            continue;
        }
        // Quoted, as JSON holds them: `abc0@...` is not `xabc0@...`.
        prop_assert!(
            !text.contains(&format!("\"{email}\"")),
            "{} resurfaced",
            email
        );
        prop_assert!(
            !text.contains(&format!("\"{name}\"")),
            "{} resurfaced",
            name
        );
    }
    for (email, _) in &kept {
        prop_assert!(text.contains(&format!("\"{email}\"")), "{} lost", email);
    }
    store.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn nothing_erased_resurfaces_after_rebuild_all_on_sqlite(
        stories in prop::collection::vec(story(), 1..5),
    ) {
        runtime().block_on(async { check(Harness::sqlite(), stories).await })?;
    }

    #[test]
    fn nothing_erased_resurfaces_after_rebuild_all_on_postgres(
        stories in prop::collection::vec(story(), 1..5),
    ) {
        runtime().block_on(async {
            let name = format!("syncledger_erase_{}", Uuid::new_v4().simple());
            let scratch = ScratchDb::create(name).await;
            let pool = PgPool::connect(&scratch.url).await.unwrap();
            let result = check(Harness::Postgres { pool: pool.clone() }, stories).await;
            pool.close().await;
            scratch.drop().await;
            result
        })?;
    }
}
