//! The demo's world before anything happens in it: a simulated CRM and ERP served over HTTP on
//! port 0, a configuration naming them (SQLite in the demo's temporary folder), and the ledger
//! started on it the way `serve` starts it.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use syncledger_core::config::Config;
use syncledger_sim::{SimSystem, WebhookSender, serve_http};
use tokio::net::TcpListener;

use super::world::Demo;
use crate::app::{self, HttpConnectors};

const CRM_SECRET: &str = "demo-crm-webhook-secret-01";
const ERP_SECRET: &str = "demo-erp-webhook-secret-01";

/// The base URLs the demo prints.
pub struct Urls {
    pub crm: String,
    pub erp: String,
    pub ledger: String,
}

/// Starts both systems and the ledger, its log in `db`.
pub async fn start(db: &Path) -> anyhow::Result<(Demo, Urls)> {
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
    let urls = Urls {
        crm: crm_url,
        erp: erp_url,
        ledger: base,
    };
    Ok((demo, urls))
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
