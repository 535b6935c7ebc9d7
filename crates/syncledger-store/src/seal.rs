//! Sealing values under per-entity data keys (docs/privacy.md), the in-memory half: the AEAD,
//! the sealed formats, and the keyring that caches unwrapped keys. The SQL half (the key
//! tables, creating, loading, destroying and re-wrapping keys) is `sql/keys.rs`.
//!
//! Two formats, one AEAD and one layout (`key id ‖ nonce ‖ ciphertext ‖ tag`, base64url):
//! - **s1**, one value alone: the JSON string `"$s1:" + base64url(..)` whose plaintext is the
//!   value's JSON text. Row documents and snapshots are sealed so, and so was every event value
//!   until format 2; it opens forever.
//! - **s2**, a whole event (`seal/event.rs`): the event's values in one blob, each value part
//!   replaced by its index in the blob. What every event is sealed with now: the ~65 bytes of
//!   key id, nonce, tag and prefix are paid once per event, not once per value.
//!
//! Which parts of a payload are values is the core's table (`syncledger_core::privacy`); this
//! module only seals and opens what that table names. A value sealed under a destroyed or
//! unknown key, or that fails to open, reads as `null`: the entity was erased.
//!
//! Every read opens from the cache alone, so it stays synchronous inside upcasting and folding;
//! the async reads first [`Keyring::missing`] the key ids they meet and load those (`sql/keys.rs`).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use serde_json::Value;
use syncledger_core::privacy::DigestKey;
use uuid::Uuid;

use crate::StoreError;

/// What starts every value sealed alone (format 1).
pub const PREFIX: &str = "$s1:";
const VALUE_AAD: &[u8] = b"syncledger/s1";
/// Bytes of a sealed blob before its ciphertext: the key id and the nonce.
const HEAD: usize = 16 + NONCE;
const WRAP_AAD: &[u8] = b"syncledger/wrap1";
const TENANT_WRAP_AAD: &[u8] = b"syncledger/tenant-wrap1";
const NONCE: usize = 12;

/// How long a cached key is trusted before a read loads it again: the longest another process
/// (or the command line) may go on opening the values of an entity erased elsewhere.
pub const KEY_RECHECK: Duration = Duration::from_secs(5);

/// The key that wraps every data key. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// 32 fresh random bytes.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        MasterKey(bytes)
    }

    /// From its 64 hex digits (surrounding whitespace ignored, as a key file may end in a newline).
    pub fn from_hex(text: &str) -> Result<Self, StoreError> {
        let bytes = hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| StoreError::InvalidInput("a master key is 64 hex digits".into()))?;
        Ok(MasterKey(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&Key::from(self.0))
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// One entity's data key, unwrapped.
#[derive(Clone)]
pub(crate) struct DataKey([u8; 32]);

impl DataKey {
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        DataKey(bytes)
    }
}

fn nonce() -> [u8; NONCE] {
    let mut n = [0u8; NONCE];
    rand::rng().fill_bytes(&mut n);
    n
}

/// The keys this process has unwrapped, and each entity's live key.
pub(crate) struct Keyring {
    master: MasterKey,
    /// By key id, with when it was loaded; `None`: destroyed, or not in the table.
    keys: RwLock<HashMap<Uuid, (Option<DataKey>, Instant)>>,
    /// By entity: the key new values are sealed under.
    live: RwLock<HashMap<Uuid, Uuid>>,
    /// By tenant: the key of its lookups' keyed digests (never destroyed, so cached for good).
    tenants: RwLock<HashMap<String, DigestKey>>,
}

impl Keyring {
    pub(crate) fn new(master: MasterKey) -> Self {
        Keyring {
            master,
            keys: RwLock::new(HashMap::new()),
            live: RwLock::new(HashMap::new()),
            tenants: RwLock::new(HashMap::new()),
        }
    }

    /// The tenant's digest key, when this process has loaded it.
    pub(crate) fn tenant_key(&self, tenant: &str) -> Option<DigestKey> {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .copied()
    }

