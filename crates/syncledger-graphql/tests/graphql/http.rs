//! GraphQL over HTTP: media types, status codes, GET for queries only, GraphiQL for browsers;
//! and the limits that keep one request cheap.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::both;
use crate::support::{ADMIN, App, codes};

fn post(body: &str, content_type: &str, accept: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, content_type)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

fn get(query_string: &str, accept: &str) -> Request<Body> {
    Request::get(format!("/graphql?{query_string}"))
        .header(header::ACCEPT, accept)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap()
}

async fn a_query_runs_over_get_and_post_with_the_accepted_media_type(app: App) {
    let body = json!({"query": "{ projections { name } }"}).to_string();
    let (status, headers, _) = app
        .send_raw(post(
            &body,
            "application/json",
            Some("application/graphql-response+json"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );

    let (status, headers, raw) = app
        .send_raw(post(&body, "application/json; charset=utf-8", None))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let value: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        value["data"]["projections"].as_array().unwrap().len(),
        syncledger_core::projections::NAMES.len()
    );

    let (status, value) = app
        .send(get(
            "query=%7B%20projections%20%7B%20name%20%7D%20%7D",
            "application/json",
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        value["data"]["projections"].as_array().unwrap().len(),
        syncledger_core::projections::NAMES.len()
    );
}

async fn a_mutation_over_get_is_refused_with_405(app: App) {
    let q = "query=mutation%20%7B%20rebuildProjection(name%3A%20%22entity_state%22)%20%7B%20name%20%7D%20%7D";
    let (status, headers, _) = app.send_raw(get(q, "application/json")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "POST");
}

async fn malformed_requests_get_4xx_statuses(app: App) {
    let (status, body) = app.send(post("{not json", "application/json", None)).await;
    assert_eq!(
        (status, codes(&body)),
        (StatusCode::BAD_REQUEST, vec!["BAD_REQUEST".to_string()])
    );
    let (status, _) = app
        .send(post(r#"{"variables": {}}"#, "application/json", None))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a body without a query");
    let (status, _) = app
        .send(post("{ projections { name } }", "text/plain", None))
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body = json!({"query": "{ projections { name } }"}).to_string();
    let (status, _) = app
        .send(post(&body, "application/json", Some("text/csv")))
        .await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
}

async fn an_invalid_document_is_400_for_graphql_response_json_and_200_for_json(app: App) {
    let body = json!({"query": "{ noSuchField }"}).to_string();
    let (status, value) = app
        .send(post(
            &body,
            "application/json",
            Some("application/graphql-response+json"),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(codes(&value), vec!["GRAPHQL_VALIDATION_FAILED"]);
    let (status, value) = app
        .send(post(&body, "application/json", Some("application/json")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(codes(&value), vec!["GRAPHQL_VALIDATION_FAILED"]);

    let body = json!({"query": "{ projections { name "}).to_string();
    let (status, value) = app
        .send(post(
            &body,
            "application/json",
            Some("application/graphql-response+json"),
        ))
        .await;
    assert_eq!(
        (status, codes(&value)),
        (
            StatusCode::BAD_REQUEST,
            vec!["GRAPHQL_PARSE_FAILED".to_string()]
        )
    );
}

async fn a_browser_gets_graphiql_without_a_token(app: App) {
    let request = Request::get("/graphql")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = app.send_raw(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("graphiql") && html.contains("/graphiql/assets/boot.js"));
}

async fn a_query_nested_too_deep_is_refused(app: App) {
    let mut selection = String::from("name");
    for _ in 0..syncledger_graphql::MAX_DEPTH {
        selection = format!("ofType {{ {selection} }}");
    }
    let query = format!("{{ __schema {{ queryType {{ {selection} }} }} }}");
    let (_, body) = app.gql(Some(ADMIN), &query, json!({})).await;
    assert_eq!(codes(&body), vec!["DEPTH_LIMIT_EXCEEDED"]);

    let data = app.admin(INTROSPECTION, json!({})).await;
    assert!(
        data["__schema"]["types"].as_array().unwrap().len() > 10,
        "GraphiQL's introspection still runs"
    );
}

async fn a_query_too_complex_is_refused_and_large_pages_are_bad_input(app: App) {
    let fields = "position sequence type tenant recordedAt eventId causationId correlationId payload explanation";
    let aliases: Vec<String> = (0..4)
        .map(|i| format!("a{i}: events(first: 200) {{ edges {{ node {{ {fields} }} }} }}"))
        .collect();
    let (_, body) = app
        .gql(
            Some(ADMIN),
            &format!("{{ {} }}", aliases.join(" ")),
            json!({}),
        )
        .await;
    assert_eq!(codes(&body), vec!["COMPLEXITY_LIMIT_EXCEEDED"]);

    let one = format!("{{ events(first: 200) {{ edges {{ node {{ {fields} }} }} }} }}");
    app.admin(&one, json!({})).await;

    let (_, body) = app
        .gql(
            Some(ADMIN),
            "{ deadLetters(first: 201) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
    let (_, body) = app
        .gql(
            Some(ADMIN),
            r#"{ deadLetters(after: "garbage!") { edges { cursor } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
    let (_, body) = app
        .gql(
            Some(ADMIN),
            r#"{ entity(id: "not-a-uuid") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
}

/// The introspection query GraphiQL sends (graphql-js `getIntrospectionQuery`, with the deepest
/// type references any version asks for).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"#;

both!(
    a_query_runs_over_get_and_post_with_the_accepted_media_type,
    a_mutation_over_get_is_refused_with_405,
    malformed_requests_get_4xx_statuses,
    an_invalid_document_is_400_for_graphql_response_json_and_200_for_json,
    a_browser_gets_graphiql_without_a_token,
    a_query_nested_too_deep_is_refused,
    a_query_too_complex_is_refused_and_large_pages_are_bad_input,
);
