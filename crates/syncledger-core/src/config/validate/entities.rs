//! The `[[entities]]` tables: names, each system's collection and field paths, and the keys
//! that name fields (`match_keys`, `required`, `owners`) against the fields actually mapped.

use std::collections::{BTreeMap, BTreeSet};

use super::super::{Config, ConflictPolicy, EntityConfig, EntitySystemConfig, Problem};
use super::{SLUG_RULE, is_slug};

pub(super) fn entities(config: &Config, out: &mut Vec<Problem>) {
    let mut names = BTreeSet::new();
    // (system, collection) -> the entity that already holds it.
    let mut collections: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for (index, entity) in config.entities.iter().enumerate() {
        let path = if entity.name.is_empty() {
            format!("entities[#{}]", index + 1)
        } else {
            format!("entities[{}]", entity.name)
        };
        if !is_slug(&entity.name) {
            out.push(Problem::new(
                format!("{path}.name"),
                format!("{:?}: {SLUG_RULE}", entity.name),
            ));
        } else if !names.insert(entity.name.as_str()) {
            out.push(Problem::new(
                format!("{path}.name"),
                "another entity has the same name",
            ));
        }
        if entity.systems.len() < 2 {
            out.push(Problem::new(
                format!("{path}.systems"),
                format!(
                    "an entity syncs between at least two systems, found {}",
                    entity.systems.len()
                ),
            ));
        }
        for (name, system) in &entity.systems {
            let here = format!("{path}.systems.{name}");
            if !config.tenants.iter().any(|t| t.systems.contains_key(name)) {
                out.push(Problem::new(
                    &here,
                    format!("no tenant has a system {name:?}"),
                ));
            }
            if system.collection.trim().is_empty()
                || system.collection.contains(char::is_whitespace)
            {
                out.push(Problem::new(
                    format!("{here}.collection"),
                    "must be a non-empty name without spaces",
                ));
            } else if let Some(other) = collections.insert((name, &system.collection), &entity.name)
            {
                out.push(Problem::new(
                    format!("{here}.collection"),
                    format!(
                        "{:?} already holds entity {other:?} in system {name:?}",
                        system.collection
                    ),
                ));
            }
            fields(system, &here, out);
        }
        references(entity, &path, out);
    }
}

fn fields(system: &EntitySystemConfig, here: &str, out: &mut Vec<Problem>) {
    if system.fields.is_empty() {
        out.push(Problem::new(format!("{here}.fields"), "maps no fields"));
    }
    let mapped: Vec<_> = system.fields.iter().collect();
    for (i, (canonical, path)) in mapped.iter().enumerate() {
        let key = format!("{here}.fields.{canonical}");
        if path.top() == "id" {
            out.push(Problem::new(
                &key,
                "`id` is the record's identity, assigned by the system; map another key",
            ));
        }
        if let Some((other, other_path)) = mapped[..i].iter().find(|(_, p)| p.overlaps(path)) {
            out.push(Problem::new(
                &key,
                format!(
                    "{:?} overlaps fields.{other} ({:?}): writing one would change the other",
                    path.as_str(),
                    other_path.as_str()
                ),
            ));
        }
    }
    for field in &system.required {
        if !system.fields.contains_key(field) {
            out.push(Problem::new(
                format!("{here}.required"),
                format!("{field:?} is not a mapped field"),
            ));
        }
    }
}

/// Match keys, owners and the conflict policy refer to fields and systems declared elsewhere.
fn references(entity: &EntityConfig, path: &str, out: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for key in &entity.match_keys {
        if !seen.insert(key) {
            out.push(Problem::new(
                format!("{path}.match_keys"),
                format!("{key:?} is listed twice"),
            ));
        }
        // Matching compares the key's value across systems, so every system must map it.
        for (name, system) in &entity.systems {
            if !system.fields.contains_key(key) {
                out.push(Problem::new(
                    format!("{path}.match_keys"),
                    format!("{key:?} is not a mapped field of system {name:?}"),
                ));
            }
        }
    }
    for (field, owner) in &entity.owners {
        let here = format!("{path}.owners.{field}");
        if !entity
            .systems
            .values()
            .any(|s| s.fields.contains_key(field))
        {
            out.push(Problem::new(
                &here,
                format!("{field:?} is not a mapped field"),
            ));
        }
        match entity.systems.get(owner) {
            None => {
                let systems: Vec<&str> = entity.systems.keys().map(String::as_str).collect();
                out.push(Problem::new(
                    &here,
                    format!(
                        "{owner:?} is not a system of this entity ({})",
                        systems.join(", ")
                    ),
                ));
            }
            Some(system) if !system.fields.contains_key(field) => {
                out.push(Problem::new(
                    &here,
                    format!("{owner:?} does not map {field:?}"),
                ));
            }
            Some(_) => {}
        }
    }
    match entity.conflict {
        ConflictPolicy::Owner if entity.owners.is_empty() => out.push(Problem::new(
            format!("{path}.conflict"),
            "\"owner\" needs owners = { field = \"system\", ... } on the entity",
        )),
        ConflictPolicy::LastObserved | ConflictPolicy::Review if !entity.owners.is_empty() => out
            .push(Problem::new(
                format!("{path}.owners"),
                "owners only apply with conflict = \"owner\"",
            )),
        _ => {}
    }
}
