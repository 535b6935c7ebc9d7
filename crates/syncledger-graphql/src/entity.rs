//! `Entity`: one sync entity, read from its own stream.
//!
//! Once an entity's first events were archived (docs/log.md, "Archiving"), its stream holds only
//! the later ones: its state (`version`, `links`, `state`, `entityType`) is read from its
//! snapshot folded on with them, and `archived` says where the earlier ones went.
//!
//! Everything here reads the entity's stream by id (`read_stream`), never the global log. Loading
//! an entity reads only its first event (enough to know it exists and whose it is); the fields
//! that need the whole story (`links`, `state`, `whyField`) read the stream once and share it.
//! `history` pages by sequence number and reads a few events before the page as well, so the
//! explanation of a write can name the change that caused it even when that change sits on the
//! previous page.

use std::sync::Arc;

use crate::ApiContext;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Json, Object, SimpleObject};
use serde_json::{Map, Value};
use syncledger_core::entity::EntityState;
use syncledger_core::explain::explain_stream;
use syncledger_core::explain::summary::summarize;
use syncledger_core::log::RecordedEvent;
use syncledger_core::privacy;
use syncledger_core::snapshot;
use syncledger_store::archive::StreamArchive;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::auth::{Caller, caller};
use crate::error::{ApiError, ApiResult, FieldResult};
use crate::paging::{Page, number_cursor, page_size};
use crate::summary::EntitySummary;
use crate::types::{Event, Link};
use crate::why;

/// Events read before a history page, as context for its explanations.
const EXPLAIN_CONTEXT: u64 = 64;

pub struct Entity {
    id: Uuid,
    tenant: String,
    entity_type: Option<String>,
    stream: OnceCell<Arc<Vec<RecordedEvent>>>,
    /// Where its first events went, when they were archived (read on first use).
    archive: OnceCell<Option<Arc<StreamArchive>>>,
}

/// Where an entity's earlier events went: `events` of them (sequences 1 to `events`) were
/// archived on `archivedAt`, the newest in segment `segment` of the archive directory.
#[derive(SimpleObject)]
pub struct ArchivedHistory {
    pub events: i64,
    pub segment: i64,
    pub archived_at: chrono::DateTime<chrono::Utc>,
    /// "42 earlier events archived on 2026-12-01 in segment 0007".
    pub note: String,
}

impl Entity {
    /// The entity with this id, if it exists and the caller may see it (otherwise the same
    /// `NOT_FOUND` either way).
    pub async fn load(ledger: &ApiContext, caller: &Caller, id: Uuid) -> ApiResult<Entity> {
        let first = ledger.store().read_stream(id, 1, 1).await?;
        let archive = OnceCell::new();
        let (tenant, entity_type) = match first.into_iter().next() {
            // The first live event is the stream's first unless it was archived.
            Some(first) if first.sequence == 1 => {
                let entity_type = first
                    .payload
                    .get("entity_type")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                (first.meta.tenant, entity_type)
            }
            live => {
                let archived = ledger.store().archives().stream(id).await?.map(Arc::new);
                let state = archived.as_ref().and_then(|a| a.state.as_ref());
                let tenant = match (&live, state) {
                    (Some(first), _) => first.meta.tenant.clone(),
                    (None, Some(_)) => snapshot::resume_entity(id, state, &[]).tenant,
                    (None, None) => return Err(ApiError::NotFound("entity")),
                };
                let entity_type = snapshot::resume_entity(id, state, &[]).entity_type;
                let _ = archive.set(archived);
                (tenant, entity_type)
            }
        };
        if !caller.sees(&tenant) {
            return Err(ApiError::NotFound("entity"));
        }
        Ok(Entity {
            id,
            tenant,
            entity_type,
            stream: OnceCell::new(),
            archive,
        })
    }

