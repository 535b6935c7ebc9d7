//! `syncledger reconcile` against two simulated systems served over HTTP: records that existed
//! before syncledger are found, linked by match keys, and the missing ones created, once; the
//! repair files them through the initial sync (a new run), never linking on its own.

use std::sync::Arc;

use serde_json::json;
use syncledger_cli::reconcile;
use syncledger_core::config::Config;
use syncledger_sim::{Op, SimSystem, serve_http};
use syncledger_store::Store;
use syncledger_test_support::ExampleConfig;
use tokio::net::TcpListener;

async fn served(prefix: &str) -> (Arc<SimSystem>, String) {
    let sim = Arc::new(SimSystem::new(prefix));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve_http(sim.clone(), listener));
    (sim, url)
}

fn config(crm: &str, erp: &str, db: &str) -> Config {
    ExampleConfig {
        admin_token: "reconcile-admin-token".into(),
        api_token: "acme-reconcile-token".into(),
        crm_url: crm.into(),
        erp_url: erp.into(),
        crm_secret: "s1-reconcile-webhook-secret".into(),
        erp_secret: "s2-reconcile-webhook-secret".into(),
        server: format!("database_url = \"sqlite://{db}\""),
        ..ExampleConfig::default()
    }
    .parse()
}

/// The configuration for the two served systems, and the store it opens, on a SQLite file in
/// a temporary directory (kept alive by the first value).
async fn opened(crm: &str, erp: &str) -> (tempfile::TempDir, Config, Store) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(crm, erp, &dir.path().join("r.db").display().to_string());
    let store = syncledger_cli::app::open_store(&cfg.server.database_url, Some(&cfg))
        .await
        .unwrap();
    (dir, cfg, store)
}

#[tokio::test]
async fn reconcile_finds_preexisting_records_and_repair_links_and_creates_them_once() {
    let (crm, crm_url) = served("c").await;
    let (erp, erp_url) = served("E").await;
    // Ada exists in both systems already; Bob only in the CRM; Cy only in the ERP; Dee twice in the CRM.
    crm.user_create(
        "contacts",
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    erp.user_create(
        "customers",
        json!({"name": "Ada", "email_address": "ADA@example.com ", "phones": ["555"]}),
    );
    crm.user_create(
        "contacts",
        json!({"full_name": "Bob", "email": "bob@example.com"}),
    );
    erp.user_create(
        "customers",
        json!({"name": "Cy", "email_address": "cy@example.com"}),
    );
    crm.user_create(
        "contacts",
        json!({"full_name": "Dee", "email": "dee@example.com"}),
    );
    crm.user_create(
        "contacts",
        json!({"full_name": "Dee B", "email": "dee@example.com"}),
    );
    let (_dir, cfg, store) = opened(&crm_url, &erp_url).await;

    let report = reconcile::run(&cfg, &store, "acme", "customer", false)
        .await
        .unwrap();
    let kinds = |k: &str| report.findings.iter().filter(|f| f.kind == k).count();
    assert_eq!(kinds("unlinked"), 6, "{:#?}", report.findings);
    assert_eq!(kinds("duplicate"), 2, "Dee is in the CRM twice");
    assert!(
        report.repaired.is_empty(),
        "a report without --repair changes nothing"
    );
    assert_eq!(erp.requests(Op::Create) + crm.requests(Op::Create), 0);

    let repaired = reconcile::run(&cfg, &store, "acme", "customer", true)
        .await
        .unwrap();
    assert!(!repaired.repaired.is_empty());
    // The repair ran the initial sync (a run started by the user) and linked nothing itself:
    // every link was made by the engine's per-entity path.
    use syncledger_core::events::SyncEvent;
    let log = store
        .read_all(
            syncledger_core::log::Position::START,
            &Default::default(),
            10_000,
        )
        .await
        .unwrap();
    let events: Vec<SyncEvent> = log
        .iter()
        .filter_map(|e| SyncEvent::from_recorded(e).ok())
        .collect();
    assert!(
        events.iter().any(
            |e| matches!(e, SyncEvent::InitialSyncStarted(s) if s.by.starts_with("reconcile:"))
        )
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, SyncEvent::RecordDiscovered(_)))
            .count(),
        6
    );
    assert!(
        events
            .iter()
            .filter_map(|e| match e {
                SyncEvent::RecordLinked(l) => Some(l.reason.as_str()),
                _ => None,
            })
            .all(|reason| !reason.starts_with("reconcile")),
        "links come from the engine's decisions only"
    );
    // Ada was linked, not duplicated; Bob and both Dees were created in the ERP; Cy in the CRM.
    assert_eq!(
        erp.find_by_field("customers", "name", &json!("Ada")).len(),
        1
    );
    assert_eq!(
        erp.find_by_field("customers", "email_address", &json!("bob@example.com"))
            .len(),
        1
    );
    assert_eq!(
        crm.find_by_field("contacts", "email", &json!("cy@example.com"))
            .len(),
        1
    );
    assert_eq!(erp.count("customers"), 5, "Ada, Cy, Bob, Dee, Dee B");
    // The linked pair converged. The repair goes the one path a webhook goes: the CRM record,
    // found first, is linked to the ERP record with equal match keys, and that record is
    // resynced (G8), so the ERP's values fill the pair: its phone, and its spelling of the email.
    let ada = crm.find_by_field("contacts", "full_name", &json!("Ada"));
    assert_eq!(ada[0].body["phone"], json!("555"));
    let ada_erp = erp.find_by_field("customers", "name", &json!("Ada"));
    assert_eq!(ada_erp[0].body["email_address"], ada[0].body["email"]);
    assert_eq!(ada[0].body["email"], json!("ADA@example.com "));

    let after = reconcile::run(&cfg, &store, "acme", "customer", false)
        .await
        .unwrap();
    let left: Vec<_> = after
        .findings
        .iter()
        .filter(|f| f.kind != "duplicate")
        .collect();
    assert!(
        left.is_empty(),
        "after the repair nothing is unlinked or missing: {left:#?}"
    );
}

