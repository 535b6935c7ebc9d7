//! Erasure against the binary (issue 29, CONTRACT §6 G11): a person created and edited in both
//! systems is erased with `eraseEntity`; then neither the database (the SQLite file after a
//! checkpoint, a `pg_dump` of the PostgreSQL database) nor the service's log holds any of their
//! values, another person's values are intact, the history keeps its length, `whyField` says the
//! value was erased and why, a later CRM edit still reaches the ERP without a duplicate, and
//! same-build replay stays silent. Both backends.

use std::path::Path;

use serde_json::{Value, json};
use syncledger_sim::{Fault, Op};

use crate::harness::{Backend, STEP, World, eventually, on_both_backends};
use crate::service::Service;

pub(crate) const ADMIN: &str = "e2e-admin-secret";
const REASON: &str = "GDPR Art. 17 request #4711";

/// Everything Zoë's records held before her erasure.
const ZOE: [&str; 4] = [
    "Zoë Quixote-Erasure",
    "zoe.quixote@example.com",
    "Zoë Quixote-Renamed",
    "+44 20 7946 0123",
];

on_both_backends!(an_erased_person_leaves_no_value_behind_and_their_link_keeps_working);

pub(crate) async fn gql(service: &Service, query: &str, variables: Value) -> Value {
    let reply = service
        .post_json(
            "/graphql",
            Some(ADMIN),
            &json!({"query": query, "variables": variables}),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.get("errors").is_none(), "{reply:?}");
    reply.body["data"].clone()
}

const ENTITY: &str = r#"query($id: String!) {
  entityByRecord(tenant: "acme", system: "crm", recordId: $id) {
    id
    history(first: 200) { edges { node { type payload explanation } } }
  }
}"#;

pub(crate) const ERASE: &str = r#"mutation($id: ID!, $reason: String!) {
  eraseEntity(id: $id, reason: $reason) { entityId erasedAt reason verified residue }
}"#;

const WHY: &str = r#"query($id: ID!) { entity(id: $id) {
  whyField(field: "name", system: "erp") { value chain { type explanation } } } }"#;

const REPLAY: &str = r#"mutation {
  replayDecisions(tenant: "acme", fromPosition: 0, toPosition: 2147483647) {
    decisionsReplayed decisionsErased differences { entityId }
  }
}"#;

/// A PostgreSQL server's master key, in a file of its own (SQLite makes its own beside the file).
pub(crate) fn key_file(dir: &Path) -> String {
    let path = dir.join("master.key");
    std::fs::write(&path, format!("{}\n", "5a".repeat(32))).expect("writing a master key");
    format!("master_key_file = \"{}\"", path.display())
}

async fn an_erased_person_leaves_no_value_behind_and_their_link_keeps_working(backend: Backend) {
    let keys = tempfile::tempdir().expect("temp dir");
    let server = match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres { .. } => key_file(keys.path()),
    };
    let world = World::with_server(backend, &server).await;
    let service = world.start().await;

    // Zoë and Bob, created in the CRM; Zoë edited in both systems.
    let zoe = world.crm_user_creates(&service, ZOE[0], ZOE[1]).await;
    let bob = world
        .crm_user_creates(&service, "Bob Keepsake", "bob.keepsake@example.com")
        .await;
    eventually("both reach the ERP", STEP, async || {
        world.erp_customers(ZOE[1]).len() == 1
            && world.erp_customers("bob.keepsake@example.com").len() == 1
    })
    .await;
    world.settle(&service, STEP).await;
    // The CRM refuses the fetch of her renamed record once, with an answer that echoes her
    // values: the failed work is recorded (`WorkFailed.reason`, kept in clear) and logged
    // without them, and retried.
    let echo = json!({"error": "bad request", "name": ZOE[2], "email": ZOE[1]}).to_string();
    world.crm.fail_next(Op::Get, Fault::Status(400, echo));
    world.crm_user_renames(&service, &zoe.id, ZOE[2]).await;
    let erp_zoe = world.erp_customers(ZOE[1])[0].id.clone();
    world
        .erp
        .user_update("customers", &erp_zoe, json!({"phones": [ZOE[3]]}))
        .expect("Zoë is in the ERP");
    world.deliver_all(&service).await;
    eventually("the ERP's phone reaches the CRM", STEP, async || {
        world
            .crm
            .record("contacts", &zoe.id)
            .map(|r| r.body["phone"].clone())
            == Some(json!(ZOE[3]))
    })
    .await;
    world.settle(&service, STEP).await;

    let before = gql(&service, ENTITY, json!({"id": zoe.id})).await;
    let id = before["entityByRecord"]["id"].clone();
    let length = before["entityByRecord"]["history"]["edges"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        before.to_string().contains(ZOE[2]),
        "the history showed her values before"
    );
    assert!(
        before.to_string().contains("WorkFailed"),
        "the refused fetch was recorded: {before}"
    );

    // The erasure and its receipt; a second one answers the same.
    let erased =
        gql(&service, ERASE, json!({"id": id, "reason": REASON})).await["eraseEntity"].clone();
    assert_eq!(erased["verified"], true, "{erased}");
    assert_eq!(erased["residue"], json!([]));
    assert_eq!(erased["reason"], REASON);
    let again =
        gql(&service, ERASE, json!({"id": id, "reason": "again"})).await["eraseEntity"].clone();
    assert_eq!(
        (&again["erasedAt"], &again["reason"]),
        (&erased["erasedAt"], &erased["reason"])
    );

    // The history keeps its shape, its values read as erased.
    let after = gql(&service, ENTITY, json!({"id": zoe.id})).await;
    let edges = after["entityByRecord"]["history"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), length + 1);
    assert_eq!(edges[length]["node"]["type"], "EntityErased");
    assert!(
        edges[length]["node"]["explanation"]
            .as_str()
            .unwrap()
            .contains(REASON)
    );
    let shown = after.to_string();
    assert!(
        shown.contains("$erased") && shown.contains("(erased)"),
        "{shown}"
    );
    for value in ZOE {
        assert!(!shown.contains(value), "{value} still shown: {shown}");
    }

    // whyField: erased, when and why.
    let why = gql(&service, WHY, json!({"id": id})).await;
    let why = &why["entity"]["whyField"];
    assert_eq!(why["value"], json!({"$erased": true}), "{why}");
    let last = why["chain"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "EntityErased");
    assert!(last["explanation"].as_str().unwrap().contains(REASON));

    // Bob is untouched.
    let bobs = gql(&service, ENTITY, json!({"id": bob.id})).await;
    assert!(bobs.to_string().contains("Bob Keepsake"));

    // Nothing of hers in the database's bytes.
    let dump = database_bytes(&world).await;
    assert!(!dump.is_empty());
    for value in ZOE {
        assert!(
            memchr_find(&dump, value.as_bytes()).is_none(),
            "{value} is still in the database"
        );
    }

    // The link keeps working: a later CRM edit reaches the ERP, no duplicate.
    world
        .crm_user_renames(&service, &zoe.id, "Zoë After-Erasure")
        .await;
    eventually("the later edit reaches the ERP", STEP, async || {
        world.erp_name(&erp_zoe) == json!("Zoë After-Erasure")
    })
    .await;
    world.settle(&service, STEP).await;
    assert_eq!(
        world.erp.records("customers").len(),
        2,
        "no duplicate in the ERP"
    );
    assert_eq!(
        world.crm.records("contacts").len(),
        2,
        "no duplicate in the CRM"
    );

    // Same-build replay: silent, the erased decisions skipped and counted.
    let replay = gql(&service, REPLAY, json!({})).await["replayDecisions"].clone();
    assert_eq!(replay["differences"], json!([]), "{replay}");
    assert!(replay["decisionsErased"].as_i64().unwrap() > 0, "{replay}");

    // No log line ever carried her values.
    let log = service.log_text();
    for value in ZOE.iter().chain(&["Zoë After-Erasure", "Bob Keepsake"]) {
        assert!(!log.contains(value), "{value} in the service log:\n{log}");
    }
}

