//! Writes out: perform a requested write, record its outcome, and settle writes whose outcome the
//! log does not know (a crash between request and answer: G4).
//!
//! A create whose outcome is unknown is never simply sent again. First the ledger looks for the
//! record it may have created: a link the target's echo already established, then a record in the
//! target with the same match keys. Only then is the POST retried, with the same
//! `Idempotency-Key`, which a system that honours keys answers with the record it made the first time.

use serde_json::json;
use syncledger_connector::{Connector, ConnectorError, Record};
use syncledger_core::decide::Outcome;
use syncledger_core::decide::recovery::{Recovery, record_matches, recovery_steps};
use syncledger_core::entity::{EntityState, Link, PendingWrite};
use syncledger_core::events::{Resolution, WriteOp, WriteRequested};
use syncledger_core::mapping::{to_canonical, write_body};
use uuid::Uuid;

use super::env::Env;
use super::outcome::record_outcome;
use crate::error::EngineError;

/// Page size when the ledger looks a record up by match keys.
const LOOKUP_PAGE: u32 = 200;

/// Performs the writes a decision just recorded as requested.
pub(super) async fn perform_writes(
    env: &Env,
    state: &mut EntityState,
    correlation: Uuid,
    outcome: &Outcome,
) -> Result<(), EngineError> {
    for write in outcome.writes() {
        let result = send(env, state, write, Resolution::Response).await;
        record_outcome(env, state, correlation, write, 1, result).await?;
    }
    Ok(())
}

/// A write the log holds as requested without a final outcome: either a retry that is due, or
/// one whose answer was lost. Settled by the core's recovery steps, in order (G4).
pub(super) async fn settle_pending(
    env: &Env,
    state: &mut EntityState,
    pending: &PendingWrite,
) -> Result<(), EngineError> {
    let correlation = pending.correlation_id.unwrap_or(pending.requested_event_id);
    let write = &pending.request;
    let attempt = pending.attempts + 1;
    for step in recovery_steps(state, pending) {
        let found = match &step {
            Recovery::Link(link) => fetch_linked(env, state, write, link).await,
            Recovery::MatchKeys { fingerprint } => {
                find_by_keys(env, state, write, fingerprint).await
            }
            Recovery::Send(resolution) => {
                let result = send(env, state, write, *resolution).await;
                return record_outcome(env, state, correlation, write, attempt, result).await;
            }
        };
        if let Some(record) = found {
            let found = Ok((record, step.resolution()));
            return record_outcome(env, state, correlation, write, attempt, found).await;
        }
    }
    Ok(())
}

/// The record the entity links in the write's target, if the target still has it.
async fn fetch_linked(
    env: &Env,
    state: &EntityState,
    write: &WriteRequested,
    link: &Link,
) -> Option<Record> {
    let connector = env.ctx.connector(&state.tenant, &write.target_system)?;
    connector
        .get(&link.collection, &link.record_id)
        .await
        .ok()
        .flatten()
}

/// A record of the write's target whose match keys give `fingerprint`, paging through the
/// collection. A failed page ends the search (the idempotent retry follows).
async fn find_by_keys(
    env: &Env,
    state: &EntityState,
    write: &WriteRequested,
    fingerprint: &str,
) -> Option<Record> {
    let connector = env.ctx.connector(&state.tenant, &write.target_system)?;
    let config = env.ctx.entity_config(state.entity_type.as_deref()?)?;
    let map = config.systems.get(&write.target_system)?;
    let mut cursor: Option<String> = None;
    loop {
        let page = connector
            .list(&write.collection, LOOKUP_PAGE, cursor.as_deref())
            .await
            .ok()?;
        for record in page.items {
            if record_matches(config, fingerprint, &to_canonical(map, &record.body)) {
                return Some(record);
            }
        }
        cursor = Some(page.next_cursor?);
    }
}

/// One attempt at a write: one request (the connector does not retry; a transient failure is
/// recorded and the write retried later under the one retry policy).
async fn send(
    env: &Env,
    state: &EntityState,
    write: &WriteRequested,
    resolution: Resolution,
) -> Result<(Record, Resolution), ConnectorError> {
    let gone = || {
        ConnectorError::Invalid(format!(
            "the target system {} is no longer in the configuration of {}'s {}",
            write.target_system,
            state.tenant,
            state.entity_type.as_deref().unwrap_or("entity"),
        ))
    };
    let connector = env
        .ctx
        .connector(&state.tenant, &write.target_system)
        .ok_or_else(gone)?;
    let entity_type = state.entity_type.clone().unwrap_or_default();
    let map = env
        .ctx
        .entity_config(&entity_type)
        .and_then(|c| c.systems.get(&write.target_system))
        .ok_or_else(gone)?
        .clone();
    let record_id = write.record_id.clone().unwrap_or_default();
    let record = match write.op {
        WriteOp::Create => {
            let body = write_body(&map, &write.fields, None);
            connector
                .create(&write.collection, &body, &write.request_id.to_string())
                .await?
        }
        WriteOp::Update => {
            let current = if map
                .fields
                .iter()
                .any(|(f, p)| write.fields.contains_key(f) && p.as_str() != p.top())
            {
                connector
                    .get(&write.collection, &record_id)
                    .await?
                    .map(|r| r.body)
            } else {
                None
            };
            let body = write_body(&map, &write.fields, current.as_ref());
            // The condition is the version the decision saw, never the GET just above.
            let if_match = write.if_match.as_deref();
            connector
                .update_if(&write.collection, &record_id, &body, if_match)
                .await?
        }
        WriteOp::Delete => {
            let if_match = write.if_match.as_deref();
            connector
                .delete_if(&write.collection, &record_id, if_match)
                .await?;
            Record {
                id: record_id,
                body: json!({}),
                etag: None,
            }
        }
    };
    Ok((record, resolution))
}
