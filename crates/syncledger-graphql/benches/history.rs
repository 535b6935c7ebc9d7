//! How long `entityByRecord { history(first: 50) }` takes with a large log, through the schema.
//!
//! Builds a SQLite log of `--events` events (default 1,000,000): 20,000-event-deep is not the
//! point, breadth is, so every entity gets a realistic 50-event history (created in the crm,
//! created in the erp by the sync, eight phone changes synced across, an echo) and the entities'
//! histories interleave in the global log, written by multi-stream batch appends of about a
//! thousand events. Then it asks, for `--queries` random records, for the record's entity and the
//! first 50 events of its history with their explanations, and prints p50/p99/max. A second line
//! does the same with `whyField(field: "phone", system: "erp")`.
//!
//! `cargo bench -p syncledger-graphql --bench history [-- --events N --queries N]`

use std::time::{Duration, Instant};

use async_graphql::Request;
use serde_json::json;
use syncledger_core::events::{
    Action, ChangeObserved, DecisionKind, DecisionMade, FieldChange, Fields, RecordFetched,
    RecordLinked, Resolution, SyncEvent, WriteOp, WriteRequested, WriteSucceeded,
    entity_id_for_record,
};
use syncledger_core::log::{EventMeta, ExpectedVersion, NewEvent, StreamAppend};
use syncledger_graphql::{ApiContext, Caller};
use syncledger_store::Store;
use syncledger_test_support::{ExampleConfig, TestDb};
use uuid::Uuid;

const EVENTS_PER_ENTITY: u64 = 50;
/// Entities per append: 100 entities x one 10-event phase = 1,000 events per batch.
const ENTITIES_PER_APPEND: u64 = 100;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect(name))
}

fn record(i: u64, phone: u64) -> Fields {
    let value = json!({"name": format!("Customer {i}"), "email": format!("c{i}@example.com"), "phone": format!("555-{phone:04}")});
    value.as_object().unwrap().clone().into_iter().collect()
}

/// One entity's whole history, in order: 7 + 8 x 5 + 3 = 50 events.
fn history(i: u64) -> Vec<SyncEvent> {
    let crm_id = format!("c-{i}");
    let erp_id = format!("E{i}");
    let observed = |system: &str, collection: &str, id: &str, action, n: u64| {
        SyncEvent::ChangeObserved(ChangeObserved {
            entity_type: "customer".into(),
            system: system.into(),
            collection: collection.into(),
            record_id: id.into(),
            action,
            webhook_event_id: format!("{system}-{i}-{n}"),
            occurred_at: chrono::Utc::now(),
        })
    };
    let fetched = |system: &str, id: &str, phone: u64| {
        SyncEvent::RecordFetched(RecordFetched {
            etag: None,
            system: system.into(),
            record_id: id.into(),
            found: true,
            fields: record(i, phone),
        })
    };
    let decided = |kind, request: Option<Uuid>, before: u64, after: u64| {
        SyncEvent::DecisionMade(DecisionMade {
            trigger_id: None,
            kind,
            source_system: "crm".into(),
            target_system: "erp".into(),
            basis: syncledger_core::events::Basis::Changed {
                record_id: crm_id.to_string(),
                fields: vec!["phone".into()],
            },
            diff: vec![FieldChange {
                field: "phone".into(),
                before: json!(format!("555-{before:04}")),
                after: json!(format!("555-{after:04}")),
            }],
            request_id: request,
            write: None,
        })
    };
    let linked = |system: &str, collection: &str, id: &str| {
        SyncEvent::RecordLinked(RecordLinked {
            entity_type: "customer".into(),
            system: system.into(),
            collection: collection.into(),
            record_id: id.into(),
            reason: "first seen".into(),
        })
    };
    let write = |op, request: Uuid, phone: u64| {
        let fields: Fields = [("phone".to_string(), json!(format!("555-{phone:04}")))]
            .into_iter()
            .collect();
        let record_id = (op == WriteOp::Update).then(|| erp_id.clone());
        vec![
            SyncEvent::WriteRequested(WriteRequested {
                if_match: None,
                request_id: request,
                target_system: "erp".into(),
                collection: "customers".into(),
                op,
                record_id,
                fields,
                match_fingerprint: None,
            }),
            SyncEvent::WriteSucceeded(WriteSucceeded {
                etag: None,
                request_id: request,
                target_system: "erp".into(),
                record_id: erp_id.clone(),
                fields: record(i, phone),
                resolution: Resolution::Response,
            }),
        ]
    };
    let mut events = vec![
        observed("crm", "contacts", &crm_id, Action::Created, 0),
        fetched("crm", &crm_id, 0),
        linked("crm", "contacts", &crm_id),
    ];
    let create = Uuid::now_v7();
    events.push(decided(DecisionKind::Create, Some(create), 0, 0));
    events.extend(write(WriteOp::Create, create, 0));
    events.push(linked("erp", "customers", &erp_id));
    for n in 1..=8 {
        let request = Uuid::now_v7();
        events.push(observed("crm", "contacts", &crm_id, Action::Updated, n));
        events.push(fetched("crm", &crm_id, n));
        events.push(decided(DecisionKind::Update, Some(request), n - 1, n));
        events.extend(write(WriteOp::Update, request, n));
    }
    events.push(observed("erp", "customers", &erp_id, Action::Updated, 9));
    events.push(fetched("erp", &erp_id, 8));
    events.push(decided(DecisionKind::Skip, None, 8, 8));
    assert_eq!(events.len() as u64, EVENTS_PER_ENTITY);
    events
}

