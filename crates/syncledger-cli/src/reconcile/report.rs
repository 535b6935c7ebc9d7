//! What a reconcile reports: the records each system holds, the findings, the repairs made; and
//! the report as a terminal table (`--json` prints it with serde instead).

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// unlinked | linked_record_missing | missing_counterpart | duplicate | differing
    pub kind: &'static str,
    pub system: String,
    pub record_id: String,
    pub entity_id: Option<Uuid>,
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub tenant: String,
    pub entity: String,
    pub records: BTreeMap<String, usize>,
    pub findings: Vec<Finding>,
    pub repaired: Vec<String>,
}

/// The report as a terminal table.
pub fn print_table(report: &Report) {
    let counts: Vec<String> = report
        .records
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!(
        "reconcile {} / {} ({} records)",
        report.tenant,
        report.entity,
        counts.join(", ")
    );
    if report.findings.is_empty() {
        println!("no findings: every record is linked and every linked pair agrees");
    } else {
        println!(
            "{:<22} {:<8} {:<16} {:<36} detail",
            "finding", "system", "record", "entity"
        );
        for f in &report.findings {
            let entity = f.entity_id.map(|e| e.to_string()).unwrap_or_default();
            println!(
                "{:<22} {:<8} {:<16} {:<36} {}",
                f.kind, f.system, f.record_id, entity, f.detail
            );
        }
    }
    for line in &report.repaired {
        println!("repair: {line}");
    }
}
