//! The five calls of CONTRACT §1 through the real HTTP connector against the simulated system.

use serde_json::json;
use syncledger_connector::Connector;
use syncledger_sim::Op;

use crate::support::crm;

#[tokio::test]
async fn get_returns_the_record_or_none_on_404() {
    let (sim, http) = crm().await;
    let ada = sim.user_create("contacts", json!({"full_name": "Ada"}));

    let found = http.get("contacts", &ada.id).await.unwrap().unwrap();
    assert_eq!(found, ada);
    assert_eq!(found.body, json!({"id": "c-1", "full_name": "Ada"}));
    assert_eq!(http.get("contacts", "c-404").await.unwrap(), None);
}

#[tokio::test]
async fn create_sends_the_idempotency_key_and_the_same_key_creates_once() {
    let (sim, http) = crm().await;
    let body = json!({"full_name": "Ada", "email": "ada@example.com"});

    let first = http.create("contacts", &body, "decision-1").await.unwrap();
    let again = http.create("contacts", &body, "decision-1").await.unwrap();
    let other = http.create("contacts", &body, "decision-2").await.unwrap();

    assert_eq!(first.id, "c-1");
    assert_eq!(first.body["email"], "ada@example.com");
    assert_eq!(again, first);
    assert_eq!(other.id, "c-2");
    assert_eq!(sim.count("contacts"), 2);
    assert_eq!(sim.requests(Op::Create), 3);
    let keys: Vec<_> = sim
        .request_log()
        .into_iter()
        .map(|r| r.headers.get("idempotency-key").cloned())
        .collect();
    let expected = ["decision-1", "decision-1", "decision-2"].map(|k| Some(k.to_owned()));
    assert_eq!(keys, expected);
    // The replayed create changed nothing, so it announced nothing.
    assert_eq!(sim.drain_webhooks().len(), 2);
}

#[tokio::test]
async fn update_returns_the_whole_object() {
    let (sim, http) = crm().await;
    let ada = sim.user_create(
        "contacts",
        json!({"full_name": "Ada", "phone": "1", "email": "a@x"}),
    );

    let patched = http
        .update(
            "contacts",
            &ada.id,
            &json!({"full_name": "Ada L.", "phone": null}),
        )
        .await
        .unwrap();

    assert_eq!(
        patched.body,
        json!({"id": "c-1", "full_name": "Ada L.", "email": "a@x"})
    );
    assert_eq!(sim.record("contacts", &ada.id).unwrap(), patched);
    let missing = http
        .update("contacts", "c-9", &json!({"a": 1}))
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert!(!missing.is_transient());
}

#[tokio::test]
async fn delete_answers_204_and_a_404_counts_as_done() {
    let (sim, http) = crm().await;
    let ada = sim.user_create("contacts", json!({"full_name": "Ada"}));

    http.delete("contacts", &ada.id).await.unwrap();
    assert_eq!(sim.count("contacts"), 0);
    http.delete("contacts", &ada.id).await.unwrap();
    assert_eq!(sim.requests(Op::Delete), 2);
}

#[tokio::test]
async fn list_pages_through_the_collection_with_cursors() {
    let (sim, http) = crm().await;
    for n in 0..7 {
        sim.user_create("contacts", json!({"n": n}));
    }
    sim.user_create("other", json!({}));

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = http.list("contacts", 3, cursor.as_deref()).await.unwrap();
        pages += 1;
        seen.extend(
            page.items
                .into_iter()
                .map(|r| r.body["n"].as_i64().unwrap()),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).collect::<Vec<_>>());
    assert_eq!(pages, 3);
    let bad = http
        .list("contacts", 3, Some("not-a-cursor"))
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(400));
}

#[tokio::test]
async fn ids_with_reserved_characters_stay_one_path_segment() {
    let (sim, http) = crm().await;
    assert_eq!(http.get("contacts", "a/b?c").await.unwrap(), None);
    let log = sim.request_log();
    assert_eq!(log[0].record_id.as_deref(), Some("a/b?c"));
}
