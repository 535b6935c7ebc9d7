//! Packed documents: a whole document (an archive snapshot) compressed, then sealed as one
//! value, `"$z1:" + base64url(key id ‖ nonce ‖ ciphertext ‖ tag)`, whose plaintext is the zstd
//! frame of the document's JSON text.
//!
//! A snapshot repeats its field names, systems and times in every map it keeps, and a sealed
//! value never compresses afterwards (ciphertext looks random), so it is compressed first: an
//! entity's snapshot shrinks to about 40% of its JSON (zstd level 3). It names its key like any
//! sealed value, so erasure covers it the same way: once the key is destroyed it opens as `null`.
//! A value that claims to be packed and does not open (bad base64, unknown or destroyed key, a
//! tag that does not verify, a frame that does not decompress) reads as `null`, never as text.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use uuid::Uuid;

use super::{DataKey, Keyring, head_key_id, seal_bytes};

/// What starts every packed document: the format's version.
pub const PACKED_PREFIX: &str = "$z1:";
const PACKED_AAD: &[u8] = b"syncledger/z1";
const LEVEL: i32 = 3;

impl Keyring {
    /// `doc` compressed and sealed under `key` as one string.
    pub(crate) fn seal_packed(&self, key_id: Uuid, key: &DataKey, doc: &Value) -> Value {
        let plain = serde_json::to_vec(doc).expect("a JSON value always serializes");
        let packed =
            zstd::bulk::compress(&plain, LEVEL).expect("zstd compresses any buffer in memory");
        let bytes = seal_bytes(PACKED_AAD, key_id, key, &packed);
        Value::String(format!("{PACKED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Opens a packed document in place (`null` when it does not open) and returns the key that
    /// opened it; `None` when `doc` is not packed (it is left as it is).
    pub(crate) fn open_packed(&self, doc: &mut Value) -> Option<Option<(Uuid, DataKey)>> {
        let body = doc.as_str()?.strip_prefix(PACKED_PREFIX)?;
        let opened = self
            .open_bytes(PACKED_AAD, body)
            .and_then(|(packed, key_id, key)| {
                let plain = zstd::stream::decode_all(packed.as_slice()).ok()?;
                Some((serde_json::from_slice(&plain).ok()?, key_id, key))
            });
        Some(match opened {
            Some((value, key_id, key)) => {
                *doc = value;
                Some((key_id, key))
            }
            None => {
                *doc = Value::Null;
                None
            }
        })
    }

    /// The key id of a packed document the cache does not know (or not recently).
    pub(crate) fn missing_packed(&self, doc: &Value) -> Option<Uuid> {
        let id = packed_key_id(doc)?;
        (!self.is_fresh(id)).then_some(id)
    }
}

/// The bytes of a packed document, to store as bytes rather than base64 text; `None` for
/// anything else (a document not packed is stored as JSON).
pub(crate) fn packed_bytes(doc: &Value) -> Option<Vec<u8>> {
    let body = doc.as_str()?.strip_prefix(PACKED_PREFIX)?;
    URL_SAFE_NO_PAD.decode(body).ok()
}

/// A packed document read back from its bytes, in the form [`Keyring::open_packed`] opens.
pub(crate) fn packed_doc(bytes: &[u8]) -> Value {
    Value::String(format!("{PACKED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The key id a packed document names; `None` for anything else.
pub(crate) fn packed_key_id(doc: &Value) -> Option<Uuid> {
    head_key_id(doc.as_str()?.strip_prefix(PACKED_PREFIX)?)
}

#[cfg(test)]
#[path = "packed_tests.rs"]
mod tests;
