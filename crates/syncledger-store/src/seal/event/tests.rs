//! Format 2, an event's values in one blob, without a database.

use chrono::Utc;
use serde_json::{Map, json};
use syncledger_core::log::{EventMeta, Position};

use super::*;
use crate::seal::{MasterKey, PREFIX};

fn ring_with_key() -> (Keyring, Uuid, DataKey) {
    let ring = Keyring::new(MasterKey::generate());
    let (key_id, key) = (Uuid::now_v7(), DataKey::generate());
    ring.remember(key_id, Some(key.clone()));
    (ring, key_id, key)
}

fn event(event_type: &str, payload: Value) -> RecordedEvent {
    RecordedEvent {
        position: Position(1),
        stream_id: Uuid::now_v7(),
        sequence: 1,
        event_id: Uuid::now_v7(),
        event_type: event_type.into(),
        schema_version: 1,
        payload,
        meta: EventMeta {
            tenant: "acme".into(),
            correlation_id: None,
            causation_id: None,
        },
        recorded_at: Utc::now(),
    }
}

/// A fetch whose field names differ in length (PostgreSQL's jsonb orders them shortest first).
fn fetched() -> Value {
    json!({
        "system": "crm",
        "record_id": "c-1",
        "found": true,
        "fields": {
            "preferred_name_of_the_customer": "Annie",
            "email": "ann@example.com",
            "n": 7,
            "tags": ["a", {"b": null}],
            "gone": null,
        },
        "etag": null,
    })
}

fn decision() -> Value {
    json!({
        "kind": "update",
        "diff": [
            {"field": "email", "before": "old@example.com", "after": "ann@example.com"},
            {"field": "name", "before": null, "after": "Ann Archer"},
        ],
    })
}

/// The payload with every object's members in reverse order of their names' lengths, as a
/// store that orders them otherwise would give it back.
fn reordered(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
            Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k.clone(), reordered(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(reordered).collect()),
        other => other.clone(),
    }
}

#[test]
fn an_event_sealed_whole_keeps_its_shape_hides_its_values_and_opens_to_the_same_payload() {
    let (ring, key_id, key) = ring_with_key();
    for (event_type, plain, n) in [
        ("RecordFetched", fetched(), 4),
        ("DecisionMade", decision(), 3),
    ] {
        let mut sealed = plain.clone();
        assert_eq!(
            ring.seal_event(key_id, &key, event_type, &mut sealed, Take::All),
            n
        );
        let text = sealed.to_string();
        for value in [
            "Annie",
            "ann@example.com",
            "old@example.com",
            "Ann Archer",
            "$s1:",
        ] {
            assert!(!text.contains(value), "{value} in {text}");
        }
        assert!(is_sealed_whole(&sealed));
        assert_eq!(blob_key_id(&sealed), Some(key_id));
        // Each value part is its index; a `null` part stays `null` and takes none.
        let mut indices = Vec::new();
        privacy::for_each_value_ref(event_type, &sealed, &mut |v| indices.push(v.clone()));
        indices.sort_by_key(|v| v.as_u64());
        assert_eq!(indices, (0..n).map(Value::from).collect::<Vec<_>>());
        assert_eq!(sealed.get("etag"), plain.get("etag"));
        if event_type == "RecordFetched" {
            assert_eq!(sealed["fields"]["gone"], Value::Null);
        }

        let mut opened = event(event_type, sealed);
        assert_eq!(ring.open_event(&mut opened).map(|(id, _)| id), Some(key_id));
        assert_eq!(opened.payload, plain, "the blob member is gone too");
    }
}

#[test]
fn an_event_sealed_whole_opens_whatever_order_its_members_come_back_in_and_wherever_a_part_moved() {
    let (ring, key_id, key) = ring_with_key();
    let mut sealed = fetched();
    ring.seal_event(key_id, &key, "RecordFetched", &mut sealed, Take::All);
    let mut opened = event("RecordFetched", reordered(&sealed));
    ring.open_event(&mut opened);
    assert_eq!(opened.payload, fetched());

    // An upcaster that moves a value-bearing part elsewhere moves its index with it.
    let plain = json!({"request": {"fields": {"email": "ann@example.com"}}, "body": "no"});
    let mut sealed = plain.clone();
    ring.seal_event(key_id, &key, "DeadLettered", &mut sealed, Take::All);
    let request = sealed["request"].clone();
    sealed["request"] = json!({"kind": "write", "fields": request["fields"]});
    let mut opened = event("DeadLettered", sealed);
    ring.open_event(&mut opened);
    assert_eq!(
        opened.payload["request"]["fields"]["email"],
        "ann@example.com"
    );
    assert_eq!(opened.payload["body"], "no");
}

