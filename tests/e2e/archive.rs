//! Scheduled archiving while webhooks flow (issue 32, `[retention]`): `serve` archives every
//! second (`archive_after_days = 0`, small partitions on PostgreSQL) while people are created
//! and edited in both systems. Nothing is lost and nothing doubled: every person ends as exactly
//! one record on each side with both sides' last edits, and each person's history read with
//! `history --archive` is complete (sequences 1..n, no gap) while without it the history says
//! where its earlier events went. Then one person is erased: their archived history reads as
//! erased (`history --archive`), the segments never held their values in clear, and a
//! `rebuild --all --from-archive` brings none back into the database. Prints the webhooks' 202
//! latency (p50, p99, max) of the same flow without archiving (a control, first, same run) and
//! while the archiver ran; no timed assertion. The console's entity page of an archived person
//! shows the note, the records from the snapshot and a complete timeline (where Chromium is
//! installed). Both backends.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::erasure::{ADMIN, ERASE, database_bytes, gql, key_file, memchr_find};
use crate::harness::{Backend, STEP, World, eventually, on_both_backends};
use crate::service::{Service, command};

/// People created in the CRM per flow (one flow without archiving, one with).
const PEOPLE: usize = 40;

on_both_backends!(archiving_while_webhooks_flow_loses_nothing_and_doubles_nothing);

fn email(i: usize) -> String {
    format!("person{i}@archive.example.com")
}

/// Delivers what both systems emitted, timing each delivery; asserts every 202.
async fn deliver_timed(world: &World, service: &Service, latencies: &mut Vec<Duration>) {
    for (system, sim) in [("crm", &world.crm), ("erp", &world.erp)] {
        let batch = sim.drain_webhooks();
        if batch.is_empty() {
            continue;
        }
        let started = Instant::now();
        let reply = service.deliver(system, &batch).await;
        latencies.push(started.elapsed());
        assert_eq!(reply.status, 202, "{system}'s webhooks: {reply:?}");
    }
}

/// The people a test made: their CRM contact ids (index = person) and who was renamed.
#[derive(Default)]
struct People {
    contacts: Vec<String>,
    renamed: std::collections::BTreeSet<usize>,
}

