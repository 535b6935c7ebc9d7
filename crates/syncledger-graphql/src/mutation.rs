//! The mutation root: what a person may ask of the sync. Admin token only.
//!
//! Mutations never act on a connected system themselves: they append what the person asked for
//! (`ReplayRequested`, `ResyncRequested`, `DeadLetterRetried`, each with `by` = the caller's role)
//! and wake the workers, which then do the work through the same code path as a webhook. The two
//! dry runs (`replayEntity(dryRun: true)`, `replayDecisions`) write nothing at all.

use crate::ApiContext;
use async_graphql::{Context, ID, Object, SimpleObject};
use syncledger_core::events::{
    DeadLetterDiscarded, DeadLetterRetried, ReplayRequested, ResyncRequested, SyncEvent,
    entity_id_for_record,
};
use syncledger_core::log::{EventMeta, ExpectedVersion, Position, StreamAppend};
use syncledger_core::projections::id_mappings;

use crate::auth::admin;
use crate::entity::Entity;
use crate::error::{ApiError, FieldResult};
use crate::query::parse_id;
use crate::replay::{self, ReplayReport, append_checked};
use crate::types::{AppendedEvent, Projection, ReplayDifference};

pub struct Mutation;

/// What `replayEntity` found and did.
#[derive(SimpleObject)]
pub struct ReplayResult {
    pub entity_id: ID,
    pub dry_run: bool,
    /// Where today's decision code decides differently from the recorded decisions.
    pub differences: Vec<ReplayDifference>,
    /// The events appended (none for a dry run).
    pub appended: Vec<AppendedEvent>,
}

fn ledger<'a>(ctx: &Context<'a>) -> &'a ApiContext {
    ctx.data_unchecked::<ApiContext>()
}

