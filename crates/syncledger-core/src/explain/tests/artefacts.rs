//! Lines for events that leave parts empty: a dead letter retry's decision (no diff), events
//! without a reason, a redirect that names no record. Each must read as a sentence, with no empty
//! brackets or dangling punctuation.

use super::*;

/// What an empty part leaves behind in a line built from templates.
fn assert_reads_well(line: &str) {
    for artefact in ["()", "( ", " )", "  ", ": ;", ":;", " :", " ,"] {
        assert!(!line.contains(artefact), "{artefact:?} in {line:?}");
    }
    assert!(
        !line.starts_with(' ') && !line.ends_with(' ') && !line.ends_with(':'),
        "{line:?}"
    );
}

/// The phone change's write dead-letters; a person retries it and the retry succeeds. The
/// retry's decision is recorded the way the engine records it: same kind, empty diff.
fn retried_letter(op: WriteOp) -> (Stream, Uuid) {
    let mut s = phone_change();
    let refused = Uuid::from_u128(0xabcdef12_0000_0000_0000_000000000000);
    s.push(SyncEvent::WriteFailed(WriteFailed {
        request_id: refused,
        target_system: "erp".into(),
        status: Some(422),
        body: Some("phone is invalid".into()),
        will_retry: false,
        attempt: 1,
        retry_at: None,
    }));
    let letter = s.push(SyncEvent::DeadLettered(DeadLettered {
        request_id: Some(refused),
        target_system: Some("erp".into()),
        reason: "the target refused the write".into(),
        request: crate::events::refused_update(refused),
        status: Some(422),
        body: Some("phone is invalid".into()),
    }));
    let retried = s.push(SyncEvent::DeadLetterRetried(DeadLetterRetried {
        by: "admin".into(),
        dead_letter_id: letter,
        request: None,
    }));
    let again = Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000);
    s.push(SyncEvent::DecisionMade(DecisionMade {
        trigger_id: Some(retried),
        kind: match op {
            WriteOp::Create => DecisionKind::Create,
            WriteOp::Update => DecisionKind::Update,
            WriteOp::Delete => DecisionKind::Delete,
        },
        source_system: "erp".into(),
        target_system: "erp".into(),
        basis: Basis::RetryWrite {
            dead_letter_id: letter,
        },
        diff: vec![],
        request_id: Some(again),
        write: None,
    }));
    s.push(SyncEvent::WriteRequested(WriteRequested {
        if_match: None,
        request_id: again,
        target_system: "erp".into(),
        collection: "customers".into(),
        op,
        record_id: (op != WriteOp::Create).then(|| "E7".into()),
        fields: fields(&[("phone", json!("555-0101"))]),
        match_fingerprint: None,
    }));
    s.push(SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id: again,
        target_system: "erp".into(),
        record_id: "E7".into(),
        fields: fields(&[("email", json!("a@x.io")), ("phone", json!("555-0101"))]),
        resolution: Resolution::Response,
    }));
    (s, letter)
}

#[test]
fn a_retried_dead_letter_says_what_it_writes_again() {
    let (s, letter) = retried_letter(WriteOp::Update);
    let lines = explain_stream("customer", &s.0);
    for line in &lines {
        assert_reads_well(line);
    }
    assert_eq!(
        lines[9],
        format!(
            "decided to update the erp customer with phone=555-0101: retry of dead letter \
             {letter} asked by a person"
        )
    );
    assert_eq!(
        lines[11],
        format!(
            "erp customer E7: phone written 555-0101 because admin retried dead letter {letter}"
        )
    );

    // On its own (the global log, a subscription) the write is not at hand: no field is named.
    let alone = explain_stream("customer", std::slice::from_ref(&s.0[9]));
    assert_eq!(
        alone,
        vec![format!(
            "decided to update the erp customer: retry of dead letter {letter} asked by a person"
        )]
    );
}

#[test]
fn a_retried_create_does_not_claim_to_have_no_fields() {
    let (s, letter) = retried_letter(WriteOp::Create);
    let lines = explain_stream("customer", &s.0);
    assert_eq!(
        lines[9],
        format!(
            "decided to create an erp customer with phone=555-0101: retry of dead letter \
             {letter} asked by a person"
        )
    );
    let alone = explain_stream("customer", std::slice::from_ref(&s.0[9]));
    assert_reads_well(&alone[0]);
    assert!(!alone[0].contains("no fields"), "{alone:?}");
    assert!(alone[0].starts_with("decided to create an erp customer: retry of dead letter"));
}

#[test]
fn events_without_a_reason_or_a_record_still_read_as_sentences() {
    let mut s = Stream(vec![]);
    s.push(SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: "erp".into(),
        collection: "customers".into(),
        record_id: "E7".into(),
        reason: String::new(),
    }));
    let letter = s.push(SyncEvent::DeadLettered(DeadLettered {
        request_id: None,
        target_system: Some("erp".into()),
        reason: " ".into(),
        request: crate::events::DeadLetterRequest::Unreadable {
            recorded: json!({}),
        },
        status: Some(422),
        body: Some(String::new()),
    }));
    s.push(SyncEvent::RedirectedTo(RedirectedTo {
        trigger_id: None,
        entity_id: Uuid::from_u128(0xe2),
        system: String::new(),
        record_id: String::new(),
        basis: Basis::Recorded {
            reason: "this record belongs to the other entity".into(),
        },
    }));
    s.push(SyncEvent::DecisionMade(DecisionMade {
        trigger_id: None,
        kind: DecisionKind::Skip,
        source_system: String::new(),
        target_system: String::new(),
        basis: Basis::Recorded {
            reason: String::new(),
        },
        diff: vec![],
        request_id: None,
        write: None,
    }));
    s.push(SyncEvent::RecordUnlinked(RecordUnlinked {
        system: "erp".into(),
        record_id: "E7".into(),
        reason: String::new(),
    }));
    let lines = explain_stream("customer", &s.0);
    for line in &lines {
        assert_reads_well(line);
    }
    assert_eq!(
        lines,
        vec![
            "linked erp customer E7".to_string(),
            format!("gave up writing to erp (HTTP 422); kept as dead letter {letter}"),
            format!(
                "handed this work over to entity {} (this record belongs to the other entity)",
                Uuid::from_u128(0xe2)
            ),
            "decided to do nothing".to_string(),
            "unlinked erp customer E7".to_string(),
        ]
    );
}
