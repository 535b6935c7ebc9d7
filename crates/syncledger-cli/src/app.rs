//! Wiring: configuration -> store, connectors, ledger, workers, projections and the HTTP server.
//! `serve` and the demo both start the service through [`start`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use syncledger_api::AppState;
use syncledger_connector::{Connector, HttpConnector, HttpConnectorConfig, RateLimit};
use syncledger_core::config::{Config, ServerConfig};
use syncledger_engine::{Connectors, EngineSettings, Ledger};
use syncledger_store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Connects, migrates, and registers the product's projections, shaped by `config` when there
/// is one (the round-trip TTL, the match-key fields) and by the defaults otherwise.
pub async fn open_store(url: &str, config: Option<&Config>) -> anyhow::Result<Store> {
    let master_key = crate::keyfile::master_key(url, config)?;
    open_store_with_key(url, config, master_key).await
}

/// [`open_store`] with the master key given (`None`: values unsealed; benchmarks compare both).
pub async fn open_store_with_key(
    url: &str,
    config: Option<&Config>,
    master_key: Option<syncledger_store::MasterKey>,
) -> anyhow::Result<Store> {
    let projections = match config {
        Some(config) => syncledger_core::projections::configured(config),
        None => syncledger_core::projections::all(ServerConfig::default().round_trip_ttl()),
    };
    let options = StoreOptions {
        projections,
        // Events recorded by older versions read as today's (`events::upcasters`).
        upcasters: syncledger_core::events::upcasters(),
        master_key,
        ..Default::default()
    };
    let store = Store::connect(url, options)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// HTTP connectors for every tenant's systems, built once from the configuration.
pub struct HttpConnectors {
    by_system: BTreeMap<(String, String), Arc<dyn Connector>>,
}

impl HttpConnectors {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let mut by_system = BTreeMap::new();
        for tenant in &config.tenants {
            for (name, system) in &tenant.systems {
                let headers = system
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.expose().to_string()))
                    .collect();
                let connector = HttpConnector::new(HttpConnectorConfig {
                    base_url: system.base_url.clone(),
                    headers,
                    timeout: Duration::from_secs(10),
                    max_id_bytes: config.server.max_record_id_bytes,
                    rate_limit: system.rate_limit.map(|r| RateLimit {
                        requests_per_second: r.requests_per_second,
                        burst: r.burst,
                        max_in_flight: r.max_in_flight,
                    }),
                    label: format!("{}/{name}", tenant.id),
                    max_retry_after: config.server.max_retry_after(),
                    max_response_bytes: config.server.max_response_bytes,
                })
                .with_context(|| format!("tenants[{}].systems.{name}", tenant.id))?;
                by_system.insert(
                    (tenant.id.clone(), name.clone()),
                    Arc::new(connector) as Arc<dyn Connector>,
                );
            }
        }
        Ok(Self { by_system })
    }
}

impl Connectors for HttpConnectors {
    fn get(&self, tenant: &str, system: &str) -> Option<Arc<dyn Connector>> {
        self.by_system
            .get(&(tenant.to_string(), system.to_string()))
            .cloned()
    }
}

/// A running service: its address, and the handles to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub ledger: Ledger,
    pub shutdown: CancellationToken,
    pub tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops taking webhooks, lets work in flight finish, and waits for every task.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the HTTP server, the workers, the catch-up projections and (with `[retention]`)
