//! Entity leases.

use std::time::Duration;

use uuid::Uuid;

use crate::both;
use crate::harness::Harness;

both!(
    a_lease_has_one_holder_until_released_or_expired,
    racing_workers_get_one_lease,
    leases_are_claimed_and_released_in_batches
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

async fn leases_are_claimed_and_released_in_batches(h: Harness) {
    let store = h.store().await;
    let [e1, e2, e3, e4] = [(); 4].map(|_| Uuid::now_v7());
    let mut got = store.claim_leases(&[e1, e2, e3], "w1", LONG).await.unwrap();
    got.sort();
    let mut want = vec![e1, e2, e3];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        store.claim_leases(&[e2, e4], "w2", LONG).await.unwrap(),
        [e4],
        "held leases are not taken"
    );
    assert_eq!(store.release_leases(&[e1, e2], "w2").await.unwrap(), 0);
    assert_eq!(store.release_leases(&[e1, e2], "w1").await.unwrap(), 2);
    let mut got = store.claim_leases(&[e1, e2, e3], "w2", LONG).await.unwrap();
    got.sort();
    let mut want = vec![e1, e2];
    want.sort();
    assert_eq!(got, want, "released leases are free, e3 is still w1's");
    assert!(!store.try_lease(e1, "w1", LONG).await.unwrap());
    // An expired lease is taken; the holder's own claim renews.
    assert_eq!(
        store
            .claim_leases(&[e3], "w1", Duration::ZERO)
            .await
            .unwrap(),
        [e3]
    );
    assert_eq!(store.claim_leases(&[e3], "w2", LONG).await.unwrap(), [e3]);
    assert_eq!(store.claim_leases(&[e3], "w2", LONG).await.unwrap(), [e3]);
    assert!(
        store
            .claim_leases(&[], "w2", LONG)
            .await
            .unwrap()
            .is_empty()
    );
}
