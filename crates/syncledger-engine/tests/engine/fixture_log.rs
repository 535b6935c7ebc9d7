//! A log written by an earlier build keeps working (docs/log.md, "Upcasting"): the fixture
//! `tests/fixtures/log-2026-12-06.jsonl` is a whole simulated run (creates on both sides,
//! updates, conflicts, 412s, dead letters and a person's retries, deletes, a round-trip
//! create's redirect) as the build of 2026-12-06 recorded it, before leaner events. Loaded into a
//! fresh store on each backend, append by append as it was written, it must
//!
//! - read back whole, every event decoding at today's version (upcast where its version is older);
//! - replay silently: today's decision code, given each recorded group's inputs, decides what was
//!   recorded (`replayDecisions` finds no difference);
//! - project what it projected then: every projection folded from the log equals the rows stored
//!   beside the fixture (`...-projections.json`), except where a later build deliberately changed
//!   a projection (said below, and in docs/events.md);
//! - and the store's own projections (caught up, and rebuilt) hold the same rows.
//!
//! Deliberate changes since the fixture was recorded (docs/events.md, "Which projection reads
//! what"): `entity_state` keeps one row per entity (version 2); `webhook_receipts` keys a receipt
//! by a digest; `word_index` files fewer words with a smaller doc (version 2).
//!
//! The fixture is written by `crate::sim::fixture`. `SYNCLEDGER_UPDATE_FIXTURE=1` rewrites the
//! expected projections from the SQLite run: only for a projection whose change is deliberate.

use std::collections::BTreeMap;

use syncledger_core::config::OnDelete;
use syncledger_core::entity::EntityState;
use syncledger_core::events::SyncEvent;
use syncledger_core::log::{
    ExpectedVersion, LogFilter, NewEvent, Position, RecordedEvent, StreamAppend,
};
use syncledger_core::projection::Row;
use syncledger_core::replay::replay_entity;
use syncledger_store::Store;
use syncledger_store::coalesce::apply_op;
use uuid::Uuid;

use crate::both;
use crate::harness::{Db, config};

pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/log-2026-12-06.jsonl"
);
const PROJECTIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/log-2026-12-06-projections.json"
);

type Tables = BTreeMap<String, BTreeMap<String, Row>>;

fn fixture() -> Vec<RecordedEvent> {
    std::fs::read_to_string(FIXTURE)
        .expect("the fixture log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a recorded event"))
        .collect()
}

/// The fixture's appends: events recorded at one time were one append (the store gives every
/// event of an append its time), in log order, each stream expecting the version it had.
fn appends(events: &[RecordedEvent]) -> Vec<Vec<StreamAppend>> {
    let mut appends: Vec<(chrono::DateTime<chrono::Utc>, Vec<StreamAppend>)> = Vec::new();
    for e in events {
        if appends.last().is_none_or(|(at, _)| *at != e.recorded_at) {
            appends.push((e.recorded_at, Vec::new()));
        }
        let streams = &mut appends.last_mut().expect("an append").1;
        let new = NewEvent {
            event_id: e.event_id,
            event_type: e.event_type.clone(),
            schema_version: e.schema_version,
            payload: e.payload.clone(),
            meta: e.meta.clone(),
        };
        match streams.iter_mut().find(|s| s.stream_id == e.stream_id) {
            Some(stream) => stream.events.push(new),
            None => streams.push(StreamAppend {
                stream_id: e.stream_id,
                expected: match e.sequence - 1 {
                    0 => ExpectedVersion::NoStream,
                    n => ExpectedVersion::Exact(n),
                },
                events: vec![new],
            }),
        }
    }
    appends.into_iter().map(|(_, a)| a).collect()
}

/// Every projection of the configuration, folded from `events` by the handlers alone.
fn fold(events: &[RecordedEvent]) -> Tables {
    let mut tables = Tables::new();
    for projection in syncledger_core::projections::configured(&config(OnDelete::Propagate)) {
        let table = tables.entry(projection.name().to_string()).or_default();
        for event in events {
            for op in projection.apply(event) {
                apply_op(table, op);
            }
        }
    }
    tables
}

async fn stored(store: &Store) -> Tables {
    let mut tables = Tables::new();
    for name in syncledger_core::projections::NAMES {
        let rows = store.all_rows(name).await.expect("rows");
        tables.insert(
            name.to_string(),
            rows.into_iter().map(|r| (r.key.clone(), r)).collect(),
        );
    }
    tables
}

