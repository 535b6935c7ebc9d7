//! `replayDecisions`: today's decision code over recorded history, with a rule that changed.

use serde_json::json;
use syncledger_core::events::Action;

use crate::both;
use crate::recorder::Recorder;
use crate::support::{ADMIN, App, CONFIG, codes, config, context_with};

const REPLAY: &str = r#"mutation($from: Int!, $to: Int!) {
    replayDecisions(tenant: "acme", fromPosition: $from, toPosition: $to) {
        entitiesExamined
        differences { entityId position triggerId recorded { kind targetSystem changes } replayed { kind targetSystem changes } }
    } }"#;

async fn a_required_field_added_later_shows_the_creates_it_would_have_deferred(app: App) {
    let recorder = Recorder::new(&app.store, app.context.config(), "acme");
    let no_email = json!({"name": "Cy", "email": null, "phone": "555-0400"});
    let entity = recorder
        .sync(
            "crm",
            "c-7",
            Action::Created,
            "crm-evt-70",
            Some(no_email),
            "E70",
        )
        .await;
    let with_email = json!({"name": "Di", "email": "di@acme.io", "phone": "555-0500"});
    recorder
        .sync(
            "crm",
            "c-8",
            Action::Created,
            "crm-evt-80",
            Some(with_email),
            "E80",
        )
        .await;
    let head = app.store.head().await.unwrap().0;

    // Recorded with today's rules: nothing differs.
    let data = app.admin(REPLAY, json!({"from": 0, "to": head})).await;
    assert_eq!(data["replayDecisions"]["entitiesExamined"], 2);
    assert_eq!(data["replayDecisions"]["differences"], json!([]));

    // The erp now requires an email: the create of c-7 would have waited.
    let stricter = CONFIG.replace(
        "fields = { name = \"name\", email = \"email_address\", phone = \"phones[0]\" }",
        "fields = { name = \"name\", email = \"email_address\", phone = \"phones[0]\" }\nrequired = [\"email\"]",
    );
    assert_ne!(stricter, *CONFIG);
    let (context, _) = context_with(&app.store, config(&stricter));
    let stricter_app = App {
        router: syncledger_graphql::routes(context.clone()),
        context,
        ..app
    };
    let data = stricter_app
        .admin(REPLAY, json!({"from": 0, "to": head}))
        .await;
    let differences = data["replayDecisions"]["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{differences:#?}");
    let d = &differences[0];
    assert_eq!(d["entityId"], json!(entity.to_string()));
    assert_eq!(
        d["recorded"],
        json!([{"kind": "create", "targetSystem": "erp", "changes": ["name=\"Cy\"", "phone=\"555-0400\""]}])
    );
    assert_eq!(
        d["replayed"],
        json!([{"kind": "deferred", "targetSystem": "erp", "changes": []}])
    );
    assert_eq!(
        stricter_app.store.head().await.unwrap().0,
        head,
        "a replay writes nothing"
    );

    // A range after that decision finds nothing to replay there.
    let position = d["position"].as_i64().unwrap();
    let data = stricter_app
        .admin(REPLAY, json!({"from": position + 1, "to": head}))
        .await;
    assert_eq!(data["replayDecisions"]["differences"], json!([]));

    let (_, body) = stricter_app
        .gql(Some(ADMIN), REPLAY, json!({"from": 5, "to": 4}))
        .await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
}

both!(a_required_field_added_later_shows_the_creates_it_would_have_deferred,);
