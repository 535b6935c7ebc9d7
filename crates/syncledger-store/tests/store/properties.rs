//! Property: whatever the sequence of appends, catch-up rounds and rebuilds, every projection
//! table equals its handler's ops applied one by one (the model), and rebuilding gives the same
//! table again. Each case gets a fresh database; proptest shrinks a failure to a small sequence.

use proptest::prelude::*;
use serde_json::json;
use sqlx::PgPool;
use syncledger_core::log::{ExpectedVersion, LogFilter, Position};
use syncledger_core::projection::Mode;
use syncledger_store::StoreOptions;
use syncledger_test_support::ScratchDb;
use uuid::Uuid;

use crate::fixtures::{Ledger, event_for, model, runtime, to};
use crate::harness::Harness;

#[derive(Debug, Clone)]
enum Step {
    Append {
        stream: u128,
        tenant: &'static str,
        events: Vec<(&'static str, Option<i64>)>,
    },
    CatchUp,
    Rebuild(&'static str),
}

fn step() -> impl Strategy<Value = Step> {
    let event = (
        prop::sample::select(vec!["noted", "changed", "deleted"]),
        prop::option::of(-3i64..4),
    );
    prop_oneof![
        6 => (0u128..4, prop::sample::select(vec!["acme", "other"]), prop::collection::vec(event, 1..4))
            .prop_map(|(stream, tenant, events)| Step::Append { stream, tenant, events }),
        1 => Just(Step::CatchUp),
        1 => prop::sample::select(vec!["ledger_inline", "ledger_later"]).prop_map(Step::Rebuild),
    ]
}

async fn check(h: Harness, batch_size: usize, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let store = h
        .open(StoreOptions {
            projections: vec![
                Ledger::arc("ledger_inline", Mode::Inline),
                Ledger::arc("ledger_later", Mode::CatchUp),
            ],
            batch_size,
            ..StoreOptions::default()
        })
        .await;
    for step in steps {
        match step {
            Step::Append {
                stream,
                tenant,
                events,
            } => {
                let events = events
                    .into_iter()
                    .map(|(ty, amount)| {
                        event_for(
                            tenant,
                            ty,
                            amount.map_or(json!({}), |a| json!({ "amount": a })),
                        )
                    })
                    .collect();
                let part = to(Uuid::from_u128(stream + 1), ExpectedVersion::Any, events);
                store.append(vec![part]).await.unwrap();
            }
            Step::CatchUp => {
                store.catch_up_once().await.unwrap();
            }
            Step::Rebuild(name) => {
                store.rebuild(name, |_| {}).await.unwrap();
            }
        }
    }
    store.catch_up_once().await.unwrap();
    let events = store
        .read_all(Position::START, &LogFilter::default(), 100_000)
        .await
        .unwrap();
    let want = model(
        &Ledger {
            name: "x",
            mode: Mode::Inline,
        },
        &events,
    );
    for name in ["ledger_inline", "ledger_later"] {
        prop_assert_eq!(
            &store.all_rows(name).await.unwrap(),
            &want,
            "incremental {}",
            name
        );
        store.rebuild(name, |_| {}).await.unwrap();
        prop_assert_eq!(
            &store.all_rows(name).await.unwrap(),
            &want,
            "rebuilt {}",
            name
        );
    }
    store.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn projections_equal_their_model_and_rebuilds_on_sqlite(
        batch_size in 1usize..5,
        steps in prop::collection::vec(step(), 0..24),
    ) {
        runtime().block_on(async { check(Harness::sqlite(), batch_size, steps).await })?;
    }

    #[test]
    fn projections_equal_their_model_and_rebuilds_on_postgres(
        batch_size in 1usize..5,
        steps in prop::collection::vec(step(), 0..24),
    ) {
        runtime().block_on(async {
            let name = format!("syncledger_prop_{}", Uuid::new_v4().simple());
            let scratch = ScratchDb::create(name).await;
            let pool = PgPool::connect(&scratch.url).await.unwrap();
            let result = check(Harness::Postgres { pool: pool.clone() }, batch_size, steps).await;
            pool.close().await;
            scratch.drop().await;
            result
        })?;
    }
}
