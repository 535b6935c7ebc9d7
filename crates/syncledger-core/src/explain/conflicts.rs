//! The lines of a conflict's events (G10): both values with their systems and observation
//! times, what the policy or a person chose, and whose value was replaced, in words.

use crate::events::{ConflictDetected, ConflictResolved, WritePreconditionFailed};

use super::words::value;

/// `both crm and erp changed name since the last sync (crm 'X' at 10:02:01, erp 'Y' at
/// 10:02:03); last_observed chose erp's; crm's 'X' was replaced`.
pub(super) fn detected(e: &ConflictDetected) -> String {
    let systems: Vec<&str> = e.candidates.iter().map(|c| c.system.as_str()).collect();
    let seen: Vec<String> = e
        .candidates
        .iter()
        .map(|c| {
            format!(
                "{} '{}' at {}",
                c.system,
                value(&c.value),
                c.observed_at.format("%H:%M:%S")
            )
        })
        .collect();
    let both = format!(
        "both {} changed {} since the last sync ({})",
        systems.join(" and "),
        e.field,
        seen.join(", ")
    );
    let policy = e.policy.as_str();
    match &e.chosen {
        None => format!(
            "{both}; {policy}: held in both until a person resolves conflict {}",
            e.conflict_id
        ),
        Some(chosen) => {
            let winner = chosen.system.as_deref().unwrap_or("a person");
            let lost: Vec<String> = e
                .losers()
                .map(|c| format!("{}'s '{}' was replaced", c.system, value(&c.value)))
                .collect();
            format!("{both}; {policy} chose {winner}'s; {}", lost.join(", "))
        }
    }
}

/// `admin resolved the conflict on name: keep erp's 'Y'`.
pub(super) fn resolved(e: &ConflictResolved) -> String {
    let choice = match &e.chosen.system {
        Some(system) => format!("keep {system}'s '{}'", value(&e.chosen.value)),
        None => format!("write '{}' to every system", value(&e.chosen.value)),
    };
    format!(
        "{} resolved conflict {} on {}: {choice}",
        e.by, e.conflict_id, e.field
    )
}

/// `erp refused the write (412: the record changed since the ledger saw it); ...`.
pub(super) fn refused(e: &WritePreconditionFailed) -> String {
    let when = match e.retry_at {
        Some(at) => format!(" at {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        None => String::new(),
    };
    format!(
        "{} refused the write to {} (HTTP 412: it changed since the ledger saw it; refusal {} in a row): it is fetched again and decided again{when}",
        e.target_system, e.record_id, e.attempt
    )
}
