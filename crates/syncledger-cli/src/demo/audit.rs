//! After the races: why does Alan's ERP record look the way it does? The audit trail of his
//! entity answers, printed as `syncledger history` prints it.

use anyhow::Context;
use serde_json::json;

use super::world::Demo;

pub async fn show_audit(demo: &Demo) -> anyhow::Result<()> {
    let store = demo.running.ledger.store();
    let crm = demo
        .crm
        .find_by_field("contacts", "email", &json!("alan@example.com"));
    let id = &crm.first().context("Alan is missing from the CRM")?.id;
    let query = crate::history::Query {
        tenant: "acme",
        system: "crm",
        record: id,
        entity_type: Some("customer"),
    };
    let entity = crate::history::resolve(store, &query, &[])
        .await?
        .context("Alan has no entity")?;
    println!(
        "The audit trail of Alan's entity (syncledger history --tenant acme --system crm --record {id}):"
    );
    crate::history::print(store, entity, false, None).await
}
