//! Receipts: compact JWS (RFC 7515) with EdDSA over the evidence record. Anyone can check one
//! against `/.well-known/jwks.json` without trusting the store that holds it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ReceiptKeyError {
    #[error("the receipt signing key must be 32 bytes, base64 or hex")]
    Format,
}

/// The Ed25519 key that signs receipts, with its key id. Redacted in `Debug`.
#[derive(Clone)]
pub struct ReceiptSigner {
    key: SigningKey,
    kid: String,
}

impl ReceiptSigner {
    /// From 32 secret bytes, written as 64 hex digits or base64(url).
    pub fn parse(s: &str) -> Result<Self, ReceiptKeyError> {
        let s = s.trim();
        let bytes = hex::decode(s)
            .ok()
            .or_else(|| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .ok_or(ReceiptKeyError::Format)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| ReceiptKeyError::Format)?;
        Ok(Self::from_seed(seed))
    }

    pub fn ephemeral() -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Self::from_seed(seed)
    }

    fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let kid = format!("ov-{}", &hex::encode(Sha256::digest(key.verifying_key().as_bytes()))[..16]);
        Self { key, kid }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK Set.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({"keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }]})
    }

    /// `header.payload.signature`, base64url without padding.
    pub fn sign<T: Serialize>(&self, payload: &T) -> Result<String, serde_json::Error> {
        let signing_input = signing_input(&self.kid, payload)?;
        let sig = self.key.sign(signing_input.as_bytes());
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())))
    }

    /// The public key that checks receipts signed under `kid`, if it is one of ours.
    pub fn verifying_key(&self, kid: &str) -> Option<VerifyingKey> {
        (kid == self.kid).then(|| self.key.verifying_key())
    }

    /// Rebuilds a receipt from its payload and the signature kept for it. Only a receipt that
    /// checks out against the key named by `kid` is given back: never a broken one.
    pub fn rebuild<T: Serialize>(&self, kid: &str, payload: &T, signature: &str) -> Option<String> {
        let input = signing_input(kid, payload).ok()?;
        let key = self.verifying_key(kid)?;
        let bytes: [u8; 64] = URL_SAFE_NO_PAD.decode(signature).ok()?.try_into().ok()?;
        key.verify(input.as_bytes(), &Signature::from_bytes(&bytes)).ok()?;
        Some(format!("{input}.{signature}"))
    }
}

/// `base64url(header).base64url(payload)`: what the signature covers.
fn signing_input<T: Serialize>(kid: &str, payload: &T) -> Result<String, serde_json::Error> {
    let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload)?)
    ))
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiptSigner(kid={})", self.kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_a_three_part_token_with_its_kid() {
        let s = ReceiptSigner::ephemeral();
        let jws = s.sign(&serde_json::json!({"a": 1})).unwrap();
        assert_eq!(jws.split('.').count(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jws.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["kid"], s.kid());
        assert_eq!(s.jwks()["keys"][0]["kid"], s.kid());
        assert!(ReceiptSigner::parse("short").is_err());
        let again = ReceiptSigner::parse(&"ab".repeat(32)).unwrap();
        assert_eq!(again.kid(), ReceiptSigner::parse(&"ab".repeat(32)).unwrap().kid());
    }
}
