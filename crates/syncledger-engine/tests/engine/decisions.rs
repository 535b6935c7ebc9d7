//! "Every choice a step makes is a pure function of the core" (docs/architecture.md), checked on
//! the engine's source: the engine builds no event that records a choice, and names no rule.
//!
//! Every event type of the catalog is either
//!
//! - **observed**: a fact the engine read from outside and records as it found it (a webhook's
//!   change, a fetched record, a listed record, the initial sync's pages and runs), which the
//!   engine may build itself; or
//! - **decided**: what the sync chose (a decision, a write request, an outcome, a retry or a
//!   dead letter, a link, a hold, the inputs a decision was given), which only the core builds:
//!   the engine appends what a core function returned.
//!
//! The test fails when engine code outside `#[cfg(test)]` writes a struct literal of a decided
//! event (`WriteFailed {`), names a [`Basis`](syncledger_core::events::Basis) (`Basis::`), or
//! when the catalog gains an event type this list does not classify. Patterns (`WriteFailed(f)`,
//! `WriteFailed { .. }`) are reading, not building, and pass.

use std::path::{Path, PathBuf};

use syncledger_core::events::EVENT_TYPES;

const OBSERVED: &[&str] = &[
    "ChangeObserved",
    "RecordFetched",
    "RecordDiscovered",
    "InitialSyncStarted",
    "InitialSyncPageRead",
    "InitialSyncCompleted",
];

const DECIDED: &[&str] = &[
    "WorkHeld",
    "WorkReleased",
    "InputsGathered",
    "DecisionMade",
    "WriteRequested",
    "WriteSucceeded",
    "WriteFailed",
    "RecordLinked",
    "RecordUnlinked",
    "RedirectedTo",
    "DeadLettered",
    "ReplayRequested",
    "ResyncRequested",
    "DeadLetterRetried",
    "WorkFailed",
    "ConflictDetected",
    "ConflictResolved",
    "WritePreconditionFailed",
    "DeadLetterDiscarded",
    "EntityErased",
];

/// Every `.rs` file of the engine's `src`, with its code before `#[cfg(test)]`, comments cut.
fn engine_code() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read a source file");
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let code = code
                    .lines()
                    .map(|l| l.split("//").next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n");
                files.push((path, code));
            }
        }
    }
    files.sort();
    files
}

/// Where `code` builds a `name` struct literal (`name {` not followed by `..` or `}`), or names
/// a basis: one line per place.
fn built(code: &str, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find(name) {
            let before = rest[..at].chars().next_back();
            let after = rest[at + name.len()..].trim_start();
            let whole_word = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if whole_word && after.starts_with('{') {
                let inside = after[1..].trim_start();
                if !inside.starts_with("..") && !inside.starts_with('}') {
                    found.push(format!("line {}: {}", n + 1, line.trim()));
                }
            }
            rest = &rest[at + name.len()..];
        }
    }
    found
}

#[test]
fn every_event_type_is_classified_as_observed_or_decided() {
    for event_type in EVENT_TYPES {
        let observed = OBSERVED.contains(event_type);
        let decided = DECIDED.contains(event_type);
        assert!(
            observed != decided,
            "{event_type} must be either observed or decided (tests/engine/decisions.rs)"
        );
    }
    assert_eq!(OBSERVED.len() + DECIDED.len(), EVENT_TYPES.len());
}

#[test]
fn the_engine_builds_no_decided_event_and_names_no_rule() {
    let mut places = Vec::new();
    for (path, code) in engine_code() {
        let file = path.display();
        for name in DECIDED {
            for place in built(&code, name) {
                places.push(format!("{file} builds {name}: {place}"));
            }
        }
        for (n, line) in code.lines().enumerate() {
            if line.contains("Basis::") {
                places.push(format!(
                    "{file} names a rule: line {}: {}",
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        places.is_empty(),
        "decisions belong in syncledger-core (a pure function the engine calls):\n{}",
        places.join("\n")
    );
}

#[test]
fn the_check_sees_a_literal_but_not_a_pattern() {
    let code = "let e = SyncEvent::WriteFailed(WriteFailed {\n    request_id,\n});\n\
                match e { WriteFailed { .. } => {}, WriteFailed {} => {} }\n\
                SyncEvent::WriteFailed(f) if f.will_retry => {}\nMyWriteFailed { a: 1 }";
    assert_eq!(built(code, "WriteFailed").len(), 1);
}
