//! G10 against the binary (issue 28): both systems send ETags and both users rename the same
//! customers a moment apart. No edit may vanish without a trace: every user's edit is the
//! final value, or a side of a recorded conflict; `whyField` on the losing side names the value
//! it lost. With `conflict = "review"` the contested field is held while the others flow, and
//! `resolveConflict` is written once, then all is quiet. A system without ETags still converges.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use syncledger_sim::Op;

use crate::harness::{Backend, STEP, World, on_both_backends};
use crate::service::Service;

const ADMIN: &str = "e2e-admin-secret";
const READER: &str = "e2e-acme-read-token";
const CUSTOMERS: usize = 20;

on_both_backends!(
    customers_renamed_on_both_sides_leave_no_edit_without_a_trace,
    a_review_holds_the_name_until_a_person_resolves_it,
    a_system_without_etags_still_converges,
);

async fn graphql(service: &Service, token: &str, query: &str, variables: Value) -> Value {
    let body = json!({"query": query, "variables": variables});
    let reply = service.post_json("/graphql", Some(token), &body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

async fn entity_of(service: &Service, system: &str, record_id: &str) -> String {
    let q = r#"query($s: String!, $r: String!) {
        entityByRecord(tenant: "acme", system: $s, recordId: $r) { id } }"#;
    let reply = graphql(service, READER, q, json!({"s": system, "r": record_id})).await;
    reply["data"]["entityByRecord"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no entity for {system} {record_id}: {reply}"))
        .to_string()
}

/// Every conflict of the tenant (`open` as asked), through the connection's pages.
async fn conflicts(service: &Service, open: Option<bool>) -> Vec<Value> {
    let q = r#"query($open: Boolean, $after: String) {
        conflicts(tenant: "acme", open: $open, first: 50, after: $after) {
          edges { node { id entityId field policy open detectedAt
                         candidates { system value observedAt } chosen { system value } resolvedBy } }
          pageInfo { hasNextPage endCursor } } }"#;
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let reply = graphql(service, READER, q, json!({"open": open, "after": after})).await;
        let page = &reply["data"]["conflicts"];
        let edges = page["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{reply}"));
        all.extend(edges.iter().map(|e| e["node"].clone()));
        if page["pageInfo"]["hasNextPage"] != true {
            return all;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// `n` customers created in the CRM and synced to the ERP: (CRM id, ERP id) each.
async fn synced_customers(world: &World, service: &Service, n: usize) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for i in 0..n {
        let email = format!("bulk{i}@example.com");
        world.crm.user_create(
            "contacts",
            json!({"full_name": format!("Bulk {i}"), "email": email, "phone": "1"}),
        );
    }
    world.settle(service, STEP).await;
    for i in 0..n {
        let email = format!("bulk{i}@example.com");
        let crm = world.crm_contacts(&email).remove(0).id;
        let erp = world.erp_customers(&email);
        assert_eq!(erp.len(), 1, "{email} synced once");
        pairs.push((crm, erp[0].id.clone()));
    }
    pairs
}

async fn customers_renamed_on_both_sides_leave_no_edit_without_a_trace(backend: Backend) {
    let world = World::new(backend).await;
    world.crm.set_etags(true);
    world.erp.set_etags(true);
    let service = world.start().await;
    let pairs = synced_customers(&world, &service, CUSTOMERS).await;

    // Each customer: the CRM user renames it, a moment later the ERP user too; the webhooks
    // go out as the systems emit them.
    let mut edits = Vec::new();
    for (i, (crm, erp)) in pairs.iter().enumerate() {
        let (by_crm, by_erp) = (format!("Bulk {i} (CRM)"), format!("Bulk {i} (ERP)"));
        world
            .crm
            .user_update("contacts", crm, json!({"full_name": by_crm}));
        world
            .erp
            .user_update("customers", erp, json!({"name": by_erp}));
        edits.push((i, "crm", by_crm));
        edits.push((i, "erp", by_erp));
        world.deliver_all(&service).await;
    }
    world.settle(&service, STEP).await;

    let recorded = conflicts(&service, None).await;
    let mut by_entity: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for c in &recorded {
        by_entity
            .entry(c["entityId"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(c);
    }
    let mut lost = Vec::new();
    let mut entities = Vec::new();
    for (i, (crm, erp)) in pairs.iter().enumerate() {
        let crm_name = world.crm.record("contacts", crm).unwrap().body["full_name"].clone();
        let erp_name = world.erp.record("customers", erp).unwrap().body["name"].clone();
        assert_eq!(crm_name, erp_name, "customer {i} converged");
        entities.push(entity_of(&service, "crm", crm).await);
        let _ = i;
    }
    for (i, system, value) in &edits {
        let final_value =
            world.crm.record("contacts", &pairs[*i].0).unwrap().body["full_name"].clone();
        let named = by_entity.get(&entities[*i]).into_iter().flatten().any(|c| {
            c["field"] == "name"
                && c["candidates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["system"] == *system && s["value"] == json!(value))
        });
        if final_value != json!(value) && !named {
            lost.push(format!("customer {i}: {system}'s {value:?}"));
        }
    }
    let m = service.metrics().await;
    let refused = m.value(
        "syncledger_writes_total",
        &[("outcome", "precondition_failed")],
    );
    println!(
        "G10 e2e: {} customers renamed on both sides: {} conflicts recorded, {} edits lost, \
         {refused} writes refused with 412 ({:.2} per conflict)",
        CUSTOMERS,
        recorded.len(),
        lost.len(),
        refused / recorded.len().max(1) as f64
    );
    assert_eq!(lost, Vec::<String>::new(), "edits left without a trace");
    assert_eq!(
        recorded.len(),
        CUSTOMERS,
        "one conflict per customer: {recorded:#?}"
    );
    assert!(
        recorded
            .iter()
            .all(|c| c["open"] == false && c["policy"] == "last_observed")
    );

    // whyField on the losing side names the value it lost.
    let c = &recorded[0];
    let chosen = c["chosen"]["system"].as_str().expect("a winner");
    let loser = c["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["system"] != chosen)
        .expect("a loser")
        .clone();
    let q = r#"query($id: ID!, $s: String) { entity(id: $id) {
        whyField(field: "name", system: $s) { value chain { type explanation } } } }"#;
    let why = graphql(
        &service,
        READER,
        q,
        json!({"id": c["entityId"], "s": loser["system"]}),
    )
    .await;
    let chain = why["data"]["entity"]["whyField"]["chain"]
        .as_array()
        .unwrap_or_else(|| panic!("{why}"))
        .clone();
    let lost_value = loser["value"].as_str().unwrap();
    let told = chain.iter().any(|e| {
        let line = e["explanation"].as_str().unwrap_or_default();
        e["type"] == "ConflictDetected"
            && line.contains(&format!("'{lost_value}' was replaced"))
            && line.contains("since the last sync")
    });
    assert!(
        told,
        "whyField on {} does not tell of {lost_value:?}: {why}",
        loser["system"]
    );
    let contradictions = chain.iter().any(|e| {
        e["explanation"]
            .as_str()
            .is_some_and(|l| l.contains("no field changed"))
    });
    assert!(!contradictions, "{why}");

    // Quiet afterwards, and the same build replays the conflicts silently.
    let writes = world.crm.requests(Op::Update) + world.erp.requests(Op::Update);
    world.settle(&service, STEP).await;
    assert_eq!(
        world.crm.requests(Op::Update) + world.erp.requests(Op::Update),
        writes
    );
    let replay = graphql(
        &service,
        ADMIN,
        r#"mutation { replayDecisions(tenant: "acme", fromPosition: 0, toPosition: 2147483647) {
            decisionsReplayed decisionsWithoutInputs differences { entityId position } } }"#,
        json!({}),
    )
    .await;
    let report = &replay["data"]["replayDecisions"];
    assert_eq!(report["differences"], json!([]), "{replay}");
    assert_eq!(report["decisionsWithoutInputs"], 0, "{replay}");
}

async fn a_review_holds_the_name_until_a_person_resolves_it(backend: Backend) {
    let world =
        World::with_entity(backend, "on_delete = \"propagate\"\nconflict = \"review\"").await;
    world.crm.set_etags(true);
    world.erp.set_etags(true);
    let service = world.start().await;
    let pairs = synced_customers(&world, &service, 1).await;
    let (crm, erp) = &pairs[0];
    world
        .crm
        .user_update("contacts", crm, json!({"full_name": "Held (CRM)"}));
    world.erp.user_update(
        "customers",
        erp,
        json!({"name": "Held (ERP)", "phones": ["2"]}),
    );
    world.deliver_all(&service).await;
    world.settle(&service, STEP).await;

    let crm_record = || world.crm.record("contacts", crm).unwrap().body;
    assert_eq!(
        crm_record()["full_name"],
        "Held (CRM)",
        "each side keeps its name"
    );
    assert_eq!(world.erp_name(erp), "Held (ERP)");
    assert_eq!(crm_record()["phone"], "2", "the other fields flow");
    let open = conflicts(&service, Some(true)).await;
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0]["chosen"], Value::Null);
    assert_eq!(open[0]["policy"], "review");
    let id = open[0]["id"].clone();

    const RESOLVE: &str = r#"mutation($id: ID!, $s: String, $v: JSON) {
        resolveConflict(id: $id, system: $s, value: $v) { id open chosen { system value } resolvedBy } }"#;
    let both = graphql(
        &service,
        ADMIN,
        RESOLVE,
        json!({"id": id, "s": "erp", "v": "X"}),
    )
    .await;
    assert_eq!(
        both["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{both}"
    );
    let reader = graphql(&service, READER, RESOLVE, json!({"id": id, "s": "erp"})).await;
    assert_eq!(
        reader["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{reader}"
    );

    let patches = world.crm.requests(Op::Update);
    let done = graphql(&service, ADMIN, RESOLVE, json!({"id": id, "s": "erp"})).await;
    let resolved = &done["data"]["resolveConflict"];
    assert_eq!(resolved["open"], false, "{done}");
    assert_eq!(resolved["resolvedBy"], "admin");
    world.settle(&service, STEP).await;
    assert_eq!(crm_record()["full_name"], "Held (ERP)");
    assert_eq!(world.crm.requests(Op::Update), patches + 1, "written once");
    world.settle(&service, STEP).await;
    assert_eq!(world.crm.requests(Op::Update), patches + 1, "then quiet");
    assert_eq!(conflicts(&service, Some(true)).await, Vec::<Value>::new());
    let closed = conflicts(&service, Some(false)).await;
    assert_eq!(closed[0]["resolvedBy"], "admin");
    let again = graphql(&service, ADMIN, RESOLVE, json!({"id": id, "s": "crm"})).await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{again}"
    );
}

/// The ERP sends no ETags: its writes are unconditional, and both sides still converge.
async fn a_system_without_etags_still_converges(backend: Backend) {
    let world = World::new(backend).await;
    world.crm.set_etags(true);
    let service = world.start().await;
    let pairs = synced_customers(&world, &service, 5).await;
    for (i, (crm, erp)) in pairs.iter().enumerate() {
        world.crm.user_update(
            "contacts",
            crm,
            json!({"full_name": format!("Plain {i} (CRM)")}),
        );
        world.erp.user_update(
            "customers",
            erp,
            json!({"name": format!("Plain {i} (ERP)")}),
        );
        world.deliver_all(&service).await;
    }
    world.settle(&service, STEP).await;
    for (crm, erp) in &pairs {
        let crm_name = world.crm.record("contacts", crm).unwrap().body["full_name"].clone();
        assert_eq!(crm_name, world.erp_name(erp));
    }
    let conditional = world
        .erp
        .request_log()
        .iter()
        .filter(|r| r.headers.contains_key("if-match"))
        .count();
    assert_eq!(
        conditional, 0,
        "no If-Match to a system that gives no ETags"
    );
}
