//! Ids are data, never path: against a fake system that records the raw path of every request,
//! no id (however hostile) and no answer (however hostile) makes the connector send a request
//! anywhere but `collection` or `collection/<one encoded id>`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use proptest::prelude::*;
use serde_json::json;
use syncledger_connector::{Connector, ConnectorError};

use crate::support::{config, connector};

/// Every request's method and raw path (still percent-encoded), and the answer to give.
#[derive(Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<(String, String)>>>,
    /// The body of every answer: 200 (201 for a POST) with this JSON.
    answer: Arc<Mutex<serde_json::Value>>,
}

impl Recorder {
    fn paths(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

async fn fake_system(answer: serde_json::Value) -> (Recorder, String) {
    let recorder = Recorder {
        seen: Arc::default(),
        answer: Arc::new(Mutex::new(answer)),
    };
    let r = recorder.clone();
    let app = Router::new().fallback(move |request: Request| {
        let r = r.clone();
        async move {
            let path = request.uri().path().to_string();
            let method = request.method().to_string();
            r.seen.lock().unwrap().push((method.clone(), path));
            let status = if method == "POST" {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let body = r.answer.lock().unwrap().clone();
            (status, axum::Json(body)).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (recorder, format!("http://{addr}"))
}

/// The path segments of a request path, checked to be exactly `contacts` and at most one more.
fn record_segment(path: &str) -> Option<Option<String>> {
    let mut segments = path.strip_prefix('/')?.split('/');
    if segments.next()? != "contacts" {
        return None;
    }
    let id = segments.next().map(str::to_string);
    segments.next().is_none().then_some(id)
}

#[tokio::test]
async fn dot_segments_and_control_characters_never_become_a_request() {
    let (recorder, base) = fake_system(json!({"id": "c-1"})).await;
    let http = connector(config(&base));
    for id in ["..", ".", "..\t", "c-1\t", "c-1\r\n", ""] {
        let got = http.get("contacts", id).await;
        assert!(
            matches!(got, Err(ConnectorError::Invalid(_))),
            "{id:?}: {got:?}"
        );
        let patch = http.update("contacts", id, &json!({"a": 1})).await;
        assert!(matches!(patch, Err(ConnectorError::Invalid(_))), "{id:?}");
        let delete = http.delete("contacts", id).await;
        assert!(matches!(delete, Err(ConnectorError::Invalid(_))), "{id:?}");
    }
    assert_eq!(recorder.paths(), Vec::<(String, String)>::new());
}

#[tokio::test]
async fn an_id_holding_path_characters_is_one_encoded_segment() {
    let (recorder, base) = fake_system(json!({"id": "a/../b?c#d"})).await;
    let http = connector(config(&base));
    let record = http.get("contacts", "a/../b?c#d").await.unwrap().unwrap();
    assert_eq!(record.id, "a/../b?c#d");
    assert_eq!(
        recorder.paths(),
        vec![(
            "GET".to_string(),
            "/contacts/a%2F..%2Fb%3Fc%23d".to_string()
        )]
    );
}

#[tokio::test]
async fn a_create_answered_with_a_dot_segment_id_is_an_invalid_answer() {
    let (recorder, base) = fake_system(json!({"id": ".."})).await;
    let http = connector(config(&base));
    let created = http.create("contacts", &json!({"a": 1}), "key-1").await;
    assert!(
        matches!(&created, Err(ConnectorError::Invalid(reason)) if reason.contains("dot segment")),
        "{created:?}"
    );
    // The one request made was the POST to the collection.
    assert_eq!(
        recorder.paths(),
        vec![("POST".to_string(), "/contacts".to_string())]
    );
}

#[tokio::test]
async fn an_overlong_id_is_refused_before_any_request() {
    let (recorder, base) = fake_system(json!({})).await;
    let http = connector(config(&base));
    let long = "x".repeat(1025);
    assert!(matches!(
        http.get("contacts", &long).await,
        Err(ConnectorError::Invalid(_))
    ));
    assert!(recorder.paths().is_empty());
}

#[tokio::test]
async fn a_listing_leaves_out_a_record_with_a_hostile_id() {
    let answer =
        json!({"items": [{"id": "c-1"}, {"id": ".."}, {"id": "c-2\t"}], "next_cursor": null});
    let (_, base) = fake_system(answer).await;
    let http = connector(config(&base));
    let page = http.list("contacts", 10, None).await.unwrap();
    let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["c-1"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the id, every request that leaves is `contacts` or `contacts/<one segment>`,
    /// and that segment decodes back to the id.
    #[test]
    fn no_request_leaves_the_collection_or_its_one_record(
        id in "\\PC{0,24}|[./%?#\\t\\r\\n a-z]{0,8}",
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (recorder, base) = fake_system(json!({"id": id.clone()})).await;
            let http = connector(config(&base));
            let _ = http.get("contacts", &id).await;
            let _ = http.update("contacts", &id, &json!({"a": 1})).await;
            let _ = http.delete("contacts", &id).await;
            let _ = http.create("contacts", &json!({"a": 1}), "k").await;
            for (method, path) in recorder.paths() {
                let segment = record_segment(&path);
                prop_assert!(segment.is_some(), "{method} {path}");
                match (method.as_str(), segment.flatten()) {
                    ("POST", None) => {}
                    ("POST", Some(_)) => prop_assert!(false, "a POST to a record: {path}"),
                    (_, None) => prop_assert!(false, "{method} without a record segment: {path}"),
                    (_, Some(segment)) => {
                        let decoded = percent_encoding::percent_decode_str(&segment)
                            .decode_utf8()
                            .unwrap()
                            .into_owned();
                        prop_assert_eq!(&decoded, &id);
                    }
                }
            }
            Ok(())
        })?;
    }
}
