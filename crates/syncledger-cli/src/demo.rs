//! `syncledger demo`: a CRM and an ERP, simulated and served over HTTP on local ports, synced by a
//! real syncledger (real connector, signed webhooks, SQLite in a temporary folder). The seed's
//! three races are played out with the webhook deliveries ordered on purpose, then the service
//! stays up with its URLs printed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use syncledger_core::config::Config;
use syncledger_core::projections::pending_queue;
use syncledger_sim::{Fault, Op, SimSystem, WebhookSender, serve_http};
use tokio::net::TcpListener;

use crate::app::{self, HttpConnectors};

const CRM_SECRET: &str = "demo-crm-secret";
const ERP_SECRET: &str = "demo-erp-secret";

struct Demo {
    crm: Arc<SimSystem>,
    erp: Arc<SimSystem>,
    to_crm_hook: WebhookSender,
    to_erp_hook: WebhookSender,
    running: app::Running,
}

pub async fn run(stay_up: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("demo.db");
    let (crm, crm_url) = start_sim("c").await?;
    let (erp, erp_url) = start_sim("E").await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = Config::from_toml_str(
        &demo_config(&crm_url, &erp_url, &db.display().to_string()),
        std::iter::empty(),
    )
    .context("the demo configuration")?;
    let connectors = Arc::new(HttpConnectors::from_config(&config)?);
    let running = app::start(config, connectors, listener).await?;
    let base = format!("http://{addr}");
    let demo = Demo {
        to_crm_hook: WebhookSender::new(format!("{base}/webhooks/acme/crm"), CRM_SECRET)?,
        to_erp_hook: WebhookSender::new(format!("{base}/webhooks/acme/erp"), ERP_SECRET)?,
        crm,
        erp,
        running,
    };
    println!("Audit console: {base}/console   (sign in with the token demo-admin-secret)");
    println!();
    println!("syncledger demo");
    println!("  CRM (simulated)  {crm_url}/contacts");
    println!("  ERP (simulated)  {erp_url}/customers");
    println!("  ledger           {base}   (SQLite: {})", db.display());
    println!();
    demo.race_one().await?;
    demo.race_two().await?;
    demo.race_three().await?;
    println!("All three races ended without a duplicate or a stale overwrite.");
    println!();
    demo.show_audit().await?;
    println!();
    println!(
        "  console    {base}/console   (token demo-admin-secret, or demo-acme-secret for tenant acme)"
    );
    println!(
        "  GraphQL    {base}/graphql   (GraphiQL in a browser; header Authorization: Bearer demo-admin-secret)"
    );
    println!("  webhooks   POST {base}/webhooks/acme/{{crm,erp}}");
    println!("  metrics    {base}/metrics");
    println!("  health     {base}/healthz");
    if !stay_up {
        demo.running.stop().await;
        return Ok(());
    }
    println!();
    println!("Changes made through the simulated systems' APIs now sync live, e.g.");
    println!("  curl -X POST {crm_url}/contacts -H 'content-type: application/json' \\");
    println!("       -d '{{\"full_name\":\"Grace Hopper\",\"email\":\"grace@example.com\"}}'");
    println!("Ctrl-C to stop.");
    let stop = demo.running.shutdown.clone();
    let (crm, erp) = (demo.crm.clone(), demo.erp.clone());
    let (crm_hook, erp_hook) = (demo.to_crm_hook, demo.to_erp_hook);
    let (s1, s2) = (stop.clone(), stop.clone());
    let pumps = [
        tokio::spawn(async move { crm_hook.run(&crm, s1.cancelled_owned()).await }),
        tokio::spawn(async move { erp_hook.run(&erp, s2.cancelled_owned()).await }),
    ];
    app::shutdown_signal().await;
    demo.running.stop().await;
    for p in pumps {
        let _ = p.await;
    }
    Ok(())
}

