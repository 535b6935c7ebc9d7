//! Reading a system's answer the way CONTRACT §1 defines it, in one place.
//!
//! Both the HTTP connector and the in-process simulated system (the `syncledger-sim` crate)
//! produce an [`Answer`] (status, `Retry-After`, body) and hand it to the functions here, so "what
//! does a 404 on DELETE mean" or "is a 503 transient" is decided identically whether the bytes
//! crossed a socket or not. Public for that reason: anything that stands in for a connected
//! system reads its answers here rather than again.

use std::time::Duration;

use serde_json::Value;

use crate::connector::kind_of;
use crate::error::truncate_body;
use crate::{ConnectorError, Page, Record};

/// A system's answer to one request, before interpretation.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
    /// The `ETag` header, when the system sent one (CONTRACT §1, conditional writes).
    pub etag: Option<String>,
}

/// `Retry-After` in seconds (the contract's form); anything else is ignored rather than trusted.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The error for an answer outside the success path: 429 and 5xx are transient, other 4xx final.
pub fn failure(answer: &Answer) -> ConnectorError {
    let body = truncate_body(&answer.body);
    match answer.status {
        412 => ConnectorError::PreconditionFailed { body },
        429 | 500..=599 => ConnectorError::Transient {
            status: Some(answer.status),
            body,
            retry_after: answer.retry_after,
        },
        400..=499 => ConnectorError::Permanent {
            status: answer.status,
            body,
        },
        // An `Invalid` reason reaches the log and the event log in clear, so it never quotes
        // the body: a system's answer may echo a person's values (docs/privacy.md).
        other => ConnectorError::Invalid(format!(
            "unexpected status {other} (a body of {} bytes)",
            answer.body.len()
        )),
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

fn parse_json(answer: &Answer) -> Result<Value, ConnectorError> {
    serde_json::from_str(&answer.body).map_err(|e| {
        ConnectorError::Invalid(format!(
            "status {} with a body of {} bytes that is not JSON ({e})",
            answer.status,
            answer.body.len()
        ))
    })
}

/// A record answer; when the request named the record, the answer must be that record.
pub fn record(answer: &Answer, expected_id: Option<&str>) -> Result<Record, ConnectorError> {
    if !is_success(answer.status) {
        return Err(failure(answer));
    }
    let mut record = Record::from_body(parse_json(answer)?)?;
    record.etag = answer.etag.clone();
    match expected_id {
        Some(expected) if record.id != expected => Err(ConnectorError::Invalid(format!(
            "asked for record {expected:?}, the system answered with {:?}",
            record.id
        ))),
        _ => Ok(record),
    }
}

/// The answer to a GET of one record: 404 is an answer, not a failure.
pub fn optional_record(
    answer: &Answer,
    expected_id: &str,
) -> Result<Option<Record>, ConnectorError> {
    if answer.status == 404 {
        return Ok(None);
    }
    record(answer, Some(expected_id)).map(Some)
}

/// The answer to a DELETE: any 2xx, or 404 because the record is already gone.
pub fn deleted(answer: &Answer) -> Result<(), ConnectorError> {
    if is_success(answer.status) || answer.status == 404 {
        Ok(())
    } else {
        Err(failure(answer))
    }
}

/// The answer to a listing: `{"items": [...], "next_cursor": "..." | null}`.
pub fn page(answer: &Answer) -> Result<Page, ConnectorError> {
    if !is_success(answer.status) {
        return Err(failure(answer));
    }
    let mut body = parse_json(answer)?;
    let Some(Value::Array(items)) = body.get_mut("items").map(Value::take) else {
        return Err(ConnectorError::Invalid(
            "a listing needs an \"items\" array".to_owned(),
        ));
    };
    let next_cursor = match body.get("next_cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) => Some(cursor.clone()),
        Some(other) => {
            return Err(ConnectorError::Invalid(format!(
                "\"next_cursor\" must be a string or null, got {}",
                kind_of(other)
            )));
        }
    };
    let items = items
        .into_iter()
        .map(Record::from_body)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.to_owned(),
            etag: None,
        }
    }

    #[test]
    fn statuses_are_classified_as_the_contract_says() {
        assert!(failure(&answer(429, "")).is_transient());
        assert!(failure(&answer(503, "")).is_transient());
        assert_eq!(
            failure(&answer(422, "bad email")),
            ConnectorError::Permanent {
                status: 422,
                body: "bad email".into()
            }
        );
        assert!(matches!(
            failure(&answer(302, "")),
            ConnectorError::Invalid(_)
        ));
    }

    #[test]
    fn a_get_answered_with_another_record_is_invalid() {
        let got = optional_record(&answer(200, r#"{"id":"c-2"}"#), "c-1");
        assert!(matches!(got, Err(ConnectorError::Invalid(_))));
        assert_eq!(optional_record(&answer(404, ""), "c-1"), Ok(None));
    }

    #[test]
    fn a_listing_needs_items_and_a_string_cursor() {
        let ok = page(&answer(200, r#"{"items":[{"id":"a"}],"next_cursor":"1"}"#)).unwrap();
        assert_eq!(ok.items.len(), 1);
        assert_eq!(ok.next_cursor.as_deref(), Some("1"));
        assert!(page(&answer(200, r#"{"next_cursor":null}"#)).is_err());
        assert!(page(&answer(200, r#"{"items":[],"next_cursor":3}"#)).is_err());
        assert!(page(&answer(200, "not json")).is_err());
    }

    #[test]
    fn retry_after_is_read_in_seconds_only() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    /// Bodies a hostile or broken system might send: JSON of any shape (records with odd ids,
    /// listings with odd items and cursors) or any text at all.
    fn hostile_body() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}|\\.\\.|\\.|c-1\t|".prop_map(Value::String),
        ];
        let json = leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("id|items|next_cursor|name|\\PC{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        prop_oneof![json.prop_map(|v| v.to_string()), any::<String>()]
    }

    proptest::proptest! {
        /// No answer a connected system can give (status, `Retry-After`, body) panics the reader;
        /// every one becomes a value or an error.
        #[test]
        fn no_answer_panics_the_reader(
            status in proptest::prelude::any::<u16>(),
            retry_after in proptest::option::of(proptest::prelude::any::<u64>()),
            body in hostile_body(),
            expected in "\\PC{0,8}",
        ) {
            let answer = Answer {
                status,
                retry_after: retry_after.map(Duration::from_secs),
                body,
                etag: None,
            };
            let _ = failure(&answer);
            let _ = record(&answer, None);
            let _ = record(&answer, Some(&expected));
            let _ = optional_record(&answer, &expected);
            let _ = deleted(&answer);
            let _ = page(&answer);
        }

        #[test]
        fn no_retry_after_header_panics_its_parser(value in "\\PC{0,30}") {
            let _ = parse_retry_after(&value);
        }
    }
}
