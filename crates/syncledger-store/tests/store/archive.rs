//! Archiving (docs/log.md, "Archiving"): old events go to verified segments and leave the live
//! log; a corrupt archive is refused before anything live is touched; each cut stream gets its
//! snapshot; the newest event stays live; appends go on as before.

use serde_json::{Value, json};
use syncledger_core::log::{ExpectedVersion, LogFilter, Position, RecordedEvent};
use syncledger_store::archive::segment;
use syncledger_store::archive::{ArchiveRequest, Before, Manifest, NoSnapshots, Snapshotter};
use syncledger_store::{Store, StoreError};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{some_events, to};
use crate::harness::Harness;

both!(
    archived_events_are_in_verified_segments_and_out_of_the_live_log,
    a_corrupt_segment_is_refused_and_nothing_live_is_touched,
    each_cut_stream_gets_its_snapshot_and_its_note,
    the_newest_event_stays_live,
    a_second_archive_needs_the_directory_of_the_first,
);

/// Ten streams of ten events, interleaved: 100 events at positions in append order.
async fn ten_streams(store: &Store) -> Vec<Uuid> {
    // Small partitions on PostgreSQL, so that a small log spans several.
    store.archives().set_partition_width(16).await.unwrap();
    let streams: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
    for round in 0..10u64 {
        for &s in &streams {
            store
                .append(vec![to(s, ExpectedVersion::Exact(round), some_events(1))])
                .await
                .unwrap();
        }
    }
    streams
}

async fn whole_log(store: &Store) -> Vec<RecordedEvent> {
    store
        .read_all(Position::START, &LogFilter::default(), 10_000)
        .await
        .unwrap()
}

fn request(dir: &std::path::Path, before: i64) -> ArchiveRequest {
    ArchiveRequest {
        before: Before::Position(before),
        dir: dir.to_path_buf(),
    }
}

async fn archived_events_are_in_verified_segments_and_out_of_the_live_log(h: Harness) {
    let store = h.store().await;
    ten_streams(&store).await;
    let before = whole_log(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let wish = before[60].position.0;

    let report = store
        .archives()
        .archive(&request(dir.path(), wish), &NoSnapshots, &|_| {})
        .await
        .unwrap();

    let through = report.through.expect("something was archived");
    assert!(through < wish, "only events before the wish leave");
    let archived: Vec<_> = before
        .iter()
        .filter(|e| e.position.0 <= through)
        .cloned()
        .collect();
    assert!(!archived.is_empty());
    assert_eq!(report.archived, archived.len() as u64);
    assert_eq!(report.removed, archived.len() as u64);
    // The live log is exactly the rest.
    let live = whole_log(&store).await;
    assert_eq!(live, before[archived.len()..].to_vec());
    // The segments hold exactly what left, as stored, and read back whole.
    let manifest = Manifest::load(dir.path()).unwrap();
    assert_eq!(
        manifest.segments,
        store.archives().segments().await.unwrap()
    );
    let mut read_back = Vec::new();
    for info in &manifest.segments {
        read_back.extend(segment::read(dir.path(), info).unwrap().0);
    }
    assert_eq!(read_back, archived);
    // Appends go on, with each stream's versions where they were.
    let s = before[0].stream_id;
    let appended = store
        .append(vec![to(s, ExpectedVersion::Exact(10), some_events(1))])
        .await
        .unwrap();
    assert_eq!(appended[0].sequence, 11);
    assert!(appended[0].position > before.last().unwrap().position);
}

async fn a_corrupt_segment_is_refused_and_nothing_live_is_touched(h: Harness) {
    let store = h.store().await;
    ten_streams(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let first = whole_log(&store).await[40].position.0;
    store
        .archives()
        .archive(&request(dir.path(), first), &NoSnapshots, &|_| {})
        .await
        .unwrap();
    let live = whole_log(&store).await;
    let segments = store.archives().segments().await.unwrap();
    let file = dir.path().join(&segments[0].file);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();

    let next = live[40].position.0;
    let refused = store
        .archives()
        .archive(&request(dir.path(), next), &NoSnapshots, &|_| {})
        .await;

    match refused {
        Err(StoreError::InvalidInput(msg)) => {
            assert!(
                msg.contains("segment 0001") && msg.contains("corrupt"),
                "{msg}"
            )
        }
        other => panic!("expected the corrupt segment to be refused, got {other:?}"),
    }
    assert_eq!(whole_log(&store).await, live);
    assert_eq!(store.archives().segments().await.unwrap(), segments);
}

/// Counts a stream's events: the state after n events is {"n": n}.
struct Counting;

impl Snapshotter for Counting {
    fn snapshot(&self, _: Uuid, prior: Option<&Value>, events: &[RecordedEvent]) -> Option<Value> {
        let before = prior.and_then(|p| p["n"].as_u64()).unwrap_or(0);
        Some(json!({ "n": before + events.len() as u64 }))
    }
}

async fn each_cut_stream_gets_its_snapshot_and_its_note(h: Harness) {
    let store = h.store().await;
    let streams = ten_streams(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let log = whole_log(&store).await;
    for wish in [log[30].position.0, log[75].position.0] {
        store
            .archives()
            .archive(&request(dir.path(), wish), &Counting, &|_| {})
            .await
            .unwrap();
    }
    let live = whole_log(&store).await;
    for s in streams {
        let archived = store.archives().stream(s).await.unwrap().expect("cut");
        let first_live = live.iter().find(|e| e.stream_id == s).unwrap().sequence;
        assert_eq!(
            archived.version,
            first_live - 1,
            "a prefix of the stream left"
        );
        assert_eq!(archived.state, Some(json!({ "n": archived.version })));
        let segments = store.archives().segments().await.unwrap();
        assert!(segments.iter().any(|g| g.segment == archived.segment));
        assert!(
            archived
                .note()
                .starts_with(&format!("{} earlier events archived on ", archived.version))
        );
        assert!(
            archived
                .note()
                .ends_with(&format!("in segment {:04}", archived.segment))
        );
    }
}

async fn the_newest_event_stays_live(h: Harness) {
    let store = h.store().await;
    ten_streams(&store).await;
    let head = store.head().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    store
        .archives()
        .archive(&request(dir.path(), i64::MAX), &NoSnapshots, &|_| {})
        .await
        .unwrap();
    assert_eq!(store.head().await.unwrap(), head);
    assert!(!whole_log(&store).await.is_empty());
}

async fn a_second_archive_needs_the_directory_of_the_first(h: Harness) {
    let store = h.store().await;
    ten_streams(&store).await;
    let log = whole_log(&store).await;
    let first = tempfile::tempdir().unwrap();
    store
        .archives()
        .archive(
            &request(first.path(), log[40].position.0),
            &NoSnapshots,
            &|_| {},
        )
        .await
        .unwrap();
    let live = whole_log(&store).await;
    let other = tempfile::tempdir().unwrap();
    let refused = store
        .archives()
        .archive(
            &request(other.path(), log[80].position.0),
            &NoSnapshots,
            &|_| {},
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::InvalidInput(_))),
        "{refused:?}"
    );
    assert_eq!(whole_log(&store).await, live);
}
