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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;
use syncledger_connector::Connector;
use syncledger_core::config::{Config, EntityConfig};
use syncledger_core::entity::EntityState;
use syncledger_core::events::{Fields, ResyncRequested, SyncEvent};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_core::mapping::{match_fingerprint, to_canonical};
use syncledger_core::projections::id_mappings;
use syncledger_engine::bringup::Start;
use syncledger_engine::{Connectors, EngineSettings, Ledger};
use syncledger_store::{RowQuery, Store, StoreError};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PAGE: u32 = 200;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// unlinked | linked_record_missing | missing_counterpart | duplicate | differing
    pub kind: &'static str,
    pub system: String,
    pub record_id: String,
    pub entity_id: Option<Uuid>,
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub tenant: String,
    pub entity: String,
    pub records: BTreeMap<String, usize>,
    pub findings: Vec<Finding>,
    pub repaired: Vec<String>,
}

/// One system's live records: id -> canonical fields.
type Listing = BTreeMap<String, Fields>;

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
        let listing = list_all(connector.as_ref(), &map.collection)
            .await
            .with_context(|| format!("listing {system} {}", map.collection))?;
        listings.insert(
            system.clone(),
            listing
                .into_iter()
                .map(|(id, body)| (id, to_canonical(map, &body)))
                .collect::<Listing>(),
        );
    }
    let links = entity_links(store, tenant, entity).await?;
    let mut report = Report {
        tenant: tenant.into(),
        entity: entity.into(),
        ..Default::default()
    };
    report.records = listings.iter().map(|(s, l)| (s.clone(), l.len())).collect();
    find(&entity_cfg, &listings, &links, store, &mut report).await?;
    if repair {
        repair_all(config, store, connectors, tenant, &entity_cfg, &mut report).await?;
    }
    Ok(report)
}

