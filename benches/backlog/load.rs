//! The load: records with about `webhooks / records` changes each, made by simulated users in
//! both systems, and their webhooks posted one per request by concurrent senders.
//!
//! Half the records are CRM contacts and half ERP customers, each with its own email, so every
//! record is created in the other system by the sync. A record's changes are made in rounds
//! (all creates, then every record's first phone change, ...), so the five webhooks of one
//! record are spread over the whole backlog as real traffic would spread them; the records
//! hold their final values when the drain fetches them (the webhook is a hint, the fetch the
//! truth).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use syncledger_connector::sign;
use syncledger_sim::{SimSystem, Webhook};

use crate::world::{CRM_SECRET, ERP_SECRET, TENANT};

/// One webhook to post: which system sent it, and what.
pub struct Hook {
    pub system: &'static str,
    pub webhook: Webhook,
}

/// Makes the records and their changes in both systems; returns every webhook, interleaved.
pub fn generate(crm: &SimSystem, erp: &SimSystem, records: usize, webhooks: usize) -> Vec<Hook> {
    let half = records / 2;
    let mut crm_ids = Vec::with_capacity(half);
    let mut erp_ids = Vec::with_capacity(records - half);
    for i in 0..half {
        let fields = json!({"full_name": format!("Contact {i}"), "email": format!("c{i}@crm.example"), "phone": "+1 555 0000"});
        crm_ids.push(crm.user_create("contacts", fields).id);
    }
    for i in 0..records - half {
        let fields = json!({"name": format!("Customer {i}"), "email_address": format!("e{i}@erp.example"), "phones": ["+1 555 0000"]});
        erp_ids.push(erp.user_create("customers", fields).id);
    }
    let mut made = records;
    let mut round = 1;
    while made < webhooks {
        for (n, id) in crm_ids.iter().enumerate() {
            if made == webhooks {
                break;
            }
            crm.user_update("contacts", id, json!({"phone": phone(round, n)}));
            made += 1;
        }
        for (n, id) in erp_ids.iter().enumerate() {
            if made == webhooks {
                break;
            }
            erp.user_update("customers", id, json!({"phones": [phone(round, n)]}));
            made += 1;
        }
        round += 1;
    }
    let mut crm_hooks = crm.drain_webhooks().into_iter();
    let mut erp_hooks = erp.drain_webhooks().into_iter();
    let mut all = Vec::with_capacity(webhooks);
    loop {
        let (c, e) = (crm_hooks.next(), erp_hooks.next());
        if c.is_none() && e.is_none() {
            break;
        }
        all.extend(c.map(|webhook| Hook {
            system: "crm",
            webhook,
        }));
        all.extend(e.map(|webhook| Hook {
            system: "erp",
            webhook,
        }));
    }
    all
}

fn phone(round: usize, n: usize) -> String {
    format!("+1 555 {round:02}{:05}", n % 100_000)
}

pub fn secret(system: &str) -> &'static str {
    if system == "crm" {
        CRM_SECRET
    } else {
        ERP_SECRET
    }
}

/// What the senders saw.
pub struct Intake {
    pub elapsed: Duration,
    /// Latency of every `202`, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Answers other than 202 (each retried until accepted).
    pub refused: usize,
}

/// Posts every hook, one per request, from `senders` concurrent tasks spread over `bases`;
/// a refusal is retried (as a real sender would) and counted. `accepted` counts the 202s.
pub async fn post_all(
    hooks: Arc<Vec<Hook>>,
    bases: &[String],
    senders: usize,
    accepted: Arc<AtomicUsize>,
) -> Intake {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(senders)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..senders {
        let (client, hooks, next, accepted) = (
            client.clone(),
            hooks.clone(),
            next.clone(),
            accepted.clone(),
        );
        let base = bases[s % bases.len()].clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(hooks.len() / senders + 1);
            let mut refused = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(hook) = hooks.get(i) else { break };
                let body = serde_json::to_vec(&hook.webhook).expect("a webhook serializes");
                let signature = sign(secret(hook.system).as_bytes(), &body);
                let url = format!("{base}/webhooks/{TENANT}/{}", hook.system);
                loop {
                    let sent = Instant::now();
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-signature", &signature)
                        .body(body.clone())
                        .send()
                        .await;
                    let took = sent.elapsed();
                    match answer {
                        Ok(r) if r.status().as_u16() == 202 => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            latencies.push(took.as_micros().min(u32::MAX as u128) as u32);
                            break;
                        }
                        _ => {
                            refused += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
            (latencies, refused)
        });
    }
    let mut intake = Intake {
        elapsed: Duration::ZERO,
        latencies_us: Vec::with_capacity(hooks.len()),
        refused: 0,
    };
    while let Some(done) = tasks.join_next().await {
        let (latencies, refused) = done.expect("a sender panicked");
        intake.latencies_us.extend(latencies);
        intake.refused += refused;
    }
    intake.elapsed = started.elapsed();
    intake.latencies_us.sort_unstable();
    intake
}

/// Delivers the webhooks the systems emit for the sync's own writes (echoes), in batches,
/// until `stop`; how many it delivered.
pub async fn deliver_echoes(
    crm: Arc<SimSystem>,
    erp: Arc<SimSystem>,
    base: String,
    delivered: Arc<AtomicUsize>,
    stop: crate::stop::Stop,
) {
    let client = reqwest::Client::new();
    while !stop.is_set() {
        let mut idle = true;
        for (system, sim) in [("crm", &crm), ("erp", &erp)] {
            let batch = sim.drain_webhooks();
            for chunk in batch.chunks(100) {
                idle = false;
                let body = serde_json::to_vec(chunk).expect("webhooks serialize");
                let signature = sign(secret(system).as_bytes(), &body);
                let url = format!("{base}/webhooks/{TENANT}/{system}");
                loop {
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-signature", &signature)
                        .body(body.clone())
                        .send()
                        .await;
                    if answer.is_ok_and(|r| r.status().as_u16() == 202) {
                        delivered.fetch_add(chunk.len(), Ordering::Relaxed);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        if idle {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
