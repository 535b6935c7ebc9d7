//! G8's first step, *record first, then decide* (`decide::first_seen`), step by step.

use serde_json::json;

use super::*;
use crate::decide::first_seen::{BeforeDeciding, before_deciding};

fn ada() -> Value {
    json!({"name": "Ada", "email": "ada@example.com"})
}

#[test]
fn g8_first_step1_a_record_found_to_belong_elsewhere_or_gone_is_decided_at_once() {
    let given = given(&[observed("crm", "c-1", Action::Created)]);
    let config = customer();
    let found = record("crm", "c-1", ada());
    assert_eq!(
        before_deciding(&config, given.state(), &found, true),
        BeforeDeciding::Decide
    );
    let gone = record("crm", "c-1", Value::Null);
    assert_eq!(
        before_deciding(&config, given.state(), &gone, false),
        BeforeDeciding::Decide
    );
}

#[test]
fn g8_first_step1_a_record_with_an_empty_match_key_is_decided_at_once() {
    let given = given(&[observed("crm", "c-1", Action::Created)]);
    let keyless = record("crm", "c-1", json!({"name": "Ada"}));
    assert_eq!(
        before_deciding(&customer(), given.state(), &keyless, false),
        BeforeDeciding::Decide
    );
}

#[test]
fn g8_first_step2_a_record_seen_for_the_first_time_is_recorded_with_its_link_before_deciding() {
    let given = given(&[observed("crm", "c-1", Action::Created)]);
    let found = record("crm", "c-1", ada());
    assert_eq!(
        before_deciding(&customer(), given.state(), &found, false),
        BeforeDeciding::RecordFirst(vec![
            SyncEvent::RecordFetched(found.clone()),
            linked("crm", "c-1", "first seen in crm"),
        ])
    );
}

#[test]
fn g8_first_step2_the_decision_links_a_first_seen_record_with_the_same_event_as_step2() {
    // When step 2 did not run (no match key), `decide` links the record itself, identically.
    let given = given(&[observed("crm", "c-1", Action::Created)]);
    let keyless = record("crm", "c-1", json!({"name": "Ada"}));
    let outcome = decide(
        &customer(),
        given.state(),
        &given.state().open_triggers[0],
        &fetch(keyless),
    );
    assert_eq!(outcome.own[0], linked("crm", "c-1", "first seen in crm"));
}

#[test]
fn g8_first_step3_a_record_linked_here_looks_up_the_systems_without_a_record() {
    let given = given(&[
        observed("crm", "c-1", Action::Created),
        fetched("crm", "c-1", ada()),
        linked("crm", "c-1", "first seen in crm"),
    ]);
    let config = customer();
    let found = record("crm", "c-1", ada());
    let erp = "erp".to_string();
    assert_eq!(
        before_deciding(&config, given.state(), &found, false),
        BeforeDeciding::LookUp(vec![&erp])
    );
}
