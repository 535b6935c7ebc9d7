//! The IO around the pure replay core ([`syncledger_core::replay`]) and around appends that
//! depend on what a stream holds.
//!
//! `replayDecisions` must find every entity with events of a tenant in a position range. The
//! global log is read once over that range (with the tenant filter) only to collect stream ids;
//! each entity's whole stream is then read by id, because a decision can only be replayed from the
//! state its stream had before it.

use std::collections::HashSet;

use crate::ApiContext;
use syncledger_core::entity::EntityState;
use syncledger_core::log::{
    ExpectedVersion, LogFilter, NewEvent, Position, RecordedEvent, StreamAppend,
};
use syncledger_core::replay::{StreamReplay, replay_entity};
use syncledger_store::{Store, StoreError};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Events read per page while collecting the entities of a range.
const SCAN_PAGE: i64 = 1000;
/// A replay over more entities than this must be split into smaller ranges.
pub const MAX_REPLAY_ENTITIES: usize = 10_000;
/// Attempts of an append whose expected version keeps moving under it.
const APPEND_ATTEMPTS: usize = 8;

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
