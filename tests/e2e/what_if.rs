//! What-if against the binary (issue 30): `replayDecisions(..., config:)` and `syncledger
//! what-if` replay the recorded history under a proposed `[[entities]]` set and name, per
//! entity, what it would have decided differently; and never write: neither system sees a
//! request and the log's head does not move while they run. Also issue 28's replay test: with
//! `owner` instead of `last_observed`, exactly the conflicts that would have gone the other way.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use syncledger_sim::Op;

use crate::browser::Browser;
use crate::harness::{Backend, STEP, World, on_both_backends};
use crate::service::{Service, command};

const ADMIN: &str = "e2e-admin-secret";
const READER: &str = "e2e-acme-read-token";

on_both_backends!(
    a_proposal_names_exactly_the_decisions_it_changes_and_touches_nothing,
    the_owner_policy_instead_of_last_observed_names_exactly_the_conflicts_it_turns,
    the_console_what_if_page_shows_the_summary_and_an_entity_side_by_side,
);

const WHAT_IF: &str = r#"mutation($config: String) {
  replayDecisions(tenant: "acme", fromPosition: 0, toPosition: 2147483647, config: $config) {
    entitiesExamined
    differences { entityId }
    whatIf {
      summary { entitiesExamined entitiesChanged entitiesErased decisionsReplayed
                decisionsAfterDivergence linksFormed linksNotFormed conflictsOtherWay
                systems { system createsAdded createsRemoved updatesAdded updatesRemoved
                          requestsRecorded requestsProposed requestDifference } }
      entities { entityId position
                 recorded { kind targetSystem rule changes }
                 proposed { kind targetSystem rule changes }
                 fields { system field recorded proposed }
                 conflicts { conflictId field recorded proposed }
                 afterDivergence { position } }
    }
  }
}"#;

