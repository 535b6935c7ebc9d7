//! Entity leases.

use std::time::Duration;

use uuid::Uuid;

use crate::both;
use crate::harness::Harness;

both!(
    a_lease_has_one_holder_until_released_or_expired,
    racing_workers_get_one_lease
);

const LONG: Duration = Duration::from_secs(600);

async fn a_lease_has_one_holder_until_released_or_expired(h: Harness) {
    let store = h.store().await;
    let e = Uuid::now_v7();
    assert!(store.try_lease(e, "w1", LONG).await.unwrap());
    assert!(!store.try_lease(e, "w2", LONG).await.unwrap());
    assert!(
        store.try_lease(e, "w1", LONG).await.unwrap(),
        "the holder may take it again"
    );
    assert!(!store.renew_lease(e, "w2", LONG).await.unwrap());
    assert!(store.renew_lease(e, "w1", LONG).await.unwrap());
    assert!(!store.release_lease(e, "w2").await.unwrap());
    assert!(store.release_lease(e, "w1").await.unwrap());
    assert!(store.try_lease(e, "w2", Duration::ZERO).await.unwrap());
    // w2's lease expired the moment it was taken.
    assert!(store.try_lease(e, "w1", LONG).await.unwrap());
    assert!(!store.try_lease(e, "w2", LONG).await.unwrap());
    assert!(
        store.try_lease(Uuid::now_v7(), "w2", LONG).await.unwrap(),
        "leases are per entity"
    );
}

async fn racing_workers_get_one_lease(h: Harness) {
    let store = h.store().await;
    let e = Uuid::now_v7();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.try_lease(e, &format!("w{i}"), LONG).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}