    /// Opens a tenant key read from `tenant_keys` and caches it.
    pub(crate) fn remember_tenant(
        &self,
        tenant: &str,
        key_id: Uuid,
        wrapped: &[u8],
    ) -> Result<DigestKey, StoreError> {
        let key =
            unwrap_bytes(&self.master, &tenant_aad(key_id, tenant), wrapped).ok_or_else(|| {
                StoreError::InvalidInput(format!(
                    "the digest key of tenant {tenant:?} does not open with this master key"
                ))
            })?;
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_string(), key);
        Ok(key)
    }

    /// A tenant key re-wrapped under `next` (master-key rotation).
    pub(crate) fn rewrap_tenant(
        &self,
        next: &MasterKey,
        key_id: Uuid,
        tenant: &str,
        wrapped: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let aad = tenant_aad(key_id, tenant);
        let key = unwrap_bytes(&self.master, &aad, wrapped).ok_or_else(|| {
            StoreError::InvalidInput(format!(
                "the digest key of tenant {tenant:?} does not open with this master key"
            ))
        })?;
        Ok(wrap_bytes(next, &aad, &key))
    }

    /// A new tenant key (its id, and its bytes wrapped under the master key for `tenant_keys`).
    pub(crate) fn new_tenant_key(&self, tenant: &str) -> (Uuid, Vec<u8>) {
        let key_id = Uuid::now_v7();
        let key = DataKey::generate();
        (
            key_id,
            wrap_bytes(&self.master, &tenant_aad(key_id, tenant), &key.0),
        )
    }

    /// `nonce ‖ ciphertext` of a data key under the master key, bound to its ids.
    pub(crate) fn wrap(&self, key_id: Uuid, entity_id: Uuid, key: &DataKey) -> Vec<u8> {
        wrap_with(&self.master, key_id, entity_id, key)
    }

    pub(crate) fn unwrap(
        &self,
        key_id: Uuid,
        entity_id: Uuid,
        wrapped: &[u8],
    ) -> Result<DataKey, StoreError> {
        unwrap_with(&self.master, key_id, entity_id, wrapped)
    }

    /// Caches a key as loaded (`None`: destroyed or unknown).
    pub(crate) fn remember(&self, key_id: Uuid, key: Option<DataKey>) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key_id, (key, Instant::now()));
    }

    pub(crate) fn set_live(&self, entity_id: Uuid, key_id: Uuid) {
        self.live
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(entity_id, key_id);
    }

    /// The entity's live key, when cached and recently checked.
    pub(crate) fn live_of(&self, entity_id: Uuid) -> Option<(Uuid, DataKey)> {
        let key_id = *self
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&entity_id)?;
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        match keys.get(&key_id)? {
            (Some(key), at) if at.elapsed() < KEY_RECHECK => Some((key_id, key.clone())),
            _ => None,
        }
    }

    fn key(&self, key_id: Uuid) -> Option<DataKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key_id)?
            .0
            .clone()
    }

    /// Forgets the entity's live key (rotated: the next value gets a new one).
    pub(crate) fn forget_live(&self, entity_id: Uuid) {
        self.live
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&entity_id);
    }

    /// Forgets the entity's live key and marks `destroyed` as gone (after an erasure or a
    /// rotation: the next value gets a fresh key).
    pub(crate) fn forget(&self, entity_id: Uuid, destroyed: &[Uuid]) {
        self.live
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&entity_id);
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        for id in destroyed {
            keys.insert(*id, (None, Instant::now()));
        }
    }

    /// `value` sealed alone under `key` (format 1): for row documents and snapshots, which are
    /// sealed whole.
    pub(crate) fn seal(&self, key_id: Uuid, key: &DataKey, value: &Value) -> Value {
        let plain = serde_json::to_vec(value).expect("a JSON value always serializes");
        let bytes = seal_bytes(VALUE_AAD, key_id, key, &plain);
        Value::String(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The key id of a sealed row document the cache does not know.
    pub(crate) fn missing_doc(&self, doc: &Value) -> Option<Uuid> {
        let id = sealed_key_id(doc)?;
        (!self.is_fresh(id)).then_some(id)
    }

    /// Whether the cache knows the key, loaded recently (destroyed or not).
    fn is_fresh(&self, key_id: Uuid) -> bool {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key_id)
            .is_some_and(|(_, at)| at.elapsed() < KEY_RECHECK)
    }

    /// Opens one value sealed alone in place: a sealed string becomes its value, or `null` when
    /// its key is gone. Returns the key that opened it.
    pub(crate) fn open_value(&self, value: &mut Value) -> Option<(Uuid, DataKey)> {
        let Value::String(text) = value else {
            return None;
        };
        let body = text.strip_prefix(PREFIX)?;
        // From here the string claims to be sealed: whatever fails to open (bad base64, too
        // short, unknown or destroyed key, a tag that does not verify) reads as `null`, never
        // as the text it holds.
        let opened = self
            .open_bytes(VALUE_AAD, body)
            .and_then(|(plain, key_id, key)| {
                Some((serde_json::from_slice(&plain).ok()?, key_id, key))
            });
        match opened {
            Some((plain, key_id, key)) => {
                *value = plain;
                Some((key_id, key))
            }
            None => {
                *value = Value::Null;
                None
            }
        }
    }

    /// The plaintext of `key id ‖ nonce ‖ ciphertext ‖ tag` in base64url, sealed with `aad`
    /// (followed by the key id), and the key that opened it; `None` for anything that does not
    /// open: not canonical base64url, too short, an unknown or destroyed key, a failed tag.
    fn open_bytes(&self, aad: &[u8], body: &str) -> Option<(Vec<u8>, Uuid, DataKey)> {
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() < HEAD {
            return None;
        }
        let key_id = Uuid::from_slice(&bytes[..16]).ok()?;
        let key = self.key(key_id)?;
        let aad = [aad, key_id.as_bytes()].concat();
        let n = <[u8; NONCE]>::try_from(&bytes[16..HEAD]).ok()?;
        let plain = ChaCha20Poly1305::new(&Key::from(key.0))
            .decrypt(
                &Nonce::from(n),
                Payload {
                    msg: &bytes[HEAD..],
                    aad: &aad,
                },
            )
            .ok()?;
        Some((plain, key_id, key))
    }
}