#[Object]
impl Mutation {
    /// Re-runs today's decision code over the entity's recorded history. A dry run (the default)
    /// only reports the differences; otherwise the entity is re-decided from fresh fetches: a
    /// `ReplayRequested` and one `ResyncRequested` per linked record are appended and the
    /// workers woken.
    async fn replay_entity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        dry_run: Option<bool>,
    ) -> FieldResult<ReplayResult> {
        let caller = admin(ctx)?;
        let ledger = ledger(ctx);
        let entity = Entity::load(ledger, caller, parse_id(&id)?).await?;
        let (_, differences) = replay::replay_stream(
            ledger,
            entity.entity_id(),
            Position::START,
            Position(i64::MAX),
        )
        .await?;
        let dry_run = dry_run.unwrap_or(true);
        let mut appended = Vec::new();
        if !dry_run {
            let by = caller.name().to_string();
            let done = append_checked(ledger.store(), entity.entity_id(), |state, _| {
                let replay = SyncEvent::ReplayRequested(ReplayRequested {
                    by: by.clone(),
                    dry_run: false,
                });
                let meta = EventMeta {
                    tenant: state.tenant.clone(),
                    correlation_id: None,
                    causation_id: None,
                };
                let first = replay.to_new(meta.clone());
                let chained = EventMeta {
                    correlation_id: Some(first.event_id),
                    causation_id: Some(first.event_id),
                    ..meta
                };
                let mut events = vec![first];
                for (system, link) in &state.links {
                    let resync = ResyncRequested {
                        by: by.clone(),
                        system: system.clone(),
                        record_id: link.record_id.clone(),
                    };
                    events.push(SyncEvent::ResyncRequested(resync).to_new(chained.clone()));
                }
                Ok(events)
            })
            .await?;
            ledger.wake_workers();
            appended = done.into_iter().map(AppendedEvent::from).collect();
        }
        Ok(ReplayResult {
            entity_id: id,
            dry_run,
            differences: differences
                .differences
                .into_iter()
                .map(Into::into)
                .collect(),
            appended,
        })
    }

    /// Asks the sync to fetch the record again and re-decide, as if its system had sent a
    /// webhook. The record's entity is found through the ID mapping; an unlinked record goes to
    /// the entity its first webhook would open (pass `entityType` when several entity types use
    /// the system).
    async fn resync_record(
        &self,
        ctx: &Context<'_>,
        tenant: String,
        system: String,
        record_id: String,
        entity_type: Option<String>,
    ) -> FieldResult<AppendedEvent> {
        let caller = admin(ctx)?;
        let ledger = ledger(ctx);
        let config = ledger.config();
        let tenant_config = config.tenant(&tenant).ok_or(ApiError::NotFound("tenant"))?;
        if tenant_config.system(&system).is_none() {
            return Err(ApiError::NotFound("system").into());
        }
        let key = id_mappings::key(&tenant, &system, &record_id);
        let mapped = ledger
            .store()
            .row(id_mappings::NAME, &key)
            .await?
            .and_then(|r| r.entity_id);
        let entity_id = match mapped {
            Some(id) => id,
            None => {
                let candidates: Vec<&str> = config
                    .entities
                    .iter()
                    .filter(|e| e.systems.contains_key(&system))
                    .filter(|e| entity_type.as_ref().is_none_or(|t| *t == e.name))
                    .map(|e| e.name.as_str())
                    .collect();
                match candidates.as_slice() {
                    [one] => entity_id_for_record(&tenant, one, &system, &record_id),
                    [] => {
                        return Err(
                            ApiError::bad_input(format!("no entity type syncs {system}")).into(),
                        );
                    }
                    _ => {
                        let names = candidates.join(", ");
                        return Err(ApiError::bad_input(format!(
                            "{system} holds {names}: pass entityType"
                        ))
                        .into());
                    }
                }
            }
        };
        let event = SyncEvent::ResyncRequested(ResyncRequested {
            by: caller.name().to_string(),
            system,
            record_id,
        });
        let id = uuid::Uuid::now_v7();
        let meta = EventMeta {
            tenant,
            correlation_id: Some(id),
            causation_id: None,
        };
        let append = StreamAppend {
            stream_id: entity_id,
            expected: ExpectedVersion::Any,
            events: vec![event.to_new_with_id(id, meta)],
        };
        let appended = ledger.store().append(vec![append]).await?;
        ledger.wake_workers();
        Ok(appended
            .into_iter()
            .next()
            .map(Into::into)
            .ok_or_else(|| ApiError::internal("append returned nothing"))?)
    }

    /// Resolves an open review (G10): keep `system`'s value, or write `value` to every system
    /// (exactly one of the two). The choice and who made it are recorded; the workers then
    /// write the chosen value where it differs.
    async fn resolve_conflict(
        &self,
        ctx: &Context<'_>,
        id: ID,
        system: Option<String>,
        value: async_graphql::MaybeUndefined<async_graphql::Json<serde_json::Value>>,
    ) -> FieldResult<crate::conflicts::Conflict> {
        crate::conflicts::resolve(ctx, id, system, value).await
    }

    /// Asks the sync to try a dead-lettered write again (a new request under a new id).
    async fn retry_dead_letter(&self, ctx: &Context<'_>, id: ID) -> FieldResult<AppendedEvent> {
        let caller = admin(ctx)?;
        let ledger = ledger(ctx);
        let letter_id = parse_id(&id)?;
        let letter = match ledger.store().event(letter_id).await? {
            Some(e) => match SyncEvent::from_recorded(&e) {
                Ok(SyncEvent::DeadLettered(d)) if !d.request.can_retry() => {
                    return Err(ApiError::bad_input(
                        "this dead letter holds nothing to retry: discard it instead",
                    )
                    .into());
                }
                Ok(SyncEvent::DeadLettered(_)) => e,
                _ => return Err(ApiError::NotFound("dead letter").into()),
            },
            None => return Err(ApiError::NotFound("dead letter").into()),
        };
        let by = caller.name().to_string();
        let appended = append_checked(ledger.store(), letter.stream_id, |_, stream| {
            let retried_before = stream.iter().any(|e| {
                matches!(SyncEvent::from_recorded(e), Ok(SyncEvent::DeadLetterRetried(r)) if r.dead_letter_id == letter_id)
            });
            if retried_before {
                return Err(ApiError::bad_input("this dead letter was already retried"));
            }
            let discarded = stream.iter().any(|e| {
                matches!(SyncEvent::from_recorded(e), Ok(SyncEvent::DeadLetterDiscarded(d)) if d.dead_letter_id == letter_id)
            });
            if discarded {
                return Err(ApiError::bad_input("this dead letter was discarded"));
            }
            let retried = DeadLetterRetried {
                by: by.clone(),
                dead_letter_id: letter_id,
                request: None,
            };
            let meta = EventMeta {
                tenant: letter.meta.tenant.clone(),
                correlation_id: letter.meta.correlation_id,
                causation_id: Some(letter_id),
            };
            Ok(vec![SyncEvent::DeadLetterRetried(retried).to_new(meta)])
        })
        .await?;
        ledger.wake_workers();
        Ok(appended
            .into_iter()
            .next()
            .map(Into::into)
            .ok_or_else(|| ApiError::internal("append returned nothing"))?)
    }

    /// Sets a dead letter aside for good, saying why (`reason`, required, at most 500
    /// characters): it leaves the dead-letter list, nothing is written, and the entity's stream
    /// records who discarded it and why (`DeadLetterDiscarded`).
    async fn discard_dead_letter(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> FieldResult<AppendedEvent> {
        let caller = admin(ctx)?;
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(
                ApiError::bad_input("a discard needs a reason of 1 to 500 characters").into(),
            );
        }
        let ledger = ledger(ctx);
        let letter_id = parse_id(&id)?;
        let letter = match ledger.store().event(letter_id).await? {
            Some(e) if matches!(SyncEvent::from_recorded(&e), Ok(SyncEvent::DeadLettered(_))) => e,
            _ => return Err(ApiError::NotFound("dead letter").into()),
        };
        let by = caller.name().to_string();
        let appended = append_checked(ledger.store(), letter.stream_id, |_, stream| {
            let settled = stream.iter().any(|e| match SyncEvent::from_recorded(e) {
                Ok(SyncEvent::DeadLetterRetried(r)) => r.dead_letter_id == letter_id,
                Ok(SyncEvent::DeadLetterDiscarded(d)) => d.dead_letter_id == letter_id,
                _ => false,
            });
            if settled {
                return Err(ApiError::bad_input(
                    "this dead letter was already retried or discarded",
                ));
            }
            let discarded = DeadLetterDiscarded {
                by: by.clone(),
                dead_letter_id: letter_id,
                reason: reason.clone(),
            };
            let meta = EventMeta {
                tenant: letter.meta.tenant.clone(),
                correlation_id: letter.meta.correlation_id,
                causation_id: Some(letter_id),
            };
            Ok(vec![SyncEvent::DeadLetterDiscarded(discarded).to_new(meta)])
        })
        .await?;
        Ok(appended
            .into_iter()
            .next()
            .map(Into::into)
            .ok_or_else(|| ApiError::internal("append returned nothing"))?)
    }

    /// Starts rebuilding a projection from position 0 in the background and returns at once;
    /// `projections` shows the progress, and the old table serves until the atomic swap.
    async fn rebuild_projection(&self, ctx: &Context<'_>, name: String) -> FieldResult<Projection> {
        admin(ctx)?;
        let store = ledger(ctx).store().clone();
        let status = store.projection_status().await?;
        let Some(current) = status.into_iter().find(|s| s.name == name) else {
            return Err(ApiError::NotFound("projection").into());
        };
        if matches!(
            current.status,
            syncledger_store::ProjectionState::Rebuilding { .. }
        ) {
            return Err(ApiError::bad_input(format!("{name} is already being rebuilt")).into());
        }
        tokio::spawn(async move {
            match store.rebuild(&name, |_| {}).await {
                Ok(p) => tracing::info!(projection = %name, events = p.done, "projection rebuilt"),
                Err(err) => {
                    tracing::error!(projection = %name, error = %err, "projection rebuild failed")
                }
            }
        });
        Ok(current.into())
    }

    /// Re-runs today's decision code over every entity with events of `tenant` between the two
    /// positions (inclusive) and reports where it decides differently. With `config`, the TOML
    /// of a proposed `[[entities]]` set (checked as at start; a bad one is refused with the line
    /// and what was expected), it decides with that instead: a what-if (`whatIf`). A dry run:
    /// writes nothing.
    async fn replay_decisions(
        &self,
        ctx: &Context<'_>,
        tenant: String,
        from_position: i64,
        to_position: i64,
        config: Option<String>,
    ) -> FieldResult<ReplayReport> {
        admin(ctx)?;
        let range = (from_position, to_position);
        Ok(replay::decisions(ledger(ctx), tenant, range, config.as_deref()).await?)
    }

    /// Erases an entity for good (GDPR Art. 17): its data keys are destroyed, so every value
    /// its history held reads as erased; its history keeps its shape and its links keep
    /// working. Returns a receipt; `verified` is true only when no value was found anywhere.
    async fn erase_entity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> FieldResult<crate::erase::ErasureReceipt> {
        let caller = admin(ctx)?;
        Ok(crate::erase::erase(ledger(ctx), caller, &id, &reason).await?)
    }
}
