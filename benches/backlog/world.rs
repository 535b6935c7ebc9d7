//! What a run stands on: two simulated systems over HTTP, a fresh database, the configuration,
//! and `syncledger serve` (the release binary) as one or more child processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use syncledger_sim::{SimSystem, serve_http};
use tempfile::TempDir;
use tokio::net::TcpListener;

use crate::args::{Args, Backend};

pub const TENANT: &str = "acme";
pub const ADMIN_TOKEN: &str = "backlog-bench-admin-token-0123456789";
pub const API_TOKEN: &str = "backlog-bench-acme-read-token-0123456789";
pub const CRM_SECRET: &str = "backlog-crm-webhook-secret";
pub const ERP_SECRET: &str = "backlog-erp-webhook-secret";

pub struct Sim {
    pub sim: Arc<SimSystem>,
    pub url: String,
}

/// A simulated system served over HTTP on port 0, its request log off (a run makes millions).
pub async fn start_sim(prefix: &str, latency: Duration) -> anyhow::Result<Sim> {
    let sim = Arc::new(SimSystem::new(prefix));
    sim.keep_request_log(false);
    sim.set_latency(latency);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve_http(sim.clone(), listener));
    Ok(Sim { sim, url })
}

/// The run's own database: a SQLite file in a temporary folder, or a PostgreSQL database
/// created for the run and dropped after it.
pub struct Database {
    pub url: String,
    /// PostgreSQL's name of the run's database (its server backends are titled with it).
    pub name: Option<String>,
    pub backend: Backend,
    dropper: Option<(String, String)>,
    _dir: TempDir,
}

impl Database {
    pub async fn create(args: &Args, dir: TempDir) -> anyhow::Result<Database> {
        match args.backend {
            Backend::Sqlite => Ok(Database {
                url: format!("sqlite://{}", dir.path().join("ledger.db").display()),
                name: None,
                backend: Backend::Sqlite,
                dropper: None,
                _dir: dir,
            }),
            Backend::Postgres => {
                let name = format!(
                    "backlog_{}_{}",
                    std::process::id(),
                    chrono::Utc::now().timestamp_millis()
                );
                let admin = args.postgres.clone();
                admin_sql(&admin, &format!("CREATE DATABASE {name}")).await?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                Ok(Database {
                    url: format!("{base}/{name}"),
                    name: Some(name.clone()),
                    backend: Backend::Postgres,
                    dropper: Some((admin, name)),
                    _dir: dir,
                })
            }
        }
    }

    pub async fn drop_database(&self) {
        if let Some((admin, name)) = &self.dropper {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = admin_sql(admin, &sql).await {
                eprintln!("dropping {name}: {e}");
            }
        }
    }
}

async fn admin_sql(admin: &str, sql: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// CONTRACT §3's example shape: a CRM and an ERP, customers matched by email.
pub fn config_toml(args: &Args, db: &str, crm: &str, erp: &str) -> String {
    let limit = args.rate_limit.map_or(String::new(), |rps| {
        format!("rate_limit = {{ requests_per_second = {rps}, burst = 10 }}\n")
    });
    // PostgreSQL needs a master key to seal values (SQLite makes its own beside the file).
    let master_key = if db.starts_with("postgres") {
        format!("master_key = \"{}\"\n", "b1".repeat(32))
    } else {
        String::new()
    };
    // `--archive-share`: partitions narrow enough to cut near the share asked for (PostgreSQL),
    // and no schedule: the bench runs `syncledger archive` itself after the drain.
    let retention = args.archive_share.map_or(String::new(), |_| {
        format!(
            "\n[retention]\nenabled = false\npartition_width = {}\n",
            crate::archive::partition_width(args.records)
        )
    });
    format!(
        r#"[server]
listen = "127.0.0.1:0"
database_url = "{db}"
workers = {workers}
admin_token = "{ADMIN_TOKEN}"
{master_key}
[[tenants]]
id = "{TENANT}"
api_token = "{API_TOKEN}"
[tenants.systems.crm]
base_url = "{crm}"
webhook_secret = "{CRM_SECRET}"
{limit}[tenants.systems.erp]
base_url = "{erp}"
webhook_secret = "{ERP_SECRET}"
{limit}
[[entities]]
name = "customer"
match_keys = ["email"]
[entities.systems.crm]
collection = "contacts"
fields = {{ name = "full_name", email = "email", phone = "phone" }}
[entities.systems.erp]
collection = "customers"
fields = {{ name = "name", email = "email_address", phone = "phones[0]" }}
{retention}"#,
        workers = args.workers
    )
}

/// One `syncledger serve` process.
pub struct Service {
    child: Child,
    pub base: String,
    pub pid: u32,
}

impl Service {
    /// `bin serve --config config`, its log in `log`.
    pub async fn spawn(bin: &Path, config: &Path, log: &Path) -> anyhow::Result<Service> {
        let stderr = std::fs::File::create(log)?;
        let mut cmd = Command::new(bin);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SYNCLEDGER_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next().and_then(Result::ok));
            for _ in lines {}
        });
        let line = tokio::time::timeout(Duration::from_secs(60), rx)
            .await??
            .ok_or_else(|| anyhow::anyhow!("serve exited before printing its address"))?;
        let base = line
            .strip_prefix("syncledger listening on ")
            .ok_or_else(|| anyhow::anyhow!("unexpected first line {line:?}"))?
            .trim()
            .to_string();
        let pid = child.id();
        Ok(Service { child, base, pid })
    }

    /// SIGTERM, then wait for the exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmRSS of `pid` in MiB (0 once the process is gone).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// CPU time `pid` has used so far, user + system, in seconds (`/proc/PID/stat`, at the usual
/// 100 ticks per second).
pub fn cpu_seconds(pid: u32) -> f64 {
    cpu_seconds_of(&pid.to_string())
}

/// CPU seconds used so far by the PostgreSQL server backends serving `database` (PostgreSQL
/// titles them `postgres: user database ...`). A backend that has exited is no longer counted,
/// so this is a lower bound when the service's pool closes connections.
pub fn database_cpu_seconds(database: &str) -> f64 {
    let needle = format!(" {database} ");
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.starts_with("postgres: ") && cmdline.contains(&needle) {
            total += cpu_seconds_of(&pid);
        }
    }
    total
}

fn cpu_seconds_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
