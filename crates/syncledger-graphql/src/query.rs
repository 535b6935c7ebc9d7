//! The query root: entities and their history, the global log, the projections' tables, and the
//! sync's health. Every field checks the caller first; tenant callers are scoped to their tenant
//! (see [`crate::auth::Caller::scope`]).

use crate::ApiContext;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use syncledger_core::events::entity_id_for_record;
use syncledger_core::log::{LogFilter, Position};
use syncledger_core::projections::{dead_letters, id_mappings, pending_queue};
use syncledger_store::RowQuery;
use uuid::Uuid;

use crate::auth::{admin, caller};
use crate::entity::Entity;
use crate::error::{ApiError, ApiResult, FieldResult};
use crate::paging::{self, Page, number_cursor, page_size, prefix_end, row_page};
use crate::rows::{DeadLetter, Mapping, PendingItem, SyncStatus};
use crate::types::{Event, Projection};
use crate::viewer::Viewer;
use crate::{find, status, systems};

pub struct Query;

pub fn parse_id(id: &ID) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::bad_input(format!("{:?} is not a UUID", id.as_str())))
}

fn ledger<'a>(ctx: &Context<'a>) -> &'a ApiContext {
    ctx.data_unchecked::<ApiContext>()
}

#[Object]
impl Query {
    /// A sync entity by its id (the UUID of its stream).
    async fn entity(&self, ctx: &Context<'_>, id: ID) -> FieldResult<Option<Entity>> {
        let caller = caller(ctx)?;
        Ok(Some(
            Entity::load(ledger(ctx), caller, parse_id(&id)?).await?,
        ))
    }

    /// The caller (the admin or a tenant's reader) and the tenants, systems and entity types it
    /// sees.
    async fn viewer(&self, ctx: &Context<'_>) -> FieldResult<Viewer> {
        Ok(Viewer::of(caller(ctx)?, ledger(ctx).config()))
    }

    /// The entities of `tenant` with a record the log has seen holding `value` in a match-key
    /// field (e.g. an email; compared as match keys compare: trimmed, case-insensitive), then
    /// those whose records hold every whole word of `value` in their text fields (a name:
    /// "Alan Turing", "turing"; case-insensitive), at most 20.
    async fn find_entities(
        &self,
        ctx: &Context<'_>,
        tenant: String,
        value: String,
    ) -> FieldResult<Vec<Entity>> {
        let caller = caller(ctx)?;
        Ok(find::find_entities(ledger(ctx), caller, &tenant, &value).await?)
    }

    /// The sync entity a system's record belongs to: linked (the ID mapping), or observed but
    /// not linked yet.
    async fn entity_by_record(
        &self,
        ctx: &Context<'_>,
        tenant: String,
        system: String,
        record_id: String,
    ) -> FieldResult<Option<Entity>> {
        let caller = caller(ctx)?;
        if !caller.sees(&tenant) {
            return Err(ApiError::NotFound("entity").into());
        }
        let ledger = ledger(ctx);
        let key = id_mappings::key(&tenant, &system, &record_id);
        if let Some(entity_id) = ledger
            .store()
            .row(id_mappings::NAME, &key)
            .await?
            .and_then(|r| r.entity_id)
        {
            return Ok(Some(Entity::load(ledger, caller, entity_id).await?));
        }
        for entity in ledger
            .config()
            .entities
            .iter()
            .filter(|e| e.systems.contains_key(&system))
        {
            let id = entity_id_for_record(&tenant, &entity.name, &system, &record_id);
            if ledger.store().stream_version(id).await? > 0 {
                return Ok(Some(Entity::load(ledger, caller, id).await?));
            }
        }
        Err(ApiError::NotFound("entity").into())
    }

    /// The global log in position order; the cursor is the position. `from` is inclusive, `to`
    /// exclusive (recorded-at times); `types` are event type names (`DecisionMade`, ...).
    #[graphql(complexity = "paging::complexity(first, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        tenant: Option<String>,
        types: Option<Vec<String>>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> FieldResult<Page<Event>> {
        let size = page_size(first)?;
        let after = Position(number_cursor(after.as_deref())?.unwrap_or(0));
        let Some(tenant) = caller(ctx)?.scope(tenant) else {
            return Ok(paging::empty());
        };
        let filter = LogFilter {
            tenant,
            types: types.unwrap_or_default(),
            recorded_from: from,
            recorded_to: to,
        };
        let mut events = ledger(ctx)
            .store()
            .read_all(after, &filter, size as i64 + 1)
            .await?;
        let has_next = events.len() > size;
        events.truncate(size);
        let mut page = Connection::new(after > Position::START, has_next);
        for event in events {
            page.edges
                .push(Edge::new(event.position.0.to_string(), Event::alone(event)));
        }
        Ok(page)
    }

