//! What the engine looks up before it decides: the IO half of a decision.
//!
//! The source record is fetched from its origin (the webhook is only a hint). The round-trip
//! context gives the values the sync recently wrote into the source system (G3) and, for a record
//! nobody has linked yet, a pending create it may be the echo of (G2). Targets with later work
//! queued are fetched so a conflict is resolved by log order (G5).

use chrono::{DateTime, Utc};
use syncledger_core::config::EntityConfig;
use syncledger_core::decide::{EchoContext, Gathered, RoundTripMatch, create_fingerprint};
use syncledger_core::entity::{EntityState, Trigger, TriggerKind};
use syncledger_core::events::RecordFetched;
use syncledger_core::mapping::to_canonical;
use syncledger_core::projections::{id_mappings, round_trip_context};
use syncledger_store::RowQuery;
use uuid::Uuid;

use crate::error::EngineError;
use crate::ledger::Ledger;

impl Ledger {
    pub(crate) async fn gather(
        &self,
        config: &EntityConfig,
        state: &EntityState,
        trigger: &Trigger,
    ) -> Result<Gathered, EngineError> {
        let mut gathered = Gathered::default();
        let Some((source, record_id)) = trigger.source() else {
            return Ok(gathered);
        };
        let Some(map) = config.systems.get(source) else {
            return Ok(gathered);
        };
        let connector = self.connector(&state.tenant, source).ok_or_else(|| {
            EngineError::Invalid(format!("no connector for {}/{source}", state.tenant))
        })?;
        let fetched = connector
            .get(&map.collection, record_id)
            .await
            .map_err(|e| EngineError::Invalid(format!("fetching {source} {record_id}: {e}")))?;
        let fetched = RecordFetched {
            system: source.into(),
            record_id: record_id.into(),
            found: fetched.is_some(),
            fields: fetched
                .map(|r| to_canonical(map, &r.body))
                .unwrap_or_default(),
        };
        let now = Utc::now();
        gathered.echo = self.echo_context(state.entity_id, now).await?;
        let linked_here = state
            .links
            .get(source)
            .is_some_and(|l| l.record_id == record_id);
        if !linked_here && fetched.found {
            gathered.round_trip = self
                .owner_of(config, state, source, record_id, &fetched, now)
                .await?;
        }
        for (target, target_map) in config.systems.iter().filter(|(s, _)| s.as_str() != source) {
            let later = state.open_triggers.iter().any(|t| {
                t.position > trigger.position
                    && matches!(&t.kind, TriggerKind::Observed { system, .. } if system == target)
            });
            if let (true, Some(link)) = (later, state.links.get(target)) {
                let other = self.connector(&state.tenant, target);
                if let Some(Ok(Some(record))) = match other {
                    Some(c) => Some(c.get(&link.collection, &link.record_id).await),
                    None => None,
                } {
                    gathered
                        .fresh_targets
                        .insert(target.clone(), to_canonical(target_map, &record.body));
                }
            }
        }
        gathered.fetched = Some(fetched);
        Ok(gathered)
    }

    /// The values the sync wrote into each system for this entity, still inside the round-trip TTL.
    async fn echo_context(
        &self,
        entity_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<EchoContext, EngineError> {
        let mut echo = EchoContext::default();
        for row in self
            .store()
            .rows_by_entity(round_trip_context::NAME, entity_id)
            .await?
        {
            if !row.key.starts_with("wrote/") || expired(&row.doc, now) {
                continue;
            }
            let (Some(system), Some(field)) =
                (row.doc["target_system"].as_str(), row.doc["field"].as_str())
            else {
                continue;
            };
            echo.record(system, field, row.doc["value"].clone());
        }
        Ok(echo)
    }

    /// Another entity this record belongs to: mapped there already, or the echo of its create.
    async fn owner_of(
        &self,
        config: &EntityConfig,
        state: &EntityState,
        source: &str,
        record_id: &str,
        fetched: &RecordFetched,
        now: DateTime<Utc>,
    ) -> Result<Option<RoundTripMatch>, EngineError> {
        let mapped = self
            .store()
            .row(
                id_mappings::NAME,
                &id_mappings::key(&state.tenant, source, record_id),
            )
            .await?;
        if let Some(entity_id) = mapped
            .and_then(|r| r.entity_id)
            .filter(|id| *id != state.entity_id)
        {
            let version = self.load(entity_id).await?.version;
            return Ok(Some(RoundTripMatch {
                entity_id,
                entity_version: version,
                request_id: Uuid::nil(),
            }));
        }
        let fingerprint = create_fingerprint(config, &fetched.fields);
        let sort_key = format!("{source}/{fingerprint}");
        let query = RowQuery {
            tenant: Some(state.tenant.clone()),
            sort_key_from: Some(sort_key.clone()),
            sort_key_to: Some(sort_key),
            after: None,
            limit: 16,
        };
        for row in self.store().rows(round_trip_context::NAME, &query).await? {
            let Some(entity_id) = row.entity_id.filter(|id| *id != state.entity_id) else {
                continue;
            };
            if expired(&row.doc, now) {
                continue;
            }
            let other = self.load(entity_id).await?;
            // Its create may already have linked another record: then this one is not its echo.
            if other
                .links
                .get(source)
                .is_some_and(|l| l.record_id != record_id)
            {
                continue;
            }
            let request_id = row.doc["request_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            return Ok(Some(RoundTripMatch {
                entity_id,
                entity_version: other.version,
                request_id,
            }));
        }
        Ok(None)
    }
}

fn expired(doc: &serde_json::Value, now: DateTime<Utc>) -> bool {
    doc["expires_at"]
        .as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        .is_some_and(|at| at <= now)
}
