//! What-if speed (issue 30): a what-if over `--events` events (default 1,000,000) against the
//! store's ordered scan of the same log, measured side by side in one run. Target: the what-if
//! runs at no less than 50% of the scan's events/s.
//!
//! The log is made by today's decision core, as the engine records it: each entity is created
//! in the CRM (one in ten without a phone) and created in the ERP by the sync, then its phone
//! changes in the CRM and is written to the ERP, each decision a full group (`InputsGathered`,
//! `RecordFetched`, the decision, the write request) followed by the write's outcome. The
//! entities' streams interleave in the global log (multi-stream appends of a few thousand
//! events). The what-if proposes `required = ["email", "phone"]` on the ERP: every tenth
//! entity's create would differ. The scan is `read_all` in pages of the what-if's size, every
//! event decoded; the what-if is `syncledger_graphql::what_if::run`, which reads the same pages
//! and replays every decision. The two alternate, each keeping its best of `--rounds`.
//!
//! `cargo bench -p syncledger-graphql --bench what_if -- [--backend sqlite|postgres]
//! [--events N] [--rounds N]`

#[path = "../../syncledger-store/benches/support/cpu.rs"]
mod cpu;

use std::time::Instant;

use chrono::{Duration, Utc};
use serde_json::json;
use syncledger_core::config::Config;
use syncledger_core::decide::{Gathered, decide};
use syncledger_core::entity::EntityState;
use syncledger_core::events::{
    Action, ChangeObserved, RecordFetched, RecordLinked, Resolution, SyncEvent, WriteSucceeded,
};
use syncledger_core::log::{
    EventMeta, ExpectedVersion, LogFilter, NewEvent, Position, RecordedEvent, StreamAppend,
};
use syncledger_graphql::what_if::{Scope, proposed_entities, run};
use syncledger_store::Store;
use syncledger_test_support::db::store_options;
use syncledger_test_support::{ExampleConfig, ScratchDb, TestDb};
use uuid::Uuid;

/// Phone changes per entity after its create.
const UPDATES: usize = 5;
/// Entities whose streams are appended together, round by round.
const ENTITIES_PER_APPEND: usize = 100;
const PAGE: i64 = 2000;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

/// One entity's stream being written: what is recorded is folded as the engine folds it.
struct Entity {
    id: Uuid,
    n: usize,
    state: EntityState,
    sequence: u64,
}

impl Entity {
    fn new(n: usize) -> Self {
        let id = Uuid::now_v7();
        Entity {
            id,
            n,
            state: EntityState::fold(id, std::iter::empty()),
            sequence: 0,
        }
    }

    /// Envelopes for `events`, the first caused by `cause`, each next by the one before;
    /// folded into the state as they will be recorded.
    fn record(&mut self, events: Vec<SyncEvent>, cause: Option<Uuid>) -> Vec<NewEvent> {
        let mut cause = cause;
        let mut out = Vec::new();
        for event in events {
            let meta = EventMeta {
                tenant: "acme".into(),
                correlation_id: None,
                causation_id: cause,
            };
            let new = event.to_new_with_id(Uuid::now_v7(), meta);
            self.sequence += 1;
            self.state.apply(&RecordedEvent {
                position: Position(self.sequence as i64),
                stream_id: self.id,
                sequence: self.sequence,
                event_id: new.event_id,
                event_type: new.event_type.clone(),
                schema_version: new.schema_version,
                payload: new.payload.clone(),
                meta: new.meta.clone(),
                recorded_at: Utc::now(),
            });
            cause = Some(new.event_id);
            out.push(new);
        }
        out
    }

    fn fields(&self, phone: Option<usize>) -> syncledger_core::events::Fields {
        let mut fields = json!({"name": format!("Customer {}", self.n),
                                "email": format!("c{}@example.com", self.n)});
        if let Some(phone) = phone {
            fields["phone"] = json!(format!("555-{phone:04}"));
        }
        serde_json::from_value(fields).unwrap()
    }

