//! What a reconcile compares, read from the outside world: each system's live records (paged
//! through its collection and mapped to canonical fields), the links `id_mappings` holds, and,
//! for the entities that lack a record somewhere, whether a write to it is still pending.

use std::collections::{BTreeMap, BTreeSet};

use std::time::Duration;

use syncledger_connector::{Connector, ConnectorError, Page};
use syncledger_core::config::{EntityConfig, EntitySystemConfig};
use syncledger_core::decide::retry::RetryPolicy;
use syncledger_core::entity::EntityState;
use syncledger_core::events::Fields;
use syncledger_core::mapping::to_canonical;
use syncledger_core::projections::id_mappings;
use syncledger_store::{RowQuery, Store};
use uuid::Uuid;

const PAGE: u32 = 200;

/// Tries of one page while its system answers 429/5xx or not at all. The connector sends each
/// request once; a reconcile is a person waiting at a terminal, so it waits here, with the
/// engine's one backoff function (`decide::retry`) and never sooner than the `Retry-After`.
const PAGE_TRIES: u32 = 6;

fn page_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: PAGE_TRIES,
        base: Duration::from_millis(500),
        max: Duration::from_secs(30),
        max_retry_after: Duration::from_secs(60),
    }
}

/// One system's live records: id -> canonical fields.
pub type Listing = BTreeMap<String, Fields>;

/// entity id -> system -> record id.
pub type Links = BTreeMap<Uuid, BTreeMap<String, String>>;

/// Every record of the system's collection, as canonical fields.
pub async fn listing(
    connector: &dyn Connector,
    map: &EntitySystemConfig,
) -> anyhow::Result<Listing> {
    let mut out = Listing::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = page(connector, map, cursor.as_deref()).await?;
        out.extend(
            page.items
                .into_iter()
                .map(|r| (r.id, to_canonical(map, &r.body))),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// One page, tried again while the system is unavailable (see [`PAGE_TRIES`]).
async fn page(
    connector: &dyn Connector,
    map: &EntitySystemConfig,
    cursor: Option<&str>,
) -> Result<Page, ConnectorError> {
    let policy = page_policy();
    let mut attempt = 1;
    loop {
        match connector.list(&map.collection, PAGE, cursor).await {
            Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                // No crowd of clients to spread out: the longest wait of the backoff's range.
                let wait = policy.wait(attempt, e.retry_after(), 1.0);
                eprintln!(
                    "listing {} failed ({e}); trying again in {:.1} s (attempt {} of {})",
                    map.collection,
                    wait.as_secs_f64(),
                    attempt + 1,
                    policy.max_attempts
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// The links of the entity type, from the `id_mappings` projection.
pub async fn entity_links(store: &Store, tenant: &str, entity: &str) -> anyhow::Result<Links> {
    let mut links = Links::new();
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

/// The entities linked in some but not all of the configured systems whose stream still holds a
/// write request without an outcome: their missing record may simply not be made yet.
pub async fn with_pending_writes(
    store: &Store,
    cfg: &EntityConfig,
    links: &Links,
) -> anyhow::Result<BTreeSet<Uuid>> {
    let mut pending = BTreeSet::new();
    for (entity_id, systems) in links {
        if cfg.systems.keys().all(|s| systems.contains_key(s)) {
            continue;
        }
        let events = store.read_stream(*entity_id, 1, i64::MAX).await?;
        if !EntityState::fold(*entity_id, &events)
            .pending_writes
            .is_empty()
        {
            pending.insert(*entity_id);
        }
    }
    Ok(pending)
}
