//! Fault isolation and fair shares between tenants (docs/operations.md, "Fairness"): a tenant
//! whose CRM is down, with hundreds of its webhooks queued ahead of everyone else's, holds up
//! no other tenant. The bound is counted in jobs (the down CRM's requests), not in time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use syncledger_connector::{Connector, sign};
use syncledger_engine::{Connectors, EngineSettings, Ledger};
use syncledger_sim::{Op, SimSystem};
use syncledger_test_support::ExampleConfig;
use tokio_util::sync::CancellationToken;

use crate::both;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, settings};

const GLOBEX_SECRET: &str = "globex-webhook-secret-0001";
const ACME_SECRET: &str = "acme-webhook-secret-00001";

/// Two tenants with the same entity, each with its own CRM and ERP.
struct TwoTenants(BTreeMap<(String, String), Arc<SimSystem>>);

impl TwoTenants {
    fn new() -> Self {
        let mut systems = BTreeMap::new();
        for tenant in ["acme", "globex"] {
            for (system, prefix) in [(CRM, "c"), (ERP, "E")] {
                let sim = Arc::new(SimSystem::new(prefix));
                systems.insert((tenant.to_owned(), system.to_owned()), sim);
            }
        }
        TwoTenants(systems)
    }

    fn sim(&self, tenant: &str, system: &str) -> &Arc<SimSystem> {
        &self.0[&(tenant.to_owned(), system.to_owned())]
    }
}

impl Connectors for TwoTenants {
    fn get(&self, tenant: &str, system: &str) -> Option<Arc<dyn Connector>> {
        let sim = self.0.get(&(tenant.to_owned(), system.to_owned()))?;
        Some(sim.clone() as Arc<dyn Connector>)
    }
}

fn two_tenant_config() -> ExampleConfig {
    ExampleConfig {
        crm_secret: ACME_SECRET.into(),
        erp_secret: "acme-webhook-secret-00002".into(),
        erp_requires_email: false,
        more: format!(
            r#"
[[tenants]]
id = "globex"
api_token = "globex-read-token-0001"
[tenants.systems.crm]
base_url = "http://127.0.0.1:9101"
webhook_secret = "{GLOBEX_SECRET}"
[tenants.systems.erp]
base_url = "http://127.0.0.1:9102"
webhook_secret = "{GLOBEX_SECRET}"
"#
        ),
        ..ExampleConfig::default()
    }
}

/// Users of `tenant`'s CRM create `count` contacts; their webhooks are delivered one by one.
async fn users_create(ledger: &Ledger, systems: &TwoTenants, tenant: &str, count: usize) {
    let crm = systems.sim(tenant, CRM);
    for i in 0..count {
        let email = format!("{tenant}-{i}@example.com");
        crm.user_create(CONTACTS, json!({"full_name": email, "email": email}));
    }
    let secret = if tenant == "acme" {
        ACME_SECRET
    } else {
        GLOBEX_SECRET
    };
    for notice in crm.drain_webhooks() {
        let body = serde_json::to_vec(&notice).expect("webhooks serialize");
        let signature = sign(secret.as_bytes(), &body);
        ledger
            .ingest(tenant, CRM, &body, Some(&signature))
            .await
            .expect("webhook accepted");
    }
}

async fn a_tenant_whose_crm_is_down_does_not_hold_up_another_tenants_sync(db: Db) {
    // Given globex's CRM down (503) with 200 of its webhooks queued first,
    let config = Arc::new(two_tenant_config().parse());
    let systems = Arc::new(TwoTenants::new());
    let settings = EngineSettings {
        workers: 2,
        ..settings("process-1")
    };
    let store = db.open_for(&config).await;
    let ledger = Ledger::new(store, config, systems.clone(), settings);
    let globex_crm = systems.sim("globex", CRM).clone();
    globex_crm.set_down(Some(503));
    users_create(&ledger, &systems, "globex", 200).await;
    // and acme's users create five contacts after that,
    users_create(&ledger, &systems, "acme", 5).await;

    // when the workers run,
    let stop = CancellationToken::new();
    let pool = {
        let (ledger, stop) = (ledger.clone(), stop.clone());
        tokio::spawn(async move { ledger.run_workers(stop).await })
    };
    let acme_erp = systems.sim("acme", ERP).clone();
    let synced = async {
        while acme_erp.count(CUSTOMERS) < 5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let started = std::time::Instant::now();
    let converged = tokio::time::timeout(Duration::from_secs(90), synced).await;
    let globex_jobs = globex_crm.requests(Op::Get);
    println!(
        "acme synced in {:?}, while globex's down CRM was asked {globex_jobs} times",
        started.elapsed()
    );
    stop.cancel();
    pool.await.unwrap();

    // then acme's contacts reach its ERP after a bounded number of globex's jobs, not after
    // globex's backlog: globex's work gets its turns and its brake, nothing more.
    assert!(
        converged.is_ok(),
        "acme did not converge; globex's CRM was asked {globex_jobs} times"
    );
    assert!(
        globex_jobs <= 20,
        "globex's down CRM was asked {globex_jobs} times before acme's five records synced"
    );
    // and globex's backlog is still owed, whole.
    let globex_owed = ledger
        .store()
        .count_rows("pending_queue", Some("globex"), None)
        .await
        .unwrap();
    assert_eq!(globex_owed, 200);
    assert_eq!(systems.sim("globex", ERP).count(CUSTOMERS), 0);
}

async fn work_of_a_tenant_no_longer_configured_still_ends(db: Db) {
    // Given globex's webhooks queued by a process that knew globex,
    let config = Arc::new(two_tenant_config().parse());
    let systems = Arc::new(TwoTenants::new());
    let store = db.open_for(&config).await;
    let before = Ledger::new(
        store.clone(),
        config,
        systems.clone(),
        settings("process-1"),
    );
    users_create(&before, &systems, "globex", 3).await;
    // when a process whose configuration no longer lists globex runs its workers,
    let acme_only = ExampleConfig {
        more: String::new(),
        ..two_tenant_config()
    };
    let ledger = Ledger::new(
        store,
        Arc::new(acme_only.parse()),
        systems,
        settings("process-2"),
    );
    let stop = CancellationToken::new();
    let pool = {
        let (ledger, stop) = (ledger.clone(), stop.clone());
        tokio::spawn(async move { ledger.run_workers(stop).await })
    };
    // then globex's work is still taken up, and ends (as dead letters: nothing can fetch it).
    let owed = || {
        ledger
            .store()
            .count_rows("pending_queue", Some("globex"), None)
    };
    let ended = async {
        while owed().await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let ended = tokio::time::timeout(Duration::from_secs(60), ended).await;
    stop.cancel();
    pool.await.unwrap();
    assert!(ended.is_ok(), "globex's work was left in the queue");
}

both!(
    a_tenant_whose_crm_is_down_does_not_hold_up_another_tenants_sync,
    work_of_a_tenant_no_longer_configured_still_ends,
);