/// scheduled archiving on `listener`.
pub async fn start(
    config: Config,
    connectors: Arc<dyn Connectors>,
    listener: TcpListener,
) -> anyhow::Result<Running> {
    let store = open_store(&config.server.database_url, Some(&config)).await?;
    let settings = EngineSettings {
        workers: config.server.workers,
        lease_ttl: std::time::Duration::from_secs(config.server.lease_ttl_secs),
        max_retry_after: config.server.max_retry_after(),
        max_attempts: config.server.max_attempts,
        ..Default::default()
    };
    if let Some(width) = config.retention.as_ref().and_then(|r| r.partition_width) {
        let width = i64::try_from(width).context("retention.partition_width")?;
        if store
            .archives()
            .apply_partition_width(width)
            .await
            .context("retention.partition_width")?
        {
            tracing::info!(
                width,
                "the log's partition width is set from the next partition on"
            );
        }
    }
    let retention = syncledger_engine::retention::Retention::from_config(
        store.clone(),
        config.retention.as_ref(),
        &settings.owner,
    )
    .map_err(anyhow::Error::msg)?;
    let ledger = Ledger::new(
        store.clone(),
        Arc::new(config),
        connectors.clone(),
        settings,
    );
    let shutdown = CancellationToken::new();
    let addr = listener.local_addr()?;
    let state = AppState {
        ledger: ledger.clone(),
        metrics: syncledger_api::install_metrics(),
        accepting: Arc::new(AtomicBool::new(true)),
    };
    let mut tasks = Vec::new();
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) =
            syncledger_api::run(listener, state, async move { stop.cancelled().await }).await
        {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    }));
    // Every configured initial sync is on record as started before a worker decides anything, so
    // a webhook worked at first start waits for the listing before it creates (engine::hold).
    if let Err(e) = ledger.begin_initial_syncs().await {
        tracing::warn!(error = %e, "recording the start of the initial syncs failed; they start with their tasks");
    }
    let (bringup, stop) = (ledger.clone(), shutdown.clone());
    tasks.push(tokio::spawn(async move {
        bringup.run_initial_syncs(stop).await
    }));
    let (workers, stop) = (ledger.clone(), shutdown.clone());
    tasks.push(tokio::spawn(async move { workers.run_workers(stop).await }));
    let tenants = ledger
        .config()
        .tenants
        .iter()
        .map(|t| t.id.clone())
        .collect();
    let sampler = syncledger_engine::sampler::Sampler::new(store.clone(), tenants);
    tasks.push(tokio::spawn(sampler.run(shutdown.clone())));
    if let Some(retention) = retention {
        tasks.push(tokio::spawn(retention.run(shutdown.clone())));
    }
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = store.run_projections(stop.cancelled_owned()).await {
            tracing::error!(error = %e, "catch-up projections stopped");
        }
    }));
    Ok(Running {
        addr,
        ledger,
        shutdown,
        tasks,
    })
}

/// `syncledger serve`: runs until SIGTERM or Ctrl-C, then drains.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    // Listened for before the port is bound: a SIGTERM sent as soon as the service answers is
    // a graceful shutdown, never the signal's default action (found by the perimeter test under
    // load: the process died of SIGTERM between answering and first awaiting the signal).
    let signal = ShutdownSignal::install();
    let listener = TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("server.listen: cannot bind {}", config.server.listen))?;
    let connectors = Arc::new(HttpConnectors::from_config(&config)?);
    let deadline = config.server.shutdown_timeout();
    let running = start(config, connectors, listener).await?;
    // One line on stdout a supervisor (or a test using port 0) can read the address from.
    println!("syncledger listening on http://{}", running.addr);
    tracing::info!(addr = %running.addr, "syncledger is serving");
    signal.recv().await;
    tracing::info!("shutting down: no new webhooks, finishing work in flight");
    // The HTTP server closes what is still open at the same deadline (syncledger-api `server`).
    if tokio::time::timeout(deadline, running.stop())
        .await
        .is_err()
    {
        tracing::warn!(
            ?deadline,
            "shutdown deadline reached with work in flight: exiting without it; its leases \
             expire and another process takes it over (server.lease_ttl_secs)"
        );
    }
    Ok(())
}

/// SIGTERM and Ctrl-C (SIGINT), listened for from the moment this is made: a process makes it
/// before it starts answering, so a signal is never met by its default action (the process
/// killed without draining).
pub struct ShutdownSignal {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    /// Registers the handlers now (inside the runtime).
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            ShutdownSignal {
                term: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        ShutdownSignal {}
    }

    /// Until one of the signals arrives.
    pub async fn recv(self) {
        #[cfg(unix)]
        {
            let (mut term, mut interrupt) = (self.term, self.interrupt);
            let term = async {
                match term.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => drop(tokio::signal::ctrl_c().await),
                }
            };
            tokio::select! { _ = term => {}, _ = interrupt => {} }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Duration;

    /// The handlers are in place once `install` returns, before anything awaits them: a
    /// SIGTERM sent then is received, where a handler put in place at the first await would
    /// have left it to the default action, and this test process would have died of it.
    #[tokio::test]
    async fn a_sigterm_sent_before_anything_awaits_it_is_received() {
        let signal = super::ShutdownSignal::install();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(10), signal.recv())
            .await
            .expect("the signal is received");
    }
}
