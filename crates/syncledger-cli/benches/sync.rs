//! End-to-end sync throughput: webhooks in, fetch, decide, write, echoes back, queue empty.
//!
//! Two in-process simulated systems (optionally slowed by a fixed latency per call), a SQLite (or
//! PostgreSQL) store, the real engine with its worker pool. N contacts are created in the CRM; a
//! change counts as synced when its ERP customer exists and every echo has been settled (the
//! pending queue is empty and no webhook is left). Prints changes per second, the peak RSS, the
//! events, and per change the log's payload bytes and the `events` table's bytes on disk (with
//! its indexes).
//!
//! cargo bench -p syncledger-cli --bench sync -- [--changes N] [--latency-ms L] [--workers W]
//!   [--database-url URL | --backend sqlite|postgres] [--sealing on|off|both] [--rounds N]
//!   (defaults: 5000 changes, 0 ms, 8 workers, a temporary SQLite file, sealed as the product
//!   runs, 1 round). `--sealing both` runs unsealed and sealed alternately on fresh SQLite files,
//!   best of `--rounds` each, and prints them side by side with the log's bytes per change.
//!   `--backend postgres` runs each round on a fresh PostgreSQL database of its own, made on the
//!   server `DATABASE_URL` names and dropped after the run (so `--sealing both` compares there too).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use syncledger_connector::{BoxFuture, Connector, ConnectorError, Page, Record, sign};
use syncledger_core::projections::pending_queue;
use syncledger_engine::{Connectors, EngineSettings, Ledger};
use syncledger_sim::SimSystem;
use syncledger_test_support::ExampleConfig;
use tokio_util::sync::CancellationToken;

/// A simulated system that takes `latency` to answer every call.
struct Slow {
    sim: Arc<SimSystem>,
    latency: Duration,
}

impl Slow {
    async fn pause(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

impl Connector for Slow {
    fn get<'a>(
        &'a self,
        c: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Record>, ConnectorError>> {
        Box::pin(async move {
            self.pause().await;
            self.sim.get(c, id).await
        })
    }
    fn create<'a>(
        &'a self,
        c: &'a str,
        body: &'a Value,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        Box::pin(async move {
            self.pause().await;
            self.sim.create(c, body, key).await
        })
    }
    fn update_if<'a>(
        &'a self,
        c: &'a str,
        id: &'a str,
        patch: &'a Value,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        Box::pin(async move {
            self.pause().await;
            self.sim.update_if(c, id, patch, if_match).await
        })
    }
    fn delete_if<'a>(
        &'a self,
        c: &'a str,
        id: &'a str,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            self.pause().await;
            self.sim.delete_if(c, id, if_match).await
        })
    }
    fn list<'a>(
        &'a self,
        c: &'a str,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, ConnectorError>> {
        Box::pin(async move {
            self.pause().await;
            self.sim.list(c, limit, cursor).await
        })
    }
}

struct Pair {
    crm: Arc<Slow>,
    erp: Arc<Slow>,
}

impl Connectors for Pair {
    fn get(&self, _tenant: &str, system: &str) -> Option<Arc<dyn Connector>> {
        match system {
            "crm" => Some(self.crm.clone()),
            "erp" => Some(self.erp.clone()),
            _ => None,
        }
    }
}

struct Args {
    changes: usize,
    latency: Duration,
    workers: usize,
    database_url: Option<String>,
    /// A fresh PostgreSQL database per run instead of a temporary SQLite file.
    postgres: bool,
    /// Runs with values sealed, unsealed, or both side by side (alternating, `rounds` each).
    sealing: Vec<bool>,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        changes: 5000,
        latency: Duration::ZERO,
        workers: 8,
        database_url: None,
        postgres: false,
        sealing: vec![true],
        rounds: 1,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--changes" => a.changes = value.parse().expect("--changes N"),
            "--latency-ms" => {
                a.latency = Duration::from_millis(value.parse().expect("--latency-ms L"))
            }
            "--workers" => a.workers = value.parse().expect("--workers W"),
            "--database-url" => a.database_url = Some(value),
            "--backend" => {
                a.postgres = match value.as_str() {
                    "sqlite" => false,
                    "postgres" => true,
                    other => panic!("--backend sqlite|postgres, not {other}"),
                }
            }
            "--sealing" => {
                a.sealing = match value.as_str() {
                    "on" => vec![true],
                    "off" => vec![false],
                    "both" => vec![false, true],
                    other => panic!("--sealing on|off|both, not {other}"),
                }
            }
            "--rounds" => a.rounds = value.parse().expect("--rounds N"),
            _ => {
                i += 1;
                continue; // cargo bench passes --bench
            }
        }
        i += 2;
    }
    a
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn deliver(ledger: &Ledger, sim: &SimSystem, system: &str, secret: &str) -> usize {
    let batch = sim.drain_webhooks();
    for chunk in batch.chunks(100) {
        let body = serde_json::to_vec(chunk).expect("webhooks serialize");
        let signature = sign(secret.as_bytes(), &body);
        ledger
            .ingest("acme", system, &body, Some(&signature))
            .await
            .expect("webhook accepted");
    }
    batch.len()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    assert!(
        a.sealing.len() == 1 || a.database_url.is_none(),
        "--sealing both runs on fresh databases: drop --database-url (or use --backend postgres)"
    );
    let mut best: Vec<(bool, f64, f64)> = a.sealing.iter().map(|s| (*s, 0.0, 0.0)).collect();
    for _ in 0..a.rounds {
        for side in best.iter_mut() {
            let (rate, bytes) = one_run(&a, side.0).await?;
            side.1 = side.1.max(rate);
            side.2 = bytes;
        }
    }
    if best.len() == 2 {
        println!(
            "sealing: unsealed {:.0} changes/s, sealed {:.0} changes/s (sealed/unsealed {:.2}); \
             log bytes per change {:.0} -> {:.0}",
            best[0].1,
            best[1].1,
            best[1].1 / best[0].1,
            best[0].2,
            best[1].2
        );
    }
    Ok(())
}

