//! The figures of a run, as text for the terminal and a markdown section for
//! docs/benchmarks.md (date, machine, command, and every ratio side by side).

use std::fmt::Write;

use crate::args::{Args, Backend};
use crate::observe::{DRAIN, INTAKE, OUTAGE, PHASES, Sample};
use crate::run::Outcome;

/// A gauge's reading in a sample, if it answered.
type Gauge = Box<dyn Fn(&Sample) -> Option<f64>>;

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// How far a gauge read outside the range the truth moved through while it was read, relative
/// to the truth; only where the truth is at least `floor` (a relative error of a handful of rows
/// says nothing).
fn depth_error(
    samples: &[Sample],
    gauge: impl Fn(&Sample) -> Option<f64>,
    floor: i64,
) -> (f64, usize) {
    let mut worst: f64 = 0.0;
    let mut n = 0;
    for s in samples {
        let (Some(g), lo, hi) = (gauge(s), s.depth.0.min(s.depth.1), s.depth.0.max(s.depth.1))
        else {
            continue;
        };
        if lo < 0 || hi < floor {
            continue;
        }
        n += 1;
        let off = if g < lo as f64 {
            lo as f64 - g
        } else if g > hi as f64 {
            g - hi as f64
        } else {
            0.0
        };
        worst = worst.max(off / hi as f64);
    }
    (worst, n)
}

/// The oldest age a gauge gave against the truth's, relative, where the truth is >= 10 s (the
/// reads are tens of milliseconds apart).
fn age_error(samples: &[Sample], gauge: impl Fn(&Sample) -> Option<f64>) -> (f64, usize) {
    let mut worst: f64 = 0.0;
    let mut n = 0;
    for s in samples {
        let Some(g) = gauge(s) else { continue };
        if s.age < 10.0 {
            continue;
        }
        n += 1;
        worst = worst.max((g - s.age).abs() / s.age);
    }
    (worst, n)
}

pub fn rss_by_phase(o: &Outcome) -> [(f64, f64, f64); 3] {
    let mut out = [(f64::NAN, 0.0, f64::NAN); 3];
    for phase in [INTAKE, OUTAGE, DRAIN] {
        let v: Vec<f64> = o
            .samples
            .iter()
            .filter(|s| s.phase == phase)
            .map(|s| s.rss.iter().cloned().fold(0.0, f64::max))
            .collect();
        if let (Some(first), Some(last)) = (v.first(), v.last()) {
            out[phase as usize] = (*first, v.iter().cloned().fold(0.0, f64::max), *last);
        }
    }
    out
}

/// Writes per second over the drain, in tenths of it.
fn drain_rates(o: &Outcome) -> Vec<f64> {
    let drain: Vec<&Sample> = o.samples.iter().filter(|s| s.phase == DRAIN).collect();
    if drain.len() < 3 {
        return vec![];
    }
    let tenths = 10.min(drain.len() - 1);
    let step = (drain.len() - 1) as f64 / tenths as f64;
    (0..tenths)
        .map(|k| {
            let a = drain[(k as f64 * step).round() as usize];
            let b = drain[((k + 1) as f64 * step).round() as usize];
            (b.writes - a.writes) as f64 / (b.t - a.t).max(1e-3)
        })
        .collect()
}

pub fn drain_rate(o: &Outcome) -> f64 {
    o.webhooks as f64 / o.drain.unwrap_or(o.drain_elapsed)
}

fn bytes(o: &Outcome) -> (i64, Vec<(String, i64, i64)>) {
    let mut tables: Vec<(String, i64, i64)> = Vec::new();
    for r in &o.relations {
        let entry = match tables.iter_mut().find(|t| t.0 == r.table) {
            Some(e) => e,
            None => {
                tables.push((r.table.clone(), 0, 0));
                tables.last_mut().unwrap()
            }
        };
        if r.is_index {
            entry.2 += r.bytes;
        } else {
            entry.1 += r.bytes;
        }
    }
    tables.sort_by_key(|t| -(t.1 + t.2));
    (tables.iter().map(|t| t.1 + t.2).sum(), tables)
}

