//! Environment overrides: `SYNCLEDGER_` + the key path, segments joined by `__`, upper-case.
//!
//! ```text
//! SYNCLEDGER_SERVER__WORKERS=16
//! SYNCLEDGER_SERVER__ADMIN_TOKEN=...
//! SYNCLEDGER_TENANTS__ACME__API_TOKEN=...                        (the tenant whose id is "acme")
//! SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__WEBHOOK_SECRET=...
//! SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__HEADERS__AUTHORIZATION="Bearer ..."
//! SYNCLEDGER_ENTITIES__CUSTOMER__MATCH_KEYS=email,name           (the entity named "customer")
//! ```
//!
//! A secret may name a file instead (`SYNCLEDGER_SERVER__ADMIN_TOKEN_FILE=/run/secrets/admin`, the
//! container convention; see [`super::files`]): a variable setting either form of a secret
//! replaces whichever form the file holds.
//!
//! Keys, tenant ids, entity names and map keys match case-insensitively, with `-` and `_` equal
//! (`ACME_EU` finds tenant `acme-eu`). Each value takes the type of its key: strings stay as
//! written (a token of digits is still a string), whole numbers must parse, lists are either TOML
//! (`["a", "b"]`) or comma-separated. A variable may set a key the file leaves out and may add a
//! header, a field mapping or an owner; it cannot invent a tenant, an entity or a system.
//!
//! Variables that start with `SYNCLEDGER_SERVER`, `SYNCLEDGER_TENANTS` or `SYNCLEDGER_ENTITIES`
//! are overrides, and one that names nothing is an error naming the variable. Other
//! `SYNCLEDGER_*` variables (e.g. `SYNCLEDGER_CONFIG` for the command line) are not ours.

use super::Problem;
use super::schema::{Create, Node, ROOT};

pub const PREFIX: &str = "SYNCLEDGER_";

/// Applies every override found in `vars` to `tree`, in variable-name order; returns a problem
/// per variable that could not be applied.
pub fn apply_overrides(
    tree: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<Problem> {
    let mut overrides: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(name, _)| is_override(name))
        .collect();
    overrides.sort();
    let mut problems = Vec::new();
    let mut root = toml::Value::Table(std::mem::take(tree));
    for (name, raw) in overrides {
        let rest = &name[PREFIX.len()..];
        let segments: Vec<&str> = rest.split("__").collect();
        if segments.len() < 2 || segments.iter().any(|s| s.is_empty()) {
            problems.push(Problem::new(
                &name,
                "separate the key path's segments with `__`, e.g. SYNCLEDGER_SERVER__WORKERS",
            ));
            continue;
        }
        if let Err(message) = set(&mut root, &ROOT, &segments, &raw) {
            problems.push(Problem::new(&name, message));
        }
    }
    if let toml::Value::Table(table) = root {
        *tree = table;
    }
    problems
}

fn is_override(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let Node::Table(sections) = &ROOT else {
        return false;
    };
    sections.iter().any(|(section, _)| {
        let head = rest
            .get(..section.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(section));
        head && (rest.len() == section.len() || rest[section.len()..].starts_with('_'))
    })
}

/// Case-insensitive, and `-` equals `_`: environment names cannot hold `-` nor lower case.
fn same(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.to_lowercase().replace('-', "_");
    norm(a) == norm(b)
}

