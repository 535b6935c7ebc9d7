//! G10 and race 4 of docs/races.md: both sides edit the same field. With ETags, the ledger's
//! write on a version it did not decide about is refused (412), the record is fetched again
//! and the conflict recorded with both values; `review` holds the field until a person
//! resolves it; without ETags the sync still converges (the documented window).

use serde_json::{Value, json};
use syncledger_core::decide::conflict::{Choice, resolution};
use syncledger_core::events::{ConflictDetected, SyncEvent};
use syncledger_sim::Op;
use uuid::Uuid;

use crate::both;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, World, config_with, settings};
use crate::invariants;

/// A customer linked in both systems and in sync; both systems send ETags when `etags`.
async fn linked(w: &World, etags: bool) -> (String, String, Uuid) {
    w.crm.set_etags(etags);
    w.erp.set_etags(etags);
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Bulk One", "email": "one@example.com", "phone": "1"}),
    );
    w.settle().await;
    let e = crate::harness::only(&w.erp, CUSTOMERS, "email_address", "one@example.com");
    let entity = w.entity_of(CRM, &c.id).await.expect("linked");
    (c.id, e.id, entity)
}

/// No problem left (G5), the same build replays the log silently, and another round writes
/// nothing (`why` names the round when it does).
async fn settled_and_quiet(w: &World, why: &str) {
    assert_eq!(invariants::problems(w).await, Vec::<String>::new());
    assert_eq!(invariants::replay_is_silent(w).await, Vec::<String>::new());
    let quiet = invariants::writes(w);
    w.settle().await;
    assert_eq!(invariants::writes(w), quiet, "{why}");
}