/// [`PEOPLE`] more people created in the CRM, one every 40 ms, and earlier ones of the same
/// flow edited on both sides; every delivery timed. Returns the latencies and the time taken.
async fn flow(world: &World, service: &Service, people: &mut People) -> (Vec<Duration>, Duration) {
    let mut latencies = Vec::new();
    let first = people.contacts.len();
    let started = Instant::now();
    for i in first..first + PEOPLE {
        let contact = world.crm.user_create(
            "contacts",
            json!({"full_name": format!("Person {i}"), "email": email(i)}),
        );
        people.contacts.push(contact.id.clone());
        deliver_timed(world, service, &mut latencies).await;
        // Earlier people are edited on both sides (while their first events are archived).
        if i >= first + 4 && i % 2 == 0 {
            let j = i - 4;
            world
                .crm
                .user_update(
                    "contacts",
                    &people.contacts[j],
                    json!({"full_name": format!("Person {j} renamed")}),
                )
                .expect("the contact exists");
            people.renamed.insert(j);
            if let Some(customer) = world.erp_customers(&email(j)).first() {
                world
                    .erp
                    .user_update(
                        "customers",
                        &customer.id,
                        json!({"phones": [format!("+44 {j:04}")]}),
                    )
                    .expect("the customer exists");
            }
            deliver_timed(world, service, &mut latencies).await;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    (latencies, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `syncledger history` for a CRM record, as JSON.
async fn history(dir: &Path, config: &Path, record: &str, archive: Option<&Path>) -> Value {
    let mut cmd = command(dir);
    cmd.args([
        "history", "--tenant", "acme", "--system", "crm", "--record", record,
    ])
    .arg("--json")
    .arg("--config")
    .arg(config);
    if let Some(archive) = archive {
        cmd.arg("--archive").arg(archive);
    }
    let stdout = succeeded(cmd, "history").await;
    serde_json::from_slice(&stdout).expect("history --json prints JSON")
}

/// Runs a command of the binary to its end; asserts it succeeded and returns its stdout.
async fn succeeded(mut cmd: std::process::Command, what: &str) -> Vec<u8> {
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("joining the command")
        .expect("running the command");
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

async fn archiving_while_webhooks_flow_loses_nothing_and_doubles_nothing(backend: Backend) {
    let keys = tempfile::tempdir().expect("temp dir");
    let server = match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres { .. } => key_file(keys.path()),
    };
    let world = World::with_server(backend, &server).await;
    let archive = world.dir.path().join("archive");

    // The control: the same flow with no archiving, first, in the same run. The section is
    // there, paused, so that PostgreSQL's partitions have their small width from the start (a
    // width applies from the next partition on).
    world.append_config(&format!(
        "[retention]\nenabled = false\narchive_after_days = 0\narchive_dir = \"{}\"\n\
         interval_secs = 1\npartition_width = 32\n",
        archive.display()
    ));
    let mut service = world.start().await;
    let mut people = People::default();
    let control = flow(&world, &service, &mut people).await;
    world.settle(&service, STEP * 3).await;
    service.sigterm();
    assert!(service.exit_within(STEP).await.is_some(), "serve stopped");

    // Then archiving every second, everything but the newest event, while the flow goes on.
    let config = std::fs::read_to_string(world.config_path()).expect("the config");
    let resumed = config.replace("enabled = false", "enabled = true");
    assert_ne!(resumed, config);
    std::fs::write(world.config_path(), resumed).expect("writing the config");
    let mut service = world.start().await;
    let archiving = flow(&world, &service, &mut people).await;
    let runs = service
        .metrics()
        .await
        .value("syncledger_archive_runs_total", &[("outcome", "archived")]);
    world.settle(&service, STEP * 3).await;
    let contacts = people.contacts.clone();

    // Every person is one record on each side, with both sides' last edits.
    for (i, id) in contacts.iter().enumerate() {
        let erp = world.erp_customers(&email(i));
        assert_eq!(erp.len(), 1, "person {i}: one ERP customer, got {erp:?}");
        assert_eq!(
            world.crm_contacts(&email(i)).len(),
            1,
            "person {i}: one CRM contact"
        );
        let renamed = people.renamed.contains(&i);
        let name = if renamed {
            format!("Person {i} renamed")
        } else {
            format!("Person {i}")
        };
        assert_eq!(
            erp[0].body["name"],
            json!(name),
            "person {i}'s name reached the ERP"
        );
        if renamed && erp[0].body["phones"] != json!([]) && !erp[0].body["phones"].is_null() {
            let crm = world.crm.record("contacts", id).expect("the contact");
            assert_eq!(
                crm.body["phone"], erp[0].body["phones"][0],
                "person {i}'s ERP phone reached the CRM"
            );
        }
    }
    assert_eq!(
        world.erp.count("customers"),
        contacts.len(),
        "no customer doubled"
    );
    assert_eq!(
        world.crm.count("contacts"),
        contacts.len(),
        "no contact doubled"
    );

    // Two more runs after the flow settled: one of them started after it (what it archives
    // depends on the partitions on PostgreSQL).
    let runs_before = service.metrics().await.sum("syncledger_archive_runs_total");
    eventually("two runs after the flow settled", STEP, async || {
        service.metrics().await.sum("syncledger_archive_runs_total") >= runs_before + 2.0
    })
    .await;
    let m = service.metrics().await;
    assert!(m.sum("syncledger_archive_events_total") > 0.0);
    assert_eq!(
        m.sum("syncledger_archive_failures_total"),
        0.0,
        "{}",
        m.text()
    );
    assert!(m.value("syncledger_archive_last_success_seconds", &[]) > 0.0);
    assert!(service.log_text().contains("archiving: run finished"));

    // Each history is whole when read with the archive, and says where it went without it.
    let mut noted = 0;
    let mut shown = None;
    for id in &contacts {
        let whole = history(world.dir.path(), world.config_path(), id, Some(&archive)).await;
        let sequences: Vec<u64> = whole["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["sequence"].as_u64().expect("a sequence"))
            .collect();
        let expected: Vec<u64> = (1..=sequences.len() as u64).collect();
        assert_eq!(sequences, expected, "{id}: the whole history, in order");
        assert!(whole["archived"].is_null());
        let types: Vec<&str> = whole["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert!(
            types.contains(&"ChangeObserved") && types.contains(&"WriteSucceeded"),
            "{types:?}"
        );
        let live = history(world.dir.path(), world.config_path(), id, None).await;
        if let Some(note) = live["archived"]["note"].as_str() {
            assert!(note.contains("earlier event"), "{note}");
            noted += 1;
            let i = contacts.iter().position(|c| c == id).expect("a person");
            if shown.is_none() && !people.renamed.contains(&i) {
                shown = Some((
                    i,
                    live["entity_id"].as_str().unwrap().to_string(),
                    note.to_string(),
                ));
            }
            let kept = live["events"].as_array().map_or(0, Vec::len);
            assert_eq!(
                live["archived"]["events"].as_u64().unwrap() as usize + kept,
                sequences.len(),
                "{id}: archived + live = whole"
            );
        }
    }
    assert!(noted > 0, "some histories were archived");
    let (i, entity, note) = shown.expect("an archived person who was not renamed");
    console_shows_the_archived_entity(&service, i, &entity, &note).await;

    // Erasure meets the archive: person 0 (renamed, their first events archived) is erased.
    let zoe = [email(0), "Person 0 renamed".to_string()];
    let whole = history(
        world.dir.path(),
        world.config_path(),
        &contacts[0],
        Some(&archive),
    )
    .await;
    assert!(
        whole.to_string().contains(&zoe[1]),
        "readable before: {whole}"
    );
    let erased = gql(
        &service,
        ERASE,
        json!({"id": whole["entity_id"], "reason": "GDPR Art. 17"}),
    )
    .await["eraseEntity"]
        .clone();
    assert_eq!(erased["verified"], true, "{erased}");
    let after = history(
        world.dir.path(),
        world.config_path(),
        &contacts[0],
        Some(&archive),
    )
    .await;
    let shown = after.to_string();
    assert!(shown.contains("$erased"), "{shown}");
    for value in &zoe {
        assert!(
            !shown.contains(value.as_str()),
            "{value} read back from the archive: {shown}"
        );
    }
    assert_eq!(
        after["events"].as_array().unwrap().len(),
        whole["events"].as_array().unwrap().len() + 1,
        "the history keeps its shape, EntityErased added"
    );
    let segments = segment_text(&archive);
    assert!(!segments.is_empty());
    for i in 0..contacts.len() {
        assert!(
            memchr_find(&segments, email(i).as_bytes()).is_none(),
            "person {i}'s email in clear in a segment"
        );
    }
    // Stopped, the database rebuilt from the archive: nothing of hers comes back.
    service.sigterm();
    assert!(service.exit_within(STEP).await.is_some(), "serve stopped");
    let mut cmd = command(world.dir.path());
    cmd.args(["rebuild", "--all", "--from-archive"])
        .arg(&archive)
        .arg("--config")
        .arg(world.config_path());
    succeeded(cmd, "rebuild --from-archive").await;
    let dump = database_bytes(&world).await;
    for value in &zoe {
        assert!(
            memchr_find(&dump, value.as_bytes()).is_none(),
            "{value} is in the database after a rebuild from the archive"
        );
    }

    for (phase, (latencies, took)) in [
        ("no archiving (control)", &control),
        ("archiving every second", &archiving),
    ] {
        let mut sorted = latencies.clone();
        sorted.sort();
        println!(
            "webhook 202 latency, {phase}: {} deliveries over {:.1} s: p50 {:.1} ms, p99 {:.1} ms, \
             max {:.1} ms",
            sorted.len(),
            took.as_secs_f64(),
            percentile(&sorted, 0.50).as_secs_f64() * 1000.0,
            percentile(&sorted, 0.99).as_secs_f64() * 1000.0,
            sorted.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        );
    }
    println!("archive runs that archived during the archiving flow: {runs}");
}

/// The console's entity page of an archived person: the note above the timeline, the records
/// table from the snapshot, the timeline complete with the live events only.
async fn console_shows_the_archived_entity(service: &Service, i: usize, entity: &str, note: &str) {
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ADMIN).await;
    browser.open(&format!("#/entity/{entity}")).await;
    browser.wait_text("#archived-note", note).await;
    browser
        .wait_text(
            "button.value[data-field=name][data-system=erp]",
            &format!("Person {i}"),
        )
        .await;
    eventually("the timeline is complete", STEP, async || {
        browser
            .js("return document.body.dataset.timelineComplete", vec![])
            .await
            == json!(entity)
    })
    .await;
    browser.close().await;
}

/// Every segment of the archive, decompressed, one after the other.
fn segment_text(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the archive directory") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "zst") {
            let bytes = std::fs::read(&path).expect("a segment");
            all.extend(zstd::decode_all(&bytes[..]).expect("a zstd segment"));
        }
    }
    all
}
