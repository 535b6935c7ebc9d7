//! Two processes on one PostgreSQL, random user work in both systems, webhooks delivered to
//! either process, and one process killed (`kill -9`) and started again twice: every person ends
//! as exactly one CRM contact and one ERP customer (issue 27: two processes once linked one
//! record to two entities, which made a twin). A fixed seed set, one fresh database per seed; a
//! failing run names its seed and its steps.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::harness::{Backend, World};
use crate::service::Service;

/// People the users make, by index: `p{i}@example.com`.
const PEOPLE: usize = 8;
const STEPS: usize = 50;

macro_rules! seeds {
    ($($name:ident = $seed:literal),+ $(,)?) => {$(
        #[sqlx::test(migrations = false)]
        async fn $name(_pool: PgPoolOptions, conn: PgConnectOptions) {
            run($seed, Backend::postgres(&conn)).await
        }
    )+};
}

seeds!(
    two_processes_with_kills_make_no_duplicates_seed_1 = 1,
    two_processes_with_kills_make_no_duplicates_seed_2 = 2,
    two_processes_with_kills_make_no_duplicates_seed_3 = 3,
    two_processes_with_kills_make_no_duplicates_seed_4 = 4,
    two_processes_with_kills_make_no_duplicates_seed_5 = 5,
);

async fn run(seed: u64, backend: Backend) {
    // Short leases, so a killed process's entities are taken over within the test's patience.
    let w = World::with_server(backend, "lease_ttl_secs = 3").await;
    let mut processes = [w.start().await, w.launch().await];
    let mut rng = StdRng::seed_from_u64(seed);
    // Each person is made once, by one user, in one system: a twin can only be the ledger's.
    let mut made = BTreeSet::new();
    let mut kills = 0;
    let mut trace = Vec::new();
    for _ in 0..STEPS {
        let person = rng.random_range(0..PEOPLE);
        let (name, email) = (format!("Person {person}"), format!("p{person}@example.com"));
        let step = match rng.random_range(0..100) {
            0..25 if made.insert(person) => {
                w.crm
                    .user_create("contacts", json!({"full_name": name, "email": email}));
                format!("crm creates p{person}")
            }
            25..45 if made.insert(person) => {
                w.erp
                    .user_create("customers", json!({"name": name, "email_address": email}));
                format!("erp creates p{person}")
            }
            45..60 => rename(&w, &mut rng),
            60..95 => {
                let to = rng.random_range(0..2);
                let system = *["crm", "erp"].choose(&mut rng).expect("a system");
                let sim = if system == "crm" { &w.crm } else { &w.erp };
                let batch = sim.drain_webhooks();
                if !batch.is_empty() {
                    let reply = processes[to].deliver(system, &batch).await;
                    assert_eq!(reply.status, 202, "seed {seed}: {reply:?}");
                }
                format!("{} {system} webhooks to process {to}", batch.len())
            }
            95.. if kills < 2 => {
                kills += 1;
                let victim = rng.random_range(0..2);
                processes[victim].kill9();
                processes[victim] = w.launch().await;
                format!("kill -9 process {victim}, started again")
            }
            _ => "nothing".into(),
        };
        trace.push(step);
        // Let the processes work between user steps, as live systems do.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
    }
    settle(&w, &processes).await;

    let mut problems = Vec::new();
    for person in 0..PEOPLE {
        let email = format!("p{person}@example.com");
        let (crm, erp) = (w.crm_contacts(&email).len(), w.erp_customers(&email).len());
        let expected = if made.contains(&person) {
            (1, 1)
        } else {
            (0, 0)
        };
        if (crm, erp) != expected {
            problems.push(format!(
                "{email}: {crm} CRM contact(s), {erp} ERP customer(s)"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "seed {seed}: {problems:?}\nsteps:\n{}",
        trace.join("\n")
    );
}

/// A user renames a random contact or customer.
fn rename(w: &World, rng: &mut StdRng) -> String {
    let suffix = rng.random_range(0..1000);
    if rng.random_bool(0.5) {
        let contacts = w.crm.records("contacts");
        let Some(c) = contacts.choose(rng) else {
            return "crm: nobody to rename".into();
        };
        w.crm.user_update(
            "contacts",
            &c.id,
            json!({"full_name": format!("Renamed {suffix}")}),
        );
        format!("crm renames {}", c.id)
    } else {
        let customers = w.erp.records("customers");
        let Some(c) = customers.choose(rng) else {
            return "erp: nobody to rename".into();
        };
        w.erp.user_update(
            "customers",
            &c.id,
            json!({"name": format!("Renamed {suffix}")}),
        );
        format!("erp renames {}", c.id)
    }
}

/// Delivers everything to one process and then the other until both agree the ledger is quiet.
async fn settle(w: &World, processes: &[Service; 2]) {
    let patience = Duration::from_secs(90);
    w.settle(&processes[0], patience).await;
    w.settle(&processes[1], patience).await;
}
