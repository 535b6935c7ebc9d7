//! The IO around a what-if ([`syncledger_core::replay::what_if`]): the log streamed into the
//! pure walker in position order by one [`Store::scan`], each event decoded once on the scan's
//! task, so no more than a few batches of events are held at a time (the walker keeps each
//! entity's folded state). Shared by `replayDecisions(...,
//! config:)` (bounded to [`MAX_REPLAY_ENTITIES`] entities) and `syncledger what-if`
//! (unbounded). It only reads: nothing is appended, no system is called.

use syncledger_core::config::{Config, EntityConfig};
use syncledger_core::events::SyncEvent;
use syncledger_core::log::{LogFilter, Position, RecordedEvent};
use syncledger_core::replay::what_if::{WhatIf, WhatIfReport};
use syncledger_store::Store;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::replay::MAX_REPLAY_ENTITIES;

mod types;
pub use types::{WhatIfEntity, WhatIfOutput, WhatIfSummary};

/// Events per batch of the scan, and per page of the erased entities' read.
const PAGE: usize = 2000;
/// Events read per stream to complete a decision group the range cuts.
const GROUP_TAIL: i64 = 64;

/// What a what-if reads, and over which part of the log.
pub struct Scope<'a> {
    /// One tenant's events, or every tenant's.
    pub tenant: Option<&'a str>,
    pub from: Position,
    pub to: Position,
    /// Entities with events in the range past which the what-if stops with an error.
    pub max_entities: Option<usize>,
}

/// The `[[entities]]` of `proposal` (TOML), checked as at start; a bad one is refused with the
/// line and what was expected.
pub fn proposed_entities(config: &Config, proposal: &str) -> ApiResult<Vec<EntityConfig>> {
    config
        .propose_entities(proposal)
        .map_err(|e| ApiError::bad_input(format!("config: {e}")))
}

/// Runs a what-if of `proposed` over `scope`, calling `progress` with the events read so far.
pub async fn run(
    store: &Store,
    config: &Config,
    proposed: &[EntityConfig],
    scope: &Scope<'_>,
    mut progress: impl FnMut(u64),
) -> ApiResult<WhatIfReport> {
    let ttl = config.server.round_trip_ttl();
    let mut walk = WhatIf::new(&config.entities, proposed, (scope.from, scope.to), ttl);
    walk.skip_erased(erased_entities(store, scope.tenant).await?);
    let filter = LogFilter {
        tenant: scope.tenant.map(str::to_string),
        ..LogFilter::default()
    };
    // One streaming read, each event decoded on the scan's task beside the walk.
    let decode = |event: RecordedEvent| {
        let decoded = SyncEvent::from_recorded(&event).ok();
        (event, decoded)
    };
    let mut scan = store.scan((Position::START, Some(scope.to)), filter, PAGE, decode);
    let mut read = 0u64;
    while let Some(batch) = scan.next_batch().await {
        for (event, decoded) in batch? {
            read += 1;
            walk.push_decoded(event, decoded);
        }
        progress(read);
        if let Some(max) = scope.max_entities
            && walk.examined() > max
        {
            return Err(ApiError::bad_input(format!(
                "more than {max} entities in this range: replay a narrower one (or use \
                 `syncledger what-if`, which has no bound)"
            )));
        }
    }
    // A group the range's end cut in two is read to its end from its stream.
    for (stream, next) in walk.open_groups() {
        for event in store.read_stream(stream, next, GROUP_TAIL).await? {
            walk.push(event);
        }
    }
    Ok(walk.finish())
}

/// `replayDecisions(..., config:)`: a what-if of one tenant, bounded.
pub async fn for_tenant(
    store: &Store,
    config: &Config,
    proposal: &str,
    tenant: &str,
    (from, to): (Position, Position),
) -> ApiResult<WhatIfReport> {
    let proposed = proposed_entities(config, proposal)?;
    let scope = Scope {
        tenant: Some(tenant),
        from,
        to,
        max_entities: Some(MAX_REPLAY_ENTITIES),
    };
    run(store, config, &proposed, &scope, |_| {}).await
}

/// Every entity with an `EntityErased` event (of `tenant`, when given), read before the walk.
async fn erased_entities(store: &Store, tenant: Option<&str>) -> ApiResult<Vec<Uuid>> {
    let filter = LogFilter {
        tenant: tenant.map(str::to_string),
        types: vec!["EntityErased".to_string()],
        ..LogFilter::default()
    };
    let mut scan = store.scan((Position::START, None), filter, PAGE, |e| e.stream_id);
    let mut erased = Vec::new();
    while let Some(batch) = scan.next_batch().await {
        erased.extend(batch?);
    }
    Ok(erased)
}