pub fn section_of_run(o: &Outcome) -> String {
    let mut s = String::new();
    let lat = &o.intake.latencies_us;
    let ms = |p: f64| {
        if lat.is_empty() {
            f64::NAN
        } else {
            lat[((lat.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
        }
    };
    let intake_rate = o.webhooks as f64 / o.intake.elapsed.as_secs_f64();
    let _ = writeln!(
        s,
        "#### {} | {} | {} webhooks, {} records | {} process(es) x {} workers | latency {} ms | rate limit {}",
        o.label,
        o.backend.name(),
        o.webhooks,
        o.records,
        o.processes,
        o.workers,
        o.latency_ms,
        o.rate_limit
            .map_or("none".into(), |r| format!("{r} req/s per system"))
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "| measurement | figure | target |");
    let _ = writeln!(s, "|---|---|---|");
    match o.ceiling {
        Some(c) => {
            let _ = writeln!(
                s,
                "| intake, {} senders | **{intake_rate:.0} webhooks/s** vs raw ceiling {c:.0}/s = **{:.0}%** ({} refusals retried) | >= 40% |",
                o.senders,
                100.0 * intake_rate / c,
                o.intake.refused
            );
        }
        None => {
            let _ = writeln!(
                s,
                "| intake, {} senders | **{intake_rate:.0} webhooks/s** ({} refusals retried) | |",
                o.senders, o.intake.refused
            );
        }
    }
    let _ = writeln!(
        s,
        "| latency of the 202 | p50 {:.1} ms, **p99 {:.1} ms**, max {:.0} ms | p99 < 50 ms |",
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );
    let rss = rss_by_phase(o);
    let _ = writeln!(
        s,
        "| RSS (MiB, per process: first / max / last) | intake {:.0} / {:.0} / {:.0}; outage {:.0} / {:.0} / {:.0}; drain {:.0} / {:.0} / {:.0} | never above 300 MB, flat |",
        rss[0].0, rss[0].1, rss[0].2, rss[1].0, rss[1].1, rss[1].2, rss[2].0, rss[2].1, rss[2].2
    );
    let drain = match o.drain {
        Some(d) => format!("**{d:.0} s** ({:.0} webhooks/s settled)", drain_rate(o)),
        None => {
            let drain: Vec<&Sample> = o.samples.iter().filter(|s| s.phase == DRAIN).collect();
            let (first, last) = (
                drain.first().map_or(0, |s| s.depth.0),
                drain.last().map_or(0, |s| s.depth.1),
            );
            format!(
                "**cut off after {:.0} s**: queue {first} -> {last} rows ({:.0} rows/s net)",
                o.drain_elapsed,
                (first - last) as f64 / o.drain_elapsed
            )
        }
    };
    let _ = writeln!(s, "| drain (systems back -> queue empty) | {drain} | |");
    let cpu = |phase: u8| {
        let v: Vec<&Sample> = o.samples.iter().filter(|s| s.phase == phase).collect();
        match (v.first(), v.last()) {
            (Some(a), Some(b)) => b.cpu - a.cpu,
            _ => f64::NAN,
        }
    };
    let settled = settled(o);
    let drain_cpu = cpu(DRAIN);
    let _ = writeln!(
        s,
        "| service CPU (all processes) | intake {:.0} s, outage {:.0} s, drain {:.0} s = **{:.0} backlog webhooks settled and {:.0} writes per CPU second** in the drain | |",
        cpu(INTAKE),
        cpu(OUTAGE),
        drain_cpu,
        settled / drain_cpu,
        (o.crm_drain.writes() + o.erp_drain.writes()) as f64 / drain_cpu
    );
    if o.backend == Backend::Postgres {
        let both = drain_cpu + database_cpu(o, DRAIN);
        let _ = writeln!(
            s,
            "| service + database CPU in the drain | {both:.0} s = **{:.0} backlog webhooks settled per CPU second** | |",
            settled / both
        );
    }
    let rates: Vec<String> = drain_rates(o).iter().map(|r| format!("{r:.0}")).collect();
    let _ = writeln!(
        s,
        "| writes/s over the drain, by tenths | {} | |",
        rates.join(", ")
    );
    let (c, e) = (o.crm_drain, o.erp_drain);
    let gets = c.gets + e.gets;
    let writes = c.writes() + e.writes();
    let _ = writeln!(
        s,
        "| requests during the drain (counted at the systems) | {gets} GETs, {writes} writes ({} POST, {} PATCH), {} echo webhooks delivered | |",
        c.creates + e.creates,
        c.updates + e.updates,
        o.echoes
    );
    let _ = writeln!(
        s,
        "| per record | **{:.2} fetches**, **{:.2} writes** | one fetch, one write per target |",
        gets as f64 / o.records as f64,
        writes as f64 / o.records as f64
    );
    let _ = writeln!(
        s,
        "| fetches per backlog webhook settled | **{:.2}** ({settled:.0} settled) | <= 0.3 (coalescing) |",
        gets as f64 / settled
    );
    if let Some(rate) = o.rate_limit {
        let secs = o.drain.unwrap_or(o.drain_elapsed);
        let used = |r: crate::run::Requests| r.total() as f64 / (secs * rate);
        let steady = steady_quota(o, rate);
        let _ = writeln!(
            s,
            "| quota used over the drain | crm {:.0}%, erp {:.0}% of {rate} req/s; steady part (first 90% of the drain) {:.0}% | >= 90% |",
            100.0 * used(c),
            100.0 * used(e),
            100.0 * steady
        );
    }
    for (name, gauge) in [
        (
            "`/metrics` syncledger_queue_depth",
            Box::new(|s: &Sample| s.metric_depth) as Gauge,
        ),
        (
            "`syncStatus.queueDepth`",
            Box::new(|s: &Sample| s.status_depth),
        ),
    ] {
        let (worst, n) = depth_error(&o.samples, gauge, 1000);
        let _ = writeln!(
            s,
            "| {name} vs rows counted in the database | worst {:.3}% off over {n} samples | within 1% |",
            100.0 * worst
        );
    }
    for (name, gauge) in [
        (
            "`/metrics` oldest_pending_age_seconds",
            Box::new(|s: &Sample| s.metric_age) as Gauge,
        ),
        (
            "`syncStatus.oldestPendingAgeSeconds`",
            Box::new(|s: &Sample| s.status_age),
        ),
    ] {
        let (worst, n) = age_error(&o.samples, gauge);
        let _ = writeln!(
            s,
            "| {name} vs the oldest row's age | worst {:.3}% off over {n} samples | within 1% |",
            100.0 * worst
        );
    }
    if let Some(end) = o.samples.iter().rev().find(|s| s.phase == OUTAGE) {
        let _ = writeln!(
            s,
            "| queue rows at the end of the outage vs webhooks accepted | {} vs {} | equal |",
            end.depth.1, end.accepted
        );
    }
    let mut status = Vec::new();
    for phase in [INTAKE, OUTAGE, DRAIN] {
        let v = sorted(o.status_ms[phase as usize].clone());
        status.push(format!(
            "{} p50 {:.1} / p99 {:.1} ms (n={})",
            PHASES[phase as usize],
            pct(&v, 0.5),
            pct(&v, 0.99),
            v.len()
        ));
    }
    let _ = writeln!(
        s,
        "| `syncStatus` latency, 10 asks/s | {} | p99 < 50 ms during the drain |",
        status.join("; ")
    );
    let (total, tables) = bytes(o);
    let observed = o.webhooks + o.echoes;
    let _ = writeln!(
        s,
        "| storage at the end | {:.1} MiB for {} events = {:.0} bytes/event; **{:.0} bytes and {:.1} events per observed change** ({observed} = backlog + echoes); {:.0} bytes and {:.1} events per target write | <= 3 KB per synced change |",
        total as f64 / 1048576.0,
        o.events,
        total as f64 / o.events.max(1) as f64,
        total as f64 / observed as f64,
        o.events as f64 / observed as f64,
        total as f64 / writes.max(1) as f64,
        o.events as f64 / writes.max(1) as f64
    );
    let top: Vec<String> = tables
        .iter()
        .take(8)
        .map(|(t, heap, idx)| {
            format!(
                "{t} {:.1} + {:.1} idx MiB",
                *heap as f64 / 1048576.0,
                *idx as f64 / 1048576.0
            )
        })
        .collect();
    let _ = writeln!(s, "| by table (data + indexes) | {} | |", top.join("; "));
    let types: Vec<String> = o
        .event_types
        .iter()
        .map(|e| {
            format!(
                "{} {} x {:.0} B",
                e.event_type,
                e.count,
                e.payload_bytes as f64 / e.count.max(1) as f64
            )
        })
        .collect();
    let _ = writeln!(
        s,
        "| events by type (count x mean payload) | {} | |",
        types.join("; ")
    );
    let _ = writeln!(
        s,
        "| records at the end (crm contacts, erp customers) | {} / {} (expected {} each) | |",
        o.final_records.0, o.final_records.1, o.records
    );
    s
}

/// The share of both systems' quota used per second during the first 90% of the drain.
fn steady_quota(o: &Outcome, rate: f64) -> f64 {
    let drain: Vec<&Sample> = o.samples.iter().filter(|s| s.phase == DRAIN).collect();
    let secs = o.drain.unwrap_or(o.drain_elapsed);
    let end = drain
        .iter()
        .position(|s| s.t - o.drain_started > 0.9 * secs)
        .unwrap_or(drain.len());
    if end < 2 {
        return f64::NAN;
    }
    let (a, b) = (drain[0], drain[end - 1]);
    let requests = (b.gets + b.writes - a.gets - a.writes) as f64;
    requests / ((b.t - a.t) * 2.0 * rate)
}

pub fn section(args: &Args, outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1048576.0);
    let command: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let _ = writeln!(
        s,
        "### Backlog run {date}: {} ({} webhooks)\n",
        args.backend.name(),
        args.webhooks
    );
    let _ = writeln!(
        s,
        "Machine: {cores} cores, {mem:.0} GiB RAM, load average at the end {}. Command: \
         `cargo bench -p syncledger --bench backlog -- {}`.\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        command.join(" ")
    );
    for o in outcomes {
        s.push_str(&section_of_run(o));
        s.push('\n');
    }
    if args.binaries.len() > 1 || args.rounds > 1 {
        s.push_str(&side_by_side(outcomes));
    }
    if outcomes.iter().any(|o| o.archived.is_some()) {
        s.push_str(&archived(outcomes));
    }
    if outcomes.len() == 2 && args.binaries.len() == 1 && outcomes[0].backend == Backend::Postgres {
        let (one, two) = (&outcomes[0], &outcomes[1]);
        let _ = writeln!(
            s,
            "**{} processes vs {}**, {} workers each, {} ms latency: drain {:.0} vs {:.0} webhooks/s = **{:.2}x** (target >= 1.7x).\n",
            two.processes,
            one.processes,
            one.workers,
            one.latency_ms,
            drain_rate(two),
            drain_rate(one),
            drain_rate(two) / drain_rate(one)
        );
    }
    s
}

pub fn csv(o: &Outcome) -> String {
    let mut s = String::from(
        "t,phase,rss_mib,cpu_s,depth_before,depth_after,age_s,metric_depth,metric_age,status_depth,status_age,accepted,gets,writes\n",
    );
    for x in &o.samples {
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        let _ = writeln!(
            s,
            "{:.2},{},{:.1},{:.2},{},{},{:.2},{},{},{},{},{},{},{}",
            x.t,
            PHASES[x.phase as usize],
            x.rss.iter().sum::<f64>(),
            x.cpu,
            x.depth.0,
            x.depth.1,
            x.age,
            f(x.metric_depth),
            f(x.metric_age),
            f(x.status_depth),
            f(x.status_age),
            x.accepted,
            x.gets,
            x.writes
        );
    }
    s
}

/// Backlog rows the drain settled. A drain cut off before the end has worked only part of the
/// backlog: count the rows it settled, not every webhook.
fn settled(o: &Outcome) -> f64 {
    match o.drain {
        Some(_) => o.webhooks as f64,
        None => {
            let drain: Vec<&Sample> = o.samples.iter().filter(|s| s.phase == DRAIN).collect();
            let first = drain.first().map_or(0, |s| s.depth.0);
            let last = drain.last().map_or(0, |s| s.depth.1);
            (first - last).max(1) as f64
        }
    }
}

/// CPU seconds the run's PostgreSQL backends used in `phase` (0 on SQLite).
fn database_cpu(o: &Outcome, phase: u8) -> f64 {
    let v: Vec<&Sample> = o.samples.iter().filter(|s| s.phase == phase).collect();
    match (v.first(), v.last()) {
        (Some(a), Some(b)) => b.db_cpu - a.db_cpu,
        _ => f64::NAN,
    }
}

/// Per-change and per-CPU-second figures of every run, one row each, in the order they ran:
/// what compares across builds measured in one window (wall-clock rates do not).
pub fn side_by_side(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "**Side by side** (one row per run, in the order run; bytes and events per synced change \
         are per target write, which is one per record when each record changes once):\n"
    );
    let _ = writeln!(
        s,
        "| build | backend | bytes per synced change | events per synced change | backlog rows settled per CPU second (service) | (service + database) | drain |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for o in outcomes {
        let writes = (o.crm_drain.writes() + o.erp_drain.writes()).max(1) as f64;
        let (total, _) = bytes(o);
        let drain: Vec<&Sample> = o.samples.iter().filter(|s| s.phase == DRAIN).collect();
        let (service, database) = match (drain.first(), drain.last()) {
            (Some(a), Some(b)) => (b.cpu - a.cpu, b.db_cpu - a.db_cpu),
            _ => (f64::NAN, f64::NAN),
        };
        let settled = settled(o);
        let with_db = if o.backend == Backend::Postgres {
            format!("{:.0}", settled / (service + database))
        } else {
            "same (in process)".into()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.1} | {:.0} | {with_db} | {} |",
            o.label,
            o.backend.name(),
            total as f64 / writes,
            o.events as f64 / writes,
            settled / service,
            match o.drain {
                Some(d) => format!("{d:.0} s"),
                None => "cut off".into(),
            }
        );
    }
    s.push('\n');
    s
}

/// `--archive-share`: per run, what archiving the drained log's oldest part gave back.
pub fn archived(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "**Archiving after the drain** (`syncledger archive`, service stopped; the share is the \
         archived events' part of the log's tables and indexes; the fall is the whole live \
         database before minus after, snapshots included):\n"
    );
    let _ = writeln!(
        s,
        "| build | backend | events archived | of | live database before | after | fall | archived events' share | fall / share | snapshots (rows, bytes) | segments | seconds |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mib = |b: f64| format!("{:.1} MiB", b / 1048576.0);
    for o in outcomes {
        let Some(a) = &o.archived else { continue };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | **{:.0}%** | {}, {} | {} ({:.0} B per event) | {:.1} |",
            o.label,
            o.backend.name(),
            a.archived,
            a.events_before,
            mib(a.live_before as f64),
            mib(a.live_after as f64),
            mib(a.fall() as f64),
            mib(a.share()),
            a.fall_of_share() * 100.0,
            a.snapshots,
            mib(a.snapshot_bytes as f64),
            mib(a.segment_bytes as f64),
            a.segment_bytes as f64 / a.archived.max(1) as f64,
            a.seconds,
        );
    }
    s.push('\n');
    s
}