#[test]
fn a_changed_blob_opens_every_value_as_null_never_as_text_or_an_index() {
    let (ring, key_id, key) = ring_with_key();
    let all_null = |payload: &Value| {
        let mut seen = Vec::new();
        privacy::for_each_value_ref("DecisionMade", payload, &mut |v| seen.push(v.clone()));
        seen.is_empty() && !is_sealed_whole(payload)
    };
    // Every character of the blob changed in turn, to two others: a flipped bit of the key id,
    // the nonce, the cipher text or the tag, or text that is no longer canonical base64.
    for _ in 0..4 {
        let mut sealed = decision();
        ring.seal_event(key_id, &key, "DecisionMade", &mut sealed, Take::All);
        let blob = sealed[EVENT_MEMBER].as_str().unwrap().to_string();
        for at in 0..blob.len() {
            for swap in ['A', 'B', '_'] {
                if blob.as_bytes()[at] == swap as u8 {
                    continue;
                }
                let mut tampered = sealed.clone();
                tampered[EVENT_MEMBER] = json!(format!("{}{swap}{}", &blob[..at], &blob[at + 1..]));
                let mut opened = event("DecisionMade", tampered);
                assert!(ring.open_event(&mut opened).is_none());
                assert!(
                    all_null(&opened.payload),
                    "char {at} -> {swap}: {}",
                    opened.payload
                );
            }
        }
        for other in [json!(&blob[..20]), json!(""), json!(42), json!(null)] {
            let mut tampered = sealed.clone();
            tampered[EVENT_MEMBER] = other;
            let mut opened = event("DecisionMade", tampered);
            assert!(ring.open_event(&mut opened).is_none());
            assert!(all_null(&opened.payload), "{}", opened.payload);
        }
    }
    // A blob that opens but holds no array (sealed by hand here) opens nothing either.
    let mut sealed = decision();
    ring.seal_event(key_id, &key, "DecisionMade", &mut sealed, Take::All);
    let not_array = seal_bytes(EVENT_AAD, key_id, &key, br#"{"0": "Ann"}"#);
    sealed[EVENT_MEMBER] = json!(URL_SAFE_NO_PAD.encode(not_array));
    let mut opened = event("DecisionMade", sealed);
    ring.open_event(&mut opened);
    assert!(all_null(&opened.payload), "{}", opened.payload);
}

#[test]
fn an_event_under_a_destroyed_or_unknown_key_opens_every_value_as_null() {
    let (ring, key_id, key) = ring_with_key();
    let entity = Uuid::now_v7();
    ring.set_live(entity, key_id);
    let mut sealed = fetched();
    ring.seal_event(key_id, &key, "RecordFetched", &mut sealed, Take::All);

    let stranger = Keyring::new(MasterKey::generate());
    assert_eq!(
        stranger.missing([("RecordFetched", &sealed)].into_iter()),
        [key_id]
    );
    assert!(
        ring.missing([("RecordFetched", &sealed)].into_iter())
            .is_empty()
    );
    let mut opened = event("RecordFetched", sealed.clone());
    assert!(stranger.open_event(&mut opened).is_none());
    assert_eq!(
        opened.payload["fields"],
        json!({"preferred_name_of_the_customer": null, "email": null, "n": null,
               "tags": null, "gone": null})
    );

    ring.forget(entity, &[key_id]);
    let mut opened = event("RecordFetched", sealed);
    assert!(ring.open_event(&mut opened).is_none());
    assert_eq!(opened.payload["fields"]["email"], Value::Null);
    assert_eq!(opened.payload["record_id"], "c-1");
}

#[test]
fn values_sealed_one_by_one_still_open_and_a_mixed_event_opens_both() {
    let (ring, key_id, key) = ring_with_key();
    // Format 1: every value its own sealed string.
    let mut old = decision();
    privacy::for_each_value("DecisionMade", &mut old, &mut |v| {
        *v = ring.seal(key_id, &key, v)
    });
    assert!(old.to_string().contains(PREFIX));
    assert_eq!(
        ring.missing([("DecisionMade", &old)].into_iter()),
        Vec::<Uuid>::new()
    );
    let mut opened = event("DecisionMade", old);
    assert_eq!(ring.open_event(&mut opened).map(|(id, _)| id), Some(key_id));
    assert_eq!(opened.payload, decision());

    // `migrate --seal` over an event with one part sealed alone and the others in clear: the
    // sealed part is left as it is, the rest go into the blob.
    let (other_id, other) = (Uuid::now_v7(), DataKey::generate());
    ring.remember(other_id, Some(other.clone()));
    let mut mixed = decision();
    mixed["diff"][0]["before"] = ring.seal(other_id, &other, &json!("old@example.com"));
    let n = ring.seal_event(key_id, &key, "DecisionMade", &mut mixed, Take::Plaintext);
    assert_eq!(n, 2);
    assert!(
        mixed["diff"][0]["before"]
            .as_str()
            .unwrap()
            .starts_with(PREFIX)
    );
    let mut missing =
        Keyring::new(MasterKey::generate()).missing([("DecisionMade", &mixed)].into_iter());
    missing.sort();
    let mut both = vec![key_id, other_id];
    both.sort();
    assert_eq!(missing, both);
    let mut opened = event("DecisionMade", mixed);
    assert!(ring.open_event(&mut opened).is_some());
    assert_eq!(opened.payload, decision());
}

#[test]
fn an_event_without_values_gets_no_blob_and_one_sealed_whole_is_smaller_than_one_by_one() {
    let (ring, key_id, key) = ring_with_key();
    let mut none = json!({"fields": {"email": null}});
    assert_eq!(
        ring.seal_event(key_id, &key, "RecordFetched", &mut none, Take::All),
        0
    );
    assert_eq!(none, json!({"fields": {"email": null}}));

    let fields = json!({"fields": {"name": "Customer Number 7", "email": "customer7@example.com",
                                   "phone": "+44 20 7946 0007"}});
    let mut whole = fields.clone();
    ring.seal_event(key_id, &key, "RecordFetched", &mut whole, Take::All);
    let mut one_by_one = fields.clone();
    privacy::for_each_value("RecordFetched", &mut one_by_one, &mut |v| {
        *v = ring.seal(key_id, &key, v)
    });
    let (plain, s2, s1) = (
        fields.to_string().len(),
        whole.to_string().len(),
        one_by_one.to_string().len(),
    );
    // s1: ~65 bytes of key id, nonce, tag and prefix per value; s2: about as much per event.
    assert!(s1 - plain > 3 * 60, "{plain} {s1}");
    assert!(s2 - plain < 100, "{plain} {s2}");
}