/// One run on a fresh database: changes per second, and log payload bytes per change.
async fn one_run(a: &Args, sealed: bool) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let scratch = match a.postgres {
        true => Some(
            syncledger_test_support::ScratchDb::create(format!(
                "bench_sync_{}_{}",
                std::process::id(),
                sealed as u8
            ))
            .await,
        ),
        false => None,
    };
    let url = match &scratch {
        Some(db) => db.url.clone(),
        None => a
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display())),
    };
    let config = Arc::new(
        ExampleConfig {
            admin_token: "bench-admin-secret".into(),
            api_token: "bench-acme-secret".into(),
            ..ExampleConfig::default()
        }
        .parse(),
    );
    let key = sealed.then(syncledger_store::MasterKey::generate);
    let store = syncledger_cli::app::open_store_with_key(&url, Some(&config), key).await?;
    let crm = Arc::new(SimSystem::new("c"));
    let erp = Arc::new(SimSystem::new("E"));
    let pair = Pair {
        crm: Arc::new(Slow {
            sim: crm.clone(),
            latency: a.latency,
        }),
        erp: Arc::new(Slow {
            sim: erp.clone(),
            latency: a.latency,
        }),
    };
    let settings = EngineSettings {
        workers: a.workers,
        poll_interval: Duration::from_millis(20),
        ..Default::default()
    };
    let ledger = Ledger::new(store.clone(), config, Arc::new(pair), settings);
    for i in 0..a.changes {
        crm.user_create(
            "contacts",
            json!({"full_name": format!("Customer {i}"), "email": format!("c{i}@example.com")}),
        );
    }
    let stop = CancellationToken::new();
    let started = Instant::now();
    let workers = tokio::spawn({
        let (ledger, stop) = (ledger.clone(), stop.clone());
        async move { ledger.run_workers(stop).await }
    });
    loop {
        let delivered = deliver(&ledger, &crm, "crm", "crm-webhook-secret-01").await
            + deliver(&ledger, &erp, "erp", "erp-webhook-secret-01").await;
        let depth = store.count_rows(pending_queue::NAME, None, None).await?;
        if delivered == 0 && depth == 0 && erp.count("customers") == a.changes {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    stop.cancel();
    workers.await?;
    assert_eq!(
        crm.count("contacts"),
        a.changes,
        "no duplicate came back to the CRM"
    );
    let head = store.head().await?;
    let groups = store.group_commit_stats();

    println!(
        "group commit: {} transactions held {} appends ({:.1} per group); committer busy {:.2} s",
        groups.groups,
        groups.appends,
        groups.appends as f64 / groups.groups.max(1) as f64,
        groups.busy.as_secs_f64()
    );
    let bytes = log_bytes(&store, &url).await?;
    let table = events_table_bytes(&store, &url).await?;
    println!(
        "backend={} sealed={sealed} changes={} latency_ms={} workers={} elapsed_s={:.2} changes_per_s={:.0} events={} log_bytes_per_change={:.0} events_table_bytes_per_change={:.0} peak_rss_mib={:.0}",
        store.backend_name(),
        a.changes,
        a.latency.as_millis(),
        a.workers,
        elapsed.as_secs_f64(),
        a.changes as f64 / elapsed.as_secs_f64(),
        head.0,
        bytes / a.changes as f64,
        table / a.changes as f64,
        peak_rss_mib()
    );
    store.close().await;
    if let Some(db) = scratch {
        db.drop().await;
    }
    Ok((
        a.changes as f64 / elapsed.as_secs_f64(),
        bytes / a.changes as f64,
    ))
}

/// Bytes on disk of the `events` table with its indexes (every partition on PostgreSQL): what
/// an event costs beyond its payload (envelope, index entries, page fill).
async fn events_table_bytes(store: &syncledger_store::Store, url: &str) -> anyhow::Result<f64> {
    let n: i64 = if store.backend_name() == "sqlite" {
        let sql = "SELECT CAST(SUM(d.pgsize) AS BIGINT) FROM dbstat d \
                   JOIN sqlite_master m ON m.name = d.name WHERE m.tbl_name = 'events'";
        let pool = sqlx::SqlitePool::connect(url).await?;
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await?;
        pool.close().await;
        n
    } else {
        let sql = "SELECT CAST(SUM(pg_total_relation_size(c.oid)) AS BIGINT) FROM pg_class c \
                   WHERE c.oid = 'events'::regclass OR c.oid IN \
                   (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events'::regclass)";
        let pool = sqlx::PgPool::connect(url).await?;
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await?;
        pool.close().await;
        n
    };
    Ok(n as f64)
}

/// Payload bytes in the log, as the database stores them (text).
async fn log_bytes(store: &syncledger_store::Store, url: &str) -> anyhow::Result<f64> {
    let sql = "SELECT CAST(SUM(LENGTH(CAST(payload AS TEXT))) AS BIGINT) FROM events";
    let n: i64 = if store.backend_name() == "sqlite" {
        let pool = sqlx::SqlitePool::connect(url).await?;
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await?;
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(url).await?;
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await?;
        pool.close().await;
        n
    };
    Ok(n as f64)
}
