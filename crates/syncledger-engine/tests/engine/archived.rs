//! An entity whose first events were archived keeps syncing from its snapshot (docs/log.md,
//! "Archiving"): live work never reads archived events. Its echo context (G3) and its links
//! come from the snapshot, so a later edit is written once, its echo settled, nothing doubled;
//! and a restarted process, loading its initial syncs from their snapshots, starts none again.

use serde_json::json;
use syncledger_core::config::RetentionConfig;
use syncledger_core::events::SyncEvent;
use syncledger_core::log::{LogFilter, Position};
use syncledger_engine::retention::{ARCHIVER_LEASE, Retention, RunOutcome};
use syncledger_engine::snapshots::StreamSnapshots;
use syncledger_sim::Op;
use syncledger_store::archive::{ArchiveRequest, Before};

use crate::both;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, World, first_stream};

both!(
    an_entity_whose_first_events_were_archived_still_syncs,
    scheduled_archiving_runs_once_at_a_time_and_archives_what_is_old_enough,
);

async fn an_entity_whose_first_events_were_archived_still_syncs(db: Db) {
    let mut w = World::new(db).await;
    // Small partitions on PostgreSQL, so that this short log spans several.
    w.store().archives().set_partition_width(4).await.unwrap();
    let ada = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com", "phone": "1"}),
    );
    w.settle().await;
    for phone in ["2", "3"] {
        w.crm
            .user_update(CONTACTS, &ada.id, json!({"phone": phone}));
        w.settle().await;
    }
    assert_eq!(w.erp.count(CUSTOMERS), 1);
    let entity = first_stream(CRM, &ada.id);

    let dir = tempfile::tempdir().unwrap();
    let head = w.store().head().await.unwrap();
    let report = w
        .store()
        .archives()
        .archive(
            &ArchiveRequest {
                before: Before::Position(head.0),
                dir: dir.path().to_path_buf(),
            },
            &StreamSnapshots,
            &|_| {},
        )
        .await
        .unwrap();
    assert!(report.removed > 0);
    let archived = w
        .store()
        .archives()
        .stream(entity)
        .await
        .unwrap()
        .expect("the entity's first events were archived");
    assert!(archived.state.is_some(), "with its snapshot");
    let live = w.store().read_stream(entity, 1, i64::MAX).await.unwrap();
    assert!(
        live.iter().all(|e| e.sequence > archived.version),
        "only the tail of the stream is live"
    );

    // A new process on the same database: everything it knows of the entity comes from the
    // snapshot and the live tail.
    w.restart().await;
    let creates = w.erp.requests(Op::Create);
    let updates = w.erp.requests(Op::Update);
    w.crm
        .user_update(CONTACTS, &ada.id, json!({"full_name": "Ada Lovelace"}));
    w.settle().await;

    assert_eq!(
        w.erp.count(CUSTOMERS),
        1,
        "still one customer: the link held"
    );
    assert_eq!(w.erp.requests(Op::Create), creates, "nothing created again");
    assert_eq!(
        w.erp.requests(Op::Update) - updates,
        1,
        "one write of the edit"
    );
    let customer = &w.erp.records(CUSTOMERS)[0];
    assert_eq!(customer.body["name"], "Ada Lovelace");
    assert_eq!(customer.body["phones"][0], "3", "the earlier value kept");
    assert_eq!(w.queue_depth().await, 0, "the echo settled, nothing owed");
    // The restarted process started no initial sync again.
    let after = w
        .store()
        .read_all(
            Position(report.through.unwrap()),
            &LogFilter::default(),
            10_000,
        )
        .await
        .unwrap();
    assert!(
        !after.iter().any(|e| matches!(
            SyncEvent::from_recorded(e),
            Ok(SyncEvent::InitialSyncStarted(_))
        )),
        "no initial sync started again"
    );
}

async fn scheduled_archiving_runs_once_at_a_time_and_archives_what_is_old_enough(db: Db) {
    let w = World::new(db).await;
    w.store().archives().set_partition_width(4).await.unwrap();
    let ada = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com", "phone": "1"}),
    );
    w.settle().await;
    w.crm.user_update(CONTACTS, &ada.id, json!({"phone": "2"}));
    w.settle().await;
    let dir = tempfile::tempdir().unwrap();
    let config = RetentionConfig {
        archive_after_days: Some(1),
        archive_dir: dir.path().join("archive").display().to_string(),
        interval_secs: 3600,
        ..RetentionConfig::default()
    };
    let retention = Retention::from_config(w.store().clone(), Some(&config), "test")
        .unwrap()
        .expect("enabled");
    assert!(dir.path().join("archive").is_dir(), "created at start");
    let paused = RetentionConfig {
        enabled: false,
        ..config.clone()
    };
    assert!(
        Retention::from_config(w.store().clone(), Some(&paused), "test")
            .unwrap()
            .is_none()
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let unusable = RetentionConfig {
        archive_dir: file.display().to_string(),
        ..config.clone()
    };
    let refused = Retention::from_config(w.store().clone(), Some(&unusable), "test").err();
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.starts_with("retention.archive_dir: ")),
        "{refused:?}"
    );

    // Nothing is a day old yet.
    let now = chrono::Utc::now();
    assert!(matches!(
        retention.run_once(now).await.unwrap(),
        RunOutcome::Nothing
    ));
    // Another process's run holds the lease: this one leaves the work to it.
    assert!(
        w.store()
            .try_lease(
                ARCHIVER_LEASE,
                "another-process",
                std::time::Duration::from_secs(60)
            )
            .await
            .unwrap()
    );
    let later = now + chrono::Duration::days(2);
    assert!(matches!(
        retention.run_once(later).await.unwrap(),
        RunOutcome::Skipped
    ));
    w.store()
        .release_lease(ARCHIVER_LEASE, "another-process")
        .await
        .unwrap();
    // Two days on, everything but the newest event is old enough.
    let RunOutcome::Archived(report) = retention.run_once(later).await.unwrap() else {
        panic!("expected a run that archived");
    };
    assert!(report.archived > 0 && report.removed > 0, "{report:?}");
    let live = w
        .store()
        .read_all(Position::START, &LogFilter::default(), 10_000)
        .await
        .unwrap();
    assert!(
        live.iter().all(|e| e.position.0 > report.through.unwrap()),
        "what the run archived left the live log"
    );
    assert!(matches!(
        retention.run_once(later).await.unwrap(),
        RunOutcome::Nothing
    ));
    // The entity still syncs from its snapshot.
    w.crm
        .user_update(CONTACTS, &ada.id, json!({"full_name": "Ada Lovelace"}));
    w.settle().await;
    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.erp.records(CUSTOMERS)[0].body["name"], "Ada Lovelace");
}