/// `key id ‖ nonce ‖ ciphertext ‖ tag` of `plain` under `key`, bound to `aad` and the key id.
fn seal_bytes(aad: &[u8], key_id: Uuid, key: &DataKey, plain: &[u8]) -> Vec<u8> {
    let n = nonce();
    let aad = [aad, key_id.as_bytes()].concat();
    let sealed = ChaCha20Poly1305::new(&Key::from(key.0))
        .encrypt(
            &Nonce::from(n),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .expect("ChaCha20-Poly1305 encrypts any message this size");
    let mut bytes = Vec::with_capacity(HEAD + sealed.len());
    bytes.extend_from_slice(key_id.as_bytes());
    bytes.extend_from_slice(&n);
    bytes.extend_from_slice(&sealed);
    bytes
}

/// The key id at the head of a sealed blob's base64url text; `None` when it has none.
fn head_key_id(body: &str) -> Option<Uuid> {
    // The key id is the first 16 bytes: 22 base64 characters hold them (and 4 bits more).
    let head = URL_SAFE_NO_PAD.decode(body.get(..24)?).ok()?;
    Uuid::from_slice(head.get(..16)?).ok()
}

/// The key id a sealed value names; `None` for anything else.
pub(crate) fn sealed_key_id(value: &Value) -> Option<Uuid> {
    head_key_id(value.as_str()?.strip_prefix(PREFIX)?)
}

mod event;
mod packed;
mod wrap;

pub(crate) use event::{Take, is_sealed_whole};
pub use packed::PACKED_PREFIX;
pub(crate) use packed::{packed_bytes, packed_doc};
use wrap::{tenant_aad, unwrap_bytes, wrap_bytes};
pub(crate) use wrap::{unwrap_with, wrap_with};

#[cfg(test)]
mod tests;
