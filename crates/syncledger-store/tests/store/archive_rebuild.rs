//! `rebuild --from-archive`: the archive's segments, then the live log, give the projections the
//! whole log gave before archiving. Checked over seeded runs of random appends (streams,
//! tenants, event types, deletions, sums), each round archiving at a random point, on both
//! backends; and a rebuild without the archive is refused once events were archived.

use serde_json::json;
use syncledger_core::log::ExpectedVersion;
use syncledger_store::archive::{ArchiveRequest, Before, NoSnapshots};
use syncledger_store::{Store, StoreError};
use uuid::Uuid;

use crate::both;
use crate::fixtures::{event_for, to};
use crate::harness::Harness;
use crate::projections::ledger_options;

both!(rebuilding_from_the_archive_gives_the_projections_of_before);

const PROJECTIONS: [&str; 2] = ["ledger_inline", "ledger_later"];

/// A small deterministic generator (xorshift), so a failing seed replays.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn random_appends(store: &Store, rng: &mut Seeded, streams: &[Uuid], n: usize) {
    for _ in 0..n {
        let stream = streams[rng.below(streams.len() as u64) as usize];
        let tenant = ["acme", "other"][rng.below(2) as usize];
        let events = (0..=rng.below(3))
            .map(|_| {
                let kind = ["noted", "changed", "deleted"][rng.below(3) as usize];
                event_for(tenant, kind, json!({ "amount": rng.below(10) }))
            })
            .collect();
        store
            .append(vec![to(stream, ExpectedVersion::Any, events)])
            .await
            .unwrap();
    }
}

async fn projections(store: &Store) -> Vec<Vec<syncledger_core::projection::Row>> {
    store.catch_up_once().await.unwrap();
    let mut all = Vec::new();
    for name in PROJECTIONS {
        all.push(store.all_rows(name).await.unwrap());
    }
    all
}

async fn rebuilding_from_the_archive_gives_the_projections_of_before(h: Harness) {
    let store = h.open(ledger_options(7)).await;
    store.archives().set_partition_width(8).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for seed in [0x9e37_79b9_u64, 42, 7_777, 123_456_789] {
        let mut rng = Seeded(seed);
        let streams: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
        random_appends(&store, &mut rng, &streams, 25).await;
        let before = projections(&store).await;
        let head = store.head().await.unwrap().0;
        let cut = head - rng.below(20) as i64;
        store
            .archives()
            .archive(
                &ArchiveRequest {
                    before: Before::Position(cut),
                    dir: dir.path().to_path_buf(),
                },
                &NoSnapshots,
                &|_| {},
            )
            .await
            .unwrap();
        if store.archives().segments().await.unwrap().is_empty() {
            continue;
        }
        let refused = store.rebuild(PROJECTIONS[1], |_| {}).await;
        assert!(
            matches!(refused, Err(StoreError::InvalidInput(_))),
            "seed {seed}: a rebuild without the archive is refused, got {refused:?}"
        );
        for name in PROJECTIONS {
            store
                .archives()
                .rebuild(name, dir.path(), |_| {})
                .await
                .unwrap();
        }
        assert_eq!(projections(&store).await, before, "seed {seed}");
    }
}
