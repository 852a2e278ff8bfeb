//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>`.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// An endpoint secret, `whsec_` + base64 of 32 random bytes. Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

#[derive(Debug, thiserror::Error)]
#[error("not a whsec_ secret")]
pub struct SecretFormatError;

impl WebhookSecret {
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        Self(format!("whsec_{}", STANDARD.encode(b)))
    }

    pub fn parse(s: &str) -> Result<Self, SecretFormatError> {
        let raw = s.strip_prefix("whsec_").ok_or(SecretFormatError)?;
        let bytes = STANDARD.decode(raw).map_err(|_| SecretFormatError)?;
        if bytes.len() < 24 {
            return Err(SecretFormatError);
        }
        Ok(Self(s.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Vec<u8> {
        STANDARD.decode(&self.0["whsec_".len()..]).unwrap_or_default()
    }

    /// One `v1,<sig>` entry for this secret.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key()).expect("HMAC takes any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// The `webhook-signature` header: one signature per active secret, space-separated, so a
/// receiver mid-rotation accepts either.
pub fn signature_header(secrets: &[&WebhookSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|s| s.sign(msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the Standard Webhooks specification.
    #[test]
    fn matches_the_spec_test_vector() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_sends_both_signatures() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        let h = signature_header(&[&a, &b], "evt_1", 1, b"{}");
        assert_eq!(h.split(' ').count(), 2);
        assert!(h.starts_with(&a.sign("evt_1", 1, b"{}")));
        assert!(WebhookSecret::parse("nope").is_err());
    }
}
