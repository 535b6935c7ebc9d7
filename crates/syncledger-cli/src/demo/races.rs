//! The seed's three races, played with the webhook deliveries ordered on purpose. Each race
//! checks what the systems hold before its narration says so: a race that goes wrong ends the
//! demo with an error instead of a claim.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use syncledger_sim::{Fault, Op};

use super::world::Demo;

/// Race 1: a create and a quick update of one CRM contact, both webhooks in flight at once.
pub async fn race_one(demo: &Demo) -> anyhow::Result<()> {
    println!("Race 1: same-direction creates");
    let contact = demo.crm.user_create(
        "contacts",
        json!({"full_name": "Ada Lovelase", "email": "ada@example.com"}),
    );
    demo.crm.user_update(
        "contacts",
        &contact.id,
        json!({"full_name": "Ada Lovelace"}),
    );
    println!(
        "  CRM {} created with a typo and corrected at once; both webhooks delivered together.",
        contact.id
    );
    demo.deliver_crm().await?;
    demo.settle().await?;
    let erp = demo
        .erp
        .find_by_field("customers", "email_address", &json!("ada@example.com"));
    expect_one("ERP customers for ada@example.com", erp.len())?;
    println!(
        "  ERP holds exactly one customer ({}, name {}): the entity's work runs one item at a time,",
        erp[0].id, erp[0].body["name"]
    );
    println!(
        "  so the update found the link the create had made and patched instead of creating.\n"
    );
    Ok(())
}

/// Race 2: ERP announces the customer it creates before it answers the sync's POST.
pub async fn race_two(demo: &Demo) -> anyhow::Result<()> {
    println!("Race 2: round-trip creates");
    let mut paused = demo.erp.pause_next(Op::Create);
    let contact = demo.crm.user_create(
        "contacts",
        json!({"full_name": "Alan Turing", "email": "alan@example.com", "phone": "111-111-1111"}),
    );
    demo.deliver_crm().await?;
    let created = paused
        .applied()
        .await
        .context("the ERP create was never requested")?;
    println!(
        "  CRM {} -> the sync POSTs to ERP; ERP applies it as {} and sends its webhook before answering.",
        contact.id, created.id
    );
    demo.deliver_erp().await?;
    demo.wait_until(|d| d.erp.pending_webhooks().is_empty())
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await; // let the ERP webhook's job run while the POST is held
    paused.release();
    demo.settle().await?;
    let crm = demo
        .crm
        .find_by_field("contacts", "email", &json!("alan@example.com"));
    expect_one("CRM contacts for alan@example.com", crm.len())?;
    println!(
        "  CRM still holds exactly one contact: the create request (with its match-key fingerprint)"
    );
    println!(
        "  was in the log before the POST, so ERP's early webhook was recognised as its echo and linked.\n"
    );
    Ok(())
}

/// Race 3: a phone typo and its fix, while the echo of the typo is still on its way back, and
/// the fix cannot be written to the ERP at first.
pub async fn race_three(demo: &Demo) -> anyhow::Result<()> {
    println!("Race 3: round-trip updates");
    let crm = demo
        .crm
        .find_by_field("contacts", "email", &json!("alan@example.com"));
    let id = crm
        .first()
        .context("Alan is missing from the CRM")?
        .id
        .clone();
    demo.crm
        .user_update("contacts", &id, json!({"phone": "123-456-7899"}));
    demo.deliver_crm().await?;
    demo.wait_until(|d| !d.erp.pending_webhooks().is_empty())
        .await?;
    println!(
        "  CRM phone set to 123-456-7899 (typo); synced to ERP, whose echo webhook is held back."
    );
    demo.erp.fail_next(
        Op::Update,
        Fault::Status(422, "{\"error\":\"phone rejected\"}".into()),
    );
    let held = demo.erp.drain_webhooks();
    demo.crm
        .user_update("contacts", &id, json!({"phone": "123-456-7890"}));
    demo.deliver_crm().await?;
    demo.settle_without_erp_webhooks().await?;
    println!(
        "  CRM phone fixed to 123-456-7890; the ERP refuses that update (422): it is dead-lettered,"
    );
    println!("  so the ERP still holds the typo.");
    demo.to_erp_hook.send(&held).await?;
    demo.settle().await?;
    let crm_phone = demo
        .crm
        .record("contacts", &id)
        .map(|r| r.body["phone"].clone())
        .unwrap_or(Value::Null);
    if crm_phone != json!("123-456-7890") {
        bail!("the stale echo overwrote the CRM phone with {crm_phone}");
    }
    println!(
        "  The ERP's echo of the typo arrives now. It differs from the CRM (7899 vs 7890), but 7899 is a"
    );
    println!(
        "  value the sync itself wrote to the ERP: it is diffed out (echo_suppressed) and the CRM keeps 7890."
    );
    let retried = retry_dead_letter_over_graphql(demo).await?;
    demo.settle().await?;
    let erp = demo
        .erp
        .find_by_field("customers", "email_address", &json!("alan@example.com"));
    let erp_phone = erp
        .first()
        .map(|r| r.body["phones"][0].clone())
        .unwrap_or(Value::Null);
    if erp_phone != json!("123-456-7890") {
        bail!("after the retry the ERP holds {erp_phone}");
    }
    println!(
        "  An operator retries the dead letter over GraphQL (retryDeadLetter(id: \"{retried}\")):"
    );
    println!("  CRM and ERP both hold 123-456-7890.\n");
    Ok(())
}

/// Finds the dead letter over GraphQL and asks for its retry, as an operator would.
async fn retry_dead_letter_over_graphql(demo: &Demo) -> anyhow::Result<String> {
    let url = format!("http://{}/graphql", demo.running.addr);
    let client = reqwest::Client::new();
    let ask = |query: String| {
        client
            .post(&url)
            .bearer_auth("demo-admin-secret")
            .json(&json!({"query": query}))
            .send()
    };
    for _ in 0..100 {
        let answer: Value =
            ask("{ deadLetters(first: 1, tenant: \"acme\") { edges { node { id } } } }".into())
                .await?
                .json()
                .await?;
        if let Some(id) = answer["data"]["deadLetters"]["edges"][0]["node"]["id"].as_str() {
            let mutation = format!("mutation {{ retryDeadLetter(id: \"{id}\") {{ position }} }}");
            let done: Value = ask(mutation).await?.json().await?;
            if done.get("errors").is_some() {
                bail!("retryDeadLetter failed: {done}");
            }
            return Ok(id.to_string());
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // dead_letters is a catch-up projection
    }
    bail!("the dead letter did not show up in the API")
}

fn expect_one(what: &str, n: usize) -> anyhow::Result<()> {
    if n != 1 {
        bail!("{what}: expected exactly 1, found {n}");
    }
    Ok(())
}
