//! A conflict's events in words (G10): both values with systems and times, the policy's choice
//! and whose value was replaced; a person's resolution; a write refused with 412.

use chrono::{TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Stream;
use crate::config::ConflictPolicy;
use crate::events::{
    Candidate, Chosen, ConflictDetected, ConflictResolved, SyncEvent, WritePreconditionFailed,
};
use crate::explain::explain_stream;

const CONFLICT: Uuid = Uuid::from_u128(0xc0);

fn candidates() -> Vec<Candidate> {
    let at = |s| Utc.with_ymd_and_hms(2026, 11, 21, 10, 2, s).unwrap();
    vec![
        Candidate {
            system: "crm".into(),
            value: json!("X"),
            observed_at: at(1),
        },
        Candidate {
            system: "erp".into(),
            value: json!("Y"),
            observed_at: at(3),
        },
    ]
}

fn detected(policy: ConflictPolicy, chosen: Option<&str>) -> SyncEvent {
    SyncEvent::ConflictDetected(ConflictDetected {
        conflict_id: CONFLICT,
        trigger_id: Uuid::from_u128(0x1001),
        field: "name".into(),
        candidates: candidates(),
        policy,
        chosen: chosen.map(|s| Chosen {
            system: Some(s.into()),
            value: json!(if s == "crm" { "X" } else { "Y" }),
        }),
        detected_at: Utc.with_ymd_and_hms(2026, 11, 21, 10, 2, 3).unwrap(),
    })
}

/// One event of each conflict type, for the test that every type gets its line.
pub(super) fn events() -> Vec<SyncEvent> {
    vec![
        detected(ConflictPolicy::LastObserved, Some("erp")),
        SyncEvent::ConflictResolved(ConflictResolved {
            conflict_id: CONFLICT,
            field: "name".into(),
            chosen: Chosen {
                system: None,
                value: json!("Z"),
            },
            by: "admin".into(),
            candidates: candidates(),
            policy: ConflictPolicy::Review,
            detected_at: Utc.with_ymd_and_hms(2026, 11, 21, 10, 2, 3).unwrap(),
        }),
        SyncEvent::WritePreconditionFailed(WritePreconditionFailed {
            request_id: Uuid::from_u128(0x77),
            target_system: "erp".into(),
            record_id: "E-1".into(),
            if_match: Some("\"v3\"".into()),
            attempt: 1,
            retry_at: None,
        }),
    ]
}

#[test]
fn a_conflict_names_both_values_the_choice_and_the_value_replaced() {
    let mut s = Stream(vec![]);
    for event in events() {
        s.push(event);
    }
    s.push(detected(ConflictPolicy::Review, None));
    let lines = explain_stream("customer", &s.0);
    assert_eq!(
        lines[0],
        "both crm and erp changed name since the last sync (crm 'X' at 10:02:01, erp 'Y' at \
         10:02:03); last_observed chose erp's; crm's 'X' was replaced"
    );
    assert_eq!(
        lines[1],
        format!("admin resolved conflict {CONFLICT} on name: write 'Z' to every system")
    );
    assert_eq!(
        lines[2],
        "erp refused the write to E-1 (HTTP 412: it changed since the ledger saw it; refusal 1 \
         in a row): it is fetched again and decided again"
    );
    assert_eq!(
        lines[3],
        format!(
            "both crm and erp changed name since the last sync (crm 'X' at 10:02:01, erp 'Y' at \
             10:02:03); review: held in both until a person resolves conflict {CONFLICT}"
        )
    );
}
