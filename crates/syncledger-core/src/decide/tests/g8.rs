//! Equal match keys in the live path (G8), step by step.

use serde_json::json;

use super::*;

const TWIN: Uuid = Uuid::from_u128(0xe2);

fn ada(name: &str) -> Value {
    json!({"name": name, "email": "ada@example.com"})
}

/// Step 1 done: the CRM record was recorded (fetched and linked) before its decision.
fn recorded_first() -> Vec<SyncEvent> {
    vec![
        observed("crm", "c-1", Action::Created),
        fetched("crm", "c-1", ada("Ada")),
        linked("crm", "c-1", "first seen in crm"),
    ]
}

#[test]
fn g8_step1_only_systems_without_a_record_or_a_create_on_its_way_are_searched() {
    let given = given(&recorded_first());
    let config = customer();
    assert_eq!(link::open_targets(&config, given.state(), "crm"), ["erp"]);
    let mut linked_both = recorded_first();
    linked_both.push(linked("erp", "E-1", "created by the sync"));
    let given = super::given(&linked_both);
    assert!(link::open_targets(&config, given.state(), "crm").is_empty());
}

#[test]
fn g8_step2_a_record_with_equal_match_keys_is_linked_and_its_entity_redirected_here() {
    let candidate = LinkCandidate {
        record_id: "E-9".into(),
        entity_id: TWIN,
    };
    let basis = Basis::EqualMatchKeys {
        record_id: "E-9".into(),
        keys: vec!["email".into()],
    };
    given(&recorded_first())
        .when(Gathered {
            link_candidates: [("erp".to_string(), candidate)].into(),
            versions: [(TWIN, 3)].into(),
            ..fetch(record("crm", "c-1", ada("Ada")))
        })
        .then(&[
            SyncEvent::DecisionMade(decided(
                1,
                DecisionKind::Link,
                ("crm", "erp"),
                basis.clone(),
            )),
            linked("erp", "E-9", "equal match keys"),
            SyncEvent::ResyncRequested(crate::events::ResyncRequested {
                by: "sync (linked by match keys)".into(),
                system: "erp".into(),
                record_id: "E-9".into(),
            }),
        ])
        // Step 3: the redirect expects the version read, so one of two racing appends fails.
        .and_on(
            TWIN,
            3,
            &[SyncEvent::RedirectedTo(RedirectedTo {
                trigger_id: None,
                entity_id: ENTITY,
                system: "erp".into(),
                record_id: "E-9".into(),
                basis,
            })],
        );
}

/// The twin's entity: the ERP record E-9, fetched, and nothing else.
fn twin(events: &[SyncEvent]) -> EntityState {
    let mut stream = vec![
        observed("erp", "E-9", Action::Created),
        fetched("erp", "E-9", ada("Ada L.")),
        linked("erp", "E-9", "first seen in erp"),
    ];
    stream.extend_from_slice(events);
    given(&stream).state().clone()
}

#[test]
fn g8_the_unpaired_rule_a_twin_with_equal_keys_and_no_crm_record_may_be_linked() {
    let config = customer();
    let fingerprint = crate::mapping::match_fingerprint(&config.match_keys, &fields(ada("Ada")));
    let fp = fingerprint.as_deref();
    let free = twin(&[]);
    let known = free.known.get("erp").cloned();
    assert!(link::is_unpaired(&config, &free, "crm", known.as_ref(), fp));
    // Keys that no longer match.
    let other = fields(json!({"email": "someone@else.io"}));
    assert!(!link::is_unpaired(&config, &free, "crm", Some(&other), fp));
    // Paired already: it has a CRM record.
    let paired = twin(&[linked("crm", "c-7", "first seen in crm")]);
    assert!(!link::is_unpaired(
        &config,
        &paired,
        "crm",
        known.as_ref(),
        fp
    ));
    // Handed over to another entity.
    let mut handed = free.clone();
    handed.redirected_to = Some(ENTITY);
    assert!(!link::is_unpaired(
        &config,
        &handed,
        "crm",
        known.as_ref(),
        fp
    ));
    // Creating its own CRM record.
    let create = requested(
        Uuid::from_u128(0x5),
        "crm",
        WriteOp::Create,
        None,
        ada("Ada L."),
    );
    let creating = twin(&[SyncEvent::WriteRequested(create)]);
    assert!(!link::is_unpaired(
        &config,
        &creating,
        "crm",
        known.as_ref(),
        fp
    ));
}

#[test]
fn g8_a_second_target_with_a_candidate_is_linked_without_a_second_redirect() {
    let mut config = customer();
    let mut shop = config.systems["erp"].clone();
    shop.collection = "buyers".into();
    config.systems.insert("shop".into(), shop);
    let candidates = [
        (
            "erp".to_string(),
            LinkCandidate {
                record_id: "E-9".into(),
                entity_id: TWIN,
            },
        ),
        (
            "shop".to_string(),
            LinkCandidate {
                record_id: "S-3".into(),
                entity_id: Uuid::from_u128(0xe3),
            },
        ),
    ];
    let outcome = given(&recorded_first())
        .configured(|c| *c = config)
        .when(Gathered {
            link_candidates: candidates.into(),
            ..fetch(record("crm", "c-1", ada("Ada")))
        })
        .outcome;
    assert_eq!(outcome.effects.len(), 1);
    assert_eq!(outcome.effects[0].stream, TWIN);
    let links: Vec<_> = outcome
        .decisions()
        .map(|d| (d.kind, d.target_system.as_str()))
        .collect();
    assert_eq!(
        links,
        [(DecisionKind::Link, "erp"), (DecisionKind::Link, "shop")]
    );
}
