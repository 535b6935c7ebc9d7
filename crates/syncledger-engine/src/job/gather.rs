//! Gather, the first step of a job: what the engine looks up before it decides, the IO half of
//! a decision. Everything found is handed to the core's `decide` as [`Gathered`] and recorded
//! as `InputsGathered` before the decision, so a replay hands today's code the same inputs.
//!
//! The source record is fetched from its origin (the webhook is only a hint), except for the
//! `created` notice of the sync's own create (`decide::created_echo`: its answer said it all). The values the sync
//! recently wrote into the source system (G3) come from the entity's own stream, already read and
//! folded (the same facts as its `wrote/` rows of `round_trip_context`, without a query); the
//! `round_trip_context` table is asked, for a record nobody has linked yet, for a pending create
//! of another entity it may be the echo of (G2). Targets with later work queued are fetched so a
//! conflict is resolved by log order (G5); a failed fetch of one fails the step (it is retried),
//! so G5 is never decided without it.
//!
//! Equal match keys (G8): what happens before deciding is the core's
//! `decide::first_seen::before_deciding`. A record seen for the first time is *recorded before
//! it is decided*: the events the core returns (its fetch and its link) go into the log (and so
//! into the inline `match_index`) on their own, and the decision follows on the job's next
//! step, on the same fetch ([`FirstSeen`]). Then, for each system the entity has no
//! record in, `match_index` is asked for an unpaired record with the same keys. Two workers
//! deciding a CRM record and an ERP record with the same keys at the same moment therefore each
//! see the other's record at the latest when deciding, and each link appends to the other
//! entity's stream with its version: one append wins, the other re-reads (docs/races.md).

use chrono::{DateTime, Utc};
use syncledger_core::config::{EntityConfig, EntitySystemConfig};
use syncledger_core::decide::first_seen::{BeforeDeciding, before_deciding};
use syncledger_core::decide::{
    Gathered, coalesce, create_fingerprint, created_echo, has_later_work, link, round_trip,
};
use syncledger_core::entity::{EntityState, Trigger};
use syncledger_core::events::{LinkCandidate, RecordFetched, RoundTrip, SyncEvent};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_core::mapping::{match_fingerprint, match_value_hash, to_canonical};
use syncledger_core::projections::id_mappings;
use syncledger_core::projections::match_index::{self, SeenValue};
use syncledger_core::projections::round_trip_context::{self, CreateContext};
use syncledger_store::RowQuery;
use uuid::Uuid;

use super::env::Env;
use crate::error::EngineError;
use crate::settings::{Gate, GatePoint};

/// Index rows looked at per lookup: records of one system sharing a match value, or creates in
/// flight sharing a fingerprint.
const MATCH_ROWS: i64 = 16;

/// What gathering came to.
pub(super) enum Gather {
    /// Everything deciding needs.
    Ready(Gathered),
    /// The record was seen for the first time and recorded instead (G8): the decision follows
    /// on the job's next step, on this same fetch.
    Recorded(FirstSeen),
}

/// The fetch of a record recorded first, kept by the job for the decision on its next step.
pub(super) struct FirstSeen {
    trigger_id: Uuid,
    /// The entity's version just after the record was recorded: anything appended since (a
    /// webhook, another worker) makes the job read the stream again, and the record is then
    /// fetched afresh.
    version: u64,
    fetched: RecordFetched,
    /// Its event id in the stream: the decision's group refers to it instead of recording it
    /// again (`InputsGathered::fetched_first`).
    event_id: Uuid,
}

