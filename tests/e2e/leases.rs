//! After `kill -9`, only the jobs that were in flight wait for their leases (docs/operations.md).
//!
//! The lease TTL is set to ten minutes, far beyond the test's patience: an entity still leased
//! to the dead process cannot be worked before the test gives up. A hundred contacts are queued
//! and the process is killed while a job is provably running (the CRM holds its fetch). The next
//! process must sync every contact except at most `workers` (4) of them, the ones whose jobs
//! died with the process; before leases were held only by running jobs, the dead process's
//! whole backlog (twice the workers, claimed ahead) waited too.

use std::collections::BTreeSet;

use serde_json::json;
use syncledger_sim::Op;

use crate::harness::{AFTER_CRASH, Backend, World, eventually, on_both_backends, reached};

const CONTACTS: usize = 100;
const WORKERS: usize = 4;

on_both_backends!(after_kill_9_only_the_jobs_in_flight_wait_for_their_leases);

async fn after_kill_9_only_the_jobs_in_flight_wait_for_their_leases(backend: Backend) {
    let world = World::new(backend).await;
    let config = world.dir.path().join("syncledger.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen(
        &format!("workers = {WORKERS}\n"),
        &format!("workers = {WORKERS}\nlease_ttl_secs = 600\n"),
        1,
    );
    assert!(text.contains("lease_ttl_secs = 600"), "{text}");
    std::fs::write(&config, text).unwrap();
    let mut first = world.start().await;

    let mut fetch = world.crm.pause_next(Op::Get);
    for i in 0..CONTACTS {
        world.crm.user_create(
            "contacts",
            json!({"full_name": format!("P{i}"), "email": format!("p{i}@example.com")}),
        );
    }
    let batch = world.crm.drain_webhooks();
    let reply = first.deliver("crm", &batch).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    reached("a job is fetching a contact", fetch.applied()).await;
    first.kill9();
    fetch.release();

    let _second = world.start().await;
    eventually(
        "every contact whose job was not in flight reaches the ERP",
        AFTER_CRASH,
        async || world.erp.count("customers") >= CONTACTS - WORKERS,
    )
    .await;
    let customers = world.erp.records("customers");
    let emails: BTreeSet<String> = customers
        .iter()
        .map(|c| {
            c.body["email_address"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        emails.len(),
        customers.len(),
        "no contact reached the ERP twice: {customers:?}"
    );
}
