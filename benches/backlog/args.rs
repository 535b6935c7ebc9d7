//! The bench's flags. Sizes are flags so the same command runs at 20,000 webhooks while
//! developing and at 1,000,000 once per backend.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Args {
    pub webhooks: usize,
    pub records: usize,
    pub senders: usize,
    pub backend: Backend,
    /// The server for `--backend postgres`; each run creates and drops its own database.
    pub postgres: String,
    pub workers: usize,
    /// `requests_per_second` of both targets' `rate_limit` (burst 10); none by default.
    pub rate_limit: Option<f64>,
    /// Runs one scenario per entry, each with its own database: `--processes 1,2` compares.
    pub processes: Vec<usize>,
    pub latency_ms: u64,
    /// How long the targets stay down after the last webhook is accepted.
    pub outage_s: u64,
    /// The drain is cut off (and reported as such) after this long.
    pub drain_timeout_s: u64,
    /// Measure the raw sqlx ceiling before the service starts.
    pub ceiling: bool,
    /// Append the report to this markdown file (e.g. docs/benchmarks.md).
    pub append: Option<PathBuf>,
    /// Write the chart of the (last) run here (SVG).
    pub chart: Option<PathBuf>,
    /// Keep the sample series as CSV here.
    pub csv: Option<PathBuf>,
    /// The `syncledger` binaries to run, by label: `--binary before=/path/syncledger` (repeat
    /// the flag). Each round runs every binary once, in turn, on a database of its own, so two
    /// builds (e.g. two event formats) are compared side by side in one window. Default: this
    /// build alone.
    pub binaries: Vec<(String, PathBuf)>,
    /// How many times each binary runs (alternating).
    pub rounds: usize,
    /// After the drain, archive the oldest this-many percent of the log and report what the
    /// live database gave back (`archive.rs`).
    pub archive_share: Option<u64>,
}

pub fn parse() -> Args {
    let mut a = Args {
        webhooks: 20_000,
        records: 4_000,
        senders: 64,
        backend: Backend::Sqlite,
        postgres: std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        workers: 32,
        rate_limit: None,
        processes: vec![1],
        latency_ms: 0,
        outage_s: 5,
        drain_timeout_s: 3600,
        ceiling: true,
        append: None,
        chart: None,
        csv: None,
        binaries: Vec::new(),
        rounds: 1,
        archive_share: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let flag = argv[i].as_str();
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        let number = |what: &str| -> u64 {
            value
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{what} takes a number, got {value:?}"))
        };
        match flag {
            "--webhooks" => a.webhooks = number(flag) as usize,
            "--records" => a.records = number(flag) as usize,
            "--senders" => a.senders = number(flag) as usize,
            "--workers" => a.workers = number(flag) as usize,
            "--latency-ms" => a.latency_ms = number(flag),
            "--outage-s" => a.outage_s = number(flag),
            "--drain-timeout-s" => a.drain_timeout_s = number(flag),
            "--rate-limit" => a.rate_limit = Some(number(flag) as f64),
            "--postgres" => a.postgres = value,
            "--append" => a.append = Some(value.into()),
            "--chart" => a.chart = Some(value.into()),
            "--csv" => a.csv = Some(value.into()),
            "--rounds" => a.rounds = (number(flag) as usize).max(1),
            "--archive-share" => {
                let percent = number(flag);
                assert!((1..=99).contains(&percent), "--archive-share 1..99");
                a.archive_share = Some(percent);
            }
            "--binary" => {
                let (label, path) = value
                    .split_once('=')
                    .unwrap_or_else(|| panic!("--binary LABEL=PATH, got {value:?}"));
                let path = PathBuf::from(path);
                assert!(
                    path.is_file(),
                    "--binary {label}: no file at {}",
                    path.display()
                );
                a.binaries.push((label.to_string(), path));
            }
            "--backend" => {
                a.backend = match value.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" => Backend::Postgres,
                    other => panic!("--backend sqlite|postgres, got {other:?}"),
                }
            }
            "--processes" => {
                a.processes = value
                    .split(',')
                    .map(|p| p.parse().expect("--processes N[,M...]"))
                    .collect()
            }
            "--no-ceiling" => {
                a.ceiling = false;
                i += 1;
                continue;
            }
            _ => {
                // `cargo bench` passes `--bench`; anything else unknown is a typo.
                assert!(flag == "--bench", "unknown flag {flag}");
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    assert!(
        a.records >= 2 && a.webhooks >= a.records,
        "--webhooks >= --records >= 2"
    );
    assert!(
        a.backend == Backend::Postgres || a.processes.iter().all(|p| *p == 1),
        "several processes need --backend postgres"
    );
    if a.binaries.is_empty() {
        a.binaries.push((
            "this build".into(),
            PathBuf::from(env!("CARGO_BIN_EXE_syncledger")),
        ));
    }
    a
}
