//! The sealed-value format and the keyring, without a database.

use serde_json::json;

use super::*;

fn ring_with_key() -> (Keyring, Uuid, DataKey) {
    let ring = Keyring::new(MasterKey::generate());
    let (key_id, key) = (Uuid::now_v7(), DataKey::generate());
    ring.remember(key_id, Some(key.clone()));
    (ring, key_id, key)
}

#[test]
fn a_sealed_value_names_its_key_hides_its_text_and_opens_to_the_same_json() {
    let (ring, key_id, key) = ring_with_key();
    for value in [
        json!("ann@example.com"),
        json!(42),
        json!(["a", {"b": null}]),
    ] {
        let mut sealed = ring.seal(key_id, &key, &value);
        let text = sealed.as_str().unwrap().to_string();
        assert!(text.starts_with(PREFIX));
        assert!(!text.contains("ann"));
        assert_eq!(sealed_key_id(&sealed), Some(key_id));
        assert_eq!(ring.open_value(&mut sealed).map(|(id, _)| id), Some(key_id));
        assert_eq!(sealed, value);
    }
}

#[test]
fn sealing_the_same_value_twice_gives_different_text() {
    let (ring, key_id, key) = ring_with_key();
    let v = json!("Ann");
    assert_ne!(ring.seal(key_id, &key, &v), ring.seal(key_id, &key, &v));
}

#[test]
fn a_value_under_a_destroyed_key_opens_as_null() {
    let (ring, key_id, key) = ring_with_key();
    let entity = Uuid::now_v7();
    ring.set_live(entity, key_id);
    let mut sealed = ring.seal(key_id, &key, &json!("Ann"));
    ring.forget(entity, &[key_id]);
    assert!(ring.live_of(entity).is_none());
    assert!(ring.open_value(&mut sealed).is_none());
    assert_eq!(sealed, Value::Null);
}

#[test]
fn a_tampered_value_opens_as_null_never_as_other_text() {
    let (ring, key_id, key) = ring_with_key();
    // Every character of the text changed in turn, to two others: a flipped bit of the key id,
    // the nonce, the cipher text or the tag, and also text that is no longer canonical base64
    // (the last character's unused bits). None of them may open to anything but `null`.
    for _ in 0..8 {
        let sealed = ring.seal(key_id, &key, &json!("Ann"));
        let text = sealed.as_str().unwrap();
        for at in PREFIX.len()..text.len() {
            for swap in ['A', 'B', '_'] {
                if text.as_bytes()[at] == swap as u8 {
                    continue;
                }
                let mut tampered = json!(format!("{}{swap}{}", &text[..at], &text[at + 1..]));
                assert!(ring.open_value(&mut tampered).is_none(), "{tampered}");
                assert_eq!(tampered, Value::Null, "char {at} -> {swap}");
            }
        }
        let mut cut = json!(&text[..PREFIX.len() + 10]);
        assert!(ring.open_value(&mut cut).is_none());
        assert_eq!(cut, Value::Null);
    }
}

#[test]
fn plaintext_written_before_sealing_reads_as_it_is() {
    let (ring, _, _) = ring_with_key();
    let mut old = json!("Ann");
    assert!(ring.open_value(&mut old).is_none());
    assert_eq!(old, json!("Ann"));
}

#[test]
fn a_data_key_unwraps_only_with_its_master_key_and_its_own_ids() {
    let (master, other) = (MasterKey::generate(), MasterKey::generate());
    let (key_id, entity) = (Uuid::now_v7(), Uuid::now_v7());
    let key = DataKey::generate();
    let wrapped = wrap_with(&master, key_id, entity, &key);
    assert_eq!(
        unwrap_with(&master, key_id, entity, &wrapped).unwrap().0,
        key.0
    );
    assert!(unwrap_with(&other, key_id, entity, &wrapped).is_err());
    assert!(unwrap_with(&master, key_id, Uuid::now_v7(), &wrapped).is_err());
}

#[test]
fn a_master_key_reads_from_hex_and_never_shows_in_debug() {
    let key = MasterKey::generate();
    let again = MasterKey::from_hex(&format!("{}\n", key.to_hex())).unwrap();
    assert_eq!(again.0, key.0);
    assert_eq!(format!("{key:?}"), "MasterKey(..)");
    assert!(MasterKey::from_hex("abc").is_err());
}
