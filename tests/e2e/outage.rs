//! Store unavailable (CONTRACT §2 and §9): while the database refuses connections, a webhook is
//! answered 503 (so its sender retries) and `/readyz` fails; once the database is back, the
//! service recovers by itself and the resent webhook is worked.
//!
//! PostgreSQL only: the outage is made by refusing new connections to the test's database
//! (`ALLOW_CONNECTIONS false`, which binds superusers too) and ending the ones the service holds.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::harness::{Backend, STEP, World, eventually};

#[sqlx::test(migrations = false)]
async fn while_the_database_is_down_webhooks_get_503_and_the_service_recovers(
    _pool: PgPoolOptions,
    conn: PgConnectOptions,
) {
    let db = conn.get_database().expect("a test database").to_string();
    let world = World::new(Backend::postgres(&conn)).await;
    let service = world.start().await;
    let mut admin = PgConnection::connect_with(&conn.clone().database("postgres"))
        .await
        .expect("admin connection");
    let outage = Outage { db: &db };

    outage.begin(&mut admin).await;
    world.crm.user_create(
        "contacts",
        serde_json::json!({"full_name": "Ada Lovelace", "email": "ada@example.com"}),
    );
    let hooks = world.crm.drain_webhooks();
    eventually("/readyz reports the store down", STEP, async || {
        service.get("/readyz").await.is_ok_and(|r| r.status == 503)
    })
    .await;
    let refused = service.deliver("crm", &hooks).await;
    assert_eq!(
        refused.status, 503,
        "a webhook while the store is down: {refused:?}"
    );
    let health = service
        .get("/healthz")
        .await
        .expect("the process is still serving");
    assert_eq!(health.status, 200, "liveness does not depend on the store");

    outage.end(&mut admin).await;
    eventually("/readyz reports ready again", STEP, async || {
        service.get("/readyz").await.is_ok_and(|r| r.status == 200)
    })
    .await;
    let resent = service.deliver("crm", &hooks).await;
    assert_eq!(
        resent.status, 202,
        "the sender's retry once the store is back: {resent:?}"
    );
    eventually("the resent webhook is worked", STEP, async || {
        world.erp_customers("ada@example.com").len() == 1
    })
    .await;
    world.settle(&service, STEP).await;
    assert_eq!(world.erp.count("customers"), 1);
}

struct Outage<'a> {
    db: &'a str,
}

impl Outage<'_> {
    async fn begin(&self, admin: &mut PgConnection) {
        let db = self.db;
        run(
            admin,
            format!(r#"ALTER DATABASE "{db}" ALLOW_CONNECTIONS false"#),
        )
        .await;
        run(
            admin,
            format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"),
        )
        .await;
    }

    async fn end(&self, admin: &mut PgConnection) {
        run(
            admin,
            format!(r#"ALTER DATABASE "{}" ALLOW_CONNECTIONS true"#, self.db),
        )
        .await;
    }
}

async fn run(admin: &mut PgConnection, sql: String) {
    sqlx::raw_sql(AssertSqlSafe(sql.clone()))
        .execute(&mut *admin)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}
