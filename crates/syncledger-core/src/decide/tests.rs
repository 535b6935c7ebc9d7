//! The decision core, step by step: `given(events).when(input).then(events)`.
//!
//! `given` folds an entity's stream (positions 1, 2, ... of `testkit`), `when` decides its oldest
//! open work item with what the engine would have gathered (the echo window is read from the
//! folded stream as the engine reads it), and `then` compares every event the decision appends
//! to this stream; `and_on` the events for another entity. Each test is named after the step of
//! `docs/races.md` (or the rule G4-G9) it shows.

use chrono::Duration;
use serde_json::{Value, json};

use super::*;
use crate::config::EntityConfig;
use crate::entity::NextWork;
use crate::events::{
    Action, ChangeObserved, FieldChange, RecordLinked, RedirectedTo, WriteSucceeded,
};
use crate::projections::testkit::{ENTITY, at, id, recorded};

mod attempt;
mod coalesce;
mod conflicts;
mod created_echo;
mod dead_letter;
mod first_seen;
mod g2_g3;
mod g4_to_g9;
mod g8;
mod route;

pub(super) const TTL_MINUTES: i64 = 10;

/// A customer synced between a CRM (`contacts`) and an ERP (`customers`), matched by email.
pub(super) fn customer() -> EntityConfig {
    serde_json::from_value(json!({
        "name": "customer",
        "match_keys": ["email"],
        "systems": {
            "crm": {"collection": "contacts",
                    "fields": {"name": "full_name", "email": "email", "phone": "phone"}},
            "erp": {"collection": "customers",
                    "fields": {"name": "name", "email": "email_address", "phone": "phones[0]"},
                    "required": ["email"]}
        }
    }))
    .expect("the test configuration parses")
}

pub(super) struct Given {
    config: EntityConfig,
    state: EntityState,
}

pub(super) fn given(events: &[SyncEvent]) -> Given {
    let stream: Vec<_> = (1..)
        .zip(events)
        .map(|(position, e)| recorded(position, e.clone()))
        .collect();
    Given {
        config: customer(),
        state: EntityState::fold(ENTITY, &stream),
    }
}

impl Given {
    pub(super) fn configured(mut self, change: impl FnOnce(&mut EntityConfig)) -> Self {
        change(&mut self.config);
        self
    }

    pub(super) fn state(&self) -> &EntityState {
        &self.state
    }

    /// Decides the oldest open work item with `input`, at the time of position 100.
    pub(super) fn when(self, mut input: Gathered) -> Then {
        input.at = at(100);
        input.echo = self
            .state
            .written_within(Duration::minutes(TTL_MINUTES), input.at);
        let trigger = self
            .state
            .open_triggers
            .first()
            .expect("the given stream owes some work")
            .clone();
        Then {
            outcome: decide(&self.config, &self.state, &trigger, &input),
        }
    }
}

pub(super) struct Then {
    pub(super) outcome: Outcome,
}

impl Then {
    pub(super) fn then(self, expected: &[SyncEvent]) -> Self {
        assert_eq!(self.outcome.own, expected);
        self
    }

    pub(super) fn and_on(self, stream: Uuid, expected_version: u64, expected: &[SyncEvent]) {
        let effect = Effect {
            stream,
            expected: expected_version,
            events: expected.to_vec(),
        };
        assert_eq!(self.outcome.effects, vec![effect]);
    }

    pub(super) fn and_nothing_elsewhere(self) {
        assert_eq!(self.outcome.effects, vec![]);
    }
}

// Events, as the tests' sentences use them.

pub(super) fn fields(value: Value) -> Fields {
    serde_json::from_value(value).expect("fields are an object")
}

pub(super) fn collection(system: &str) -> String {
    customer()
        .systems
        .get(system)
        .map_or_else(|| format!("{system}s"), |s| s.collection.clone())
}

pub(super) fn observed(system: &str, record_id: &str, action: Action) -> SyncEvent {
    SyncEvent::ChangeObserved(ChangeObserved {
        entity_type: "customer".into(),
        system: system.into(),
        collection: collection(system),
        record_id: record_id.into(),
        action,
        webhook_event_id: format!("wh-{system}-{record_id}"),
        occurred_at: at(0),
    })
}

pub(super) fn record(system: &str, record_id: &str, values: Value) -> RecordFetched {
    RecordFetched {
        etag: None,
        system: system.into(),
        record_id: record_id.into(),
        found: !values.is_null(),
        fields: match values {
            Value::Null => Fields::new(),
            values => fields(values),
        },
    }
}

pub(super) fn fetched(system: &str, record_id: &str, values: Value) -> SyncEvent {
    SyncEvent::RecordFetched(record(system, record_id, values))
}

pub(super) fn linked(system: &str, record_id: &str, reason: &str) -> SyncEvent {
    SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: system.into(),
        collection: collection(system),
        record_id: record_id.into(),
        reason: reason.into(),
    })
}

/// The decision settling the work item recorded at `trigger` (a position).
pub(super) fn decided(
    trigger: i64,
    kind: DecisionKind,
    (source, target): (&str, &str),
    basis: Basis,
) -> DecisionMade {
    DecisionMade {
        trigger_id: Some(id(trigger)),
        kind,
        source_system: source.into(),
        target_system: target.into(),
        basis,
        diff: vec![],
        request_id: None,
        write: None,
    }
}

pub(super) fn change(field: &str, before: Value, after: Value) -> FieldChange {
    FieldChange {
        field: field.into(),
        before,
        after,
    }
}