/// Where two sets of tables differ, a line per row (at most a few).
fn differences(left: &Tables, right: &Tables) -> Vec<String> {
    let mut out = Vec::new();
    for name in left
        .keys()
        .chain(right.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (l, r) = (&left.get(name), &right.get(name));
        let empty = BTreeMap::new();
        let (l, r) = (l.unwrap_or(&empty), r.unwrap_or(&empty));
        for key in l
            .keys()
            .chain(r.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            if l.get(key) != r.get(key) {
                out.push(format!(
                    "{name}/{key}: {:?} != {:?}",
                    l.get(key),
                    r.get(key)
                ));
            }
        }
    }
    out.truncate(8);
    out
}

/// The replay of every entity's recorded decisions with today's code: what differs.
fn replay_differences(events: &[RecordedEvent]) -> Vec<String> {
    let config = config(OnDelete::Propagate);
    let mut streams: BTreeMap<Uuid, Vec<RecordedEvent>> = BTreeMap::new();
    for event in events {
        streams
            .entry(event.stream_id)
            .or_default()
            .push(event.clone());
    }
    let mut problems = Vec::new();
    let mut replayed = 0;
    for (entity, stream) in streams {
        let state = EntityState::fold(entity, &stream);
        let Some(entity_config) = state.entity_type.as_deref().and_then(|t| config.entity(t))
        else {
            continue;
        };
        let ttl = config.server.round_trip_ttl();
        let report = replay_entity(entity_config, &stream, Position(0), Position(i64::MAX), ttl);
        replayed += report.replayed;
        problems.extend(report.differences.iter().map(|d| {
            format!(
                "{entity} at {}: recorded {:?}, replayed {:?}",
                d.position.0, d.recorded, d.replayed
            )
        }));
        if report.without_inputs > 0 {
            problems.push(format!(
                "{entity}: {} without inputs",
                report.without_inputs
            ));
        }
    }
    let groups = events
        .iter()
        .filter(|e| e.event_type == "InputsGathered")
        .count();
    assert_eq!(replayed, groups, "every recorded group is re-decided");
    problems
}

async fn a_log_of_the_2026_12_06_build_reads_replays_and_projects_the_same(db: Db) {
    let recorded = fixture();
    let store = db.open_for(&config(OnDelete::Propagate)).await;
    for append in appends(&recorded) {
        store
            .append(append)
            .await
            .expect("the fixture appends as it was written");
    }

    // It reads back whole, and every event decodes at today's version.
    let read = store
        .read_all(Position(0), &LogFilter::default(), i64::MAX)
        .await
        .expect("the log");
    assert_eq!(read.len(), recorded.len());
    for (event, was) in read.iter().zip(&recorded) {
        assert_eq!(
            (event.event_id, event.stream_id, event.sequence),
            (was.event_id, was.stream_id, was.sequence)
        );
        if let Err(err) = SyncEvent::from_recorded(event) {
            panic!(
                "{} v{} does not decode: {err}",
                event.event_type, event.schema_version
            );
        }
    }

    // Today's decision code decides what was recorded.
    let replay = replay_differences(&read);
    assert!(replay.is_empty(), "the replay differs: {replay:#?}");

    // The store's projections, caught up and rebuilt, are the handlers' fold of what it reads.
    store.catch_up_once().await.expect("catch up");
    let folded = fold(&read);
    let caught_up = stored(&store).await;
    assert_eq!(
        differences(&caught_up, &folded),
        Vec::<String>::new(),
        "caught up"
    );
    for name in syncledger_core::projections::NAMES {
        store.rebuild(name, |_| {}).await.expect("rebuild");
    }
    assert_eq!(
        differences(&stored(&store).await, &folded),
        Vec::<String>::new(),
        "rebuilt"
    );

    // At the times and positions the fixture was recorded at, they are what that build projected.
    let at_recorded_times: Vec<RecordedEvent> = read
        .into_iter()
        .zip(&recorded)
        .map(|(event, was)| RecordedEvent {
            position: was.position,
            recorded_at: was.recorded_at,
            ..event
        })
        .collect();
    let projected = fold(&at_recorded_times);
    if std::env::var("SYNCLEDGER_UPDATE_FIXTURE").is_ok() && matches!(db, Db::Sqlite { .. }) {
        let text = serde_json::to_string_pretty(&projected).expect("rows serialize");
        std::fs::write(PROJECTIONS, text + "\n").expect("write the projections");
        return;
    }
    let expected: Tables = serde_json::from_str(
        &std::fs::read_to_string(PROJECTIONS).expect("the fixture's projections"),
    )
    .expect("the fixture's projections parse");
    assert_eq!(
        differences(&projected, &expected),
        Vec::<String>::new(),
        "as recorded"
    );
}

both!(a_log_of_the_2026_12_06_build_reads_replays_and_projects_the_same);