async fn list_all(
    connector: &dyn Connector,
    collection: &str,
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = connector.list(collection, PAGE, cursor.as_deref()).await?;
        out.extend(page.items.into_iter().map(|r| (r.id, r.body)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// entity id -> system -> record id, from the `id_mappings` projection.
async fn entity_links(
    store: &Store,
    tenant: &str,
    entity: &str,
) -> anyhow::Result<BTreeMap<Uuid, BTreeMap<String, String>>> {
    let mut links: BTreeMap<Uuid, BTreeMap<String, String>> = BTreeMap::new();
    let mut query = RowQuery {
        tenant: Some(tenant.into()),
        limit: 1000,
        ..Default::default()
    };
    loop {
        let rows = store.rows(id_mappings::NAME, &query).await?;
        let Some(last) = rows.last() else { break };
        query.after = Some((last.sort_key.clone(), last.key.clone()));
        for row in &rows {
            let mapping: id_mappings::Mapping = serde_json::from_value(row.doc.clone())?;
            if mapping.entity_type == entity {
                links
                    .entry(mapping.entity_id)
                    .or_default()
                    .insert(mapping.system, mapping.record_id);
            }
        }
    }
    Ok(links)
}

async fn find(
    cfg: &EntityConfig,
    listings: &BTreeMap<String, Listing>,
    links: &BTreeMap<Uuid, BTreeMap<String, String>>,
    store: &Store,
    report: &mut Report,
) -> anyhow::Result<()> {
    let linked: BTreeSet<(&str, &str)> = links
        .values()
        .flat_map(|l| l.iter().map(|(s, r)| (s.as_str(), r.as_str())))
        .collect();
    for (system, listing) in listings {
        let mut by_keys: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (id, fields) in listing {
            if !linked.contains(&(system.as_str(), id.as_str())) {
                report.findings.push(finding(
                    "unlinked",
                    system,
                    id,
                    None,
                    "no entity links this record".into(),
                ));
            }
            if let Some(fp) = match_fingerprint(&cfg.match_keys, fields) {
                by_keys.entry(fp).or_default().push(id);
            }
        }
        for ids in by_keys.values().filter(|ids| ids.len() > 1) {
            for id in ids {
                let others: Vec<&str> = ids.iter().copied().filter(|o| o != id).collect();
                report.findings.push(finding(
                    "duplicate",
                    system,
                    id,
                    None,
                    format!(
                        "same {} as {}",
                        cfg.match_keys.join(", "),
                        others.join(", ")
                    ),
                ));
            }
        }
    }
    for (entity_id, systems) in links {
        for (system, record_id) in systems {
            if !listings
                .get(system)
                .is_some_and(|l| l.contains_key(record_id))
            {
                report.findings.push(finding(
                    "linked_record_missing",
                    system,
                    record_id,
                    Some(*entity_id),
                    "linked, but the system no longer has it".into(),
                ));
            }
        }
        for system in cfg.systems.keys().filter(|s| !systems.contains_key(*s)) {
            let (from, id) = systems
                .iter()
                .next()
                .map(|(s, r)| (s.clone(), r.clone()))
                .unwrap_or_default();
            let state = EntityState::fold(
                *entity_id,
                &store.read_stream(*entity_id, 1, i64::MAX).await?,
            );
            let why = if state.pending_writes.is_empty() {
                "no counterpart"
            } else {
                "a write to it is still pending"
            };
            report.findings.push(finding(
                "missing_counterpart",
                &from,
                &id,
                Some(*entity_id),
                format!("{why} in {system}"),
            ));
        }
        differing(cfg, listings, *entity_id, systems, report);
    }
    Ok(())
}

fn differing(
    cfg: &EntityConfig,
    listings: &BTreeMap<String, Listing>,
    entity_id: Uuid,
    systems: &BTreeMap<String, String>,
    report: &mut Report,
) {
    let present: Vec<(&String, &Fields)> = systems
        .iter()
        .filter_map(|(s, r)| listings.get(s).and_then(|l| l.get(r)).map(|f| (s, f)))
        .collect();
    for pair in present.windows(2) {
        let ((a, fa), (b, fb)) = (pair[0], pair[1]);
        let shared = cfg.systems[a]
            .fields
            .keys()
            .filter(|f| cfg.systems[b].fields.contains_key(*f));
        let diffs: Vec<String> = shared
            .filter(|f| fa.get(*f) != fb.get(*f))
            .map(|f| format!("{f}: {a}={} {b}={}", show(fa.get(f)), show(fb.get(f))))
            .collect();
        if !diffs.is_empty() {
            report.findings.push(finding(
                "differing",
                a,
                &systems[a],
                Some(entity_id),
                diffs.join("; "),
            ));
        }
    }
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "null".into())
}

fn finding(
    kind: &'static str,
    system: &str,
    record_id: &str,
    entity_id: Option<Uuid>,
    detail: String,
) -> Finding {
    Finding {
        kind,
        system: system.into(),
        record_id: record_id.into(),
        entity_id,
        detail,
    }
}

/// The repair: a new run of the initial sync files every record of every system as
/// `RecordDiscovered` in the stream a webhook for it would use, where the ordinary workers link
/// records with equal match keys and create what is missing (one path: nothing here links).
/// Differing linked pairs get a `ResyncRequested`, appended with the stream's version as read.
/// Then the queue is worked until empty, so the repair is done when the command returns.
async fn repair_all(
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

/// The report as a terminal table.
pub fn print_table(report: &Report) {
    let counts: Vec<String> = report
        .records
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!(
        "reconcile {} / {} ({} records)",
        report.tenant,
        report.entity,
        counts.join(", ")
    );
    if report.findings.is_empty() {
        println!("no findings: every record is linked and every linked pair agrees");
    } else {
        println!(
            "{:<22} {:<8} {:<16} {:<36} detail",
            "finding", "system", "record", "entity"
        );
        for f in &report.findings {
            let entity = f.entity_id.map(|e| e.to_string()).unwrap_or_default();
            println!(
                "{:<22} {:<8} {:<16} {:<36} {}",
                f.kind, f.system, f.record_id, entity, f.detail
            );
        }
    }
    for line in &report.repaired {
        println!("repair: {line}");
    }
}
