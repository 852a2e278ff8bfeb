//! Receipts: compact JWS (RFC 7515) with EdDSA over the evidence record. Anyone can check one
//! against `/.well-known/jwks.json` without trusting the store that holds it.
//!
//! Receipts outlive the key that signed them (they are kept 400 days and checked years later),
//! so the JWKS also serves every retired public key under its `kid`: rotating the signing key
//! never makes an issued receipt unverifiable.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ReceiptKeyError {
    #[error("the receipt signing key must be 32 bytes, base64 or hex")]
    Format,
    #[error("a retired receipt public key must be 32 bytes (base64url or hex) of a valid Ed25519 point")]
    PublicFormat,
    #[error("kid {0:?} is used by more than one receipt key")]
    DuplicateKid(String),
}

/// 32 bytes written as hex or base64 (url-safe or standard, padded or not).
fn decode32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    let bytes = hex::decode(s)
        .ok()
        .or_else(|| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(s).ok())?;
    bytes.try_into().ok()
}

/// The default key id: a digest of the public key, so a key names itself.
fn kid_of(key: &VerifyingKey) -> String {
    format!("ov-{}", &hex::encode(Sha256::digest(key.as_bytes()))[..16])
}

fn jwk(key: &VerifyingKey, kid: &str) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

/// A public key that signed receipts once and now only verifies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredReceiptKey {
    kid: String,
    key: VerifyingKey,
}

impl RetiredReceiptKey {
    /// `public_key` as printed by `optin-verify keygen --receipt`; `kid` defaults to the one
    /// this service derived when the key was current.
    pub fn parse(public_key: &str, kid: Option<&str>) -> Result<Self, ReceiptKeyError> {
        let bytes = decode32(public_key).ok_or(ReceiptKeyError::PublicFormat)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| ReceiptKeyError::PublicFormat)?;
        let kid = kid.map(str::trim).filter(|k| !k.is_empty()).map_or_else(|| kid_of(&key), str::to_string);
        Ok(Self { kid, key })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// The Ed25519 key that signs receipts, with its key id, and the retired keys the JWKS still
/// serves. Redacted in `Debug`.
#[derive(Clone)]
pub struct ReceiptSigner {
    key: SigningKey,
    kid: String,
    retired: Vec<RetiredReceiptKey>,
}

impl ReceiptSigner {
    /// From 32 secret bytes, written as 64 hex digits or base64(url).
    pub fn parse(s: &str) -> Result<Self, ReceiptKeyError> {
        Ok(Self::from_seed(decode32(s).ok_or(ReceiptKeyError::Format)?))
    }

    pub fn ephemeral() -> Self {
        Self::generate().1
    }

    /// A fresh key: its secret as 64 hex digits (for `receipts.signing_key`), and the signer.
    pub fn generate() -> (String, Self) {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        (hex::encode(seed), Self::from_seed(seed))
    }

    fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let kid = kid_of(&key.verifying_key());
        Self { key, kid, retired: Vec::new() }
    }

