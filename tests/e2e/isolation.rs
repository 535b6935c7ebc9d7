//! Isolation (issue 27): one tenant's system down holds up no other tenant, and no answer from
//! a connected system, however large, takes the process's memory.
//!
//! No assertion is on speed. The figures (acme's sync latency with and without globex's
//! backlog, the process's peak RSS under huge answers) are printed for the record; the
//! assertions are on outcomes: acme converges while globex's backlog stays owed, a 300 MB
//! answer ends as a dead letter and the process answers `/healthz` after it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use syncledger_connector::sign;
use syncledger_sim::{Fault, Op, SimSystem};

use crate::harness::{Backend, STEP, World, eventually, on_both_backends, start_sim};
use crate::service::Service;

const ADMIN: &str = "e2e-admin-secret";
const GLOBEX_SECRET: &str = "e2e-globex-webhook-secret-01";
/// Far beyond any sync here: only a process that leaves acme behind globex's backlog reaches it.
const GENEROUS: Duration = Duration::from_secs(120);
const MIB: u64 = 1024 * 1024;

/// Tenant `globex`, with a CRM and an ERP of its own, added to the world's configuration.
async fn add_globex(world: &World) -> (Arc<SimSystem>, Arc<SimSystem>) {
    let (crm, crm_url) = start_sim("g").await;
    let (erp, erp_url) = start_sim("G").await;
    edit_config(world, |toml| {
        toml.push_str(&format!(
            "\n[[tenants]]\nid = \"globex\"\napi_token = \"e2e-globex-read-token\"\n\
             [tenants.systems.crm]\nbase_url = \"{crm_url}\"\nwebhook_secret = \"{GLOBEX_SECRET}\"\n\
             [tenants.systems.erp]\nbase_url = \"{erp_url}\"\nwebhook_secret = \"{GLOBEX_SECRET}-erp\"\n"
        ));
    });
    (crm, erp)
}

fn edit_config(world: &World, edit: impl FnOnce(&mut String)) {
    let path = world.dir.path().join("syncledger.toml");
    let mut toml = std::fs::read_to_string(&path).expect("the configuration");
    edit(&mut toml);
    std::fs::write(&path, toml).expect("writing the configuration");
}

async fn admin_query(service: &Service, query: &str) -> Value {
    let reply = service
        .post_json("/graphql", Some(ADMIN), &json!({ "query": query }))
        .await;
    assert!(reply.body.get("errors").is_none(), "{:?}", reply.body);
    reply.body["data"].clone()
}

/// acme's users create `count` contacts (webhooks delivered); how long until all are in acme's
/// ERP.
async fn acme_latency(world: &World, service: &Service, tag: &str, count: usize) -> Duration {
    let started = Instant::now();
    for i in 0..count {
        let email = format!("{tag}-{i}@acme.example");
        world.crm_user_creates(service, &email, &email).await;
    }
    eventually("acme's contacts reach its ERP", GENEROUS, async || {
        (0..count).all(|i| {
            world
                .erp_customers(&format!("{tag}-{i}@acme.example"))
                .len()
                == 1
        })
    })
    .await;
    started.elapsed()
}