fn conflicts(events: &[SyncEvent]) -> Vec<ConflictDetected> {
    events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::ConflictDetected(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn count(events: &[SyncEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.event_type() == kind).count()
}

fn value(w: &World, system: &str, id: &str, field: &str) -> Value {
    let (sim, collection) = match system {
        CRM => (&w.crm, CONTACTS),
        _ => (&w.erp, CUSTOMERS),
    };
    sim.record(collection, id).expect("the record").body[field].clone()
}

/// The ERP user's rename lands after the ledger last saw the ERP record and before its write:
/// the write carries the old ETag and is refused, the ERP record is fetched again, and the
/// conflict is recorded with both names; `last_observed` keeps the ERP's (observed last) and
/// the CRM's is in the log.
async fn a_412_is_followed_by_a_new_decision_that_records_the_conflict(db: Db) {
    let w = World::new(db).await;
    let (crm_id, erp_id, entity) = linked(&w, true).await;
    w.crm
        .user_update(CONTACTS, &crm_id, json!({"full_name": "Bulk One (CRM)"}));
    w.erp
        .user_update(CUSTOMERS, &erp_id, json!({"name": "Bulk One (ERP)"}));
    // Only the CRM's webhook is in when the ledger decides.
    w.deliver(CRM).await;
    w.run().await;
    w.settle().await;

    let events = w.events(entity).await;
    assert_eq!(count(&events, "WritePreconditionFailed"), 1);
    assert_eq!(count(&events, "WriteFailed"), 0, "a 412 is not a failure");
    assert_eq!(count(&events, "DeadLettered"), 0);
    let found = conflicts(&events);
    assert_eq!(found.len(), 1, "{found:?}");
    let sides: Vec<(String, Value)> = found[0]
        .candidates
        .iter()
        .map(|c| (c.system.clone(), c.value.clone()))
        .collect();
    assert_eq!(
        sides,
        [
            (CRM.to_string(), json!("Bulk One (CRM)")),
            (ERP.to_string(), json!("Bulk One (ERP)"))
        ]
    );
    let chosen = found[0].chosen.clone().expect("last_observed chose");
    assert_eq!(chosen.system.as_deref(), Some(ERP));
    assert_eq!(value(&w, CRM, &crm_id, "full_name"), "Bulk One (ERP)");
    assert_eq!(value(&w, ERP, &erp_id, "name"), "Bulk One (ERP)");
    let sent: Vec<_> = w
        .erp
        .request_log()
        .into_iter()
        .filter(|r| r.op == Op::Update)
        .map(|r| r.headers.get("if-match").cloned())
        .collect();
    assert!(
        !sent.is_empty() && sent.iter().all(Option::is_some),
        "{sent:?}"
    );

    settled_and_quiet(&w, "another round wrote").await;
}

/// With `review`, the contested name is held (each side keeps its own) while the phone flows;
/// a person's choice is then written once, where it differs, and all is quiet.
async fn a_review_holds_the_field_until_a_person_resolves_it(db: Db) {
    let config = config_with("on_delete = \"propagate\"\nconflict = \"review\"");
    let w = World::with_config(db, config, settings("process-1")).await;
    let (crm_id, erp_id, entity) = linked(&w, true).await;
    w.crm
        .user_update(CONTACTS, &crm_id, json!({"full_name": "Bulk One (CRM)"}));
    w.erp.user_update(
        CUSTOMERS,
        &erp_id,
        json!({"name": "Bulk One (ERP)", "phones": ["2"]}),
    );
    w.deliver(CRM).await;
    w.run().await;
    w.settle().await;

    assert_eq!(value(&w, CRM, &crm_id, "full_name"), "Bulk One (CRM)");
    assert_eq!(value(&w, ERP, &erp_id, "name"), "Bulk One (ERP)");
    assert_eq!(value(&w, CRM, &crm_id, "phone"), "2", "other fields flow");
    let state = w.state(entity).await;
    let open = state.conflicts.open.get("name").expect("an open review");
    assert!(open.is_held());
    let id = open.conflict_id;
    assert_eq!(conflicts(&w.events(entity).await).len(), 1);

    let patches = w.crm.requests(Op::Update);
    let resolved = resolution(&state, id, Choice::Keep(ERP.into()), "admin").expect("open");
    w.ask(entity, SyncEvent::ConflictResolved(resolved)).await;
    w.settle().await;
    assert_eq!(value(&w, CRM, &crm_id, "full_name"), "Bulk One (ERP)");
    assert_eq!(w.crm.requests(Op::Update), patches + 1, "written once");
    assert!(w.state(entity).await.conflicts.open.is_empty());
    settled_and_quiet(&w, "quiet after the resolution").await;
    // A resolution of a conflict no longer open is refused.
    let again = resolution(
        &w.state(entity).await,
        id,
        Choice::Keep(CRM.into()),
        "admin",
    );
    assert!(again.is_err());
}

/// A system without ETags gets unconditional writes and the pair still converges.
async fn without_etags_the_same_edits_converge_with_unconditional_writes(db: Db) {
    let w = World::new(db).await;
    let (crm_id, erp_id, entity) = linked(&w, false).await;
    w.crm
        .user_update(CONTACTS, &crm_id, json!({"full_name": "Bulk One (CRM)"}));
    w.erp
        .user_update(CUSTOMERS, &erp_id, json!({"name": "Bulk One (ERP)"}));
    w.deliver(CRM).await;
    w.run().await;
    w.settle().await;
    assert_eq!(invariants::problems(&w).await, Vec::<String>::new());
    assert_eq!(count(&w.events(entity).await, "WritePreconditionFailed"), 0);
    let conditional = w
        .erp
        .request_log()
        .into_iter()
        .chain(w.crm.request_log())
        .filter(|r| r.headers.contains_key("if-match"))
        .count();
    assert_eq!(conditional, 0);
    assert_eq!(
        value(&w, CRM, &crm_id, "full_name"),
        value(&w, ERP, &erp_id, "name")
    );
}

/// The CRM record is deleted while the ERP user edits its twin: the propagated DELETE carries the
/// ETag the ledger last saw and is refused. The ERP record is fetched again, so the ERP user's
/// edit is in the log, and the entity is decided again on what the systems now hold: the ERP
/// record changed after the delete was decided, so its edit wins and the record is created
/// again in the CRM (docs/races.md, race 4). No dead letter, no loop.
async fn a_delete_refused_by_412_is_decided_again_and_the_edit_is_in_the_log(db: Db) {
    let w = World::new(db).await;
    let (crm_id, erp_id, entity) = linked(&w, true).await;
    w.crm.user_delete(CONTACTS, &crm_id);
    w.erp
        .user_update(CUSTOMERS, &erp_id, json!({"name": "Bulk One (kept)"}));
    w.deliver(CRM).await;
    w.run().await;
    w.settle().await;

    let events = w.events(entity).await;
    assert_eq!(
        count(&events, "WritePreconditionFailed"),
        1,
        "the DELETE was refused once"
    );
    assert_eq!(count(&events, "DeadLettered"), 0);
    let deletes_sent: Vec<_> = w
        .erp
        .request_log()
        .into_iter()
        .filter(|r| r.op == Op::Delete)
        .map(|r| r.headers.get("if-match").cloned())
        .collect();
    assert!(
        !deletes_sent.is_empty() && deletes_sent.iter().all(Option::is_some),
        "{deletes_sent:?}"
    );
    let edit_in_log = events.iter().any(|e| match e {
        SyncEvent::RecordFetched(f) => {
            f.system == ERP && f.fields.get("name") == Some(&json!("Bulk One (kept)"))
        }
        _ => false,
    });
    assert!(edit_in_log, "the ERP user's edit was fetched and recorded");
    // Decided again, the ERP record is alive and edited since the delete was decided: the edit
    // wins and the record comes back in the CRM, in the same entity (nothing of it is lost).
    assert_eq!(value(&w, ERP, &erp_id, "name"), "Bulk One (kept)");
    let contacts = w.crm.records(CONTACTS);
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_ne!(contacts[0].id, crm_id, "a new CRM record");
    assert_eq!(contacts[0].body["full_name"], "Bulk One (kept)");
    assert_eq!(w.entity_of(CRM, &contacts[0].id).await, Some(entity));
    settled_and_quiet(&w, "another round wrote").await;
}

both!(
    a_412_is_followed_by_a_new_decision_that_records_the_conflict,
    a_delete_refused_by_412_is_decided_again_and_the_edit_is_in_the_log,
    a_review_holds_the_field_until_a_person_resolves_it,
    without_etags_the_same_edits_converge_with_unconditional_writes,
);
