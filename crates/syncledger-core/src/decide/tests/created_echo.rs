//! The `created` notice of the sync's own create, settled without a fetch
//! (`decide::created_echo`), step by step.

use serde_json::json;

use super::*;
use crate::decide::created_echo::settled_without_fetch;

/// Race 1's contact, created by the sync in the ERP as `E-1` (its answer recorded and linked,
/// the correction left out), and then `notice` from the ERP about `E-1`, at position 8.
fn created_in_erp_then(notice: SyncEvent) -> (Vec<SyncEvent>, WriteRequested) {
    let (mut stream, create) = created_then_corrected();
    stream.truncate(5);
    stream.push(succeeded(&create, "E-1"));
    stream.push(linked("erp", "E-1", "created by the sync"));
    stream.push(notice);
    (stream, create)
}

fn trigger_of(given: &Given) -> Trigger {
    given.state().open_triggers[0].clone()
}

#[test]
fn created_echo_step1_an_update_of_the_created_record_is_fetched_as_usual() {
    let (stream, _) = created_in_erp_then(observed("erp", "E-1", Action::Updated));
    let given = given(&stream);
    let trigger = trigger_of(&given);
    assert_eq!(settled_without_fetch(given.state(), &trigger), None);
    // Decided on its fetch: the ERP changed the phone, which flows to the CRM.
    let changed = json!({"name": "Ada Lovelase", "email": "ada@example.com", "phone": "555"});
    let outcome = given.when(fetch(record("erp", "E-1", changed))).outcome;
    assert_eq!(
        outcome.writes().count(),
        1,
        "the update is written to the CRM"
    );
}

#[test]
fn created_echo_step2_a_created_notice_of_a_record_the_sync_did_not_create_is_fetched() {
    // The CRM record was linked when first seen, not created by the sync: its notice is not
    // an echo of a create.
    let (stream, _) = created_in_erp_then(observed("crm", "c-42", Action::Created));
    let given = given(&stream);
    let trigger = trigger_of(&given);
    assert_eq!(settled_without_fetch(given.state(), &trigger), None);
}

#[test]
fn created_echo_step2_once_the_created_record_is_unlinked_its_notice_is_fetched() {
    let (mut stream, _) = created_in_erp_then(observed("erp", "E-1", Action::Created));
    stream.insert(
        7,
        SyncEvent::RecordUnlinked(crate::events::RecordUnlinked {
            system: "erp".into(),
            record_id: "E-1".into(),
            reason: "deleted in erp".into(),
        }),
    );
    let given = given(&stream);
    let trigger = trigger_of(&given);
    assert_eq!(settled_without_fetch(given.state(), &trigger), None);
}

#[test]
fn created_echo_step3_the_created_notice_of_the_syncs_own_create_is_settled_unfetched() {
    let (stream, create) = created_in_erp_then(observed("erp", "E-1", Action::Created));
    let given = given(&stream);
    let trigger = trigger_of(&given);
    assert_eq!(
        settled_without_fetch(given.state(), &trigger),
        Some(create.request_id),
        "the engine is told not to fetch"
    );
    given
        .when(Gathered::default())
        .then(&[SyncEvent::DecisionMade(decided(
            8,
            DecisionKind::EchoSuppressed,
            ("erp", "erp"),
            Basis::CreatedBySync {
                record_id: "E-1".into(),
                request_id: create.request_id,
            },
        ))])
        .and_nothing_elsewhere();
}
