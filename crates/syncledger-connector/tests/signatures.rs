//! `X-Signature: sha256=<hex>` (CONTRACT §2).

use syncledger_connector::{sign, verify};

const BODY: &[u8] = br#"{"event_id":"e-1","collection":"contacts","action":"created","record_id":"c-1","occurred_at":"2026-11-21T10:00:00.123Z"}"#;

#[test]
fn a_valid_signature_verifies() {
    let header = sign(b"crm-secret", BODY);
    assert!(header.starts_with("sha256="));
    assert_eq!(header.len(), "sha256=".len() + 64);
    assert!(verify(b"crm-secret", BODY, Some(&header)));
}

#[test]
fn a_signature_under_another_secret_is_rejected() {
    let header = sign(b"erp-secret", BODY);
    assert!(!verify(b"crm-secret", BODY, Some(&header)));
}

#[test]
fn a_signature_of_another_body_is_rejected() {
    let header = sign(b"crm-secret", BODY);
    let mut tampered = BODY.to_vec();
    tampered[10] ^= 1;
    assert!(!verify(b"crm-secret", &tampered, Some(&header)));
}

#[test]
fn malformed_headers_are_rejected() {
    let good = sign(b"crm-secret", BODY);
    let hex = &good["sha256=".len()..];
    for header in [
        hex.to_owned(),                     // no scheme
        format!("sha1={hex}"),              // another scheme
        format!("sha256={}", &hex[..62]),   // too short
        format!("sha256={hex}00"),          // too long
        format!("sha256={}zz", &hex[..62]), // not hex
        "sha256=".to_owned(),
        String::new(),
    ] {
        assert!(
            !verify(b"crm-secret", BODY, Some(&header)),
            "accepted {header:?}"
        );
    }
}

#[test]
fn a_missing_header_is_rejected() {
    assert!(!verify(b"crm-secret", BODY, None));
}