pub(super) fn requested(
    request_id: Uuid,
    target: &str,
    op: WriteOp,
    record_id: Option<&str>,
    values: Value,
) -> WriteRequested {
    let fields = fields(values);
    WriteRequested {
        if_match: None,
        request_id,
        target_system: target.into(),
        collection: collection(target),
        op,
        record_id: record_id.map(str::to_string),
        match_fingerprint: (op == WriteOp::Create)
            .then(|| create_fingerprint(&customer(), &fields)),
        fields,
    }
}

pub(super) fn succeeded(write: &WriteRequested, record_id: &str) -> SyncEvent {
    SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id: write.request_id,
        target_system: write.target_system.clone(),
        record_id: record_id.into(),
        fields: write.fields.clone(),
        resolution: crate::events::Resolution::Response,
    })
}

/// What the engine gathered: `record` fetched from its source, nothing else found.
pub(super) fn fetch(record: RecordFetched) -> Gathered {
    Gathered {
        fetched: Some(record),
        ..Gathered::default()
    }
}

// Race 1: same-direction creates (G1, G9).

const ADA: fn() -> Value = || json!({"name": "Ada Lovelase", "email": "ada@example.com"});

#[test]
fn race1_step2_the_first_webhook_of_a_new_record_links_it_and_creates_it_in_the_erp() {
    let create_id = request_id(id(1), "erp", WriteOp::Create);
    let write = requested(create_id, "erp", WriteOp::Create, None, ADA());
    given(&[observed("crm", "c-42", Action::Created)])
        .when(fetch(record("crm", "c-42", ADA())))
        .then(&[
            linked("crm", "c-42", "first seen in crm"),
            SyncEvent::DecisionMade(
                DecisionMade {
                    diff: vec![
                        change("email", Value::Null, json!("ada@example.com")),
                        change("name", Value::Null, json!("Ada Lovelase")),
                    ],
                    ..decided(
                        1,
                        DecisionKind::Create,
                        ("crm", "erp"),
                        Basis::NoRecordInTarget {
                            record_id: "c-42".into(),
                        },
                    )
                }
                .asking(write),
            ),
        ])
        .and_nothing_elsewhere();
}

/// The stream after step 2 and the typo's correction (step 3) behind it.
fn created_then_corrected() -> (Vec<SyncEvent>, WriteRequested) {
    let create = requested(
        request_id(id(1), "erp", WriteOp::Create),
        "erp",
        WriteOp::Create,
        None,
        ADA(),
    );
    let stream = vec![
        observed("crm", "c-42", Action::Created),
        fetched("crm", "c-42", ADA()),
        linked("crm", "c-42", "first seen in crm"),
        SyncEvent::DecisionMade(decided(
            1,
            DecisionKind::Create,
            ("crm", "erp"),
            Basis::NoRecordInTarget {
                record_id: "c-42".into(),
            },
        )),
        SyncEvent::WriteRequested(create.clone()),
        observed("crm", "c-42", Action::Updated),
    ];
    (stream, create)
}

#[test]
fn race1_step4_the_update_is_not_decided_while_the_create_has_no_outcome() {
    let (stream, create) = created_then_corrected();
    let given = given(&stream);
    match given.state().next_work(at(100)) {
        NextWork::Settle(pending) => assert_eq!(pending.request, create),
        other => panic!("expected the create to be settled first, got {other:?}"),
    }
}

#[test]
fn race1_step4_a_second_create_is_never_asked_while_one_is_in_flight() {
    let (stream, create) = created_then_corrected();
    let corrected = json!({"name": "Ada Lovelace", "email": "ada@example.com"});
    given(&stream)
        .when(fetch(record("crm", "c-42", corrected)))
        .then(&[SyncEvent::DecisionMade(decided(
            6,
            DecisionKind::Skip,
            ("crm", "erp"),
            Basis::CreateInFlight {
                request_id: create.request_id,
            },
        ))]);
}

#[test]
fn race1_step5_once_the_create_landed_the_correction_updates_the_one_erp_record() {
    let (mut stream, create) = created_then_corrected();
    stream.insert(5, succeeded(&create, "E-1"));
    stream.insert(6, linked("erp", "E-1", "created by the sync"));
    let corrected = json!({"name": "Ada Lovelace", "email": "ada@example.com"});
    let update_id = request_id(id(8), "erp", WriteOp::Update);
    given(&stream)
        .when(fetch(record("crm", "c-42", corrected)))
        .then(&[SyncEvent::DecisionMade(
            DecisionMade {
                diff: vec![change("name", json!("Ada Lovelase"), json!("Ada Lovelace"))],
                ..decided(
                    8,
                    DecisionKind::Update,
                    ("crm", "erp"),
                    Basis::Changed {
                        record_id: "c-42".into(),
                        fields: vec!["name".into()],
                    },
                )
            }
            .asking(requested(
                update_id,
                "erp",
                WriteOp::Update,
                Some("E-1"),
                json!({"name": "Ada Lovelace"}),
            )),
        )]);
}

#[test]
fn a_work_item_of_a_system_the_type_does_not_sync_is_skipped() {
    given(&[observed("billing", "b-1", Action::Created)])
        .when(fetch(record("billing", "b-1", json!({"email": "x@y.io"}))))
        .then(&[SyncEvent::DecisionMade(decided(
            1,
            DecisionKind::Skip,
            ("billing", "billing"),
            Basis::UnknownSystem {
                entity_type: "customer".into(),
            },
        ))]);
}

#[test]
fn the_same_input_always_gives_the_same_decision() {
    let (stream, _) = created_then_corrected();
    let input = || fetch(record("crm", "c-42", ADA()));
    let first = given(&stream[..1]).when(input()).outcome;
    let second = given(&stream[..1]).when(input()).outcome;
    assert_eq!(first, second);
}