    /// A CRM webhook, its decision by today's core, and the outcome of its writes.
    fn work(&mut self, config: &Config, action: Action, phone: Option<usize>) -> Vec<NewEvent> {
        let entity = &config.entities[0];
        let observed = SyncEvent::ChangeObserved(ChangeObserved {
            entity_type: "customer".into(),
            system: "crm".into(),
            collection: "contacts".into(),
            record_id: format!("c-{}", self.n),
            action,
            webhook_event_id: format!("wh-{}-{}", self.n, self.sequence),
            occurred_at: Utc::now(),
        });
        let mut out = self.record(vec![observed], None);
        let trigger = self.state.open_triggers[0].clone();
        let fetched = RecordFetched {
            system: "crm".into(),
            record_id: format!("c-{}", self.n),
            found: true,
            fields: self.fields(phone),
            etag: None,
        };
        let at = Utc::now();
        let input = Gathered {
            at,
            echo: self.state.written_within(Duration::minutes(10), at),
            fetched: Some(fetched.clone()),
            ..Gathered::default()
        };
        let outcome = decide(entity, &self.state, &trigger, &input);
        let mut group = vec![
            SyncEvent::InputsGathered(input.recorded(&trigger)),
            SyncEvent::RecordFetched(fetched),
        ];
        group.extend(outcome.own.clone());
        out.extend(self.record(group, Some(trigger.event_id)));
        for write in outcome.writes() {
            let record_id = format!("E{}", self.n);
            let done = SyncEvent::WriteSucceeded(WriteSucceeded {
                request_id: write.request_id,
                target_system: "erp".into(),
                record_id: record_id.clone(),
                fields: write.fields.clone(),
                resolution: Resolution::Response,
                etag: None,
            });
            let mut events = vec![done];
            if write.record_id.is_none() {
                events.push(SyncEvent::RecordLinked(RecordLinked {
                    entity_type: "customer".into(),
                    system: "erp".into(),
                    collection: "customers".into(),
                    record_id,
                    reason: "created by the sync".into(),
                }));
            }
            out.extend(self.record(events, None));
        }
        out
    }
}

async fn fill(store: &Store, config: &Config, events: u64) -> u64 {
    let started = Instant::now();
    let mut written = 0u64;
    let mut n = 0;
    while written < events {
        let mut batch: Vec<Entity> = (0..ENTITIES_PER_APPEND)
            .map(|i| Entity::new(n + i))
            .collect();
        n += ENTITIES_PER_APPEND;
        for round in 0..=UPDATES {
            let appends: Vec<StreamAppend> = batch
                .iter_mut()
                .map(|e| {
                    let expected = match e.sequence {
                        0 => ExpectedVersion::NoStream,
                        v => ExpectedVersion::Exact(v),
                    };
                    let (action, phone) = match (round, e.n % 10) {
                        (0, 0) => (Action::Created, None),
                        (0, _) => (Action::Created, Some(0)),
                        (r, _) => (Action::Updated, Some(r)),
                    };
                    StreamAppend {
                        stream_id: e.id,
                        expected,
                        events: e.work(config, action, phone),
                    }
                })
                .collect();
            written += appends.iter().map(|a| a.events.len() as u64).sum::<u64>();
            store.append(appends).await.expect("append");
        }
    }
    eprintln!("  filled {written} events in {:.1?}", started.elapsed());
    written
}

/// The store's ordered scan: every event of the log, page by page, decoded.
async fn scan(store: &Store) -> (u64, f64) {
    let started = Instant::now();
    let (mut after, mut read) = (Position::START, 0u64);
    loop {
        let page = store
            .read_all(after, &LogFilter::default(), PAGE)
            .await
            .expect("read");
        let Some(last) = page.last() else { break };
        after = last.position;
        read += page.len() as u64;
    }
    (read, started.elapsed().as_secs_f64())
}

/// The store's ordered scan as one [`Store::scan`] (what the what-if reads now).
async fn streamed_scan(store: &Store) -> (u64, f64) {
    let started = Instant::now();
    let mut scan = store.scan(
        (Position::START, None),
        LogFilter::default(),
        PAGE as usize,
        |e| e,
    );
    let mut read = 0u64;
    while let Some(batch) = scan.next_batch().await {
        read += batch.expect("scan").len() as u64;
    }
    (read, started.elapsed().as_secs_f64())
}

/// Best events/s and best events per CPU second of one side over the rounds.
#[derive(Default, Clone, Copy)]
struct Best {
    wall: f64,
    cpu: f64,
}