    /// The ID-mapping table, by system then record id.
    #[graphql(complexity = "paging::complexity(first, child_complexity)")]
    async fn mappings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        tenant: Option<String>,
        system: Option<String>,
    ) -> FieldResult<Page<Mapping>> {
        let Some(tenant) = caller(ctx)?.scope(tenant) else {
            return Ok(paging::empty());
        };
        let prefix = system.map(|s| format!("{s}/"));
        let query = RowQuery {
            tenant,
            sort_key_to: prefix.as_deref().map(prefix_end),
            sort_key_from: prefix,
            ..RowQuery::default()
        };
        Ok(row_page(
            ledger(ctx).store(),
            id_mappings::NAME,
            query,
            first,
            after,
            Mapping::from_row,
        )
        .await?)
    }

    /// Work the sync still owes, the item due first at the top.
    #[graphql(complexity = "paging::complexity(first, child_complexity)")]
    async fn pending_queue(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        tenant: Option<String>,
    ) -> FieldResult<Page<PendingItem>> {
        let Some(tenant) = caller(ctx)?.scope(tenant) else {
            return Ok(paging::empty());
        };
        let query = RowQuery {
            tenant,
            ..RowQuery::default()
        };
        Ok(row_page(
            ledger(ctx).store(),
            pending_queue::NAME,
            query,
            first,
            after,
            PendingItem::from_row,
        )
        .await?)
    }

    /// Writes that will not succeed by retrying, oldest first.
    #[graphql(complexity = "paging::complexity(first, child_complexity)")]
    async fn dead_letters(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        tenant: Option<String>,
    ) -> FieldResult<Page<DeadLetter>> {
        let Some(tenant) = caller(ctx)?.scope(tenant) else {
            return Ok(paging::empty());
        };
        let query = RowQuery {
            tenant,
            ..RowQuery::default()
        };
        Ok(row_page(
            ledger(ctx).store(),
            dead_letters::NAME,
            query,
            first,
            after,
            DeadLetter::from_row,
        )
        .await?)
    }

    /// Fields both linked records changed since the last sync (G10), with both values, the
    /// policy and its choice; `open: true` for the reviews waiting for a person.
    #[graphql(complexity = "paging::complexity(first, child_complexity)")]
    async fn conflicts(
        &self,
        ctx: &Context<'_>,
        tenant: String,
        open: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<Page<crate::conflicts::Conflict>> {
        crate::conflicts::page(ctx, tenant, open, first, after).await
    }

    /// Queue depth, oldest pending age, error rate and lag of one tenant's sync.
    async fn sync_status(
        &self,
        ctx: &Context<'_>,
        tenant: String,
    ) -> FieldResult<Option<SyncStatus>> {
        let caller = caller(ctx)?;
        let ledger = ledger(ctx);
        if !caller.sees(&tenant) || ledger.config().tenant(&tenant).is_none() {
            return Err(ApiError::NotFound("tenant").into());
        }
        let mut status = status::sync_status(ledger.store(), &tenant).await?;
        status.initial_syncs =
            crate::initial_sync::initial_syncs(ledger.store(), ledger.config(), &tenant).await?;
        let names = ledger.config().tenant(&tenant).into_iter();
        let names = names.flat_map(|t| t.systems.keys().cloned());
        status.systems = systems::system_statuses(ledger.store(), &tenant, names).await?;
        Ok(Some(status))
    }

    /// One tenant's last `minutes` minutes (default 60, at most a day), oldest first: the
    /// deepest and last sampled queue depth, and the intake and writes of each minute, as the
    /// ledger sampled them (every 5 seconds in each serving process, kept for 24 hours).
    async fn ops_history(
        &self,
        ctx: &Context<'_>,
        tenant: String,
        minutes: Option<i32>,
    ) -> FieldResult<Vec<crate::ops_history::OpsMinute>> {
        use crate::ops_history::{MAX_MINUTES, minute_of};
        let caller = caller(ctx)?;
        let ledger = ledger(ctx);
        if !caller.sees(&tenant) || ledger.config().tenant(&tenant).is_none() {
            return Err(ApiError::NotFound("tenant").into());
        }
        let span = i64::from(minutes.unwrap_or(60));
        if !(1..=MAX_MINUTES).contains(&span) {
            let wrong = format!("minutes must be between 1 and {MAX_MINUTES}");
            return Err(ApiError::bad_input(wrong).into());
        }
        let from = minute_of(Utc::now()) - span + 1;
        let samples = ledger.store().ops_samples(&tenant, from).await?;
        Ok(crate::ops_history::minutes(&samples, from))
    }

    /// Every projection: its checkpoint, lag and status (with a running rebuild's progress).
    /// For the admin only: the figures are the whole log's, all tenants together (a tenant's own
    /// lag is in `syncStatus`).
    async fn projections(&self, ctx: &Context<'_>) -> FieldResult<Vec<Projection>> {
        admin(ctx)?;
        let statuses = ledger(ctx).store().projection_status().await?;
        Ok(statuses.into_iter().map(Projection::from).collect())
    }
}
