//! The IO around the pure replay core ([`syncledger_core::replay`]) and around appends that
//! depend on what a stream holds.
//!
//! `replayDecisions` must find every entity with events of a tenant in a position range. The
//! global log is read once over that range (with the tenant filter) only to collect stream ids;
//! each entity's whole stream is then read by id, because a decision can only be replayed from the
//! state its stream had before it.

use std::collections::HashSet;

use crate::ApiContext;
use async_graphql::SimpleObject;
use syncledger_core::entity::EntityState;
use syncledger_core::log::{
    ExpectedVersion, LogFilter, NewEvent, Position, RecordedEvent, StreamAppend,
};
use syncledger_core::replay::{StreamReplay, replay_entity};
use syncledger_store::{Store, StoreError};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::types::ReplayDifference;
use crate::what_if::{self, WhatIfOutput};

/// Events read per page while collecting the entities of a range.
const SCAN_PAGE: i64 = 1000;
/// A replay over more entities than this must be split into smaller ranges.
pub const MAX_REPLAY_ENTITIES: usize = 10_000;
/// Attempts of an append whose expected version keeps moving under it.
const APPEND_ATTEMPTS: usize = 8;

/// What `replayDecisions` found across a tenant's entities.
#[derive(SimpleObject)]
pub struct ReplayReport {
    pub tenant: String,
    pub from_position: i64,
    pub to_position: i64,
    /// Entities with events of the tenant in the range.
    pub entities_examined: i32,
    /// Decisions handed their recorded inputs and decided again.
    pub decisions_replayed: i32,
    /// Decisions recorded before their inputs were kept (`InputsGathered`): not replayed.
    pub decisions_without_inputs: i32,
    /// Decisions of erased entities, recorded before the erasure: their inputs read as erased,
    /// so they are skipped, never reported as differences.
    pub decisions_erased: i32,
    /// Where the decision code decides differently (with `config`: each changed entity's
    /// first differing decision, `replayed` being the proposal's).
    pub differences: Vec<ReplayDifference>,
    /// With `config`: what the proposal would have done, per entity and in sum.
    pub what_if: Option<WhatIfOutput>,
}

/// `replayDecisions`: today's decision code (or, with `proposal`, a what-if) over every entity
/// with events of `tenant` in `[from, to]`.
pub async fn decisions(
    ledger: &ApiContext,
    tenant: String,
    (from_position, to_position): (i64, i64),
    proposal: Option<&str>,
) -> ApiResult<ReplayReport> {
    if ledger.config().tenant(&tenant).is_none() {
        return Err(ApiError::NotFound("tenant"));
    }
    if from_position < 0 || to_position < from_position {
        return Err(ApiError::bad_input("need 0 <= fromPosition <= toPosition"));
    }
    let (from, to) = (Position(from_position), Position(to_position));
    let mut report = ReplayReport {
        tenant,
        from_position,
        to_position,
        entities_examined: 0,
        decisions_replayed: 0,
        decisions_without_inputs: 0,
        decisions_erased: 0,
        differences: Vec::new(),
        what_if: None,
    };
    if let Some(proposal) = proposal {
        let (store, config) = (ledger.store(), ledger.config());
        let found =
            what_if::for_tenant(store, config, proposal, &report.tenant, (from, to)).await?;
        let s = &found.summary;
        report.entities_examined = s.entities_examined as i32;
        report.decisions_replayed = s.decisions_replayed as i32;
        report.decisions_without_inputs = s.decisions_without_inputs as i32;
        report.differences = found.entities.iter().map(ReplayDifference::from).collect();
        report.what_if = Some(found.into());
        return Ok(report);
    }
    let entities = entities_in_range(ledger.store(), &report.tenant, from, to).await?;
    for entity_id in &entities {
        let (_, found) = replay_stream(ledger, *entity_id, from, to).await?;
        report.decisions_replayed += found.replayed as i32;
        report.decisions_without_inputs += found.without_inputs as i32;
        report.decisions_erased += found.erased as i32;
        let differences = found.differences.into_iter().map(ReplayDifference::from);
        report.differences.extend(differences);
    }
    report.entities_examined = entities.len() as i32;
    Ok(report)
}

/// Replays the decisions of one entity whose first event lies in `[from, to]`.
pub async fn replay_stream(
    ledger: &ApiContext,
    entity_id: Uuid,
    from: Position,
    to: Position,
) -> ApiResult<(EntityState, StreamReplay)> {
    let events = ledger.store().read_stream(entity_id, 1, i64::MAX).await?;
    let state = EntityState::fold(entity_id, &events);
    let Some(entity_type) = state.entity_type.clone() else {
        return Ok((state, StreamReplay::default()));
    };
    let config = ledger.entity_config(&entity_type).ok_or_else(|| {
        ApiError::bad_input(format!("entity type {entity_type} is not configured"))
    })?;
    let ttl = ledger.config().server.round_trip_ttl();
    let report = replay_entity(config, &events, from, to, ttl);
    Ok((state, report))
}

/// The entities with events of `tenant` in `[from, to]`, in order of their first such event.
pub async fn entities_in_range(
    store: &Store,
    tenant: &str,
    from: Position,
    to: Position,
) -> ApiResult<Vec<Uuid>> {
    let filter = LogFilter {
        tenant: Some(tenant.to_string()),
        ..LogFilter::default()
    };
    let mut after = Position(from.0.saturating_sub(1));
    let mut seen = HashSet::new();
    let mut entities = Vec::new();
    loop {
        let page = store.read_all(after, &filter, SCAN_PAGE).await?;
        let Some(last) = page.last().map(|e| e.position) else {
            break;
        };
        for event in page.iter().take_while(|e| e.position <= to) {
            if seen.insert(event.stream_id) {
                entities.push(event.stream_id);
            }
        }
        if entities.len() > MAX_REPLAY_ENTITIES {
            return Err(ApiError::bad_input(format!(
                "more than {MAX_REPLAY_ENTITIES} entities in this range: replay a narrower one"
            )));
        }
        if last >= to || (page.len() as i64) < SCAN_PAGE {
            break;
        }
        after = last;
    }
    Ok(entities)
}

/// Appends what `build` makes of the stream's current state, expecting exactly the version it
/// read; if another writer moved the stream meanwhile, reads and builds again. So a check made
/// by `build` (a letter not retried yet, the links to resync) holds at the moment of the append.
pub async fn append_checked(
    store: &Store,
    stream_id: Uuid,
    build: impl Fn(&EntityState, &[RecordedEvent]) -> ApiResult<Vec<NewEvent>>,
) -> ApiResult<Vec<syncledger_core::log::Appended>> {
    for _ in 0..APPEND_ATTEMPTS {
        let events = store.read_stream(stream_id, 1, i64::MAX).await?;
        let state = EntityState::fold(stream_id, &events);
        let new = build(&state, &events)?;
        let expected = ExpectedVersion::Exact(state.version);
        match store
            .append(vec![StreamAppend {
                stream_id,
                expected,
                events: new,
            }])
            .await
        {
            Ok(appended) => return Ok(appended),
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::internal(format!(
        "stream {stream_id} kept changing during {APPEND_ATTEMPTS} attempts"
    )))
}
