//! Replay is exact: the same build is silent over its own history, and a changed rule shows up
//! in exactly the decisions it changes.

use chrono::Duration;
use serde_json::json;

use super::*;
use crate::decide::decide;
use crate::events::{Action, ChangeObserved, RecordFetched, RecordLinked, Resolution};
use crate::events::{DeadLetterRequest, DeadLetterRetried, DeadLettered};
use crate::events::{WriteOp, WriteRequested, WriteSucceeded};
use crate::log::EventMeta;
use crate::projections::testkit::{ENTITY, at, id};

pub(super) const TTL: i64 = 10;

pub(super) fn config() -> EntityConfig {
    serde_json::from_value(json!({
        "name": "customer",
        "match_keys": ["email"],
        "systems": {
            "crm": {"collection": "contacts", "fields": {"phone": "phone", "email": "email"}},
            "erp": {"collection": "customers", "fields": {"phone": "phone", "email": "email"}}
        }
    }))
    .unwrap()
}

/// A stream being recorded as the engine records it: positions 1, 2, ...
#[derive(Default)]
pub(super) struct History(pub(super) Vec<RecordedEvent>);

impl History {
    pub(super) fn push(&mut self, event: SyncEvent, causation: Option<Uuid>) -> Uuid {
        let position = self.0.len() as i64 + 1;
        let meta = EventMeta {
            tenant: "acme".into(),
            correlation_id: None,
            causation_id: causation,
        };
        let new = event.to_new_with_id(id(position), meta);
        self.0.push(RecordedEvent {
            position: Position(position),
            stream_id: ENTITY,
            sequence: position as u64,
            event_id: new.event_id,
            event_type: new.event_type,
            schema_version: new.schema_version,
            payload: new.payload,
            meta: new.meta,
            recorded_at: at(position),
        });
        new.event_id
    }

    pub(super) fn fetched(&mut self, system: &str, phone: &str) {
        self.push(SyncEvent::RecordFetched(fetched(system, phone)), None);
    }

    /// Decides the oldest open work item with `record` fetched, and records the group.
    pub(super) fn decide(&mut self, record: RecordFetched) {
        self.decide_fresh(record, None);
    }

    /// [`History::decide`], with a target's record fetched fresh too (later work queued, G5).
    pub(super) fn decide_fresh(&mut self, record: RecordFetched, fresh: Option<RecordFetched>) {
        let state = EntityState::fold(ENTITY, &self.0);
        let trigger = state.open_triggers[0].clone();
        let at = at(self.0.len() as i64 + 1);
        let mut input = Gathered {
            at,
            echo: state.written_within(Duration::minutes(TTL), at),
            fetched: Some(record.clone()),
            ..Gathered::default()
        };
        if let Some(fresh) = &fresh {
            input
                .fresh_targets
                .insert(fresh.system.clone(), fresh.fields.clone());
        }
        let outcome = decide(&config(), &state, &trigger, &input);
        let mut cause = Some(trigger.event_id);
        let group = [
            SyncEvent::InputsGathered(input.recorded(&trigger)),
            SyncEvent::RecordFetched(record),
        ];
        let fresh = fresh.map(SyncEvent::RecordFetched);
        for event in group.into_iter().chain(fresh).chain(outcome.own) {
            cause = Some(self.push(event, cause));
        }
    }
}

pub(super) fn fetched(system: &str, phone: &str) -> RecordFetched {
    RecordFetched {
        etag: None,
        system: system.into(),
        record_id: format!("{system}-1"),
        found: true,
        fields: [("phone".to_string(), json!(phone))].into(),
    }
}

pub(super) fn observed(system: &str) -> SyncEvent {
    SyncEvent::ChangeObserved(ChangeObserved {
        entity_type: "customer".into(),
        system: system.into(),
        collection: config().systems[system].collection.clone(),
        record_id: format!("{system}-1"),
        action: Action::Updated,
        webhook_event_id: format!("wh-{system}"),
        occurred_at: at(0),
    })
}

/// Race 3 recorded: the sync wrote 2 into the ERP, the user fixed the CRM to 3, the ERP's
/// echo of 2 was suppressed, then the CRM's fix was written to the ERP.
pub(super) fn race3() -> History {
    let mut h = History::default();
    for system in ["crm", "erp"] {
        let link = RecordLinked {
            entity_type: "customer".into(),
            system: system.into(),
            collection: config().systems[system].collection.clone(),
            record_id: format!("{system}-1"),
            reason: "test".into(),
        };
        h.push(SyncEvent::RecordLinked(link), None);
    }
    h.fetched("crm", "2");
    h.fetched("erp", "1");
    let write = WriteRequested {
        if_match: None,
        request_id: Uuid::from_u128(0x99),
        target_system: "erp".into(),
        collection: "customers".into(),
        op: WriteOp::Update,
        record_id: Some("erp-1".into()),
        fields: [("phone".to_string(), json!("2"))].into(),
        match_fingerprint: None,
    };
    h.push(SyncEvent::WriteRequested(write.clone()), None);
    let done = WriteSucceeded {
        etag: None,
        request_id: write.request_id,
        target_system: "erp".into(),
        record_id: "erp-1".into(),
        fields: write.fields.clone(),
        resolution: Resolution::Response,
    };
    h.push(SyncEvent::WriteSucceeded(done), None);
    h.fetched("crm", "3");
    h.push(observed("erp"), None);
    h.decide(fetched("erp", "2"));
    h.push(observed("crm"), None);
    h.decide(fetched("crm", "3"));
    h
}

fn everything() -> (Position, Position) {
    (Position(0), Position(i64::MAX))
}