impl Demo {
    /// Race 1: a create and a quick update of one CRM contact, both webhooks in flight at once.
    async fn race_one(&self) -> anyhow::Result<()> {
        println!("Race 1: same-direction creates");
        let contact = self.crm.user_create(
            "contacts",
            json!({"full_name": "Ada Lovelase", "email": "ada@example.com"}),
        );
        self.crm.user_update(
            "contacts",
            &contact.id,
            json!({"full_name": "Ada Lovelace"}),
        );
        println!(
            "  CRM {} created with a typo and corrected at once; both webhooks delivered together.",
            contact.id
        );
        self.deliver_crm().await?;
        self.settle().await?;
        let erp = self
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
    async fn race_two(&self) -> anyhow::Result<()> {
        println!("Race 2: round-trip creates");
        let mut paused = self.erp.pause_next(Op::Create);
        let contact = self.crm.user_create("contacts", json!({"full_name": "Alan Turing", "email": "alan@example.com", "phone": "111-111-1111"}));
        self.deliver_crm().await?;
        let created = paused
            .applied()
            .await
            .context("the ERP create was never requested")?;
        println!(
            "  CRM {} -> the sync POSTs to ERP; ERP applies it as {} and sends its webhook before answering.",
            contact.id, created.id
        );
        self.deliver_erp().await?;
        self.wait_until(|d| d.erp.pending_webhooks().is_empty())
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await; // let the ERP webhook's job run while the POST is held
        paused.release();
        self.settle().await?;
        let crm = self
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
    async fn race_three(&self) -> anyhow::Result<()> {
        println!("Race 3: round-trip updates");
        let crm = self
            .crm
            .find_by_field("contacts", "email", &json!("alan@example.com"));
        let id = crm
            .first()
            .context("Alan is missing from the CRM")?
            .id
            .clone();
        self.crm
            .user_update("contacts", &id, json!({"phone": "123-456-7899"}));
        self.deliver_crm().await?;
        self.wait_until(|d| !d.erp.pending_webhooks().is_empty())
            .await?;
        println!(
            "  CRM phone set to 123-456-7899 (typo); synced to ERP, whose echo webhook is held back."
        );
        self.erp.fail_next(
            Op::Update,
            Fault::Status(422, "{\"error\":\"phone rejected\"}".into()),
        );
        let held = self.erp.drain_webhooks();
        self.crm
            .user_update("contacts", &id, json!({"phone": "123-456-7890"}));
        self.deliver_crm().await?;
        self.settle_without_erp_webhooks().await?;
        println!(
            "  CRM phone fixed to 123-456-7890; the ERP refuses that update (422): it is dead-lettered,"
        );
        println!("  so the ERP still holds the typo.");
        self.to_erp_hook.send(&held).await?;
        self.settle().await?;
        let crm_phone = self
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
        let retried = self.retry_dead_letter_over_graphql().await?;
        self.settle().await?;
        let erp = self
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
    async fn retry_dead_letter_over_graphql(&self) -> anyhow::Result<String> {
        let url = format!("http://{}/graphql", self.running.addr);
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
                let mutation =
                    format!("mutation {{ retryDeadLetter(id: \"{id}\") {{ position }} }}");
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

    /// Why does Alan's ERP record look the way it does? The audit trail answers.
    async fn show_audit(&self) -> anyhow::Result<()> {
        let store = self.running.ledger.store();
        let crm = self
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
        crate::history::print(store, entity, false).await
    }

    async fn deliver_crm(&self) -> anyhow::Result<()> {
        let batch = self.crm.drain_webhooks();
        if !batch.is_empty() {
            self.to_crm_hook.send(&batch).await?;
        }
        Ok(())
    }

    async fn deliver_erp(&self) -> anyhow::Result<()> {
        let batch = self.erp.drain_webhooks();
        if !batch.is_empty() {
            self.to_erp_hook.send(&batch).await?;
        }
        Ok(())
    }

    /// Delivers the CRM's webhooks only (the ERP's stay in its outbox) until the queue is empty.
    async fn settle_without_erp_webhooks(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            self.deliver_crm().await?;
            let depth = self
                .running
                .ledger
                .store()
                .count_rows(pending_queue::NAME, None, None)
                .await?;
            if depth == 0 && self.crm.pending_webhooks().is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the sync did not settle within 10 s")
    }

    /// Delivers every webhook and waits until the queue is empty and no webhook is left.
    async fn settle(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            self.deliver_crm().await?;
            self.deliver_erp().await?;
            let depth = self
                .running
                .ledger
                .store()
                .count_rows(pending_queue::NAME, None, None)
                .await?;
            if depth == 0
                && self.crm.pending_webhooks().is_empty()
                && self.erp.pending_webhooks().is_empty()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the sync did not settle within 10 s")
    }

    async fn wait_until(&self, done: impl Fn(&Demo) -> bool) -> anyhow::Result<()> {
        for _ in 0..200 {
            if done(self) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the demo waited 10 s for a step that did not happen")
    }
}

fn expect_one(what: &str, n: usize) -> anyhow::Result<()> {
    if n != 1 {
        bail!("{what}: expected exactly 1, found {n}");
    }
    Ok(())
}

async fn start_sim(prefix: &str) -> anyhow::Result<(Arc<SimSystem>, String)> {
    let sim = Arc::new(SimSystem::new(prefix));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve_http(sim.clone(), listener));
    Ok((sim, url))
}

fn demo_config(crm_url: &str, erp_url: &str, db: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database_url = "sqlite://{db}"
workers = 4
admin_token = "demo-admin-secret"

[[tenants]]
id = "acme"
api_token = "demo-acme-secret"
[tenants.systems.crm]
base_url = "{crm_url}"
webhook_secret = "{CRM_SECRET}"
[tenants.systems.erp]
base_url = "{erp_url}"
webhook_secret = "{ERP_SECRET}"

[[entities]]
name = "customer"
match_keys = ["email"]
on_delete = "propagate"
conflict = "last_observed"
[entities.systems.crm]
collection = "contacts"
fields = {{ name = "full_name", email = "email", phone = "phone" }}
[entities.systems.erp]
collection = "customers"
fields = {{ name = "name", email = "email_address", phone = "phones[0]" }}
required = ["email"]
"#
    )
}