/// Fetches and looks up what deciding `trigger` needs. A record recorded first on the job's
/// previous step (`first_seen`, same work item, nothing appended since) is not fetched again.
pub(super) async fn gather(
    env: &Env,
    config: &EntityConfig,
    state: &mut EntityState,
    trigger: &Trigger,
    first_seen: Option<FirstSeen>,
) -> Result<Gather, EngineError> {
    // A work item that names no record (a person's resolution or retry) is decided from the
    // stream alone, at this clock reading.
    let mut gathered = Gathered {
        at: Utc::now(),
        ..Gathered::default()
    };
    let Some((source, record_id)) = trigger.source() else {
        return Ok(Gather::Ready(gathered));
    };
    let Some(map) = config.systems.get(source) else {
        return Ok(Gather::Ready(gathered));
    };
    if created_echo::settled_without_fetch(state, trigger).is_some() {
        // The `created` notice of the sync's own create: its answer said it all.
        gathered.at = Utc::now();
        return Ok(Gather::Ready(gathered));
    }
    let reused =
        first_seen.filter(|f| f.trigger_id == trigger.event_id && f.version == state.version);
    let fetched = match reused {
        Some(first) => {
            Gate::pass(&env.gate, GatePoint::Decide, state.entity_id).await;
            gathered.fetched_first = Some(first.event_id);
            first.fetched
        }
        None => fetch(env, state, map, source, record_id).await?,
    };
    let now = Utc::now();
    gathered.at = now;
    gathered.echo = state.written_within(env.ctx.config.server.round_trip_ttl(), now);
    if fetched.found
        && round_trip::may_belong_elsewhere(state, source, record_id)
        && let Some((found, version)) =
            owner_of(env, config, state, source, record_id, &fetched, now).await?
    {
        gathered.versions.insert(found.entity_id(), version);
        gathered.round_trip = Some(found);
    }
    let belongs_elsewhere = gathered.round_trip.is_some();
    match before_deciding(config, state, &fetched, belongs_elsewhere) {
        BeforeDeciding::Decide => {}
        BeforeDeciding::RecordFirst(events) => {
            let event_id = record_first(env, state, trigger, events).await?;
            return Ok(Gather::Recorded(FirstSeen {
                trigger_id: trigger.event_id,
                version: state.version,
                fetched,
                event_id,
            }));
        }
        BeforeDeciding::LookUp(open) => {
            for target in open {
                if let Some((candidate, version)) =
                    unpaired_match(env, config, state, source, target, &fetched).await?
                {
                    gathered.versions.insert(candidate.entity_id, version);
                    gathered.link_candidates.insert(target.clone(), candidate);
                }
            }
        }
    }
    // A target with later work queued is fetched so a conflict is settled by log order (G5).
    // A failed fetch fails the step (a transient failure: the entity cools down and is worked
    // again; otherwise a recorded failure of the work, retried with backoff): never decided
    // without it. A target that no longer has the record (404) is decided without it: its
    // deletion is the target's own queued work.
    for (target, target_map) in config.systems.iter().filter(|(s, _)| s.as_str() != source) {
        let later = has_later_work(state, trigger, target);
        let (true, Some(link)) = (later, state.links.get(target)) else {
            continue;
        };
        let Some(other) = env.ctx.connector(&state.tenant, target) else {
            continue;
        };
        let found = other
            .get(&link.collection, &link.record_id)
            .await
            .map_err(|e| {
                let what = format!("fetching {target} {}", link.record_id);
                EngineError::from_connector(target, what, e)
            })?;
        if let Some(record) = found {
            gathered
                .fresh_targets
                .insert(target.clone(), to_canonical(target_map, &record.body));
            if let Some(etag) = record.etag {
                gathered.fresh_etags.insert(target.clone(), etag);
            }
        }
    }
    // Later queued observations of this record are settled by this fetch (`coalesce`).
    gathered.covers = coalesce::covered(state, trigger, gathered.round_trip.as_ref());
    gathered.fetched = Some(fetched);
    Ok(Gather::Ready(gathered))
}

/// The record as its source system holds it now, in canonical fields.
async fn fetch(
    env: &Env,
    state: &EntityState,
    map: &EntitySystemConfig,
    source: &str,
    record_id: &str,
) -> Result<RecordFetched, EngineError> {
    let connector = env.ctx.connector(&state.tenant, source).ok_or_else(|| {
        EngineError::Invalid(format!("no connector for {}/{source}", state.tenant))
    })?;
    let fetched = connector
        .get(&map.collection, record_id)
        .await
        .map_err(|e| {
            EngineError::from_connector(source, format!("fetching {source} {record_id}"), e)
        })?;
    Ok(RecordFetched {
        etag: fetched.as_ref().and_then(|r| r.etag.clone()),
        system: source.into(),
        record_id: record_id.into(),
        found: fetched.is_some(),
        fields: fetched
            .map(|r| to_canonical(map, &r.body))
            .unwrap_or_default(),
    })
}

/// Appends the events of G8's first step (`decide::first_seen`, step 2): the record's fetch
/// and its link, not caused by the work item. The state folds them in. Returns the fetch's
/// event id (the first event).
async fn record_first(
    env: &Env,
    state: &mut EntityState,
    trigger: &Trigger,
    events: Vec<SyncEvent>,
) -> Result<Uuid, EngineError> {
    let meta = EventMeta {
        tenant: state.tenant.clone(),
        correlation_id: Some(trigger.correlation_id),
        causation_id: None,
    };
    let events: Vec<_> = events.iter().map(|e| e.to_new(meta.clone())).collect();
    let fetch_id = events.first().map(|e| e.event_id).unwrap_or_default();
    let append = StreamAppend {
        stream_id: state.entity_id,
        expected: ExpectedVersion::Exact(state.version),
        events,
    };
    env.append_here(state, vec![append]).await?;
    Ok(fetch_id)
}

