//! `syncledger reconcile`: both systems against the ID mapping.
//!
//! Pages through the entity's collection in every system, then reports records no entity links,
//! linked records that are gone, records with no counterpart in another system, duplicates (two
//! live records of one system with the same match keys) and linked pairs whose mapped fields
//! differ. With `--repair` it starts a new run of the initial sync (`engine::bringup`: every
//! record filed as `RecordDiscovered` where a webhook for it would go, and decided by the
//! ordinary workers, which link equal match keys and create what is missing), asks a resync of
//! every differing pair, and works the queue until it is empty, so the repair is done when the
//! command returns.
//!
//! - `read`: the IO that gathers what is compared: every system's live records, the links of
//!   `id_mappings`, and which entities still have a write pending.
//! - `compare`: the comparison, a pure function of what `read` gathered, giving the findings.
//! - `repair`: `--repair`, through the engine's ordinary paths.
//! - `report`: the report and its terminal table.

mod compare;
mod read;
mod repair;
mod report;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use syncledger_core::config::Config;
use syncledger_engine::Connectors;
use syncledger_store::Store;

pub use report::{Finding, Report, print_table};

pub async fn run(
    config: &Config,
    store: &Store,
    tenant: &str,
    entity: &str,
    repair: bool,
) -> anyhow::Result<Report> {
    let connectors: Arc<dyn Connectors> =
        Arc::new(crate::app::HttpConnectors::from_config(config)?);
    run_with(config, store, connectors, tenant, entity, repair).await
}

/// [`run`] with the connectors given (tests pass simulated ones).
pub async fn run_with(
    config: &Config,
    store: &Store,
    connectors: Arc<dyn Connectors>,
    tenant: &str,
    entity: &str,
    repair: bool,
) -> anyhow::Result<Report> {
    config
        .tenant(tenant)
        .with_context(|| format!("no tenant {tenant} in the configuration"))?;
    let entity_cfg = config
        .entity(entity)
        .with_context(|| format!("no entity {entity} in the configuration"))?
        .clone();
    let mut listings = BTreeMap::new();
    for (system, map) in &entity_cfg.systems {
        let connector = connectors
            .get(tenant, system)
            .with_context(|| format!("tenant {tenant} has no system {system}"))?;
        let listing = read::listing(connector.as_ref(), map)
            .await
            .with_context(|| format!("listing {system} {}", map.collection))?;
        listings.insert(system.clone(), listing);
    }
    let links = read::entity_links(store, tenant, entity).await?;
    let pending = read::with_pending_writes(store, &entity_cfg, &links).await?;
    let mut report = Report {
        tenant: tenant.into(),
        entity: entity.into(),
        ..Default::default()
    };
    report.records = listings.iter().map(|(s, l)| (s.clone(), l.len())).collect();
    report.findings = compare::find(&entity_cfg, &listings, &links, &pending);
    if repair {
        repair::repair_all(config, store, connectors, tenant, &entity_cfg, &mut report).await?;
    }
    Ok(report)
}
