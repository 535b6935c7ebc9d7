//! The what-if's steps, each on a history recorded with today's configuration.

use chrono::Duration;
use serde_json::json;

use super::*;
use crate::config::ConflictPolicy;
use crate::events::{Basis, RecordFetched, RecordLinked, Resolution, WriteSucceeded};
use crate::replay::tests::{History, TTL, config, fetched, observed, race3};

fn what_if(proposed: &EntityConfig, history: &History) -> WhatIfReport {
    let mut walk = WhatIf::new(
        &[config()],
        std::slice::from_ref(proposed),
        (Position(0), Position(i64::MAX)),
        Duration::minutes(TTL),
    );
    for event in &history.0 {
        walk.push(event.clone());
    }
    walk.finish()
}

fn record(system: &str, fields: serde_json::Value) -> RecordFetched {
    RecordFetched {
        etag: None,
        system: system.into(),
        record_id: format!("{system}-1"),
        found: true,
        fields: serde_json::from_value(fields).unwrap(),
    }
}

/// A CRM contact without a phone, created in the ERP; then its phone added and written there.
fn created_without_a_phone() -> History {
    let mut h = History::default();
    h.push(observed("crm"), None);
    h.decide(record("crm", json!({"email": "ada@example.com"})));
    let create =
        h.0.iter()
            .find_map(|e| {
                let decoded = SyncEvent::from_recorded(e).ok()?;
                crate::events::write_request(&decoded).cloned()
            })
            .expect("the create was recorded");
    let done = WriteSucceeded {
        etag: None,
        request_id: create.request_id,
        target_system: "erp".into(),
        record_id: "erp-1".into(),
        fields: create.fields.clone(),
        resolution: Resolution::Response,
    };
    let answer = h.push(SyncEvent::WriteSucceeded(done), None);
    let link = RecordLinked {
        entity_type: "customer".into(),
        system: "erp".into(),
        collection: "customers".into(),
        record_id: "erp-1".into(),
        reason: "created".into(),
    };
    h.push(SyncEvent::RecordLinked(link), Some(answer));
    h.push(observed("crm"), None);
    h.decide(record(
        "crm",
        json!({"email": "ada@example.com", "phone": "555"}),
    ));
    h
}

#[test]
fn step3_todays_configuration_proposed_changes_nothing() {
    let report = what_if(&config(), &race3());
    assert_eq!(report.entities, vec![]);
    assert_eq!(report.summary.entities_examined, 1);
    assert_eq!(report.summary.decisions_replayed, 2);
    assert_eq!(report.summary.entities_changed, 0);
}

