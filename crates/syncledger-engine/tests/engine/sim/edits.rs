//! Concurrent edits on both sides (G10, race 4 of docs/races.md). In these runs users also edit
//! both records of a linked pair in the same step, before the ledger has seen either edit, so the
//! ledger often decides one side's change from a stale view of the other side.
//!
//! Every user edit of a name or an email is noted, and the run ends with G10's check: no edit
//! vanishes without a trace. An edit is accounted for when it is
//! 1. the record's final value, or
//! 2. replaced by a later edit of the same system (the user changed it again before anyone synced
//!    it), or
//! 3. named by a recorded conflict (as a candidate, whatever the policy chose), or
//! 4. in the log: a fetch of that record saw it (it was synced, and a later change replaced it).
//!
//! An edit of a record that was later deleted follows `on_delete` (G7) and is not checked. With
//! ETags, a write that would overwrite an edit the ledger has not seen is refused (`412`), so
//! every edit is accounted for. Without them the window of docs/races.md is real: the control
//! run shows the check finds the edits that window loses.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use serde_json::{Value, json};
use syncledger_core::events::SyncEvent;
use syncledger_core::log::{LogFilter, Position};
use syncledger_core::projections::id_mappings::{self, Mapping};

use super::driver::Sim;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, ERP, World};

const NAMES: [&str; 4] = ["Ada K", "Grace H", "Alan T", "Edsger D"];

/// One user edit of one canonical field.
#[derive(Debug, Clone)]
pub struct Edit {
    system: &'static str,
    record: String,
    field: &'static str,
    value: Value,
}

/// The canonical fields a system's raw field feeds (CONTRACT §3's example mapping): only the
/// one-to-one ones, since a list's first element has no single "final value" to compare.
fn canonical(system: &str, raw: &str) -> Option<&'static str> {
    match (system, raw) {
        (CRM, "full_name") | (ERP, "name") => Some("name"),
        (CRM, "email") | (ERP, "email_address") => Some("email"),
        _ => None,
    }
}

fn raw(system: &str, field: &str) -> &'static str {
    match (system, field) {
        (CRM, "name") => "full_name",
        (CRM, _) => "email",
        (_, "name") => "name",
        (_, _) => "email_address",
    }
}

impl Sim {
    /// Notes the fields a user wrote (a create's fields or an update's patch), when edits are
    /// tracked in this run.
    pub(super) fn note_edit(&mut self, system: &'static str, record: &str, written: &Value) {
        let (Some(edits), Value::Object(written)) = (self.edits.as_mut(), written) else {
            return;
        };
        for (key, value) in written {
            if let Some(field) = canonical(system, key) {
                edits.push(Edit {
                    system,
                    record: record.to_string(),
                    field,
                    value: value.clone(),
                });
            }
        }
    }

    /// Users of both systems edit the same field of one linked pair, differently, in one step.
    pub(super) async fn concurrent_edit(&mut self) -> String {
        let pairs = linked_pairs(&self.w).await;
        let Some((crm_id, erp_id)) = pairs.choose(&mut self.rng).cloned() else {
            return "concurrent edit: no linked pair".into();
        };
        let field = *["name", "email"].choose(&mut self.rng).expect("a field");
        let value = |sim: &mut Sim| match field {
            "name" => json!(*NAMES.choose(&mut sim.rng).expect("a name")),
            _ => {
                sim.next_email += 1;
                json!(format!("p{}@example.com", sim.next_email))
            }
        };
        let (crm_value, erp_value) = (value(self), value(self));
        let crm_patch = json!({ raw(CRM, field): crm_value });
        let erp_patch = json!({ raw(ERP, field): erp_value });
        self.w.crm.user_update(CONTACTS, &crm_id, crm_patch.clone());
        self.w
            .erp
            .user_update(CUSTOMERS, &erp_id, erp_patch.clone());
        self.note_edit(CRM, &crm_id, &crm_patch);
        self.note_edit(ERP, &erp_id, &erp_patch);
        format!("concurrent edit: crm {crm_id} {crm_patch}, erp {erp_id} {erp_patch}")
    }
}

/// The (crm, erp) record ids of every linked pair whose records both exist, in entity order.
async fn linked_pairs(w: &World) -> Vec<(String, String)> {
    let rows = w
        .store()
        .all_rows(id_mappings::NAME)
        .await
        .expect("mapping rows");
    let mut mappings: Vec<Mapping> = rows
        .into_iter()
        .map(|r| serde_json::from_value(r.doc).expect("a mapping doc"))
        .collect();
    mappings.sort_by(|a, b| (a.entity_id, &a.system).cmp(&(b.entity_id, &b.system)));
    mappings
        .chunk_by(|a, b| a.entity_id == b.entity_id)
        .filter_map(|links| {
            let of = |system: &str| {
                links
                    .iter()
                    .find(|m| m.system == system)
                    .map(|m| m.record_id.clone())
            };
            let (crm, erp) = (of(CRM)?, of(ERP)?);
            let exist =
                w.crm.record(CONTACTS, &crm).is_some() && w.erp.record(CUSTOMERS, &erp).is_some();
            exist.then_some((crm, erp))
        })
        .collect()
}

/// G10's check over a quiet run: every noted edit that none of the four rules accounts for.
pub async fn untraced_edits(w: &World, edits: &[Edit]) -> Vec<String> {
    let events = w
        .store()
        .read_all(Position(0), &LogFilter::default(), i64::MAX)
        .await
        .expect("the log");
    // (system, record, field, value) seen by a fetch; (field, system, value) named by a conflict.
    let mut fetched: HashSet<(String, String, String, String)> = HashSet::new();
    let mut named: HashSet<(String, String, String)> = HashSet::new();
    for event in events
        .iter()
        .filter_map(|e| SyncEvent::from_recorded(e).ok())
    {
        match event {
            SyncEvent::RecordFetched(f) if f.found => {
                for field in ["name", "email"] {
                    let value = f.fields.get(field).cloned().unwrap_or(Value::Null);
                    fetched.insert((
                        f.system.clone(),
                        f.record_id.clone(),
                        field.to_string(),
                        value.to_string(),
                    ));
                }
            }
            SyncEvent::ConflictDetected(c) => {
                for candidate in c.candidates {
                    named.insert((
                        c.field.clone(),
                        candidate.system,
                        candidate.value.to_string(),
                    ));
                }
            }
            _ => {}
        }
    }
    let mut untraced = Vec::new();
    for (i, edit) in edits.iter().enumerate() {
        let collection = if edit.system == CRM {
            CONTACTS
        } else {
            CUSTOMERS
        };
        let Some(now) = w.sim(edit.system).record(collection, &edit.record) else {
            continue;
        };
        let value = edit.value.to_string();
        let last = now
            .field(raw(edit.system, edit.field))
            .cloned()
            .unwrap_or(Value::Null);
        let replaced_by_same_system = edits[i + 1..].iter().any(|later| {
            later.system == edit.system && later.record == edit.record && later.field == edit.field
        });
        let key = (
            edit.system.to_string(),
            edit.record.clone(),
            edit.field.to_string(),
            value.clone(),
        );
        let in_conflict = named.contains(&(
            edit.field.to_string(),
            edit.system.to_string(),
            value.clone(),
        ));
        if last == edit.value || replaced_by_same_system || in_conflict || fetched.contains(&key) {
            continue;
        }
        untraced.push(format!(
            "{} user's edit #{i} of {} {}={value} left no trace: not the final value ({last}), \
             never fetched, in no conflict, not replaced by a later {} edit",
            edit.system, edit.record, edit.field, edit.system
        ));
    }
    untraced
}