/// The database as bytes: the SQLite file and its WAL after a checkpoint, or a `pg_dump` of the
/// test's PostgreSQL database (when `pg_dump` is on PATH; otherwise every table as text).
pub(crate) async fn database_bytes(world: &World) -> Vec<u8> {
    if let Some(path) = world.database_url.strip_prefix("sqlite://") {
        let pool = sqlx::SqlitePool::connect(&world.database_url)
            .await
            .expect("sqlite");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await
            .expect("checkpoint");
        pool.close().await;
        let mut bytes = std::fs::read(path).expect("the database file");
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        return bytes;
    }
    let dumped = std::process::Command::new("pg_dump")
        .arg("--no-owner")
        .arg(&world.database_url)
        .output();
    match dumped {
        Ok(out) if out.status.success() => out.stdout,
        _ => {
            eprintln!("pg_dump is not on PATH: reading every table as text instead");
            let pool = sqlx::PgPool::connect(&world.database_url)
                .await
                .expect("postgres");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            )
            .fetch_all(&pool)
            .await
            .expect("tables");
            let mut text = String::new();
            for table in tables {
                let sql = format!("SELECT string_agg(r::text, E'\\n') FROM \"{table}\" AS r");
                let rows: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&pool)
                    .await
                    .expect("rows");
                text.push_str(&rows.unwrap_or_default());
            }
            pool.close().await;
            text.into_bytes()
        }
    }
}

pub(crate) fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// PostgreSQL has no place beside the database for a master key: a configuration without one is
/// refused at start, naming both ways out; `seal = false` is the explicit opt-out, which runs
/// unsealed, says so at WARN, and refuses erasure.
#[sqlx::test(migrations = false)]
async fn postgres_without_a_master_key_is_refused_and_seal_false_runs_unsealed(
    _pool: sqlx::postgres::PgPoolOptions,
    conn: sqlx::postgres::PgConnectOptions,
) {
    let refused = World::with_server(Backend::postgres(&conn), "seal = true").await;
    let text = std::fs::read_to_string(refused.dir.path().join("syncledger.toml")).unwrap();
    let stderr = crate::security::refused_at_start(&refused, "no-key.toml", &text).await;
    assert!(
        stderr.contains("master_key_file") && stderr.contains("seal = false"),
        "{stderr}"
    );

    let world = World::with_server(Backend::postgres(&conn), "seal = false").await;
    let service = world.start().await;
    let una = world
        .crm_user_creates(&service, "Una Unsealed", "una@example.com")
        .await;
    world.settle(&service, STEP).await;
    let data = gql(&service, ENTITY, json!({"id": una.id})).await;
    let id = data["entityByRecord"]["id"].clone();
    let reply = service
        .post_json(
            "/graphql",
            Some(ADMIN),
            &json!({"query": ERASE, "variables": {"id": id, "reason": REASON}}),
        )
        .await;
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{reply:?}"
    );
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not sealed"),
        "{reply:?}"
    );
    let log = service.log_text();
    assert!(log.contains("seal = false"), "{log}");
    assert!(log.contains("WARN"), "{log}");
}