#[test]
fn the_same_build_replaying_its_own_history_reports_nothing() {
    let h = race3();
    let report = replay_entity_with(
        decide,
        &config(),
        &h.0,
        everything(),
        Duration::minutes(TTL),
    );
    assert_eq!(report.differences, vec![]);
    assert_eq!((report.replayed, report.without_inputs), (2, 0));
}

/// Today's code with the echo rule (G3) switched off.
fn without_echoes(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    input: &Gathered,
) -> Outcome {
    let input = Gathered {
        echo: Default::default(),
        ..input.clone()
    };
    decide(config, state, trigger, &input)
}

#[test]
fn a_changed_rule_shows_up_in_exactly_the_decisions_it_made() {
    let h = race3();
    let report = replay_entity_with(
        without_echoes,
        &config(),
        &h.0,
        everything(),
        Duration::minutes(TTL),
    );
    assert_eq!(report.differences.len(), 1, "{:?}", report.differences);
    let d = &report.differences[0];
    let rules = |s: &[DecisionSummary]| s.iter().map(|s| s.basis.rule()).collect::<Vec<_>>();
    assert_eq!(rules(&d.recorded), ["echo_of_write"]);
    assert_eq!(rules(&d.replayed), ["changed_in_target"]);
}

#[test]
fn a_range_replays_only_the_groups_that_start_in_it() {
    let h = race3();
    let second =
        h.0.iter()
            .filter(|e| e.event_type == "InputsGathered")
            .nth(1)
            .unwrap()
            .position;
    let range = (second, Position(i64::MAX));
    let report = replay_entity_with(
        without_echoes,
        &config(),
        &h.0,
        range,
        Duration::minutes(TTL),
    );
    assert_eq!((report.replayed, report.differences.len()), (1, 0));
}

#[test]
fn decisions_recorded_before_inputs_were_kept_are_counted_not_replayed() {
    let mut h = race3();
    h.0.retain(|e| e.event_type != "InputsGathered");
    let report = replay_entity(
        &config(),
        &h.0,
        Position(0),
        Position(i64::MAX),
        Duration::minutes(TTL),
    );
    assert_eq!((report.replayed, report.without_inputs), (0, 2));
}

/// A refused update of the ERP's phone, dead-lettered, and a person's retry of it, decided and
/// recorded as the engine records a work item that names no record: `InputsGathered` (nothing
/// looked up), then what the core returned.
fn retried_letter() -> History {
    let mut h = race3();
    let write = WriteRequested {
        request_id: Uuid::from_u128(0x78),
        target_system: "erp".into(),
        collection: "customers".into(),
        op: WriteOp::Update,
        record_id: Some("E-1".into()),
        fields: [("phone".to_string(), json!("2"))].into(),
        match_fingerprint: None,
        if_match: None,
    };
    let letter = h.push(
        SyncEvent::DeadLettered(DeadLettered {
            request_id: None,
            target_system: Some("erp".into()),
            reason: "the target refused the write".into(),
            request: DeadLetterRequest::Write(write),
            status: Some(422),
            body: Some("no".into()),
        }),
        None,
    );
    let retry = SyncEvent::DeadLetterRetried(DeadLetterRetried {
        by: "operator".into(),
        dead_letter_id: letter,
        request: None,
    });
    h.push(retry, None);
    let state = EntityState::fold(ENTITY, &h.0);
    let trigger = state.open_triggers[0].clone();
    let input = Gathered {
        at: at(h.0.len() as i64 + 1),
        ..Gathered::default()
    };
    let outcome = decide(&config(), &state, &trigger, &input);
    let mut cause = Some(trigger.event_id);
    for event in input
        .recorded_events(&trigger, &state)
        .into_iter()
        .chain(outcome.own)
    {
        cause = Some(h.push(event, cause));
    }
    h
}

#[test]
fn a_persons_retry_of_a_dead_letter_is_replayed_like_any_work_item() {
    let h = retried_letter();
    let report = replay_entity(
        &config(),
        &h.0,
        Position(0),
        Position(i64::MAX),
        Duration::minutes(TTL),
    );
    assert_eq!(report.differences, vec![]);
    assert_eq!((report.replayed, report.without_inputs), (3, 0));

    // A retry rule that no longer writes anything shows in exactly that decision.
    fn never_retry(c: &EntityConfig, s: &EntityState, t: &Trigger, g: &Gathered) -> Outcome {
        match t.kind {
            crate::entity::TriggerKind::DeadLetterRetry { .. } => Outcome::default(),
            _ => decide(c, s, t, g),
        }
    }
    let report = replay_entity_with(
        never_retry,
        &config(),
        &h.0,
        (Position(0), Position(i64::MAX)),
        Duration::minutes(TTL),
    );
    assert_eq!(report.differences.len(), 1);
    let rule = report.differences[0].recorded[0].basis.rule();
    assert!(rule.starts_with("retry_"), "{rule}");
    assert_eq!(report.differences[0].replayed, vec![]);
}

#[test]
fn decisions_recorded_before_an_erasure_are_skipped_and_counted_not_reported() {
    let mut h = race3();
    // As the store opens them once the keys are destroyed: every value reads as null.
    for event in &mut h.0 {
        crate::privacy::for_each_value(&event.event_type, &mut event.payload, &mut |v| {
            *v = serde_json::Value::Null
        });
    }
    let erased = crate::events::EntityErased {
        reason: "GDPR Art. 17 request".into(),
        by: "admin".into(),
    };
    h.push(SyncEvent::EntityErased(erased), None);

    let report = replay_entity(
        &config(),
        &h.0,
        Position(0),
        Position(i64::MAX),
        Duration::minutes(TTL),
    );
    assert_eq!(report.differences, vec![]);
    assert_eq!((report.replayed, report.erased), (0, 2));
}
