//! One scenario from the empty database to the drained backlog (see the crate doc for the
//! steps), and what it measured.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use syncledger_sim::{Op, SimSystem};

use crate::args::{Args, Backend};
use crate::load::{self, Intake};
use crate::observe::{DRAIN, OUTAGE, Sample, Watch, Watched};
use crate::stop::Stop;
use crate::truth::{Db, EventTypeSize, Relation};
use crate::world::{self, Database, Service};

/// Requests one system received, by kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requests {
    pub gets: usize,
    pub creates: usize,
    pub updates: usize,
    pub deletes: usize,
    pub lists: usize,
}

impl Requests {
    fn of(sim: &SimSystem) -> Requests {
        Requests {
            gets: sim.requests(Op::Get),
            creates: sim.requests(Op::Create),
            updates: sim.requests(Op::Update),
            deletes: sim.requests(Op::Delete),
            lists: sim.requests(Op::List),
        }
    }

    fn since(self, before: Requests) -> Requests {
        Requests {
            gets: self.gets - before.gets,
            creates: self.creates - before.creates,
            updates: self.updates - before.updates,
            deletes: self.deletes - before.deletes,
            lists: self.lists - before.lists,
        }
    }

    pub fn writes(&self) -> usize {
        self.creates + self.updates + self.deletes
    }

    pub fn total(&self) -> usize {
        self.gets + self.writes() + self.lists
    }
}

pub struct Outcome {
    /// Which binary ran (`--binary LABEL=PATH`).
    pub label: String,
    pub backend: Backend,
    pub processes: usize,
    pub workers: usize,
    pub latency_ms: u64,
    pub rate_limit: Option<f64>,
    pub webhooks: usize,
    pub records: usize,
    pub senders: usize,
    pub ceiling: Option<f64>,
    pub intake: Intake,
    pub outage_started: f64,
    pub drain_started: f64,
    /// Seconds from the systems' return to an empty queue; `None`: cut off at the timeout.
    pub drain: Option<f64>,
    pub drain_elapsed: f64,
    pub crm_drain: Requests,
    pub erp_drain: Requests,
    pub echoes: usize,
    pub samples: Vec<Sample>,
    pub status_ms: [Vec<f64>; 3],
    pub relations: Vec<Relation>,
    pub event_types: Vec<EventTypeSize>,
    pub events: i64,
    pub final_records: (usize, usize),
    /// `--archive-share`: what archiving the oldest part of the drained log gave back.
    pub archived: Option<crate::archive::Archived>,
}

impl Outcome {
    pub fn phase_starts(&self) -> Vec<(f64, &'static str)> {
        vec![
            (0.0, "intake"),
            (self.outage_started, "outage"),
            (self.drain_started, "drain"),
        ]
    }
}

