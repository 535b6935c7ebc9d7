//! Watching a run once a second: each process's RSS, the `/metrics` gauges and GraphQL's
//! `syncStatus` next to the truth read from the database (before and after each gauge, so a
//! gauge is judged against the range the truth moved through while it was read), and the
//! requests the simulated systems have received. A second task asks `syncStatus` ten times a
//! second for its latency.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use syncledger_sim::{Op, SimSystem};

use crate::stop::Stop;
use crate::truth::Db;
use crate::world::{API_TOKEN, TENANT, cpu_seconds, database_cpu_seconds, rss_mib};

pub const INTAKE: u8 = 0;
pub const OUTAGE: u8 = 1;
pub const DRAIN: u8 = 2;
pub const PHASES: [&str; 3] = ["intake", "outage", "drain"];

#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub t: f64,
    pub phase: u8,
    /// Per process, MiB.
    pub rss: Vec<f64>,
    /// CPU seconds used so far, all processes together.
    pub cpu: f64,
    /// CPU seconds used so far by the PostgreSQL backends of the run's database (0 on SQLite,
    /// whose work is inside the service's processes).
    pub db_cpu: f64,
    /// The truth before and after the gauges were read.
    pub depth: (i64, i64),
    pub age: f64,
    pub metric_depth: Option<f64>,
    pub metric_age: Option<f64>,
    pub status_depth: Option<f64>,
    pub status_age: Option<f64>,
    /// Webhooks answered 202 so far (the senders' count).
    pub accepted: usize,
    /// Requests received by both systems so far: GETs, and writes (POST, PATCH, DELETE).
    pub gets: usize,
    pub writes: usize,
}

pub struct Watch {
    pub samples: Arc<Mutex<Vec<Sample>>>,
    /// `syncStatus` latencies in ms, by phase.
    pub status_ms: Arc<Mutex<[Vec<f64>; 3]>>,
    pub phase: Arc<AtomicU8>,
    pub stop: Stop,
}

pub struct Watched {
    pub db: Db,
    pub pids: Vec<u32>,
    pub base: String,
    pub crm: Arc<SimSystem>,
    pub erp: Arc<SimSystem>,
    pub accepted: Arc<AtomicUsize>,
    pub started: Instant,
    /// PostgreSQL's name of the run's database, to count its backends' CPU.
    pub db_name: Option<String>,
}

impl Watch {
    pub fn start(w: Arc<Watched>) -> Watch {
        let watch = Watch {
            samples: Arc::default(),
            status_ms: Arc::default(),
            phase: Arc::new(AtomicU8::new(INTAKE)),
            stop: Stop::default(),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        tokio::spawn({
            let (w, samples, phase, stop, client) = (
                w.clone(),
                watch.samples.clone(),
                watch.phase.clone(),
                watch.stop.clone(),
                client.clone(),
            );
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                while !stop.is_set() {
                    tick.tick().await;
                    let sample = sample(&w, &client, phase.load(Ordering::SeqCst)).await;
                    samples.lock().unwrap().push(sample);
                }
            }
        });
        tokio::spawn({
            let (w, status_ms, phase, stop) = (
                w.clone(),
                watch.status_ms.clone(),
                watch.phase.clone(),
                watch.stop.clone(),
            );
            async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                while !stop.is_set() {
                    tick.tick().await;
                    let asked = Instant::now();
                    if sync_status(&client, &w.base).await.is_some() {
                        let ms = asked.elapsed().as_secs_f64() * 1000.0;
                        status_ms.lock().unwrap()[phase.load(Ordering::SeqCst) as usize].push(ms);
                    }
                }
            }
        });
        watch
    }

    pub fn set_phase(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }
}

async fn sample(w: &Watched, client: &reqwest::Client, phase: u8) -> Sample {
    let t = w.started.elapsed().as_secs_f64();
    let before = w.db.pending().await.ok();
    let metrics = scrape(client, &w.base).await;
    let status = sync_status(client, &w.base).await;
    let after = w.db.pending().await.ok();
    let due = before.and_then(|b| b.1).or(after.and_then(|a| a.1));
    let age = due.map_or(0.0, |at| {
        (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
    });
    let requests = |op| w.crm.requests(op) + w.erp.requests(op);
    Sample {
        t,
        phase,
        rss: w.pids.iter().map(|pid| rss_mib(*pid)).collect(),
        cpu: w.pids.iter().map(|pid| cpu_seconds(*pid)).sum(),
        db_cpu: w.db_name.as_deref().map_or(0.0, database_cpu_seconds),
        depth: (before.map_or(-1, |b| b.0), after.map_or(-1, |a| a.0)),
        age,
        metric_depth: metrics
            .as_deref()
            .and_then(|m| metric(m, "syncledger_queue_depth")),
        metric_age: metrics
            .as_deref()
            .and_then(|m| metric(m, "syncledger_oldest_pending_age_seconds")),
        status_depth: status.as_ref().and_then(|s| s["queueDepth"].as_f64()),
        status_age: status
            .as_ref()
            .and_then(|s| s["oldestPendingAgeSeconds"].as_f64()),
        accepted: w.accepted.load(Ordering::Relaxed),
        gets: requests(Op::Get),
        writes: requests(Op::Create) + requests(Op::Update) + requests(Op::Delete),
    }
}

async fn scrape(client: &reqwest::Client, base: &str) -> Option<String> {
    let r = client.get(format!("{base}/metrics")).send().await.ok()?;
    r.text().await.ok()
}

/// The value of an unlabelled series in a Prometheus scrape.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        (series == name).then(|| value.parse().ok()).flatten()
    })
}

async fn sync_status(client: &reqwest::Client, base: &str) -> Option<Value> {
    let query = json!({"query": format!(
        "{{ syncStatus(tenant: \"{TENANT}\") {{ queueDepth oldestPendingAgeSeconds }} }}"
    )});
    let r = client
        .post(format!("{base}/graphql"))
        .bearer_auth(API_TOKEN)
        .json(&query)
        .send()
        .await
        .ok()?;
    let body: Value = r.json().await.ok()?;
    let status = body["data"]["syncStatus"].clone();
    (!status.is_null()).then_some(status)
}
