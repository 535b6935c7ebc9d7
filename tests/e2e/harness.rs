//! The world a test runs in: a simulated CRM and ERP served over HTTP on port 0, a temporary
//! folder with the configuration file (CONTRACT §3's example shape) and the logs, and a database.
//!
//! The systems outlive the service processes a test starts, as real systems outlive a restart of
//! the ledger. Waiting is always for a state to be reached ([`eventually`], [`World::settle`]),
//! bounded, never a sleep that hopes an interleaving happened.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use syncledger_connector::Record;
use syncledger_sim::{Op, SimSystem, serve_http};
use syncledger_test_support::ExampleConfig;
use tempfile::TempDir;
use tokio::net::TcpListener;

use crate::service::Service;

pub const TENANT: &str = "acme";
pub const CRM_SECRET: &str = "e2e-crm-webhook-secret-01";
pub const ERP_SECRET: &str = "e2e-erp-webhook-secret-01";

/// How long a normal step may take.
pub const STEP: Duration = Duration::from_secs(20);
/// How long a step may take after `kill -9`: the dead process's entity leases (30 s) must run out
/// before another process takes its work over.
pub const AFTER_CRASH: Duration = Duration::from_secs(60);

pub fn secret_of(system: &str) -> &'static str {
    match system {
        "crm" => CRM_SECRET,
        "erp" => ERP_SECRET,
        other => panic!("no secret for system {other}"),
    }
}

/// Where the ledger keeps its log.
pub enum Backend {
    Sqlite,
    Postgres { url: String },
}

impl Backend {
    /// The fresh database `#[sqlx::test]` made for this test.
    pub fn postgres(conn: &PgConnectOptions) -> Backend {
        let db = conn.get_database().expect("sqlx::test names a database");
        let url = format!(
            "postgres://{}@{}:{}/{db}",
            conn.get_username(),
            conn.get_host(),
            conn.get_port()
        );
        Backend::Postgres { url }
    }
}

/// Turns each `async fn scenario(backend: Backend)` into a module with an `on_sqlite` and an
/// `on_postgres` test.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn on_sqlite() {
                super::$scenario($crate::harness::Backend::Sqlite).await
            }

            #[sqlx::test(migrations = false)]
            async fn on_postgres(_pool: sqlx::postgres::PgPoolOptions, conn: sqlx::postgres::PgConnectOptions) {
                super::$scenario($crate::harness::Backend::postgres(&conn)).await
            }
        }
    )+};
}
pub(crate) use on_both_backends;

pub struct World {
    pub crm: Arc<SimSystem>,
    pub erp: Arc<SimSystem>,
    pub dir: TempDir,
    pub database_url: String,
    config: PathBuf,
    runs: AtomicUsize,
}

impl World {
    pub async fn new(backend: Backend) -> World {
        World::with_settings(
            backend,
            "",
            "on_delete = \"propagate\"\nconflict = \"last_observed\"",
        )
        .await
    }

    /// A world whose `[server]` table has these lines too.
    pub async fn with_server(backend: Backend, server: &str) -> World {
        World::with_settings(
            backend,
            server,
            "on_delete = \"propagate\"\nconflict = \"last_observed\"",
        )
        .await
    }

    /// A world whose entity has these settings (delete and conflict policies).
    pub async fn with_entity(backend: Backend, entity: &str) -> World {
        World::with_settings(backend, "", entity).await
    }