pub async fn scenario(
    args: &Args,
    (label, bin): &(String, PathBuf),
    processes: usize,
    ceiling: bool,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let folder = dir.path().to_path_buf();
    let db = Database::create(args, dir).await?;
    let latency = Duration::from_millis(args.latency_ms);
    let crm = world::start_sim("c", latency).await?;
    let erp = world::start_sim("E", latency).await?;
    let config = folder.join("syncledger.toml");
    std::fs::write(
        &config,
        world::config_toml(args, &db.url, &crm.url, &erp.url),
    )?;
    let migrated = Command::new(bin)
        .args(["migrate", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .status()?;
    anyhow::ensure!(migrated.success(), "syncledger migrate failed");
    let truth = Db::connect(db.backend, &db.url).await?;

    let ceiling = if ceiling {
        eprintln!("measuring the raw ceiling ({} webhooks)", args.webhooks);
        Some(crate::ceiling::measure(&truth, args.webhooks, args.records).await?)
    } else {
        None
    };

    let mut services = Vec::new();
    for p in 0..processes {
        let log = folder.join(format!("serve-{p}.log"));
        services.push(Service::spawn(bin, &config, &log).await?);
    }
    let bases: Vec<String> = services.iter().map(|s| s.base.clone()).collect();
    wait_for_initial_sync(&bases[0]).await?;

    crm.sim.set_down(Some(503));
    erp.sim.set_down(Some(503));
    eprintln!(
        "generating {} webhooks for {} records",
        args.webhooks, args.records
    );
    let hooks = Arc::new(load::generate(
        &crm.sim,
        &erp.sim,
        args.records,
        args.webhooks,
    ));

    let accepted = Arc::new(AtomicUsize::new(0));
    let watched = Arc::new(Watched {
        db: truth.clone(),
        pids: services.iter().map(|s| s.pid).collect(),
        base: bases[0].clone(),
        crm: crm.sim.clone(),
        erp: erp.sim.clone(),
        accepted: accepted.clone(),
        started: Instant::now(),
        db_name: db.name.clone(),
    });
    let watch = Watch::start(watched.clone());
    eprintln!("posting with {} senders", args.senders);
    let intake = load::post_all(hooks.clone(), &bases, args.senders, accepted).await;
    drop(hooks);
    let outage_started = watched.started.elapsed().as_secs_f64();
    watch.set_phase(OUTAGE);
    eprintln!(
        "intake: {:.0} webhooks/s; outage for {} s",
        args.webhooks as f64 / intake.elapsed.as_secs_f64(),
        args.outage_s
    );
    tokio::time::sleep(Duration::from_secs(args.outage_s)).await;

    let (crm_before, erp_before) = (Requests::of(&crm.sim), Requests::of(&erp.sim));
    let drain_started = watched.started.elapsed().as_secs_f64();
    let drain_clock = Instant::now();
    watch.set_phase(DRAIN);
    crm.sim.set_down(None);
    erp.sim.set_down(None);
    let echoes = Arc::new(AtomicUsize::new(0));
    let stop_echoes = Stop::default();
    let deliverer = tokio::spawn(load::deliver_echoes(
        crm.sim.clone(),
        erp.sim.clone(),
        bases[0].clone(),
        echoes.clone(),
        stop_echoes.clone(),
    ));
    let drain = wait_for_drain(
        &truth,
        &crm.sim,
        &erp.sim,
        args.records,
        Duration::from_secs(args.drain_timeout_s),
    )
    .await?
    .then(|| drain_clock.elapsed().as_secs_f64());
    let drain_elapsed = drain_clock.elapsed().as_secs_f64();
    let crm_drain = Requests::of(&crm.sim).since(crm_before);
    let erp_drain = Requests::of(&erp.sim).since(erp_before);
    tokio::time::sleep(Duration::from_secs(2)).await; // one more sample of the drained state
    watch.stop.set();
    stop_echoes.set();
    let _ = deliverer.await;
    for service in services {
        service.stop();
    }
    let samples = watch.samples.lock().unwrap().clone();
    let status_ms = watch.status_ms.lock().unwrap().clone();

    truth.vacuum().await?;
    let relations = truth.relations().await?;
    let event_types = truth.event_types().await?;
    let events = event_types.iter().map(|e| e.count).sum();
    let archived = match args.archive_share {
        Some(percent) => {
            Some(crate::archive::run(&truth, bin, &config, &folder, percent, &relations).await?)
        }
        None => None,
    };
    truth.close().await;
    db.drop_database().await;

    Ok(Outcome {
        label: label.clone(),
        backend: args.backend,
        processes,
        workers: args.workers,
        latency_ms: args.latency_ms,
        rate_limit: args.rate_limit,
        webhooks: args.webhooks,
        records: args.records,
        senders: args.senders,
        ceiling,
        intake,
        outage_started,
        drain_started,
        drain,
        drain_elapsed,
        crm_drain,
        erp_drain,
        echoes: echoes.load(Ordering::Relaxed),
        samples,
        status_ms,
        relations,
        event_types,
        events,
        final_records: (crm.sim.count("contacts"), erp.sim.count("customers")),
        archived,
    })
}

/// The service lists both (empty) systems once on its first start; the outage begins after.
async fn wait_for_initial_sync(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/metrics")).send().await {
            let text = r.text().await.unwrap_or_default();
            let completed = text.lines().any(|l| {
                l.starts_with("syncledger_initial_sync_state")
                    && l.contains("state=\"completed\"")
                    && l.ends_with(" 1")
            });
            if completed {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the initial sync did not complete within a minute")
}

/// Until the queue is empty, no webhook is left to deliver and both systems hold every record
/// (their own half and the half the sync created), three checks in a row; `false` at timeout.
async fn wait_for_drain(
    truth: &Db,
    crm: &SimSystem,
    erp: &SimSystem,
    records: usize,
    timeout: Duration,
) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut quiet = 0;
    while quiet < 3 {
        if Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (depth, _) = truth.pending().await?;
        let done = depth == 0
            && crm.pending_webhooks().is_empty()
            && erp.pending_webhooks().is_empty()
            && crm.count("contacts") == records
            && erp.count("customers") == records;
        quiet = if done { quiet + 1 } else { 0 };
    }
    Ok(true)
}
