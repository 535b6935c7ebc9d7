//! Wrapping keys under the master key: a data key bound to its key id and entity, a tenant's
//! digest key bound to its key id and tenant (docs/privacy.md, "Keys").

use chacha20poly1305::Nonce;
use chacha20poly1305::aead::{Aead, Payload};
use uuid::Uuid;

use super::{DataKey, MasterKey, NONCE, TENANT_WRAP_AAD, WRAP_AAD, nonce};
use crate::StoreError;

pub(super) fn tenant_aad(key_id: Uuid, tenant: &str) -> Vec<u8> {
    [TENANT_WRAP_AAD, key_id.as_bytes(), tenant.as_bytes()].concat()
}

/// `nonce ‖ ciphertext` of 32 key bytes under `master`, bound to `aad`.
pub(super) fn wrap_bytes(master: &MasterKey, aad: &[u8], key: &[u8; 32]) -> Vec<u8> {
    let n = nonce();
    let sealed = master
        .cipher()
        .encrypt(&Nonce::from(n), Payload { msg: key, aad })
        .expect("ChaCha20-Poly1305 encrypts 32 bytes");
    [n.as_slice(), &sealed].concat()
}

/// The 32 key bytes [`wrap_bytes`] wrapped; `None` under another master key or `aad`.
pub(super) fn unwrap_bytes(master: &MasterKey, aad: &[u8], wrapped: &[u8]) -> Option<[u8; 32]> {
    let n = <[u8; NONCE]>::try_from(wrapped.get(..NONCE)?).ok()?;
    let plain = master
        .cipher()
        .decrypt(
            &Nonce::from(n),
            Payload {
                msg: &wrapped[NONCE..],
                aad,
            },
        )
        .ok()?;
    <[u8; 32]>::try_from(plain).ok()
}

fn wrap_aad(key_id: Uuid, entity_id: Uuid) -> Vec<u8> {
    [WRAP_AAD, key_id.as_bytes(), entity_id.as_bytes()].concat()
}

pub(crate) fn wrap_with(
    master: &MasterKey,
    key_id: Uuid,
    entity_id: Uuid,
    key: &DataKey,
) -> Vec<u8> {
    wrap_bytes(master, &wrap_aad(key_id, entity_id), &key.0)
}

pub(crate) fn unwrap_with(
    master: &MasterKey,
    key_id: Uuid,
    entity_id: Uuid,
    wrapped: &[u8],
) -> Result<DataKey, StoreError> {
    unwrap_bytes(master, &wrap_aad(key_id, entity_id), wrapped)
        .map(DataKey)
        .ok_or_else(|| {
            StoreError::InvalidInput(format!(
                "data key {key_id} does not open with this master key"
            ))
        })
}