    /// A world with these extra `[server]` lines and these entity settings.
    pub async fn with_settings(backend: Backend, server: &str, entity: &str) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("ledger.db").display()),
            Backend::Postgres { url } => url,
        };
        let (crm, crm_url) = start_sim("c").await;
        let (erp, erp_url) = start_sim("E").await;
        let config = dir.path().join("syncledger.toml");
        std::fs::write(
            &config,
            config_toml(&crm_url, &erp_url, &database_url, server, entity),
        )
        .expect("writing the config");
        World {
            crm,
            erp,
            dir,
            database_url,
            config,
            runs: AtomicUsize::new(0),
        }
    }

    /// Adds `text` (whole tables, such as `[retention]`) at the end of the configuration file.
    pub fn append_config(&self, text: &str) {
        let mut config = std::fs::read_to_string(&self.config).expect("reading the config");
        config.push('\n');
        config.push_str(text);
        std::fs::write(&self.config, config).expect("writing the config");
    }

    /// The configuration file.
    pub fn config_path(&self) -> &std::path::Path {
        &self.config
    }

    /// Starts `syncledger serve` on this world's configuration and database.
    ///
    /// On an empty log the service first lists both systems to link and copy the records that
    /// existed before it (the initial sync). The first start waits until both lists are taken,
    /// so a record a test makes afterwards reaches the ledger through its webhook only.
    pub async fn start(&self) -> Service {
        let first = self.runs.load(Ordering::SeqCst) == 0;
        let service = self.launch().await;
        if first {
            eventually("the initial sync lists both systems", STEP, async || {
                self.crm.requests(Op::List) >= 1 && self.erp.requests(Op::List) >= 1
            })
            .await;
        }
        service
    }

    /// Starts `syncledger serve` without waiting for anything but its address.
    pub async fn launch(&self) -> Service {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        Service::spawn(
            &self.config,
            self.dir.path().join(format!("serve-{run}.log")),
        )
        .await
    }

    /// Delivers everything both systems have emitted; how many webhooks that was.
    pub async fn deliver_all(&self, service: &Service) -> usize {
        let mut delivered = 0;
        for (system, sim) in [("crm", &self.crm), ("erp", &self.erp)] {
            let batch = sim.drain_webhooks();
            if !batch.is_empty() {
                let reply = service.deliver(system, &batch).await;
                assert_eq!(
                    reply.status, 202,
                    "delivering {system}'s webhooks: {reply:?}"
                );
                delivered += batch.len();
            }
        }
        delivered
    }

    /// Delivers webhooks (echoes included) until the ledger is quiet: nothing left to deliver,
    /// the pending queue empty and every projection caught up, three polls in a row.
    pub async fn settle(&self, service: &Service, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        let mut quiet = 0;
        while quiet < 3 {
            let delivered = self.deliver_all(service).await;
            let m = service.metrics().await;
            let idle = delivered == 0
                && m.value("syncledger_queue_depth", &[]) == 0.0
                && m.values("syncledger_projection_lag")
                    .iter()
                    .all(|lag| *lag == 0.0);
            quiet = if idle { quiet + 1 } else { 0 };
            assert!(
                tokio::time::Instant::now() < deadline,
                "the ledger did not settle within {within:?}; last scrape:\n{}",
                m.text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The ERP customers with this email.
    pub fn erp_customers(&self, email: &str) -> Vec<Record> {
        self.erp
            .find_by_field("customers", "email_address", &json!(email))
    }

    /// The CRM contacts with this email.
    pub fn crm_contacts(&self, email: &str) -> Vec<Record> {
        self.crm.find_by_field("contacts", "email", &json!(email))
    }

    /// A contact created by a CRM user, and its webhook delivered; asserts the 202.
    pub async fn crm_user_creates(&self, service: &Service, name: &str, email: &str) -> Record {
        let contact = self
            .crm
            .user_create("contacts", json!({"full_name": name, "email": email}));
        let reply = service.deliver("crm", &self.crm.drain_webhooks()).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        contact
    }

    /// A CRM user renames a contact, and the webhook is delivered; asserts the 202.
    pub async fn crm_user_renames(&self, service: &Service, id: &str, name: &str) {
        self.crm
            .user_update("contacts", id, json!({"full_name": name}))
            .expect("the contact exists");
        let reply = service.deliver("crm", &self.crm.drain_webhooks()).await;
        assert_eq!(reply.status, 202, "{reply:?}");
    }

    /// The name the ERP holds for one of its customers.
    pub fn erp_name(&self, id: &str) -> Value {
        self.erp
            .record("customers", id)
            .map(|r| r.body["name"].clone())
            .unwrap_or(Value::Null)
    }
}

/// Polls `check` until it holds; fails the test with `what` after `within`.
pub async fn eventually(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Awaits a step that another process must take (a paused request being reached), bounded.
pub async fn reached<T>(what: &str, step: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, step)
        .await
        .unwrap_or_else(|_| panic!("timed out after {STEP:?} waiting until {what}"))
}

/// A simulated system served over HTTP on port 0, and its base URL.
pub async fn start_sim(prefix: &str) -> (Arc<SimSystem>, String) {
    let sim = Arc::new(SimSystem::new(prefix));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a simulated system");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(serve_http(sim.clone(), listener));
    (sim, url)
}

/// PostgreSQL refuses to start without a master key (docs/privacy.md): a world on it gets one,
/// unless its `[server]` lines say how to seal (their own key, or `seal = false`).
fn pg_master_key(database_url: &str, server: &str) -> String {
    let says = server.contains("master_key") || server.contains("seal");
    if database_url.starts_with("postgres") && !says {
        format!("\nmaster_key = \"{}\"", "e2".repeat(32))
    } else {
        String::new()
    }
}

/// The contract's example (tenant [`TENANT`]) on this world's systems and database.
fn config_toml(
    crm_url: &str,
    erp_url: &str,
    database_url: &str,
    server: &str,
    entity: &str,
) -> String {
    ExampleConfig {
        admin_token: "e2e-admin-secret".into(),
        api_token: "e2e-acme-read-token".into(),
        crm_url: crm_url.into(),
        erp_url: erp_url.into(),
        crm_secret: CRM_SECRET.into(),
        erp_secret: ERP_SECRET.into(),
        // Extra lines only when asked for, so the default file's line numbers stay put.
        server: format!(
            "listen = \"127.0.0.1:0\"\ndatabase_url = \"{database_url}\"\nworkers = 4{}{}",
            pg_master_key(database_url, server),
            if server.is_empty() {
                String::new()
            } else {
                format!("\n{server}")
            }
        ),
        crm: r#"headers = { Authorization = "Bearer crm-token" }"#.into(),
        entity: entity.into(),
        ..ExampleConfig::default()
    }
    .toml()
}