    /// Where its first events went, if they were archived.
    async fn archive(&self, ctx: &Context<'_>) -> ApiResult<Option<Arc<StreamArchive>>> {
        let ledger = ctx.data_unchecked::<ApiContext>();
        let archive = self
            .archive
            .get_or_try_init(|| async {
                let archived = ledger.store().archives().stream(self.id).await?;
                Ok::<_, ApiError>(archived.map(Arc::new))
            })
            .await?;
        Ok(archive.clone())
    }

    pub fn entity_id(&self) -> Uuid {
        self.id
    }

    async fn stream(&self, ctx: &Context<'_>) -> ApiResult<Arc<Vec<RecordedEvent>>> {
        let ledger = ctx.data_unchecked::<ApiContext>();
        let stream = self
            .stream
            .get_or_try_init(|| async {
                let events = ledger.store().read_stream(self.id, 1, i64::MAX).await?;
                Ok::<_, ApiError>(Arc::new(events))
            })
            .await?;
        Ok(stream.clone())
    }

    /// Its state: the stream folded, from its snapshot when its first events were archived
    /// (live events a run left behind, at or below the snapshot's version, are skipped).
    async fn folded(&self, ctx: &Context<'_>) -> ApiResult<EntityState> {
        let stream = self.stream(ctx).await?;
        let Some(archived) = self.archive(ctx).await? else {
            return Ok(EntityState::fold(self.id, stream.iter()));
        };
        let after: Vec<RecordedEvent> = stream
            .iter()
            .filter(|e| e.sequence > archived.version)
            .cloned()
            .collect();
        Ok(snapshot::resume_entity(
            self.id,
            archived.state.as_ref(),
            &after,
        ))
    }

    fn type_name(&self) -> &str {
        self.entity_type.as_deref().unwrap_or("record")
    }
}

/// The value a field holds in one system and the chain of events that put it there.
#[derive(SimpleObject)]
pub struct FieldProvenance {
    pub field: String,
    pub system: String,
    /// The field's current value in that system.
    pub value: Json<Value>,
    /// From the root cause (the webhook, resync or retry) to the event that set the value, in
    /// log order; the last element is the event that set it.
    pub chain: Vec<Event>,
}

#[Object]
impl Entity {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    async fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The canonical entity type (`customer`, ...), once the stream names it.
    async fn entity_type(&self, ctx: &Context<'_>) -> FieldResult<Option<String>> {
        if let Some(t) = &self.entity_type {
            return Ok(Some(t.clone()));
        }
        Ok(self.folded(ctx).await?.entity_type)
    }

    /// The stream's last sequence number.
    async fn version(&self, ctx: &Context<'_>) -> FieldResult<i64> {
        Ok(self.folded(ctx).await?.version as i64)
    }

    /// Where the entity's earlier events went, when they were archived (`history` then starts
    /// after them; `syncledger history --archive DIR` reads them back). Null when none were.
    async fn archived(&self, ctx: &Context<'_>) -> FieldResult<Option<ArchivedHistory>> {
        Ok(self.archive(ctx).await?.map(|a| ArchivedHistory {
            events: a.version as i64,
            segment: a.segment,
            archived_at: a.archived_at,
            note: a.note(),
        }))
    }

    /// The entity's records, one per linked system.
    async fn links(&self, ctx: &Context<'_>) -> FieldResult<Vec<Link>> {
        let state = self.folded(ctx).await?;
        Ok(state
            .links
            .into_iter()
            .map(|(system, l)| Link {
                system,
                record_id: l.record_id,
                collection: l.collection,
            })
            .collect())
    }

    /// Canonical fields as last fetched from or written to each system: `{"crm": {"email":
    /// ...}, "erp": {...}}`.
    async fn state(&self, ctx: &Context<'_>) -> FieldResult<Json<Value>> {
        let state = self.folded(ctx).await?;
        let systems: Map<String, Value> = state
            .known
            .into_iter()
            .map(|(system, fields)| (system, Value::Object(fields.into_iter().collect())))
            .collect();
        Ok(Json(Value::Object(systems)))
    }

    /// The entity in one line: where it is linked, whether (when, why) it was deleted, which
    /// system a record is held back from and why.
    async fn summary(&self, ctx: &Context<'_>) -> FieldResult<EntitySummary> {
        let stream = self.stream(ctx).await?;
        Ok(summarize(&stream).into())
    }

