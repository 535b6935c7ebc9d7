//! Race 2 (round-trip creates, G2) and race 3 (round-trip updates, G3), step by step.

use serde_json::json;

use super::*;

const OWNER: Uuid = Uuid::from_u128(0xe0);

fn ada() -> Value {
    json!({"name": "Ada", "email": "ada@example.com"})
}

#[test]
fn race2_step4_the_erp_echo_of_a_create_in_flight_is_handed_to_the_entity_that_asked_for_it() {
    let request_id = Uuid::from_u128(0x77);
    let found = RoundTrip::EchoOf {
        entity_id: OWNER,
        request_id,
    };
    let basis = Basis::EchoOfCreate {
        entity_id: OWNER,
        request_id,
    };
    given(&[observed("erp", "E-1", Action::Created)])
        .when(Gathered {
            round_trip: Some(found),
            versions: [(OWNER, 5)].into(),
            ..fetch(record("erp", "E-1", ada()))
        })
        .then(&[SyncEvent::RedirectedTo(RedirectedTo {
            trigger_id: Some(id(1)),
            entity_id: OWNER,
            system: "erp".into(),
            record_id: "E-1".into(),
            basis: basis.clone(),
        })])
        .and_on(
            OWNER,
            5,
            &[
                linked("erp", "E-1", &basis.explain("erp", "erp")),
                SyncEvent::DecisionMade(DecisionMade {
                    trigger_id: None,
                    ..decided(1, DecisionKind::EchoSuppressed, ("erp", "erp"), basis)
                }),
            ],
        );
}

#[test]
fn race2_step5_an_echo_worked_after_the_answer_is_handed_over_without_a_second_link() {
    let basis = Basis::LinkedElsewhere {
        record_id: "E-1".into(),
        entity_id: OWNER,
    };
    given(&[observed("erp", "E-1", Action::Created)])
        .when(Gathered {
            round_trip: Some(RoundTrip::LinkedTo { entity_id: OWNER }),
            versions: [(OWNER, 9)].into(),
            ..fetch(record("erp", "E-1", ada()))
        })
        .then(&[SyncEvent::RedirectedTo(RedirectedTo {
            trigger_id: Some(id(1)),
            entity_id: OWNER,
            system: "erp".into(),
            record_id: "E-1".into(),
            basis: basis.clone(),
        })])
        .and_on(
            OWNER,
            9,
            &[SyncEvent::DecisionMade(DecisionMade {
                trigger_id: None,
                ..decided(1, DecisionKind::EchoSuppressed, ("erp", "erp"), basis)
            })],
        );
}

/// The entity that asked for the create, with `request_id` in flight towards the ERP.
fn owner_with_create_in_flight(request_id: Uuid) -> EntityState {
    let write = requested(request_id, "erp", WriteOp::Create, None, ada());
    given(&[
        observed("crm", "c-1", Action::Created),
        fetched("crm", "c-1", ada()),
        linked("crm", "c-1", "first seen in crm"),
        SyncEvent::WriteRequested(write),
    ])
    .state()
    .clone()
}

#[test]
fn race2_the_round_trip_rule_only_a_create_still_in_flight_has_an_echo() {
    let request_id = Uuid::from_u128(0x77);
    let mut owner = owner_with_create_in_flight(request_id);
    assert!(round_trip::is_echo_of(&owner, "erp", "E-1", request_id));
    assert!(!round_trip::is_echo_of(
        &owner,
        "erp",
        "E-1",
        Uuid::from_u128(0x78)
    ));
    // Answered: its record was linked and is found through the mapping instead.
    owner.pending_writes.clear();
    assert!(!round_trip::is_echo_of(&owner, "erp", "E-1", request_id));
}

#[test]
fn race2_the_round_trip_rule_a_create_whose_entity_links_another_record_has_no_echo_there() {
    let request_id = Uuid::from_u128(0x77);
    let mut owner = owner_with_create_in_flight(request_id);
    owner.links.insert(
        "erp".into(),
        crate::entity::Link {
            collection: "customers".into(),
            record_id: "E-2".into(),
        },
    );
    assert!(!round_trip::is_echo_of(&owner, "erp", "E-1", request_id));
    assert!(round_trip::is_echo_of(&owner, "erp", "E-2", request_id));
}

#[test]
fn race2_step4_a_record_linked_here_with_other_links_is_never_taken_for_another_entity() {
    let linked_both = given(&[
        linked("crm", "c-1", "first seen in crm"),
        linked("erp", "E-1", "created by the sync"),
    ]);
    assert!(!round_trip::may_belong_elsewhere(
        linked_both.state(),
        "erp",
        "E-1"
    ));
    let alone = given(&[linked("erp", "E-1", "first seen in erp")]);
    assert!(round_trip::may_belong_elsewhere(
        alone.state(),
        "erp",
        "E-1"
    ));
    assert!(round_trip::may_belong_elsewhere(
        linked_both.state(),
        "erp",
        "E-2"
    ));
}

// Race 3: round-trip updates (G3).

/// Both records linked; step 2-3: the sync wrote 123-456-7899 into the ERP and it landed.
fn phone_synced_to_the_erp() -> Vec<SyncEvent> {
    let write = requested(
        Uuid::from_u128(0x99),
        "erp",
        WriteOp::Update,
        Some("E-1"),
        json!({"phone": "123-456-7899"}),
    );
    vec![
        linked("crm", "c-1", "first seen in crm"),
        linked("erp", "E-1", "created by the sync"),
        fetched("crm", "c-1", json!({"phone": "123-456-7899"})),
        SyncEvent::WriteRequested(write.clone()),
        succeeded(&write, "E-1"),
    ]
}

