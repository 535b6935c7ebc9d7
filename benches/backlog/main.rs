//! The backlog benchmark (issue 18): the seed's disaster, a million webhooks queued while both
//! target systems are down, then the drain once they come back.
//!
//! ```sh
//! cargo bench -p syncledger --bench backlog -- --webhooks 1000000 --records 200000 \
//!     --senders 64 --backend sqlite|postgres [--workers 32] [--rate-limit 50] \
//!     [--processes 1,2] [--latency-ms 50] [--outage-s 5] [--no-ceiling] \
//!     [--archive-share 80] [--append docs/benchmarks.md] [--chart docs/backlog.svg]
//!     [--csv samples.csv]
//! ```
//!
//! One run: two simulated systems over HTTP (CRM and ERP), a fresh database, the raw ceiling
//! of intake measured on it with plain sqlx ([`ceiling`]), then `syncledger serve` (the release
//! binary, as one or more child processes) on it. Once its initial sync of the empty systems
//! is done, both systems go down (every request answered 503), users make the records and
//! their changes ([`load`]), and `--senders` concurrent senders post every webhook, one per
//! request. The systems stay down `--outage-s` more seconds, then come back, and the backlog
//! drains while the webhooks of the sync's own writes (echoes) are delivered. [`observe`]
//! samples memory, the gauges and the truth every second throughout; [`report`] prints the
//! figures (and appends them to `--append`), [`chart`] draws them.
//!
//! Figures, never assertions: a bench reports, the tests check behaviour.

mod archive;
mod args;
mod ceiling;
mod chart;
mod load;
mod observe;
mod report;
mod run;
mod stop;
mod truth;
mod world;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args::parse();
    let mut outcomes = Vec::new();
    for round in 0..args.rounds {
        for binary in &args.binaries {
            for (i, processes) in args.processes.clone().into_iter().enumerate() {
                let ceiling = round == 0 && i == 0 && args.ceiling && outcomes.is_empty();
                eprintln!(
                    "round {}: {} with {processes} process(es)",
                    round + 1,
                    binary.0
                );
                let outcome = run::scenario(&args, binary, processes, ceiling).await?;
                eprintln!("{}", report::section_of_run(&outcome));
                outcomes.push(outcome);
            }
        }
    }
    let text = report::section(&args, &outcomes);
    println!("{text}");
    if let Some(path) = &args.append {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "\n{text}")?;
    }
    if let (Some(path), Some(last)) = (&args.chart, outcomes.last()) {
        let title = format!(
            "{} backlog: {} webhooks, {} records, {} process(es), {} workers",
            last.backend.name(),
            last.webhooks,
            last.records,
            last.processes,
            last.workers
        );
        chart::draw(path, &title, &last.samples, &last.phase_starts())?;
        println!("chart: {}", path.display());
    }
    if let (Some(path), Some(last)) = (&args.csv, outcomes.last()) {
        std::fs::write(path, report::csv(last))?;
    }
    Ok(())
}
