//! Conflicts (CONTRACT §7, G10): the `conflicts` connection and `resolveConflict`.
//!
//! Both read the `conflicts` projection; a resolution is checked against the entity's own
//! stream (the review must still be open there) and appended with the version it was checked
//! at, so a candidate moved by a later edit meanwhile makes it check again. The mutation only
//! records the person's choice and who made it (`ConflictResolved`); the workers write it.

use async_graphql::{Context, ID, Json, MaybeUndefined, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;
use syncledger_core::decide::conflict::{Choice, Refused, resolution};
use syncledger_core::events::SyncEvent;
use syncledger_core::log::EventMeta;
use syncledger_core::projection::Row;
use syncledger_core::projections::conflicts::{self, CLOSED_PREFIX, ConflictRow, OPEN_PREFIX};
use syncledger_store::RowQuery;

use crate::ApiContext;
use crate::auth::{admin, caller};
use crate::error::{ApiError, ApiResult, FieldResult};
use crate::paging::{self, Page, prefix_end, row_page};
use crate::query::parse_id;
use crate::replay::append_checked;
use crate::rows::doc;

/// One side of a conflict: a system's value when the ledger observed it.
#[derive(SimpleObject)]
pub struct ConflictCandidate {
    pub system: String,
    pub value: Json<Value>,
    pub observed_at: DateTime<Utc>,
}

/// What a conflict ended with: a system's value, or (system null) a value a person entered.
#[derive(SimpleObject)]
pub struct ConflictChoice {
    pub system: Option<String>,
    pub value: Json<Value>,
}

/// A field both linked records changed since the last sync (G10).
#[derive(SimpleObject)]
pub struct Conflict {
    pub id: ID,
    pub tenant: String,
    pub entity_id: ID,
    pub field: String,
    /// `last_observed`, `owner` or `review`.
    pub policy: String,
    /// True while a `review` waits for a person.
    pub open: bool,
    pub detected_at: DateTime<Utc>,
    pub candidates: Vec<ConflictCandidate>,
    /// Null while a review waits.
    pub chosen: Option<ConflictChoice>,
    /// Who resolved it, when a person did.
    pub resolved_by: Option<String>,
}

impl Conflict {
    pub fn from_row(row: Row) -> ApiResult<Self> {
        let c: ConflictRow = doc(&row)?;
        Ok(Conflict {
            id: ID(c.conflict_id.to_string()),
            tenant: row.tenant,
            entity_id: ID(c.entity_id.to_string()),
            field: c.field,
            policy: c.policy.as_str().to_string(),
            open: c.open,
            detected_at: c.detected_at,
            candidates: c
                .candidates
                .into_iter()
                .map(|s| ConflictCandidate {
                    system: s.system,
                    value: Json(s.value),
                    observed_at: s.observed_at,
                })
                .collect(),
            chosen: c.chosen.map(|c| ConflictChoice {
                system: c.system,
                value: Json(c.value),
            }),
            resolved_by: c.resolved_by,
        })
    }
}

/// A tenant's conflicts: the open reviews (`open: true`, oldest first), the decided ones
/// (`open: false`), or all (decided first).
pub async fn page(
    ctx: &Context<'_>,
    tenant: String,
    open: Option<bool>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<Page<Conflict>> {
    if !caller(ctx)?.sees(&tenant) {
        return Ok(paging::empty());
    }
    let prefix = match open {
        Some(true) => Some(OPEN_PREFIX),
        Some(false) => Some(CLOSED_PREFIX),
        None => None,
    };
    let query = RowQuery {
        tenant: Some(tenant),
        sort_key_from: prefix.map(str::to_string),
        sort_key_to: prefix.map(prefix_end),
        ..RowQuery::default()
    };
    let ledger = ctx.data_unchecked::<ApiContext>();
    let store = ledger.store();
    Ok(row_page(
        store,
        conflicts::NAME,
        query,
        first,
        after,
        Conflict::from_row,
    )
    .await?)
}

/// `resolveConflict`: records the person's choice on an open review; the workers write it.
pub async fn resolve(
    ctx: &Context<'_>,
    id: ID,
    system: Option<String>,
    value: MaybeUndefined<Json<Value>>,
) -> FieldResult<Conflict> {
    let caller = admin(ctx)?;
    let conflict_id = parse_id(&id)?;
    let choice = match (system, value) {
        // A `$value` variable declared but not given arrives as null.
        (Some(system), MaybeUndefined::Undefined | MaybeUndefined::Null) => Choice::Keep(system),
        (None, MaybeUndefined::Value(Json(value))) => Choice::Write(value),
        (None, MaybeUndefined::Null) => Choice::Write(Value::Null),
        _ => {
            let both = "give exactly one of system (keep that system's value) or value";
            return Err(ApiError::bad_input(both).into());
        }
    };
    let ledger = ctx.data_unchecked::<ApiContext>();
    let store = ledger.store();
    let row = store
        .row(conflicts::NAME, &conflicts::key(conflict_id))
        .await?
        .ok_or(ApiError::NotFound("conflict"))?;
    let entity_id = row.entity_id.ok_or(ApiError::NotFound("conflict"))?;
    let by = caller.name().to_string();
    let recorded = std::sync::Mutex::new(None);
    append_checked(store, entity_id, |state, _| {
        let resolved =
            resolution(state, conflict_id, choice.clone(), &by).map_err(|e| match e {
                Refused::NotOpen(_) | Refused::NotASide(_) | Refused::Erased(_) => {
                    ApiError::bad_input(e.to_string())
                }
            })?;
        *recorded.lock().unwrap_or_else(|p| p.into_inner()) = Some(resolved.clone());
        let meta = EventMeta {
            tenant: state.tenant.clone(),
            correlation_id: None,
            causation_id: None,
        };
        Ok(vec![SyncEvent::ConflictResolved(resolved).to_new(meta)])
    })
    .await?;
    ledger.wake_workers();
    let mut conflict = Conflict::from_row(row)?;
    if let Some(done) = recorded.into_inner().unwrap_or_else(|p| p.into_inner()) {
        conflict.open = false;
        conflict.chosen = Some(ConflictChoice {
            system: done.chosen.system,
            value: Json(done.chosen.value),
        });
        conflict.resolved_by = Some(done.by);
    }
    Ok(conflict)
}