/// Envelopes as the engine writes them: a webhook starts a chain (its correlation), each later
/// event is caused by the one before, and a decision names the webhook it settles.
fn envelopes(events: Vec<SyncEvent>) -> Vec<NewEvent> {
    let mut previous: Option<Uuid> = None;
    let mut trigger: Option<Uuid> = None;
    events
        .into_iter()
        .map(|e| {
            let webhook = e.event_type() == "ChangeObserved";
            let id = Uuid::now_v7();
            if webhook {
                trigger = Some(id);
            }
            let causation = if webhook { None } else { previous };
            let meta = EventMeta {
                tenant: "acme".into(),
                correlation_id: trigger,
                causation_id: causation,
            };
            let mut new = e.to_new_with_id(id, meta);
            if new.event_type == "DecisionMade" {
                new.payload["trigger_id"] = json!(trigger);
            }
            previous = Some(id);
            new
        })
        .collect()
}

async fn fill(store: &Store, entities: u64) {
    let started = Instant::now();
    let phases = EVENTS_PER_ENTITY / 10;
    for block in (0..entities).step_by(ENTITIES_PER_APPEND as usize) {
        let ids: Vec<u64> = (block..(block + ENTITIES_PER_APPEND).min(entities)).collect();
        let mut histories: Vec<Vec<NewEvent>> =
            ids.iter().map(|i| envelopes(history(*i))).collect();
        for phase in 0..phases {
            let appends = ids
                .iter()
                .zip(histories.iter_mut())
                .map(|(i, events)| StreamAppend {
                    stream_id: entity_id_for_record("acme", "customer", "crm", &format!("c-{i}")),
                    expected: if phase == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact(phase * 10)
                    },
                    events: events.drain(..10).collect(),
                })
                .collect();
            store.append(appends).await.expect("append");
        }
        if (block / ENTITIES_PER_APPEND).is_multiple_of(200) {
            eprintln!(
                "  {} events in {:.0?}",
                block * EVENTS_PER_ENTITY,
                started.elapsed()
            );
        }
    }
    let total = entities * EVENTS_PER_ENTITY;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "filled {total} events ({entities} entities) in {secs:.1} s ({:.0} events/s)",
        total as f64 / secs
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(sorted.len() - 1)]
}

async fn measure(
    schema: &syncledger_graphql::SyncSchema,
    name: &str,
    entities: u64,
    queries: u64,
    query: &str,
) {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut times = Vec::with_capacity(queries as usize);
    for _ in 0..queries {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let record = format!("c-{}", seed % entities);
        let request = Request::new(query)
            .variables(async_graphql::Variables::from_json(json!({"r": record})))
            .data(Caller::Admin);
        let started = Instant::now();
        let response = schema.execute(request).await;
        times.push(started.elapsed());
        assert!(response.errors.is_empty(), "{:?}", response.errors);
    }
    times.sort();
    println!(
        "{name}: {queries} queries, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
}

#[tokio::main]
async fn main() {
    let events = arg("--events", 1_000_000);
    let queries = arg("--queries", 2_000);
    let entities = events / EVENTS_PER_ENTITY;
    let db = TestDb::sqlite();
    let config = ExampleConfig {
        admin_token: "bench-admin-secret".into(),
        api_token: "bench-acme-secret".into(),
        ..ExampleConfig::default()
    }
    .parse();
    let store = db.open_for(&config).await;
    fill(&store, entities).await;
    let schema = syncledger_graphql::schema(ApiContext::new(
        store.clone(),
        std::sync::Arc::new(config),
        || {},
    ));

    let history = r#"query($r: String!) { entityByRecord(tenant: "acme", system: "crm", recordId: $r) {
        id history(first: 50) { edges { cursor node { position sequence type recordedAt payload explanation } } } } }"#;
    measure(
        &schema,
        "entityByRecord { history(first: 50) }",
        entities,
        queries,
        history,
    )
    .await;
    let why = r#"query($r: String!) { entityByRecord(tenant: "acme", system: "crm", recordId: $r) {
        whyField(field: "phone", system: "erp") { value chain { type explanation } } } }"#;
    measure(
        &schema,
        "entityByRecord { whyField(phone, erp) }",
        entities,
        queries,
        why,
    )
    .await;
}