async fn graphql(service: &Service, token: &str, query: &str, variables: Value) -> Value {
    let body = json!({"query": query, "variables": variables});
    let reply = service.post_json("/graphql", Some(token), &body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

/// The what-if report of `proposal`; panics on an error.
async fn what_if(service: &Service, proposal: &str) -> Value {
    let reply = graphql(service, ADMIN, WHAT_IF, json!({"config": proposal})).await;
    assert!(reply.get("errors").is_none(), "{reply}");
    reply["data"]["replayDecisions"]["whatIf"].clone()
}

/// The running configuration's `[[entities]]` tables, as the file has them.
fn todays_entities(world: &World) -> String {
    let text = std::fs::read_to_string(world.dir.path().join("syncledger.toml")).unwrap();
    let at = text.find("[[entities]]").expect("an entity");
    text[at..].to_string()
}

fn entity_ids(report: &Value) -> BTreeSet<String> {
    report["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["entityId"].as_str().unwrap().to_string())
        .collect()
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

/// What must not move while a what-if runs: the log's head and every request either system saw.
async fn untouched(world: &World, service: &Service) -> (Value, Vec<usize>) {
    let reply = graphql(service, ADMIN, "{ projections { head } }", json!({})).await;
    let head = reply["data"]["projections"][0]["head"].clone();
    let requests = [&world.crm, &world.erp]
        .iter()
        .flat_map(|sim| Op::ALL.map(|op| sim.requests(op)))
        .collect();
    (head, requests)
}

/// `syncledger what-if` in the world's folder, bounded; (status, stdout, stderr).
async fn cli(cwd: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = command(cwd);
    cmd.arg("what-if").args(args);
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || cmd.output()),
    )
    .await
    .expect("what-if finishes")
    .expect("joined")
    .expect("ran");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn a_proposal_names_exactly_the_decisions_it_changes_and_touches_nothing(backend: Backend) {
    let world = World::new(backend).await;
    let service = world.start().await;
    // Created in the CRM: two without a phone, two with one; one created in the ERP.
    for (name, phone) in [("Ada", None), ("Alan", Some("555-1")), ("Grace", None)] {
        let email = format!("{}@example.com", name.to_lowercase());
        let mut body = json!({"full_name": name, "email": email});
        if let Some(phone) = phone {
            body["phone"] = json!(phone);
        }
        world.crm.user_create("contacts", body);
    }
    for name in ["Edsger", "Barbara"] {
        let email = format!("{}@example.com", name.to_lowercase());
        let body = json!({"full_name": name, "email": email, "phone": "555-0"});
        world.crm.user_create("contacts", body);
    }
    world.erp.user_create(
        "customers",
        json!({"name": "Donald", "email_address": "donald@example.com", "phones": ["555-9"]}),
    );
    world.settle(&service, STEP).await;
    // Phone updates: Edsger's from the CRM, Barbara's from the ERP; Alan renamed in the CRM.
    let crm_id = |email: &str| world.crm_contacts(email).remove(0).id;
    let erp_id = |email: &str| world.erp_customers(email).remove(0).id;
    world.crm.user_update(
        "contacts",
        &crm_id("edsger@example.com"),
        json!({"phone": "555-2"}),
    );
    world.erp.user_update(
        "customers",
        &erp_id("barbara@example.com"),
        json!({"phones": ["555-3"]}),
    );
    world.crm.user_update(
        "contacts",
        &crm_id("alan@example.com"),
        json!({"full_name": "Alan T"}),
    );
    world.settle(&service, STEP).await;
    let before = untouched(&world, &service).await;
    let entity = async |email: &str| entity_of(&service, "crm", &crm_id(email)).await;

    // Today's configuration proposed: no difference.
    let today = todays_entities(&world);
    let same = what_if(&service, &today).await;
    assert_eq!(same["summary"]["entitiesChanged"], 0, "{same}");
    assert_eq!(same["entities"], json!([]), "{same}");
    assert!(
        same["summary"]["decisionsReplayed"].as_i64().unwrap() > 0,
        "{same}"
    );
    assert_eq!(same["summary"]["entitiesErased"], 0);

    // The ERP requires a phone: exactly the creates that had none are named.
    let required = today.replace(
        "required = [\"email\"]",
        "required = [\"email\", \"phone\"]",
    );
    let report = what_if(&service, &required).await;
    let no_phone: BTreeSet<String> = [
        entity("ada@example.com").await,
        entity("grace@example.com").await,
    ]
    .into();
    assert_eq!(entity_ids(&report), no_phone, "{report:#}");
    for e in report["entities"].as_array().unwrap() {
        assert_eq!(e["recorded"][0]["kind"], "create", "{e}");
        assert_eq!(e["recorded"][0]["targetSystem"], "erp", "{e}");
        assert_eq!(e["recorded"][0]["rule"], "no_record_in_target", "{e}");
        assert_eq!(e["proposed"][0]["kind"], "deferred", "{e}");
        assert_eq!(e["proposed"][0]["rule"], "required_empty", "{e}");
        assert!(
            e["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["system"] == "erp" && f["field"] == "email" && f["proposed"].is_null()),
            "{e}"
        );
    }
    let erp = &report["summary"]["systems"][0];
    assert_eq!(
        (
            &erp["system"],
            &erp["createsRemoved"],
            &erp["requestDifference"]
        ),
        (&json!("erp"), &json!(2), &json!(-2)),
        "{report:#}"
    );

    // The ERP owns the phone: exactly the phone updates that came from the CRM are named.
    let owner = today.replace(
        "conflict = \"last_observed\"",
        "conflict = \"owner\"\nowners = { phone = \"erp\" }",
    );
    let report = what_if(&service, &owner).await;
    let from_crm: BTreeSet<String> = [entity("edsger@example.com").await].into();
    assert_eq!(entity_ids(&report), from_crm, "{report:#}");
    let e = &report["entities"][0];
    assert_eq!(
        (&e["recorded"][0]["kind"], &e["recorded"][0]["targetSystem"]),
        (&json!("update"), &json!("erp")),
        "{e}"
    );
    assert_eq!(
        e["recorded"][0]["changes"],
        json!(["phone=\"555-2\""]),
        "{e}"
    );
    assert_eq!(e["proposed"][0]["rule"], "conflict_kept", "{e}");

    // A malformed proposal is refused with its line and what was expected; nothing runs.
    let broken = today.replace("match_keys = [\"email\"]", "match_keys [\"email\"]");
    let reply = graphql(&service, ADMIN, WHAT_IF, json!({"config": broken})).await;
    let error = &reply["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{reply}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("line 3"), "{message}");
    let unmapped = today.replace("required = [\"email\"]", "required = [\"fax\"]");
    let reply = graphql(&service, ADMIN, WHAT_IF, json!({"config": unmapped})).await;
    let message = reply["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("entities[customer].systems.erp.required") && message.contains("line "),
        "{reply}"
    );

    // The command line: the same entities, as JSON and as a table; a bad file is refused.
    let dir = world.dir.path();
    std::fs::write(dir.join("required.toml"), &required).unwrap();
    std::fs::write(dir.join("broken.toml"), &broken).unwrap();
    let (ok, out, err) = cli(dir, &["--proposed", "required.toml", "--json"]).await;
    assert!(ok, "{out}\n{err}");
    let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let ids: BTreeSet<String> = json["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, no_phone, "{out}");
    let (ok, table, err) = cli(dir, &["--proposed", "required.toml", "--tenant", "acme"]).await;
    assert!(ok, "{err}");
    assert!(table.contains("changed 2"), "{table}");
    assert!(
        table.contains("create erp (no_record_in_target)")
            && table.contains("deferred erp (required_empty)"),
        "{table}"
    );
    let (ok, out, err) = cli(dir, &["--proposed", "broken.toml"]).await;
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("line 3"), "{err}");

    assert_eq!(untouched(&world, &service).await, before, "a what-if wrote");
}

async fn the_owner_policy_instead_of_last_observed_names_exactly_the_conflicts_it_turns(
    backend: Backend,
) {
    let world = World::new(backend).await;
    world.crm.set_etags(true);
    world.erp.set_etags(true);
    let service = world.start().await;
    let mut pairs = Vec::new();
    for i in 0..8 {
        let email = format!("twice{i}@example.com");
        world.crm.user_create(
            "contacts",
            json!({"full_name": format!("Twice {i}"), "email": email, "phone": "1"}),
        );
    }
    world.settle(&service, STEP).await;
    for i in 0..8 {
        let email = format!("twice{i}@example.com");
        pairs.push((
            world.crm_contacts(&email).remove(0).id,
            world.erp_customers(&email).remove(0).id,
        ));
    }
    // Each customer renamed in both systems a moment apart: a conflict each, last_observed.
    for (i, (crm, erp)) in pairs.iter().enumerate() {
        world.crm.user_update(
            "contacts",
            crm,
            json!({"full_name": format!("Twice {i} (CRM)")}),
        );
        world.erp.user_update(
            "customers",
            erp,
            json!({"name": format!("Twice {i} (ERP)")}),
        );
        world.deliver_all(&service).await;
    }
    world.settle(&service, STEP).await;
    let before = untouched(&world, &service).await;

    let q = r#"{ conflicts(tenant: "acme", first: 100) {
        edges { node { id entityId field policy chosen { system } } } } }"#;
    let reply = graphql(&service, READER, q, json!({})).await;
    let recorded: Vec<Value> = reply["data"]["conflicts"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{reply}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert!(!recorded.is_empty(), "conflicts were recorded");
    let won_by_erp: BTreeSet<String> = recorded
        .iter()
        .filter(|c| c["chosen"]["system"] == "erp")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();

    let owner = todays_entities(&world).replace(
        "conflict = \"last_observed\"",
        "conflict = \"owner\"\nowners = { name = \"crm\" }",
    );
    let report = what_if(&service, &owner).await;
    let turned: BTreeSet<String> = report["entities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["conflicts"].as_array().unwrap().clone())
        .map(|c| {
            assert_eq!(
                (&c["recorded"], &c["proposed"]),
                (&json!("erp"), &json!("crm")),
                "{c}"
            );
            c["conflictId"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(turned, won_by_erp, "{report:#}");
    assert_eq!(
        report["summary"]["conflictsOtherWay"],
        json!(won_by_erp.len()),
        "{report:#}"
    );
    // The other owner turns exactly the others.
    let won_by_crm: BTreeSet<String> = recorded
        .iter()
        .filter(|c| c["chosen"]["system"] == "crm")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let report = what_if(&service, &owner.replace("name = \"crm\"", "name = \"erp\"")).await;
    let turned_back: BTreeSet<String> = report["entities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["conflicts"].as_array().unwrap().clone())
        .map(|c| c["conflictId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(turned_back, won_by_crm, "{report:#}");
    println!(
        "what-if: {} conflicts recorded under last_observed, {} would go the other way under owner",
        recorded.len(),
        won_by_erp.len()
    );
    assert_eq!(untouched(&world, &service).await, before, "a what-if wrote");
}

async fn the_console_what_if_page_shows_the_summary_and_an_entity_side_by_side(backend: Backend) {
    let world = World::new(backend).await;
    let service = world.start().await;
    world.crm.user_create(
        "contacts",
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    world.crm.user_create(
        "contacts",
        json!({"full_name": "Alan", "email": "alan@example.com", "phone": "555-1"}),
    );
    world.settle(&service, STEP).await;
    let ada = entity_of(
        &service,
        "crm",
        &world.crm_contacts("ada@example.com")[0].id,
    )
    .await;
    let before = untouched(&world, &service).await;
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ADMIN).await;
    browser.open("#/whatif").await;
    browser.wait_for("#whatif-config").await;

    // A malformed proposal: the error names the line.
    let today = todays_entities(&world);
    let set = "document.querySelector('#whatif-config').value = arguments[0]; return true;";
    let broken = today.replace("match_keys = [\"email\"]", "match_keys [\"email\"]");
    browser.js(set, vec![json!(broken)]).await;
    browser.click("#whatif-run").await;
    browser
        .wait_text("#whatif-result [role=alert]", "line 3")
        .await;

    // The ERP requires a phone: Ada's create is named; opened, both decisions side by side.
    let required = today.replace(
        "required = [\"email\"]",
        "required = [\"email\", \"phone\"]",
    );
    browser.js(set, vec![json!(required)]).await;
    browser.click("#whatif-run").await;
    browser
        .wait_text("#whatif-summary [data-count=changed]", "1")
        .await;
    assert_eq!(browser.count("li.whatif-entity").await, 1);
    let row = format!("li.whatif-entity[data-entity='{ada}']");
    browser.click(&format!("{row} summary")).await;
    let recorded = browser
        .wait_text(&format!("{row} .side.recorded"), "create erp")
        .await;
    assert!(recorded.contains("no_record_in_target"), "{recorded}");
    let proposed = browser
        .wait_text(&format!("{row} .side.proposed"), "deferred erp")
        .await;
    assert!(proposed.contains("required_empty"), "{proposed}");
    let values = browser.texts(&format!("{row} table td")).await.join(" ");
    assert!(
        values.contains("erp.email") && values.contains("ada@example.com"),
        "{values}"
    );
    browser.screenshot("what-if").await;
    browser.close().await;
    assert_eq!(untouched(&world, &service).await, before, "a what-if wrote");
}