async fn acme_keeps_syncing_while_globex_crm_is_down_with_its_backlog_queued(backend: Backend) {
    let world = World::new(backend).await;
    let (globex_crm, globex_erp) = add_globex(&world).await;
    let service = world.start().await;
    eventually(
        "globex's initial sync lists its systems",
        STEP,
        async || globex_crm.requests(Op::List) >= 1 && globex_erp.requests(Op::List) >= 1,
    )
    .await;
    let alone = acme_latency(&world, &service, "alone", 5).await;

    // globex's CRM goes down, and 200 of its webhooks queue up.
    globex_crm.set_down(Some(503));
    for i in 0..200 {
        let email = format!("g-{i}@globex.example");
        globex_crm.user_create("contacts", json!({"full_name": email, "email": email}));
    }
    let body = serde_json::to_vec(&globex_crm.drain_webhooks()).expect("webhooks");
    let signature = sign(GLOBEX_SECRET.as_bytes(), &body);
    let reply = service
        .post_webhook("globex", "crm", body, Some(signature))
        .await
        .expect("delivering globex's webhooks");
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually("globex's CRM is being asked", STEP, async || {
        globex_crm.requests(Op::Get) >= 1
    })
    .await;

    let beside = acme_latency(&world, &service, "beside", 5).await;
    let globex_asked = globex_crm.requests(Op::Get);
    println!(
        "acme's 5 contacts synced in {alone:?} alone, in {beside:?} beside globex's 200 \
         queued webhooks with its CRM down (globex's CRM asked {globex_asked} times meanwhile)"
    );
    // A bound in jobs, not time: the brake and the turns keep globex to a few probes.
    assert!(
        globex_asked <= 50,
        "globex's down CRM was asked {globex_asked} times before acme's records synced"
    );
    let status = admin_query(
        &service,
        "{ syncStatus(tenant: \"globex\") { queueDepth } }",
    )
    .await;
    assert!(
        status["syncStatus"]["queueDepth"].as_i64() >= Some(200),
        "globex's backlog is still owed: {status}"
    );
    assert_eq!(globex_erp.count("customers"), 0);
    assert!(service.get("/healthz").await.expect("healthz").status == 200);
}

/// The process's peak resident memory so far (`VmHWM`), in MiB.
fn peak_rss_mib(service: &Service) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", service.pid()))
        .expect("the service's /proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024
}

/// The reasons of acme's dead letters.
async fn dead_letter_reasons(service: &Service) -> Vec<String> {
    let data = admin_query(
        service,
        "{ deadLetters(first: 100, tenant: \"acme\") { edges { node { reason } } } }",
    )
    .await;
    data["deadLetters"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["node"]["reason"].as_str().map(str::to_string))
        .collect()
}

/// CRM users create `count` contacts whose every GET answers 300 MB; waits for their dead
/// letters (two attempts each).
async fn huge_answers(world: &World, service: &Service, tag: &str, count: usize) {
    let before = dead_letter_reasons(service).await.len();
    for _ in 0..count * 2 {
        world.crm.fail_next(Op::Get, Fault::HugeBody(300 * MIB));
    }
    for i in 0..count {
        let email = format!("{tag}-{i}@example.com");
        world
            .crm
            .user_create("contacts", json!({"full_name": email, "email": email}));
    }
    let reply = service.deliver("crm", &world.crm.drain_webhooks()).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually(
        "each huge answer ends as a dead letter",
        GENEROUS,
        async || dead_letter_reasons(service).await.len() >= before + count,
    )
    .await;
}

async fn a_300_mb_answer_ends_as_a_dead_letter_and_the_process_stays_up(backend: Backend) {
    let world = World::new(backend).await;
    edit_config(&world, |toml| {
        *toml = toml.replace("workers = 4", "workers = 8\nmax_attempts = 2");
    });
    let service = world.start().await;
    let at_start = peak_rss_mib(&service);

    huge_answers(&world, &service, "one", 1).await;
    let after_one = peak_rss_mib(&service);
    let reasons = dead_letter_reasons(&service).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("answer over 4 MiB"), "{reasons:?}");

    huge_answers(&world, &service, "eight", 8).await;
    let after_eight = peak_rss_mib(&service);
    let reasons = dead_letter_reasons(&service).await;
    assert_eq!(reasons.len(), 9, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r.contains("answer over 4 MiB")),
        "{reasons:?}"
    );
    println!(
        "peak RSS (VmHWM): {at_start} MiB at start, {after_one} MiB after one 300 MB answer, \
         {after_eight} MiB after eight at once (sent to the service: {} MiB of 2700)",
        world.crm.huge_bytes_sent() / MIB
    );
    assert!(service.get("/healthz").await.expect("healthz").status == 200);
    // And the answers were not read whole: far less than one of them reached the process.
    assert!(world.crm.huge_bytes_sent() < 300 * MIB);
}

on_both_backends!(
    acme_keeps_syncing_while_globex_crm_is_down_with_its_backlog_queued,
    a_300_mb_answer_ends_as_a_dead_letter_and_the_process_stays_up,
);
