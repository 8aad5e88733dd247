//! Signing deliveries: Standard Webhooks v1, and GitHub's `X-Hub-Signature-256` for receivers
//! that expect it.
//!
//! Standard Webhooks signs `{id}.{timestamp}.{body}` with HMAC-SHA256 keyed by the
//! base64-decoded part of a `whsec_` secret, and sends `v1,<base64>`; with two secrets (during
//! a rotation) both signatures travel, separated by a space. The body signed is the body sent:
//! callers hand in the stored bytes and send those same bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A decoded signing secret. Never printed.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

/// Why a secret cannot be used. Never contains the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a signing secret must start with whsec_ followed by base64")]
    NoPrefix,
    #[error("the part after whsec_ is not padded base64")]
    NotBase64,
    #[error("a signing secret must hold 24 to 64 bytes, this one holds {0}")]
    Length(usize),
}

impl SigningKey {
    /// Parses `whsec_<padded base64>`, as the strictest verifiers expect it.
    pub fn parse(secret: &str) -> Result<SigningKey, KeyError> {
        let encoded = secret
            .trim()
            .strip_prefix("whsec_")
            .ok_or(KeyError::NoPrefix)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| KeyError::NotBase64)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(KeyError::Length(bytes.len()));
        }
        Ok(SigningKey(bytes))
    }

    /// A fresh random secret in its `whsec_` form.
    pub fn generate() -> String {
        let bytes: [u8; 32] = rand::random();
        format!("whsec_{}", STANDARD.encode(bytes))
    }

    /// `v1,<base64 HMAC>` over `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// Checks a `webhook-signature` header value (any of its space-separated signatures) in
    /// constant time. Used by the demo receiver; receivers in the field use their own library.
    pub fn verify(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let expected = self.sign(id, timestamp, body);
        header
            .split(' ')
            .any(|candidate| constant_time_eq(candidate.as_bytes(), expected.as_bytes()))
    }
}

/// The `webhook-signature` header for one or two keys (rotation sends both).
pub fn signature_header(keys: &[&SigningKey], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| k.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// GitHub style: `sha256=<hex HMAC of the body>`, keyed with the secret string's bytes.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_vector_from_the_specification() {
        let key = SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let sig = key.sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553, body);
        assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        assert!(key.verify("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553, body, &sig));
        assert!(!key.verify("msg_other", 1_649_367_553, body, &sig));
    }

    #[test]
    fn bad_secrets_are_refused_without_echo() {
        assert_eq!(
            SigningKey::parse("hunter2").unwrap_err(),
            KeyError::NoPrefix
        );
        assert_eq!(
            SigningKey::parse("whsec_!!!").unwrap_err(),
            KeyError::NotBase64
        );
        assert_eq!(
            SigningKey::parse("whsec_AAAA").unwrap_err(),
            KeyError::Length(3)
        );
        // Unpadded base64 is refused, as the strictest verifier refuses it.
        let unpadded = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oDAA";
        assert_eq!(
            SigningKey::parse(unpadded).unwrap_err(),
            KeyError::NotBase64
        );
        assert!(SigningKey::parse(&SigningKey::generate()).is_ok());
    }

    #[test]
    fn rotation_sends_both_signatures() {
        let old = SigningKey::parse(&SigningKey::generate()).unwrap();
        let new = SigningKey::parse(&SigningKey::generate()).unwrap();
        let header = signature_header(&[&old, &new], "evt_1", 10, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(old.verify("evt_1", 10, b"{}", &header));
        assert!(new.verify("evt_1", 10, b"{}", &header));
    }

    #[test]
    fn github_style_is_hex_of_the_body() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a well-known value.
        let sig = github_signature("key", b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            sig,
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