    /// Adds keys that signed earlier receipts. A retired key equal to the current one is
    /// dropped (an operator may list the current key early); two keys with one kid are refused.
    pub fn with_retired(mut self, retired: Vec<RetiredReceiptKey>) -> Result<Self, ReceiptKeyError> {
        let current = self.key.verifying_key();
        for r in retired {
            if r.key == current && r.kid == self.kid {
                continue;
            }
            if r.kid == self.kid || self.retired.iter().any(|x| x.kid == r.kid) {
                return Err(ReceiptKeyError::DuplicateKid(r.kid));
            }
            self.retired.push(r);
        }
        Ok(self)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The 32 secret bytes, only for the configuration's low-entropy check.
    pub(crate) fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public key, base64url: what goes into `receipts.retired_keys` after a rotation.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes())
    }

    /// The current key first, then every retired key, as a JWK Set.
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys = vec![jwk(&self.key.verifying_key(), &self.kid)];
        keys.extend(self.retired.iter().map(|r| jwk(&r.key, &r.kid)));
        serde_json::json!({ "keys": keys })
    }

    /// `header.payload.signature`, base64url without padding. Deterministic (Ed25519 is), so a
    /// receipt can be rebuilt from its claims and stored signature.
    pub fn sign<T: Serialize>(&self, payload: &T) -> Result<String, serde_json::Error> {
        let signing_input = signing_input(&self.kid, payload)?;
        let sig = self.key.sign(signing_input.as_bytes());
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())))
    }

    /// The public key that checks receipts signed under `kid`, if it is one of ours.
    pub fn verifying_key(&self, kid: &str) -> Option<VerifyingKey> {
        if kid == self.kid {
            return Some(self.key.verifying_key());
        }
        self.retired.iter().find(|r| r.kid == kid).map(|r| r.key)
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

    /// Whether `jws` carries a valid signature by the key its header's `kid` names, current or
    /// retired. The claims are not interpreted.
    pub fn verify(&self, jws: &str) -> bool {
        let mut parts = jws.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let header: Option<serde_json::Value> =
            URL_SAFE_NO_PAD.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let Some(kid) = header.as_ref().and_then(|h| h["kid"].as_str()) else {
            return false;
        };
        let Some(key) = self.verifying_key(kid) else {
            return false;
        };
        let Some(sig) = URL_SAFE_NO_PAD.decode(s).ok().and_then(|b| Signature::from_slice(&b).ok()) else {
            return false;
        };
        key.verify(format!("{h}.{p}").as_bytes(), &sig).is_ok()
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
        write!(f, "ReceiptSigner(kid={}, retired={})", self.kid, self.retired.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};

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
        assert_eq!(again.sign(&1).unwrap(), again.sign(&1).unwrap(), "signing is deterministic");
    }

    /// What a consent store does: pick the JWK by the receipt's kid, verify with a JOSE library.
    fn verify_from_jwks(jwks: &serde_json::Value, jws: &str) -> bool {
        let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
        let kid = jsonwebtoken::decode_header(jws).unwrap().kid.unwrap();
        let Some(jwk) = set.find(&kid) else { return false };
        let mut v = Validation::new(Algorithm::EdDSA);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(jws, &DecodingKey::from_jwk(jwk).unwrap(), &v).is_ok()
    }

    #[test]
    fn a_receipt_signed_before_a_rotation_verifies_after_it() {
        let old = ReceiptSigner::ephemeral();
        let before = old.sign(&serde_json::json!({"jti": "rcpt_1"})).unwrap();
        // Rotation: a new signing key; the old public key (its default kid) is retired.
        let retired = RetiredReceiptKey::parse(&old.public_key(), None).unwrap();
        assert_eq!(retired.kid(), old.kid());
        let new = ReceiptSigner::ephemeral().with_retired(vec![retired]).unwrap();
        let after = new.sign(&serde_json::json!({"jti": "rcpt_2"})).unwrap();
        let jwks = new.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert!(verify_from_jwks(&jwks, &before));
        assert!(verify_from_jwks(&jwks, &after));
        assert!(new.verify(&before) && new.verify(&after));
        // Without the retired key, the old receipt no longer checks out.
        let forgetful = ReceiptSigner::ephemeral();
        assert!(!verify_from_jwks(&forgetful.jwks(), &before));
        assert!(!forgetful.verify(&before));
    }

    #[test]
    fn tampered_receipts_and_clashing_kids_are_refused() {
        let s = ReceiptSigner::ephemeral();
        let jws = s.sign(&serde_json::json!({"a": 1})).unwrap();
        let mut parts: Vec<&str> = jws.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(br#"{"a":2}"#);
        parts[1] = &other;
        assert!(!s.verify(&parts.join(".")));
        assert!(!s.verify("a.b"));
        let a = RetiredReceiptKey::parse(&ReceiptSigner::ephemeral().public_key(), Some("k1")).unwrap();
        let b = RetiredReceiptKey::parse(&ReceiptSigner::ephemeral().public_key(), Some("k1")).unwrap();
        assert!(matches!(s.clone().with_retired(vec![a, b]), Err(ReceiptKeyError::DuplicateKid(_))));
        assert!(RetiredReceiptKey::parse("not a key", None).is_err());
        // Listing the current key as retired is harmless.
        let same = RetiredReceiptKey::parse(&s.public_key(), None).unwrap();
        assert_eq!(s.clone().with_retired(vec![same]).unwrap().jwks()["keys"].as_array().unwrap().len(), 1);
    }
}
