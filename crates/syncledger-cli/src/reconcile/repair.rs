//! `reconcile --repair`, through the engine's ordinary paths only: nothing here links or writes
//! to a system itself.

use std::sync::Arc;

use syncledger_core::config::{Config, EntityConfig};
use syncledger_core::events::{ResyncRequested, SyncEvent};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_engine::bringup::Start;
use syncledger_engine::{Connectors, EngineSettings, Ledger};
use syncledger_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::report::Report;

/// The repair: a new run of the initial sync files every record of every system as
/// `RecordDiscovered` in the stream a webhook for it would use, where the ordinary workers link
/// records with equal match keys and create what is missing (one path: nothing here links).
/// Differing linked pairs get a `ResyncRequested`, appended with the stream's version as read.
/// Then the queue is worked until empty, so the repair is done when the command returns.
pub async fn repair_all(
    config: &Config,
    store: &Store,
    connectors: Arc<dyn Connectors>,
    tenant: &str,
    cfg: &EntityConfig,
    report: &mut Report,
) -> anyhow::Result<()> {
    let by = format!(
        "reconcile:{}",
        std::env::var("USER").unwrap_or_else(|_| "cli".into())
    );
    // Its own lease owner: a service running beside it must not mistake its leases for its own.
    let defaults = EngineSettings::default();
    let settings = EngineSettings {
        owner: format!("{}-reconcile-{}", defaults.owner, Uuid::now_v7()),
        lease_ttl: std::time::Duration::from_secs(config.server.lease_ttl_secs),
        ..defaults
    };
    let ledger = Ledger::new(
        store.clone(),
        Arc::new(config.clone()),
        connectors,
        settings,
    );
    let sync = ledger
        .initial_sync(
            tenant,
            &cfg.name,
            Start::NewRun { by: by.clone() },
            &CancellationToken::new(),
        )
        .await?;
    if let Some(run) = &sync.run {
        report.repaired.push(format!(
            "initial sync run {}: {} records found in {} pages, each filed for sync",
            run.run_id,
            run.records(),
            run.pages()
        ));
    }
    for f in report.findings.iter().filter(|f| f.kind == "differing") {
        let Some(entity_id) = f.entity_id else {
            continue;
        };
        let resync = SyncEvent::ResyncRequested(ResyncRequested {
            by: by.clone(),
            system: f.system.clone(),
            record_id: f.record_id.clone(),
        });
        let meta = EventMeta {
            tenant: tenant.into(),
            correlation_id: None,
            causation_id: None,
        };
        // Expecting the version read just before: a worker's append in between is not
        // overwritten blind, the read is simply taken again.
        let mut attempts = 0;
        loop {
            let version = store.stream_version(entity_id).await?;
            let append = StreamAppend {
                stream_id: entity_id,
                expected: ExpectedVersion::Exact(version),
                events: vec![resync.to_new(meta.clone())],
            };
            match store.append(vec![append]).await {
                Err(StoreError::Conflict(_)) if attempts < 16 => attempts += 1,
                result => break result.map(|_| ())?,
            }
        }
        report.repaired.push(format!(
            "resync asked for {} {} (differing)",
            f.system, f.record_id
        ));
    }
    let jobs = ledger.run_until_idle(100_000).await?;
    report
        .repaired
        .push(format!("worked the queue until empty ({jobs} entity jobs)"));
    Ok(())
}