    /// The entity's events in sequence order; the cursor is the sequence number.
    #[graphql(complexity = "crate::paging::complexity(first, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<Page<Event>> {
        let size = page_size(first)?;
        let start = number_cursor(after.as_deref())?.map_or(1, |s| s as u64 + 1);
        let context_from = start.saturating_sub(EXPLAIN_CONTEXT).max(1);
        let want = (start - context_from) as i64 + size as i64 + 1;
        let ledger = ctx.data_unchecked::<ApiContext>();
        let mut events = ledger
            .store()
            .read_stream(self.id, context_from, want)
            .await?;
        if let Some(erased) = ledger.store().last_erasure(self.id).await? {
            for event in events.iter_mut().filter(|e| e.sequence < erased) {
                privacy::mark_erased(&event.event_type, &mut event.payload);
            }
        }
        let lines = explain_stream(self.type_name(), &events);
        let mut page: Vec<Event> = events
            .into_iter()
            .zip(lines)
            .filter(|(e, _)| e.sequence >= start)
            .map(|(event, explanation)| Event { event, explanation })
            .collect();
        let has_next = page.len() > size;
        page.truncate(size);
        let mut connection = Connection::new(start > 1, has_next);
        for event in page {
            connection
                .edges
                .push(Edge::new(event.event.sequence.to_string(), event));
        }
        Ok(connection)
    }

    /// Why `field` holds its current value in `system` (or, without one, in the system where it
    /// was set most recently): the causal chain, root cause first. Null when no linked system
    /// holds the field.
    async fn why_field(
        &self,
        ctx: &Context<'_>,
        field: String,
        system: Option<String>,
    ) -> FieldResult<Option<FieldProvenance>> {
        let caller = caller(ctx)?;
        let stream = self.stream(ctx).await?;
        let Some(origin) = why::origin(&stream, &field, system.as_deref()) else {
            return Ok(None);
        };
        let ledger = ctx.data_unchecked::<ApiContext>();
        let chain = why::chain(ledger.store(), caller, &stream, origin.index).await?;
        let mut chain = why::with_conflicts(&stream, chain, &field, &origin.value);
        // Erased since: the value and the chain read as erased, and the erasure ends the chain.
        let mut value = origin.value;
        if let Some(erased) = stream.iter().rposition(|e| e.event_type == "EntityErased")
            && origin.index < erased
        {
            value = privacy::erased_mark();
            let before = stream[erased].sequence;
            for event in chain.iter_mut() {
                if event.stream_id == self.id && event.sequence < before {
                    privacy::mark_erased(&event.event_type, &mut event.payload);
                }
            }
            chain.push(stream[erased].clone());
        }
        // Only the part of the stream the chain spans is explained, with the same context before
        // it as a history page has: explaining all of a long stream was most of the time taken.
        // The part holds the stream's erasure whenever it holds an event erased by it (the chain
        // ends with the erasure, or starts after it).
        let at: Vec<Option<usize>> = chain
            .iter()
            .map(|event| stream.iter().position(|e| e.event_id == event.event_id))
            .collect();
        let first = at.iter().flatten().min().copied().unwrap_or(origin.index);
        let last = at.iter().flatten().max().copied().unwrap_or(origin.index);
        let from = first.saturating_sub(EXPLAIN_CONTEXT as usize);
        let mut shown = stream[from..=last].to_vec();
        privacy::show_erased(&mut shown);
        let lines = explain_stream(self.type_name(), &shown);
        let explained = chain
            .into_iter()
            .zip(at)
            .map(|(event, at)| {
                let explanation = at.map_or_else(
                    || Event::alone(event.clone()).explanation,
                    |i| lines[i - from].clone(),
                );
                Event { event, explanation }
            })
            .collect();
        Ok(Some(FieldProvenance {
            field,
            system: origin.system,
            value: Json(value),
            chain: explained,
        }))
    }
}
