//! A system's quota shared by two processes on one PostgreSQL (CONTRACT §3 `rate_limit`,
//! docs/configuration.md): each process enforces the `rate_limit` it is configured with on its
//! own, so a quota of `rate` requests/s and `burst` is split as `rate / n` and `burst / n` over
//! `n` processes. Two processes configured that way, both working, stay within the whole
//! quota: at the systems, which timestamp every request they receive, no window of `t`
//! seconds holds more than `burst + rate * t` requests.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use syncledger_sim::{Op, RequestLog};

use crate::harness::{Backend, World, eventually};
use crate::service::Service;

/// The systems' whole quota, and each of the two processes' half of it.
const RATE: f64 = 10.0;
const BURST: f64 = 4.0;
const HALF: &str = "rate_limit = { requests_per_second = 5, burst = 2 }";
/// Arrivals can bunch by the transport's and the scheduler's jitter although the starts did
/// not (on a loaded machine, hundreds of milliseconds). The slack still tells the halved
/// configuration from an unshared one: two processes with the whole quota each would allow
/// `2 * BURST + 2 * RATE * t`, beyond `BURST + RATE * (t + JITTER)` for every `t`.
const JITTER: f64 = 0.25;
const CONTACTS: usize = 30;

#[sqlx::test(migrations = false)]
async fn two_processes_with_half_the_quota_each_stay_within_the_whole_quota(
    _pool: PgPoolOptions,
    conn: PgConnectOptions,
) {
    let world = World::new(Backend::postgres(&conn)).await;
    let config = world.dir.path().join("syncledger.toml");
    let halved: String = std::fs::read_to_string(&config)
        .expect("the world's configuration")
        .lines()
        .flat_map(|line| {
            let limit = line.starts_with("webhook_secret").then_some(HALF);
            std::iter::once(line).chain(limit)
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let quota_config = world.dir.path().join("quota.toml");
    std::fs::write(&quota_config, halved).expect("writing the halved configuration");
    let a = Service::spawn(&quota_config, world.dir.path().join("a.log")).await;
    let b = Service::spawn(&quota_config, world.dir.path().join("b.log")).await;
    eventually(
        "the initial sync lists both systems",
        Duration::from_secs(30),
        async || world.crm.requests(Op::List) >= 1 && world.erp.requests(Op::List) >= 1,
    )
    .await;

    for i in 0..CONTACTS {
        world.crm.user_create(
            "contacts",
            json!({"full_name": format!("Contact {i}"), "email": format!("q{i}@example.com")}),
        );
        let hooks = world.crm.drain_webhooks();
        let to = if i % 2 == 0 { &a } else { &b };
        assert_eq!(to.deliver("crm", &hooks).await.status, 202);
    }
    let within = Duration::from_secs(180);
    let started = Instant::now();
    eventually("every contact reaches the ERP", within, async || {
        world.deliver_all(&a).await;
        world.erp.count("customers") == CONTACTS
    })
    .await;
    world
        .settle(&a, within.saturating_sub(started.elapsed()))
        .await;

    for (name, sim) in [("crm", &world.crm), ("erp", &world.erp)] {
        assert_within_quota(name, &sim.request_log());
    }
    for (process, service) in [("a", &a), ("b", &b)] {
        let m = service.metrics().await;
        let sent: f64 = ["acme/crm", "acme/erp"]
            .iter()
            .map(|s| m.value("syncledger_system_requests_total", &[("system", s)]))
            .sum();
        assert!(
            sent > 0.0,
            "process {process} sent no request: both must share the work"
        );
    }
}

/// Every window between two arrivals against `BURST + RATE * (t + JITTER)`.
fn assert_within_quota(system: &str, log: &[RequestLog]) {
    let mut at: Vec<Instant> = log.iter().map(|r| r.at).collect();
    at.sort();
    assert!(
        at.len() > CONTACTS,
        "{system} saw only {} requests",
        at.len()
    );
    for (i, first) in at.iter().enumerate() {
        for (j, last) in at.iter().enumerate().skip(i) {
            let t = (*last - *first).as_secs_f64();
            let allowed = BURST + RATE * (t + JITTER);
            let count = (j - i + 1) as f64;
            assert!(
                count <= allowed,
                "{system}: {count} requests in {t:.3} s, the whole quota allows {allowed:.2}"
            );
        }
    }
}