#[test]
fn step3_a_new_required_field_defers_the_create_that_lacked_it() {
    let mut proposed = config();
    proposed.systems.get_mut("erp").unwrap().required = vec!["email".into(), "phone".into()];
    let report = what_if(&proposed, &created_without_a_phone());

    assert_eq!(report.entities.len(), 1);
    let changed = &report.entities[0];
    let rules = |s: &[crate::replay::DecisionSummary]| {
        s.iter()
            .map(|s| (s.kind.clone(), s.basis.rule()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rules(&changed.recorded),
        [("create".to_string(), "no_record_in_target")]
    );
    assert_eq!(
        rules(&changed.proposed),
        [("deferred".to_string(), "required_empty")]
    );
    assert_eq!(
        changed.fields,
        [FieldDifference {
            system: "erp".into(),
            field: "email".into(),
            recorded: Some(json!("ada@example.com")),
            proposed: None,
        }]
    );
    let erp = &report.summary.systems["erp"];
    assert_eq!(
        erp.creates,
        Delta {
            added: 0,
            removed: 1
        }
    );
    assert_eq!(erp.request_difference(), -1);
}

#[test]
fn step4_after_the_first_difference_later_decisions_are_not_compared() {
    let mut proposed = config();
    proposed.systems.get_mut("erp").unwrap().required = vec!["phone".into()];
    let report = what_if(&proposed, &created_without_a_phone());

    // The phone's update was recorded against a record the proposal would not have created:
    // listed after the divergence, never compared (it would be a create under the proposal).
    let changed = &report.entities[0];
    assert_eq!(changed.after_divergence.len(), 1);
    assert_eq!(changed.after_divergence[0].recorded[0].kind, "update");
    assert_eq!(report.summary.decisions_after_divergence, 1);
    assert_eq!(report.summary.decisions_replayed, 2);
    assert_eq!(report.summary.systems["erp"].updates, Delta::default());
}

/// Both sides agreed on phone 1; the CRM changed it to 3 and the ERP to 2, the ERP's change
/// queued after the CRM's: the ERP's value was fetched fresh, observed last, and won.
fn a_recorded_conflict() -> History {
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
        h.fetched(system, "1");
    }
    h.push(observed("crm"), None);
    h.push(observed("erp"), None);
    h.decide_fresh(fetched("crm", "3"), Some(fetched("erp", "2")));
    h
}

#[test]
fn step4_a_conflict_the_owner_policy_settles_the_other_way_is_named() {
    let h = a_recorded_conflict();
    let recorded = what_if(&config(), &h);
    assert_eq!(recorded.entities, vec![], "last_observed is what ran");
    let chosen: Vec<_> =
        h.0.iter()
            .filter_map(|e| match SyncEvent::from_recorded(e) {
                Ok(SyncEvent::DecisionMade(d)) => match d.basis {
                    Basis::Conflict { chosen, .. } => chosen,
                    _ => None,
                },
                _ => None,
            })
            .collect();
    assert_eq!(chosen, ["erp"], "the ERP's later value won");

    let mut owner = config();
    owner.conflict = ConflictPolicy::Owner;
    owner.owners = [("phone".to_string(), "crm".to_string())].into();
    let report = what_if(&owner, &h);
    assert_eq!(report.summary.conflicts_other_way, 1);
    let flip = &report.entities[0].conflicts[0];
    assert_eq!(
        (
            flip.field.as_str(),
            flip.recorded.as_deref(),
            flip.proposed.as_deref()
        ),
        ("phone", Some("erp"), Some("crm"))
    );
    // The CRM's 3 goes to the ERP instead of the ERP's 2 to the CRM.
    let fields: Vec<_> = report.entities[0]
        .fields
        .iter()
        .map(|f| (f.system.as_str(), f.recorded.clone(), f.proposed.clone()))
        .collect();
    assert_eq!(
        fields,
        [
            ("crm", Some(json!("2")), None),
            ("erp", None, Some(json!("3")))
        ]
    );

    let mut same_owner = owner.clone();
    same_owner.owners = [("phone".to_string(), "erp".to_string())].into();
    assert_eq!(what_if(&same_owner, &h).summary.conflicts_other_way, 0);
}

#[test]
fn step3_an_entity_type_the_proposal_drops_decides_nothing() {
    let mut other = config();
    other.name = "supplier".into();
    let report = what_if(&other, &race3());
    assert_eq!(report.summary.entities_changed, 1);
    assert_eq!(report.entities[0].proposed, vec![]);
}

#[test]
fn step1_a_range_compares_only_groups_that_start_in_it_but_folds_everything() {
    let mut proposed = config();
    proposed.systems.get_mut("erp").unwrap().required = vec!["phone".into()];
    let h = created_without_a_phone();
    let second =
        h.0.iter()
            .filter(|e| e.event_type == "InputsGathered")
            .nth(1)
            .unwrap()
            .position;
    let mut walk = WhatIf::new(
        &[config()],
        &[proposed],
        (second, Position(i64::MAX)),
        Duration::minutes(TTL),
    );
    for event in &h.0 {
        walk.push(event.clone());
    }
    let report = walk.finish();
    // The update after the (out of range) create is decided on the folded state: the ERP
    // record exists, the phone is required and present, so it is the same update.
    assert_eq!(report.summary.decisions_replayed, 1);
    assert_eq!(report.entities, vec![]);
}
