//! Conditional writes (CONTRACT §1) through the real HTTP connector and in process: a system
//! with ETags sends one with every record and refuses a write on another version with 412; a
//! system without them ignores `If-Match`.

use serde_json::json;
use syncledger_connector::{Connector, ConnectorError};
use syncledger_sim::{Op, SimSystem};

use crate::support::crm;

#[tokio::test]
async fn with_etags_a_write_on_a_stale_version_is_refused_with_412_and_changes_nothing() {
    let (sim, http) = crm().await;
    sim.set_etags(true);
    let ada = sim.user_create("contacts", json!({"full_name": "Ada"}));
    let seen = http.get("contacts", &ada.id).await.unwrap().unwrap();
    let first = seen.etag.clone().expect("a GET answer carries the ETag");
    assert_eq!(sim.etag("contacts", &ada.id).as_ref(), Some(&first));

    // A user edits between the ledger's fetch and its write.
    sim.user_update("contacts", &ada.id, json!({"full_name": "Ada L."}));
    let refused = http
        .update_if(
            "contacts",
            &ada.id,
            &json!({"full_name": "A"}),
            Some(&first),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ConnectorError::PreconditionFailed { .. }),
        "{refused:?}"
    );
    assert_eq!(refused.status(), Some(412));
    assert!(!refused.is_transient());
    assert_eq!(
        sim.record("contacts", &ada.id).unwrap().body["full_name"],
        "Ada L."
    );
    let deleted = http.delete_if("contacts", &ada.id, Some(&first)).await;
    assert!(matches!(
        deleted,
        Err(ConnectorError::PreconditionFailed { .. })
    ));
    assert_eq!(sim.count("contacts"), 1);

    // On the current version the write lands and answers the next ETag.
    let current = sim.etag("contacts", &ada.id).unwrap();
    let written = http
        .update_if(
            "contacts",
            &ada.id,
            &json!({"full_name": "A"}),
            Some(&current),
        )
        .await
        .unwrap();
    let next = written.etag.expect("a PATCH answer carries the ETag");
    assert_ne!(next, current);
    let sent: Vec<_> = sim
        .request_log()
        .into_iter()
        .filter(|r| r.op == Op::Update)
        .map(|r| r.headers.get("if-match").cloned())
        .collect();
    assert_eq!(sent, [Some(first.clone()), Some(current)]);
    http.delete_if("contacts", &ada.id, Some(&next))
        .await
        .unwrap();
    assert_eq!(sim.count("contacts"), 0);
}

#[tokio::test]
async fn without_etags_no_etag_is_sent_and_if_match_is_ignored() {
    let (sim, http) = crm().await;
    let ada = sim.user_create("contacts", json!({"full_name": "Ada"}));
    assert_eq!(
        http.get("contacts", &ada.id).await.unwrap().unwrap().etag,
        None
    );
    let written = http
        .update_if(
            "contacts",
            &ada.id,
            &json!({"full_name": "A"}),
            Some("\"v0\""),
        )
        .await
        .unwrap();
    assert_eq!(written.etag, None);
    assert_eq!(written.body["full_name"], "A");
}

#[tokio::test]
async fn in_process_the_same_versions_and_refusals_hold() {
    let sim = SimSystem::new("E");
    sim.set_etags(true);
    let rec = sim.user_create("customers", json!({"name": "B"}));
    let seen = sim
        .get("customers", &rec.id)
        .await
        .unwrap()
        .unwrap()
        .etag
        .unwrap();
    sim.user_update("customers", &rec.id, json!({"name": "C"}));
    let refused = sim
        .update_if("customers", &rec.id, &json!({"name": "D"}), Some(&seen))
        .await;
    assert!(matches!(
        refused,
        Err(ConnectorError::PreconditionFailed { .. })
    ));
    let created = sim
        .create("customers", &json!({"name": "N"}), "k")
        .await
        .unwrap();
    assert!(created.etag.is_some(), "a create's answer carries the ETag");
}