/// A record of `target` with the fetched record's match keys whose entity has no record in
/// `source` and none on its way there: what this entity links instead of creating (G8).
async fn unpaired_match(
    env: &Env,
    config: &EntityConfig,
    state: &EntityState,
    source: &str,
    target: &str,
    fetched: &RecordFetched,
) -> Result<Option<(LinkCandidate, u64)>, EngineError> {
    let Some(first_key) = config.match_keys.first() else {
        return Ok(None);
    };
    let fingerprint = match_fingerprint(&config.match_keys, &fetched.fields);
    let Some(hash) = fetched.fields.get(first_key).and_then(match_value_hash) else {
        return Ok(None);
    };
    let sort_key = match_index::sort_key(target, first_key, &hash);
    let query = RowQuery {
        tenant: Some(state.tenant.clone()),
        sort_key_from: Some(sort_key.clone()),
        sort_key_to: Some(sort_key),
        after: None,
        limit: MATCH_ROWS,
    };
    for row in env.ctx.store.rows(match_index::NAME, &query).await? {
        let Ok(seen) = serde_json::from_value::<SeenValue>(row.doc) else {
            continue;
        };
        // The index remembers who saw the record; the mapping says who holds it now.
        let mapping = env
            .ctx
            .store
            .row(
                id_mappings::NAME,
                &id_mappings::key(&state.tenant, target, &seen.record_id),
            )
            .await?;
        let mapped = mapping.and_then(|m| m.entity_id);
        // Nobody links it yet: a record the initial sync listed is held by the stream its
        // discovery was filed in, which may not have been worked yet (bring-up, G8).
        let Some(owner) = mapped
            .or(Some(seen.entity_id))
            .filter(|id| *id != state.entity_id)
        else {
            continue;
        };
        let other = env.ctx.load(owner).await?;
        let known = if mapped.is_some() {
            other
                .links
                .get(target)
                .filter(|l| l.record_id == seen.record_id)
                .and(other.known.get(target))
        } else {
            other
                .discovered
                .get(target)
                .filter(|(record_id, _)| *record_id == seen.record_id)
                .map(|(_, fields)| fields)
        };
        if link::is_unpaired(config, &other, source, known, fingerprint.as_deref()) {
            let candidate = LinkCandidate {
                record_id: seen.record_id,
                entity_id: owner,
            };
            return Ok(Some((candidate, other.version)));
        }
    }
    Ok(None)
}

/// Another entity this record belongs to: mapped there already, or the echo of its create.
async fn owner_of(
    env: &Env,
    config: &EntityConfig,
    state: &EntityState,
    source: &str,
    record_id: &str,
    fetched: &RecordFetched,
    now: DateTime<Utc>,
) -> Result<Option<(RoundTrip, u64)>, EngineError> {
    let mapped = env
        .ctx
        .store
        .row(
            id_mappings::NAME,
            &id_mappings::key(&state.tenant, source, record_id),
        )
        .await?;
    if let Some(entity_id) = mapped
        .and_then(|r| r.entity_id)
        .filter(|id| *id != state.entity_id)
    {
        let version = env.ctx.load(entity_id).await?.version;
        return Ok(Some((RoundTrip::LinkedTo { entity_id }, version)));
    }
    Gate::pass(&env.gate, GatePoint::OwnerLookup, state.entity_id).await;
    let fingerprint = create_fingerprint(config, &fetched.fields);
    let sort_key = round_trip_context::create_sort_key(source, &fingerprint);
    let query = RowQuery {
        tenant: Some(state.tenant.clone()),
        sort_key_from: Some(sort_key.clone()),
        sort_key_to: Some(sort_key),
        after: None,
        limit: MATCH_ROWS,
    };
    for row in env.ctx.store.rows(round_trip_context::NAME, &query).await? {
        let Ok(create) = serde_json::from_value::<CreateContext>(row.doc) else {
            continue;
        };
        if create.entity_id == state.entity_id || !create.is_live(now) {
            continue;
        }
        let other = env.ctx.load(create.entity_id).await?;
        if round_trip::is_echo_of(&other, source, record_id, create.request_id) {
            let found = RoundTrip::EchoOf {
                entity_id: create.entity_id,
                request_id: create.request_id,
            };
            return Ok(Some((found, other.version)));
        }
    }
    Ok(None)
}
