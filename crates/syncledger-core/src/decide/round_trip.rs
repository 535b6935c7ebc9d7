//! Round-trip creates (G2): a record nobody linked yet that belongs to another entity.
//!
//! 1. **When to look.** Only a record this entity has not linked, or an entity that knows
//!    nothing but this record ([`may_belong_elsewhere`]), can turn out to be another entity's.
//! 2. **Whose it is.** The engine asks `id_mappings` (mapped there already) and then
//!    `round_trip_context` for a create in flight with the record's fingerprint; each candidate
//!    entity is the owner only if [`is_echo_of`] holds on its folded stream.
//! 3. **Hand the work over.** This stream records `RedirectedTo`; the owner's stream records the
//!    link (for an echo) and an `echo_suppressed` decision, in the same append, expecting the
//!    owner's version ([`redirect`]).
//! 4. **The create's answer finds its record claimed.** A link is unique by construction (a
//!    claim in `id_mappings`), so the notice's stream may have linked the record first ("first
//!    seen") before the create answered. If that stream knows nothing but the record, the
//!    create's outcome takes it over: the stream records `RedirectedTo` the creating entity in
//!    the same append as the outcome's link, expecting its version ([`take_over_first_seen`]).
//!    A stream that already pairs the record with others is not taken over.

use uuid::Uuid;

use crate::config::EntityConfig;
use crate::entity::{EntityState, Trigger};
use crate::events::{Basis, DecisionKind, RecordLinked, RedirectedTo, RoundTrip, SyncEvent};

use super::{Effect, Gathered, Outcome, decision};

/// Whether the record `record_id` of `source` may belong to another entity: this entity has not
/// linked it, or knows nothing but it (first seen here, or only just recorded before deciding).
pub fn may_belong_elsewhere(state: &EntityState, source: &str, record_id: &str) -> bool {
    let linked_here = state
        .links
        .get(source)
        .is_some_and(|l| l.record_id == record_id);
    let alone = state.links.keys().all(|s| s == source) && state.pending_writes.is_empty();
    !linked_here || alone
}

/// Whether `record_id`, seen in `source` with the fingerprint of `owner`'s create `request_id`,
/// is that create's echo: the create is still in flight (an answered create linked its record,
/// found through `id_mappings` instead), and `owner` links no other record in `source`.
pub fn is_echo_of(owner: &EntityState, source: &str, record_id: &str, request_id: Uuid) -> bool {
    let other_record = owner
        .links
        .get(source)
        .is_some_and(|l| l.record_id != record_id);
    !other_record && owner.pending_writes.contains_key(&request_id)
}

/// Hands the work over to the entity the record belongs to.
pub(super) fn redirect(
    config: &EntityConfig,
    trigger: &Trigger,
    (source, record_id): (&str, &str),
    found: &RoundTrip,
    input: &Gathered,
) -> Outcome {
    let entity_id = found.entity_id();
    let basis = match found {
        RoundTrip::LinkedTo { entity_id } => Basis::LinkedElsewhere {
            record_id: record_id.into(),
            entity_id: *entity_id,
        },
        RoundTrip::EchoOf {
            entity_id,
            request_id,
        } => Basis::EchoOfCreate {
            entity_id: *entity_id,
            request_id: *request_id,
        },
    };
    let own = vec![SyncEvent::RedirectedTo(RedirectedTo {
        trigger_id: Some(trigger.event_id),
        entity_id,
        system: source.into(),
        record_id: record_id.into(),
        basis: basis.clone(),
    })];
    let mut events = Vec::new();
    if matches!(found, RoundTrip::EchoOf { .. }) {
        events.push(SyncEvent::RecordLinked(RecordLinked {
            entity_type: config.name.clone(),
            system: source.into(),
            collection: config.systems[source].collection.clone(),
            record_id: record_id.into(),
            reason: basis.explain(source, source),
        }));
    }
    // The owner's decision does not settle a trigger of its own.
    let mut echo = decision(
        trigger,
        DecisionKind::EchoSuppressed,
        (source, source),
        basis,
    );
    if let SyncEvent::DecisionMade(d) = &mut echo {
        d.trigger_id = None;
    }
    events.push(echo);
    Outcome {
        own,
        effects: vec![Effect {
            stream: entity_id,
            expected: input.version_of(entity_id),
            events,
        }],
    }
}

/// Step 4: the outcome of `owner`'s create `request_id`, which made `record_id` in `system`,
/// found the record claimed by `holder`. A holder that knows nothing but that record (its
/// first-seen stream) is handed over to `owner`, in the outcome's own append; `None` when the
/// holder pairs the record with others, or was handed over already.
pub fn take_over_first_seen(
    owner: Uuid,
    holder: &EntityState,
    (system, record_id): (&str, &str),
    request_id: Uuid,
) -> Option<Effect> {
    let holds = holder
        .links
        .get(system)
        .is_some_and(|l| l.record_id == record_id);
    let alone = holder.links.len() == 1 && holder.pending_writes.is_empty();
    if holder.entity_id == owner || holder.redirected_to.is_some() || !holds || !alone {
        return None;
    }
    let basis = Basis::EchoOfCreate {
        entity_id: owner,
        request_id,
    };
    Some(Effect {
        stream: holder.entity_id,
        expected: holder.version,
        events: vec![SyncEvent::RedirectedTo(RedirectedTo {
            trigger_id: None,
            entity_id: owner,
            system: system.into(),
            record_id: record_id.into(),
            basis,
        })],
    })
}
