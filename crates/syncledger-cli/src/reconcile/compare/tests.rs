//! The comparison on its own: given what the systems list and what the ledger links, each kind
//! of finding, in the report's order.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use syncledger_core::events::Fields;
use syncledger_test_support::ExampleConfig;
use uuid::Uuid;

use super::super::read::{Links, Listing};
use super::find;

fn fields(value: Value) -> Fields {
    serde_json::from_value(value).expect("canonical fields")
}

fn listing(records: &[(&str, Value)]) -> Listing {
    records
        .iter()
        .map(|(id, f)| (id.to_string(), fields(f.clone())))
        .collect()
}

#[test]
fn each_kind_of_finding_is_reported_in_order_and_a_pending_write_is_named() {
    let config = ExampleConfig::default().parse();
    let cfg = config.entity("customer").expect("the example's entity");
    let ada = json!({"name": "Ada", "email": "ada@x.io", "phone": "1"});
    let listings = BTreeMap::from([
        (
            "crm".to_string(),
            listing(&[
                ("c-1", ada.clone()),
                ("c-2", json!({"name": "Bob", "email": "bob@x.io"})),
                ("c-3", json!({"name": "Dee", "email": "dee@x.io"})),
                ("c-4", json!({"name": "Dee", "email": "dee@x.io"})),
            ]),
        ),
        (
            "erp".to_string(),
            listing(&[(
                "E-1",
                json!({"name": "Ada L", "email": "ada@x.io", "phone": "1"}),
            )]),
        ),
    ]);
    let (linked, gone, waiting) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    let links: Links = BTreeMap::from([
        (
            linked,
            BTreeMap::from([("crm".into(), "c-1".into()), ("erp".into(), "E-1".into())]),
        ),
        (gone, BTreeMap::from([("erp".into(), "E-9".into())])),
        (waiting, BTreeMap::from([("crm".into(), "c-2".into())])),
    ]);
    let pending = BTreeSet::from([waiting]);

    let found: Vec<(&str, String, String, Option<Uuid>, String)> =
        find(cfg, &listings, &links, &pending)
            .into_iter()
            .map(|f| (f.kind, f.system, f.record_id, f.entity_id, f.detail))
            .collect();

    let row = |kind, system: &str, id: &str, entity, detail: &str| {
        (
            kind,
            system.to_string(),
            id.to_string(),
            entity,
            detail.to_string(),
        )
    };
    assert_eq!(
        found,
        vec![
            row(
                "unlinked",
                "crm",
                "c-3",
                None,
                "no entity links this record"
            ),
            row(
                "unlinked",
                "crm",
                "c-4",
                None,
                "no entity links this record"
            ),
            row("duplicate", "crm", "c-3", None, "same email as c-4"),
            row("duplicate", "crm", "c-4", None, "same email as c-3"),
            row(
                "differing",
                "crm",
                "c-1",
                Some(linked),
                "name: crm=\"Ada\" erp=\"Ada L\""
            ),
            row(
                "linked_record_missing",
                "erp",
                "E-9",
                Some(gone),
                "linked, but the system no longer has it"
            ),
            row(
                "missing_counterpart",
                "erp",
                "E-9",
                Some(gone),
                "no counterpart in crm"
            ),
            row(
                "missing_counterpart",
                "crm",
                "c-2",
                Some(waiting),
                "a write to it is still pending in erp"
            ),
        ]
    );
}
