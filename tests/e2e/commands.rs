//! The one-shot commands: `demo --exit`, `migrate`, `rebuild --all`.
//!
//! `rebuild` is run on a database the service has used, between two runs of the service: the
//! second run must still know the link the first one made (the rebuilt `id_mappings`), so a
//! change patches the existing ERP record instead of creating a second one.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use syncledger_sim::Op;

use crate::harness::{Backend, STEP, World, eventually, on_both_backends};
use crate::service::command;

/// A generous bound for a one-shot command (the demo plays three races).
const COMMAND: Duration = Duration::from_secs(60);

/// Runs the binary with `args` in `cwd` and waits for it, bounded.
async fn run(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = command(cwd);
    cmd.args(args);
    let what = args.join(" ");
    let output = tokio::task::spawn_blocking(move || cmd.output());
    tokio::time::timeout(COMMAND, output)
        .await
        .unwrap_or_else(|_| panic!("`syncledger {what}` did not finish within {COMMAND:?}"))
        .expect("joining the command")
        .expect("running the command")
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn demo_exit_plays_the_three_races_and_exits_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["demo", "--exit"]).await;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("Audit console: http://127.0.0.1:")
            && first.contains("/console")
            && first.contains("demo-admin-secret"),
        "the console's URL and token come first: {first:?}"
    );
    for line in [
        "Race 1: same-direction creates",
        "Race 2: round-trip creates",
        "Race 3: round-trip updates",
        "All three races ended without a duplicate or a stale overwrite.",
    ] {
        assert!(
            stdout.contains(line),
            "the demo did not print {line:?}:\n{}",
            describe(&output)
        );
    }
}

on_both_backends!(migrate_then_rebuild_all_succeed_and_keep_the_links);

async fn migrate_then_rebuild_all_succeed_and_keep_the_links(backend: Backend) {
    let world = World::new(backend).await;
    let url = world.database_url.clone();
    let cwd = world.dir.path();

    let migrated = run(cwd, &["migrate", "--database-url", &url]).await;
    assert!(migrated.status.success(), "{}", describe(&migrated));
    assert!(
        String::from_utf8_lossy(&migrated.stdout).contains("migrated"),
        "{}",
        describe(&migrated)
    );
    let again = run(cwd, &["migrate", "--database-url", &url]).await;
    assert!(
        again.status.success(),
        "migrate is idempotent: {}",
        describe(&again)
    );

    let mut first = world.start().await;
    let ada = world
        .crm_user_creates(&first, "Ada Lovelace", "ada@example.com")
        .await;
    eventually("Ada reaches the ERP", STEP, async || {
        world.erp_customers("ada@example.com").len() == 1
    })
    .await;
    world.settle(&first, STEP).await;
    let erp_id = world.erp_customers("ada@example.com")[0].id.clone();
    first.sigterm();
    let status = first
        .exit_within(STEP)
        .await
        .expect("the first run exits on SIGTERM");
    assert!(status.success(), "{status:?}");

    let rebuilt = run(cwd, &["rebuild", "--all", "--database-url", &url]).await;
    assert!(rebuilt.status.success(), "{}", describe(&rebuilt));
    let one = run(cwd, &["rebuild", "id_mappings", "--database-url", &url]).await;
    assert!(
        one.status.success(),
        "rebuilding one projection by name: {}",
        describe(&one)
    );

    let second = world.start().await;
    world.crm_user_renames(&second, &ada.id, "Ada King").await;
    eventually(
        "the rename patches the ERP record linked before the rebuild",
        STEP,
        async || world.erp_name(&erp_id) == "Ada King",
    )
    .await;
    world.settle(&second, STEP).await;
    assert_eq!(
        world.erp.count("customers"),
        1,
        "{:?}",
        world.erp.records("customers")
    );
    assert_eq!(world.erp.requests(Op::Create), 1);
    assert_eq!(world.crm.count("contacts"), 1);
}