fn set(at: &mut toml::Value, node: &Node, segments: &[&str], raw: &str) -> Result<(), String> {
    let Some((segment, rest)) = segments.split_first() else {
        return match node {
            Node::Str | Node::Int | Node::Float | Node::Bool | Node::List => {
                *at = leaf(node, raw)?;
                Ok(())
            }
            _ => Err("names a whole section, not a value".into()),
        };
    };
    match node {
        Node::Str | Node::Int | Node::Float | Node::Bool | Node::List => Err(format!(
            "names `{}` inside a value that has no keys",
            segment.to_lowercase()
        )),
        Node::Table(fields) => {
            let Some((key, child)) = fields.iter().find(|(key, _)| same(key, segment)) else {
                let known: Vec<&str> = fields.iter().map(|(key, _)| *key).collect();
                return Err(format!(
                    "unknown key `{}` (expected one of: {})",
                    segment.to_lowercase(),
                    known.join(", ")
                ));
            };
            let table = as_table(at)?;
            if rest.is_empty()
                && let Some(other) = super::files::partner(key)
            {
                // A variable wins over the file, whichever form either uses.
                table.remove(&other);
            }
            let entry = table.entry(key.to_string()).or_insert_with(|| empty(child));
            set(entry, child, rest, raw)
        }
        Node::ById { key, what, item } => {
            let toml::Value::Array(items) = at else {
                return Err(format!(
                    "no {what} \"{}\" in the file",
                    segment.to_lowercase()
                ));
            };
            let mut found = items.iter_mut().filter(|entry| {
                entry
                    .get(key)
                    .and_then(toml::Value::as_str)
                    .is_some_and(|id| same(id, segment))
            });
            match (found.next(), found.next()) {
                (Some(entry), None) => set(entry, item, rest, raw),
                (None, _) => Err(format!(
                    "no {what} with {key} \"{}\"",
                    segment.to_lowercase()
                )),
                (Some(_), Some(_)) => Err(format!(
                    "more than one {what} matches \"{}\" (ids differ only by case or -/_)",
                    segment.to_lowercase()
                )),
            }
        }
        Node::Map { what, item, create } => {
            let table = as_table(at)?;
            let mut found = table.keys().filter(|k| same(k, segment)).cloned();
            let existing = match (found.next(), found.next()) {
                (Some(k), None) => k,
                (None, _) => match create {
                    Create::No => {
                        return Err(format!(
                            "no {what} \"{}\" in the file",
                            segment.to_lowercase()
                        ));
                    }
                    Create::Lower => segment.to_lowercase(),
                    Create::Header => segment.to_lowercase().replace('_', "-"),
                },
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "more than one {what} matches \"{}\"",
                        segment.to_lowercase()
                    ));
                }
            };
            let entry = table.entry(existing).or_insert_with(|| empty(item));
            set(entry, item, rest, raw)
        }
    }
}

fn as_table(at: &mut toml::Value) -> Result<&mut toml::Table, String> {
    if !at.is_table() {
        // Only an absent section gets here as a placeholder; a wrong type in the file is
        // reported by serde later, so replacing it would hide that.
        return Err(format!(
            "the file holds a {} where a table belongs",
            at.type_str()
        ));
    }
    at.as_table_mut().ok_or_else(|| "not a table".to_string())
}

/// What a key the file leaves out starts as before the override fills it in.
fn empty(node: &Node) -> toml::Value {
    match node {
        Node::ById { .. } | Node::List => toml::Value::Array(Vec::new()),
        Node::Table(_) | Node::Map { .. } => toml::Value::Table(toml::Table::new()),
        Node::Str | Node::Int | Node::Float | Node::Bool => toml::Value::String(String::new()),
    }
}

fn leaf(node: &Node, raw: &str) -> Result<toml::Value, String> {
    match node {
        Node::Int => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| "expected a whole number".to_string()),
        Node::Float => raw
            .trim()
            .parse::<f64>()
            .map(toml::Value::Float)
            .map_err(|_| "expected a number".to_string()),
        Node::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" => Ok(toml::Value::Boolean(false)),
            _ => Err("expected true or false".to_string()),
        },
        Node::List if raw.trim_start().starts_with('[') => {
            let doc: toml::Table = format!("v = {raw}")
                .parse()
                .map_err(|_| "expected a TOML list like [\"a\", \"b\"]".to_string())?;
            Ok(doc
                .get("v")
                .cloned()
                .unwrap_or(toml::Value::Array(Vec::new())))
        }
        Node::List => Ok(toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_string()))
                .collect(),
        )),
        _ => Ok(toml::Value::String(raw.to_string())),
    }
}
