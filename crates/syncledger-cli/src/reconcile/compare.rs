//! The comparison: what the systems hold against what the ledger links, a pure function of what
//! `read` gathered. Findings come in a fixed order: per system, the unlinked records and the
//! duplicates; then per linked entity, the linked records that are gone, the systems it has no
//! record in, and the mapped fields its linked records disagree on.

use std::collections::{BTreeMap, BTreeSet};

use syncledger_core::config::EntityConfig;
use syncledger_core::events::Fields;
use syncledger_core::mapping::match_fingerprint;
use uuid::Uuid;

use super::read::{Links, Listing};
use super::report::Finding;

/// The findings. `pending` holds the entities that still have a write in flight.
pub fn find(
    cfg: &EntityConfig,
    listings: &BTreeMap<String, Listing>,
    links: &Links,
    pending: &BTreeSet<Uuid>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let linked: BTreeSet<(&str, &str)> = links
        .values()
        .flat_map(|l| l.iter().map(|(s, r)| (s.as_str(), r.as_str())))
        .collect();
    for (system, listing) in listings {
        let mut by_keys: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (id, fields) in listing {
            if !linked.contains(&(system.as_str(), id.as_str())) {
                findings.push(finding(
                    "unlinked",
                    system,
                    id,
                    None,
                    "no entity links this record".into(),
                ));
            }
            if let Some(fp) = match_fingerprint(&cfg.match_keys, fields) {
                by_keys.entry(fp).or_default().push(id);
            }
        }
        for ids in by_keys.values().filter(|ids| ids.len() > 1) {
            for id in ids {
                let others: Vec<&str> = ids.iter().copied().filter(|o| o != id).collect();
                findings.push(finding(
                    "duplicate",
                    system,
                    id,
                    None,
                    format!(
                        "same {} as {}",
                        cfg.match_keys.join(", "),
                        others.join(", ")
                    ),
                ));
            }
        }
    }
    for (entity_id, systems) in links {
        for (system, record_id) in systems {
            if !listings
                .get(system)
                .is_some_and(|l| l.contains_key(record_id))
            {
                findings.push(finding(
                    "linked_record_missing",
                    system,
                    record_id,
                    Some(*entity_id),
                    "linked, but the system no longer has it".into(),
                ));
            }
        }
        for system in cfg.systems.keys().filter(|s| !systems.contains_key(*s)) {
            let (from, id) = systems
                .iter()
                .next()
                .map(|(s, r)| (s.clone(), r.clone()))
                .unwrap_or_default();
            let why = if pending.contains(entity_id) {
                "a write to it is still pending"
            } else {
                "no counterpart"
            };
            findings.push(finding(
                "missing_counterpart",
                &from,
                &id,
                Some(*entity_id),
                format!("{why} in {system}"),
            ));
        }
        findings.extend(differing(cfg, listings, *entity_id, systems));
    }
    findings
}

fn differing(
    cfg: &EntityConfig,
    listings: &BTreeMap<String, Listing>,
    entity_id: Uuid,
    systems: &BTreeMap<String, String>,
) -> Vec<Finding> {
    let present: Vec<(&String, &Fields)> = systems
        .iter()
        .filter_map(|(s, r)| listings.get(s).and_then(|l| l.get(r)).map(|f| (s, f)))
        .collect();
    let mut findings = Vec::new();
    for pair in present.windows(2) {
        let ((a, fa), (b, fb)) = (pair[0], pair[1]);
        let shared = cfg.systems[a]
            .fields
            .keys()
            .filter(|f| cfg.systems[b].fields.contains_key(*f));
        let diffs: Vec<String> = shared
            .filter(|f| fa.get(*f) != fb.get(*f))
            .map(|f| format!("{f}: {a}={} {b}={}", show(fa.get(f)), show(fb.get(f))))
            .collect();
        if !diffs.is_empty() {
            findings.push(finding(
                "differing",
                a,
                &systems[a],
                Some(entity_id),
                diffs.join("; "),
            ));
        }
    }
    findings
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "null".into())
}

fn finding(
    kind: &'static str,
    system: &str,
    record_id: &str,
    entity_id: Option<Uuid>,
    detail: String,
) -> Finding {
    Finding {
        kind,
        system: system.into(),
        record_id: record_id.into(),
        entity_id,
        detail,
    }
}

#[cfg(test)]
mod tests;