#[test]
fn race3_step6_the_late_echo_is_suppressed_and_the_users_fix_is_not_overwritten() {
    let mut stream = phone_synced_to_the_erp();
    // Step 5: the user fixed the CRM phone; the log knows the CRM holds the fix.
    stream.push(fetched("crm", "c-1", json!({"phone": "123-456-7890"})));
    stream.push(observed("erp", "E-1", Action::Updated));
    given(&stream)
        .when(fetch(record(
            "erp",
            "E-1",
            json!({"phone": "123-456-7899"}),
        )))
        .then(&[SyncEvent::DecisionMade(decided(
            7,
            DecisionKind::EchoSuppressed,
            ("erp", "crm"),
            Basis::EchoOfWrite {
                fields: vec!["phone".into()],
            },
        ))]);
}

#[test]
fn race3_step6_a_value_the_erp_changed_on_its_own_still_flows_back() {
    let mut stream = phone_synced_to_the_erp();
    stream.push(observed("erp", "E-1", Action::Updated));
    let update_id = request_id(id(6), "crm", WriteOp::Update);
    given(&stream)
        .when(fetch(record("erp", "E-1", json!({"phone": "555"}))))
        .then(&[SyncEvent::DecisionMade(
            DecisionMade {
                diff: vec![change("phone", json!("123-456-7899"), json!("555"))],
                ..decided(
                    6,
                    DecisionKind::Update,
                    ("erp", "crm"),
                    Basis::Changed {
                        record_id: "E-1".into(),
                        fields: vec!["phone".into()],
                    },
                )
            }
            .asking(requested(
                update_id,
                "crm",
                WriteOp::Update,
                Some("c-1"),
                json!({"phone": "555"}),
            )),
        )]);
}

#[test]
fn race3_an_echo_outside_the_round_trip_window_is_no_echo_but_the_fix_still_stands() {
    let mut stream = phone_synced_to_the_erp();
    stream.push(fetched("crm", "c-1", json!({"phone": "123-456-7890"})));
    stream.push(observed("erp", "E-1", Action::Updated));
    let given = given(&stream);
    let trigger = given.state().open_triggers[0].clone();
    let late = at(100) + Duration::minutes(TTL_MINUTES);
    let input = Gathered {
        at: late,
        echo: given
            .state()
            .written_within(Duration::minutes(TTL_MINUTES), late),
        ..fetch(record("erp", "E-1", json!({"phone": "123-456-7899"})))
    };
    // Outside the window, the ERP still holds what both sides last agreed on: G5 keeps the fix.
    let outcome = decide(&customer(), given.state(), &trigger, &input);
    let bases: Vec<_> = outcome.decisions().map(|d| d.basis.clone()).collect();
    assert_eq!(
        bases,
        vec![Basis::ChangedInTarget {
            fields: vec!["phone".into()]
        }]
    );
}

/// The notice's stream of a record the sync created, which linked it first ("first seen")
/// while the create's POST was unanswered, and knows nothing else.
fn first_seen_stream() -> Given {
    given(&[
        observed("erp", "E-1", Action::Created),
        fetched("erp", "E-1", ada()),
        linked("erp", "E-1", "first seen in erp"),
    ])
}

#[test]
fn race2_step5_a_first_seen_stream_holding_the_created_record_is_handed_to_the_creator() {
    let request_id = Uuid::from_u128(0x77);
    let holder = first_seen_stream().state;
    let handed = round_trip::take_over_first_seen(OWNER, &holder, ("erp", "E-1"), request_id);
    let expected = Effect {
        stream: ENTITY,
        expected: 3,
        events: vec![SyncEvent::RedirectedTo(RedirectedTo {
            trigger_id: None,
            entity_id: OWNER,
            system: "erp".into(),
            record_id: "E-1".into(),
            basis: Basis::EchoOfCreate {
                entity_id: OWNER,
                request_id,
            },
        })],
    };
    assert_eq!(handed, Some(expected));
}

#[test]
fn race2_step5_a_stream_that_pairs_the_record_with_another_is_not_taken_over() {
    let holder = given(&[
        observed("erp", "E-1", Action::Created),
        fetched("erp", "E-1", ada()),
        linked("erp", "E-1", "first seen in erp"),
        linked("crm", "c-9", "created by the sync"),
    ])
    .state;
    let handed = round_trip::take_over_first_seen(OWNER, &holder, ("erp", "E-1"), id(9));
    assert_eq!(handed, None);
}

#[test]
fn race2_step5_a_stream_already_handed_over_or_holding_another_record_is_not_taken_over() {
    let mut redirected = first_seen_stream().state;
    redirected.redirected_to = Some(Uuid::from_u128(0xe1));
    let request = id(9);
    assert_eq!(
        round_trip::take_over_first_seen(OWNER, &redirected, ("erp", "E-1"), request),
        None
    );
    let other = first_seen_stream().state;
    assert_eq!(
        round_trip::take_over_first_seen(OWNER, &other, ("erp", "E-2"), request),
        None
    );
    assert_eq!(
        round_trip::take_over_first_seen(ENTITY, &other, ("erp", "E-1"), request),
        None,
        "a stream is never handed to itself"
    );
}
