//! What sealing costs (issue 29, docs/privacy.md): the same synced changes appended, read and
//! rebuilt on two fresh databases of one backend in one run, one store without a master key and
//! one with, alternating round by round (best of each), with the product's projections. Also the
//! bytes each synced change takes in the log.
//!
//! `cargo bench -p syncledger-store --bench sealing -- [--backend sqlite|postgres] [--changes N]
//! [--rounds N]`. PostgreSQL uses `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::time::Instant;

use serde_json::json;
use syncledger_core::events::{
    Basis, DecisionKind, DecisionMade, FieldChange, RecordFetched, Resolution, SyncEvent, WriteOp,
    WriteRequested, WriteSucceeded,
};
use syncledger_core::log::{EventMeta, ExpectedVersion, LogFilter, Position, StreamAppend};
use syncledger_store::{MasterKey, Store, StoreOptions};
use syncledger_test_support::{ExampleConfig, ScratchDb, db::store_options};
use uuid::Uuid;

struct Args {
    backends: Vec<String>,
    changes: u64,
    rounds: u32,
}

fn args() -> Args {
    let mut args = Args {
        backends: vec!["sqlite".into(), "postgres".into()],
        changes: 2000,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--backend" => args.backends = vec![value()],
            "--changes" => args.changes = value().parse().expect("--changes N"),
            "--rounds" => args.rounds = value().parse().expect("--rounds N"),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// One synced change as the engine records it in the source entity's stream: the fetch, the
/// decision with its diff, the write requested and its success, three fields each.
fn change(i: u64) -> Vec<SyncEvent> {
    let fields: syncledger_core::events::Fields = [
        ("name".to_string(), json!(format!("Customer Number {i}"))),
        (
            "email".to_string(),
            json!(format!("customer{i}@example.com")),
        ),
        (
            "phone".to_string(),
            json!(format!("+44 20 7946 {:04}", i % 10_000)),
        ),
    ]
    .into();
    let request_id = Uuid::now_v7();
    vec![
        SyncEvent::RecordFetched(RecordFetched {
            system: "crm".into(),
            record_id: format!("c-{i}"),
            found: true,
            fields: fields.clone(),
            etag: None,
        }),
        SyncEvent::DecisionMade(DecisionMade {
            trigger_id: Some(Uuid::now_v7()),
            kind: DecisionKind::Update,
            source_system: "crm".into(),
            target_system: "erp".into(),
            basis: Basis::InSync,
            diff: fields
                .iter()
                .map(|(f, v)| FieldChange {
                    field: f.clone(),
                    before: json!(null),
                    after: v.clone(),
                })
                .collect(),
            request_id: Some(request_id),
            write: None,
        }),
        SyncEvent::WriteRequested(WriteRequested {
            request_id,
            target_system: "erp".into(),
            collection: "customers".into(),
            op: WriteOp::Update,
            record_id: Some(format!("E-{i}")),
            fields: fields.clone(),
            match_fingerprint: None,
            if_match: None,
        }),
        SyncEvent::WriteSucceeded(WriteSucceeded {
            request_id,
            target_system: "erp".into(),
            record_id: format!("E-{i}"),
            fields,
            resolution: Resolution::Response,
            etag: None,
        }),
    ]
}

fn append_of(i: u64) -> StreamAppend {
    let meta = EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    };
    StreamAppend {
        stream_id: Uuid::from_u128(0xbe00_0000 + (i % 500) as u128),
        expected: ExpectedVersion::Any,
        events: change(i).iter().map(|e| e.to_new(meta.clone())).collect(),
    }
}

fn rate(n: u64, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

/// Changes appended by `writers` tasks, one append per change; changes per second.
async fn append_changes(store: &Store, writers: u64, n: u64, from: u64) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (from + w..from + n).step_by(writers as usize) {
                    store.append(vec![append_of(i)]).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    rate(n, started)
}

async fn read_everything(store: &Store) -> f64 {
    let started = Instant::now();
    let (mut at, mut n) = (Position::START, 0);
    loop {
        let page = store
            .read_all(at, &LogFilter::default(), 1000)
            .await
            .expect("read");
        let Some(last) = page.last() else { break };
        at = last.position;
        n += page.len() as u64;
    }
    rate(n, started)
}

/// A fresh database of the backend, and what drops it.
async fn fresh(
    backend: &str,
    name: &str,
) -> (String, Option<ScratchDb>, Option<tempfile::TempDir>) {
    match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!(
                "sqlite://{}",
                dir.path().join(format!("{name}.db")).display()
            );
            (url, None, Some(dir))
        }
        _ => {
            let scratch =
                ScratchDb::create(format!("syncledger_seal_{name}_{}", std::process::id())).await;
            (scratch.url.clone(), Some(scratch), None)
        }
    }
}

/// Payload bytes in the log (as the database stores them, in text).
async fn payload_bytes(url: &str) -> i64 {
    let sql = "SELECT CAST(SUM(LENGTH(CAST(payload AS TEXT))) AS BIGINT) FROM events";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

async fn run(backend: &str, args: &Args) {
    let config = ExampleConfig::default().parse();
    let mut sides = Vec::new();
    for (name, key) in [("plain", None), ("sealed", Some(MasterKey::generate()))] {
        let (url, scratch, dir) = fresh(backend, name).await;
        let options = StoreOptions {
            master_key: key,
            ..store_options(&config)
        };
        let store = Store::connect(&url, options).await.expect("connect");
        store.migrate().await.expect("migrate");
        sides.push((name, url, store, scratch, dir));
    }
    let n = args.changes;
    let mut best = [[0.0f64; 4]; 2];
    let mut appended = 0;
    for _ in 0..args.rounds {
        for (i, (_, _, store, _, _)) in sides.iter().enumerate() {
            best[i][0] = best[i][0].max(append_changes(store, 1, n, appended).await);
            best[i][1] = best[i][1].max(append_changes(store, 8, n, appended + n).await);
        }
        appended += 2 * n;
        for (i, (_, _, store, _, _)) in sides.iter().enumerate() {
            store.catch_up_once().await.unwrap();
            best[i][2] = best[i][2].max(read_everything(store).await);
            let started = Instant::now();
            let done = store.rebuild("entity_state", |_| {}).await.unwrap();
            best[i][3] = best[i][3].max(rate(done.done, started));
        }
    }
    let what = [
        "changes appended, 1 writer (changes/s)",
        "changes appended, 8 writers (changes/s)",
        "global read (events/s)",
        "rebuild entity_state (events/s)",
    ];
    println!(
        "{backend}: {:<42} {:>12} {:>12} {:>8}",
        "", "plain", "sealed", "sealed/plain"
    );
    for (k, what) in what.iter().enumerate() {
        println!(
            "{backend}: {what:<42} {:>12.0} {:>12.0} {:>8.2}",
            best[0][k],
            best[1][k],
            best[1][k] / best[0][k]
        );
    }
    let changes = appended as f64;
    let mut bytes = Vec::new();
    for (_, url, store, _, _) in &sides {
        store.close().await;
        bytes.push(payload_bytes(url).await as f64 / changes);
    }
    println!(
        "{backend}: {:<42} {:>12.0} {:>12.0} {:>8.2}",
        "payload bytes per synced change (4 events)",
        bytes[0],
        bytes[1],
        bytes[1] / bytes[0]
    );
    for (_, _, _, scratch, dir) in sides {
        if let Some(scratch) = scratch {
            scratch.drop().await;
        }
        drop(dir);
    }
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for backend in &args.backends {
        runtime.block_on(run(backend, &args));
    }
}
