//! Packed documents (archive snapshots), without a database.

use serde_json::{Value, json};
use uuid::Uuid;

use super::super::{DataKey, Keyring, MasterKey, PREFIX};
use super::{PACKED_PREFIX, packed_key_id};

fn ring_with_key() -> (Keyring, Uuid, DataKey) {
    let ring = Keyring::new(MasterKey::generate());
    let (key_id, key) = (Uuid::now_v7(), DataKey::generate());
    ring.remember(key_id, Some(key.clone()));
    (ring, key_id, key)
}

/// Shaped like an entity's snapshot: the same names and times repeated per system.
fn snapshot() -> Value {
    let fields = json!({"email": "ann@example.com", "name": "Ann", "phone": "555"});
    let times = json!({"email": "2026-12-06T15:58:47.861966Z", "name": "2026-12-06T15:58:47.861966Z",
        "phone": "2026-12-06T15:58:47.861966Z"});
    json!({
        "stream": "entity",
        "entity_id": "d23189bb-70fc-556b-bb2a-31a24c45aaf8",
        "known": {"crm": fields, "erp": fields},
        "synced": fields,
        "conflicts": {"observed": {"crm": times, "erp": times}},
        "links": {"crm": {"collection": "contacts", "record_id": "c-6"},
                  "erp": {"collection": "customers", "record_id": "E-5"}},
    })
}

#[test]
fn a_packed_document_names_its_key_hides_its_text_and_opens_to_the_same_json() {
    let (ring, key_id, key) = ring_with_key();
    let doc = snapshot();
    let mut packed = ring.seal_packed(key_id, &key, &doc);
    let text = packed.as_str().unwrap().to_string();
    assert!(text.starts_with(PACKED_PREFIX));
    assert!(!text.contains("ann") && !text.contains("contacts"));
    assert_eq!(packed_key_id(&packed), Some(key_id));
    let opened = ring.open_packed(&mut packed);
    assert_eq!(opened.flatten().map(|(id, _)| id), Some(key_id));
    assert_eq!(packed, doc);
}

#[test]
fn a_packed_document_is_smaller_than_the_same_document_sealed_as_one_value() {
    let (ring, key_id, key) = ring_with_key();
    let doc = snapshot();
    let packed = ring.seal_packed(key_id, &key, &doc).to_string().len();
    let sealed = ring.seal(key_id, &key, &doc).to_string().len();
    let plain = doc.to_string().len();
    assert!(
        packed < sealed && packed < plain,
        "{packed} vs {sealed} sealed, {plain} plain"
    );
}

#[test]
fn a_packed_document_under_a_destroyed_key_or_tampered_opens_as_null_never_as_text() {
    let (ring, key_id, key) = ring_with_key();
    let entity = Uuid::now_v7();
    ring.set_live(entity, key_id);
    let packed = ring.seal_packed(key_id, &key, &snapshot());
    let text = packed.as_str().unwrap();
    for at in PACKED_PREFIX.len()..text.len() {
        let mut chars: Vec<char> = text.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        let mut tampered = Value::String(chars.into_iter().collect());
        let opened = ring.open_packed(&mut tampered);
        assert!(matches!(opened, Some(None)), "changed at {at}");
        assert_eq!(tampered, Value::Null);
    }
    let mut cut = Value::String(text[..text.len() - 5].to_string());
    assert!(matches!(ring.open_packed(&mut cut), Some(None)));
    assert_eq!(cut, Value::Null);

    ring.forget(entity, &[key_id]);
    let mut gone = packed.clone();
    assert!(matches!(ring.open_packed(&mut gone), Some(None)));
    assert_eq!(gone, Value::Null);
}

#[test]
fn what_is_not_packed_is_left_to_the_other_readers() {
    let (ring, key_id, key) = ring_with_key();
    let mut sealed = ring.seal(key_id, &key, &json!("Ann"));
    assert!(sealed.as_str().unwrap().starts_with(PREFIX));
    assert!(ring.open_packed(&mut sealed).is_none());
    assert!(
        sealed.as_str().unwrap().starts_with(PREFIX),
        "left as it was"
    );
    let mut plain = snapshot();
    assert!(ring.open_packed(&mut plain).is_none());
    assert_eq!(plain, snapshot());
}