impl Best {
    fn keep(&mut self, n: u64, secs: f64, cpu_before: f64, database: Option<&str>) {
        self.wall = self.wall.max(n as f64 / secs);
        let used = cpu::seconds(database) - cpu_before;
        if used > 0.0 {
            self.cpu = self.cpu.max(n as f64 / used);
        }
    }
}

async fn bench(backend: &str, events: u64, rounds: u32) {
    let config = ExampleConfig::default().parse();
    let scratch = match backend {
        "postgres" => Some(ScratchDb::create("syncledger_bench_what_if".into()).await),
        _ => None,
    };
    let db = match &scratch {
        Some(s) => TestDb::Postgres {
            pool: sqlx::PgPool::connect(&s.url).await.expect("pool"),
        },
        None => TestDb::sqlite(),
    };
    let store = db.open(store_options(&config)).await;
    let written = fill(&store, &config, events).await;
    let entities = ExampleConfig::default().toml();
    let proposal = entities[entities.find("[[entities]]").unwrap()..].replace(
        "required = [\"email\"]",
        "required = [\"email\", \"phone\"]",
    );
    let proposed = proposed_entities(&config, &proposal).expect("a valid proposal");
    let scope = Scope {
        tenant: Some("acme"),
        from: Position::START,
        to: Position(i64::MAX),
        max_entities: None,
    };
    // The PostgreSQL server's work counts in the CPU figures: its backends for this database.
    let database = (backend == "postgres").then_some("syncledger_bench_what_if");
    let [mut paged, mut streamed, mut what_if] = [Best::default(); 3];
    let mut changed = 0;
    for round in 1..=rounds {
        let cpu_before = cpu::seconds(database);
        let (read, secs) = scan(&store).await;
        paged.keep(read, secs, cpu_before, database);
        let cpu_before = cpu::seconds(database);
        let (streamed_read, secs) = streamed_scan(&store).await;
        streamed.keep(streamed_read, secs, cpu_before, database);
        assert_eq!(read, streamed_read);
        let cpu_before = cpu::seconds(database);
        let started = Instant::now();
        let report = run(&store, &config, &proposed, &scope, |_| {})
            .await
            .expect("what-if");
        what_if.keep(read, started.elapsed().as_secs_f64(), cpu_before, database);
        changed = report.summary.entities_changed;
        eprintln!(
            "  round {round}: scan {:.0} / streamed {:.0} / what-if {:.0} events/s, per CPU second {:.0} / {:.0} / {:.0} ({} decisions, {} entities changed)",
            paged.wall,
            streamed.wall,
            what_if.wall,
            paged.cpu,
            streamed.cpu,
            what_if.cpu,
            report.summary.decisions_replayed,
            changed
        );
    }
    let verdict = |ratio: f64| if ratio >= 0.5 { "met" } else { "missed" };
    for (what, ceiling) in [
        ("events/s, paged scan", (paged.wall, what_if.wall)),
        ("events/s, streamed scan", (streamed.wall, what_if.wall)),
        (
            "events per CPU second, paged scan",
            (paged.cpu, what_if.cpu),
        ),
        (
            "events per CPU second, streamed scan",
            (streamed.cpu, what_if.cpu),
        ),
    ] {
        let ratio = ceiling.1 / ceiling.0;
        println!(
            "| {backend} | {written} events | {what} | ordered scan {:.0} | what-if {:.0} | {:.0}% | >= 50%: {} | {changed} entities changed |",
            ceiling.0,
            ceiling.1,
            ratio * 100.0,
            verdict(ratio)
        );
    }
    store.close().await;
    if let Some(scratch) = scratch {
        scratch.drop().await;
    }
}

#[tokio::main]
async fn main() {
    let events: u64 = arg("--events").map_or(1_000_000, |v| v.parse().expect("--events N"));
    let rounds: u32 = arg("--rounds").map_or(3, |v| v.parse().expect("--rounds N"));
    let backends = match arg("--backend") {
        Some(b) => vec![b],
        None => vec!["sqlite".to_string(), "postgres".to_string()],
    };
    for backend in backends {
        bench(&backend, events, rounds).await;
    }
}
