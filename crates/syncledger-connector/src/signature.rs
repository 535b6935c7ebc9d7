//! Webhook signatures (CONTRACT §2): `X-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body
//! under the tenant's `webhook_secret` for that system.
//!
//! Verification compares MACs in constant time (`hmac`'s `verify_slice`), so the time a rejection
//! takes tells an attacker nothing about how much of a forged signature was right. Anything that
//! is not exactly `sha256=` followed by 64 hex digits is rejected before any MAC is computed.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header that carries a webhook's signature.
pub const SIGNATURE_HEADER: &str = "X-Signature";

const PREFIX: &str = "sha256=";
const MAC_LEN: usize = 32;

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .expect("HMAC-SHA256 takes a key of any length");
    mac.update(body);
    mac
}

/// The `X-Signature` value for `body`: `sha256=` and the lowercase hex HMAC-SHA256.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!(
        "{PREFIX}{}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

/// Whether `header` is a valid signature of `body` under `secret`. A missing or malformed header
/// is simply invalid. Hex digits may be upper or lower case.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_mac) = header.and_then(|h| h.trim().strip_prefix(PREFIX)) else {
        return false;
    };
    if hex_mac.len() != 2 * MAC_LEN {
        return false;
    }
    let Ok(claimed) = hex::decode(hex_mac) else {
        return false;
    };
    mac(secret, body).verify_slice(&claimed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_hmac_sha256_vector() {
        // RFC 4231, test case 2.
        let signed = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            signed,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn upper_case_hex_and_surrounding_space_are_accepted() {
        let signed = sign(b"s", b"body");
        let upper = format!(" sha256={} ", signed[PREFIX.len()..].to_uppercase());
        assert!(verify(b"s", b"body", Some(&upper)));
    }
}