#[tokio::test]
async fn a_resync_asked_for_a_record_no_webhook_announced_syncs_it() {
    use syncledger_core::events::{ResyncRequested, SyncEvent, entity_id_for_record};
    use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
    use syncledger_engine::{EngineSettings, Ledger};

    let (crm, crm_url) = served("c").await;
    let (erp, erp_url) = served("E").await;
    let quiet = crm.user_create(
        "contacts",
        json!({"full_name": "Quiet", "email": "quiet@example.com"}),
    );
    crm.drain_webhooks(); // the webhook is lost: only a person's resync will bring this record over
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &crm_url,
        &erp_url,
        &dir.path().join("q.db").display().to_string(),
    );
    let store = syncledger_cli::app::open_store(&cfg.server.database_url, Some(&cfg))
        .await
        .unwrap();
    let resync = SyncEvent::ResyncRequested(ResyncRequested {
        by: "admin".into(),
        system: "crm".into(),
        record_id: quiet.id.clone(),
    });
    let meta = EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    };
    let stream_id = entity_id_for_record("acme", "customer", "crm", &quiet.id);
    store
        .append(vec![StreamAppend {
            stream_id,
            expected: ExpectedVersion::NoStream,
            events: vec![resync.to_new(meta)],
        }])
        .await
        .unwrap();

    let connectors =
        std::sync::Arc::new(syncledger_cli::app::HttpConnectors::from_config(&cfg).unwrap());
    let ledger = Ledger::new(
        store,
        std::sync::Arc::new(cfg),
        connectors,
        EngineSettings::default(),
    );
    ledger.run_until_idle(100).await.unwrap();

    assert_eq!(
        erp.find_by_field("customers", "email_address", &json!("quiet@example.com"))
            .len(),
        1
    );
    let state = ledger.load(stream_id).await.unwrap();
    assert_eq!(state.entity_type.as_deref(), Some("customer"));
    assert!(
        state.links.contains_key("crm") && state.links.contains_key("erp"),
        "{:?}",
        state.links
    );
}

/// The connector sends each request once: a listing page answered 503 is tried again by the
/// reconcile itself (after the `Retry-After`), and the report is the same as without the fault.
#[tokio::test]
async fn a_listing_page_answered_503_is_tried_again_and_the_report_is_complete() {
    let (crm, crm_url) = served("c").await;
    let (erp, erp_url) = served("E").await;
    crm.user_create(
        "contacts",
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    erp.user_create(
        "customers",
        json!({"name": "Cy", "email_address": "cy@example.com"}),
    );
    crm.fail_next(Op::List, syncledger_sim::Fault::Status(503, "busy".into()));
    let (_dir, cfg, store) = opened(&crm_url, &erp_url).await;

    let report = reconcile::run(&cfg, &store, "acme", "customer", false)
        .await
        .expect("the 503 is waited out");

    assert_eq!(crm.requests(Op::List), 2, "the refused page and its retry");
    let unlinked = report
        .findings
        .iter()
        .filter(|f| f.kind == "unlinked")
        .count();
    assert_eq!(unlinked, 2, "{:#?}", report.findings);
}
