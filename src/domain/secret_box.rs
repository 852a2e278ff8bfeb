//! Encryption at rest for secrets the service must keep in a readable form (webhook endpoint
//! secrets sign every delivery, so a hash will not do). A Redis dump or backup without the
//! server key then yields no secret to forge webhooks with.
//!
//! ChaCha20-Poly1305 (ring) under a key derived from each server key with its own label, so
//! it rotates with `secrets.server_key`: sealing uses the current key, opening tries every
//! configured one, and a value opened under an older key (or still in plain text) is reported
//! stale so that its record can be sealed again.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::sync::Arc;

use super::ServerKeys;

const PREFIX: &str = "sealed:v1:";
const LABEL: &str = "secret-box/chacha20poly1305/v1";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("a sealed secret opens under none of the configured server keys")]
    NoKey,
}

/// A secret read back: its text, and whether it should be sealed again under the current key.
#[derive(Debug)]
pub struct Opened {
    pub text: String,
    pub stale: bool,
}

/// Seals and opens small secrets. Cheap to clone. Holds no secret in `Debug`.
#[derive(Clone)]
pub struct SecretBox {
    /// One AEAD key per configured server key, current first.
    keys: Arc<Vec<LessSafeKey>>,
}

impl SecretBox {
    pub fn new(server_keys: &ServerKeys) -> Self {
        let keys = server_keys
            .all()
            .iter()
            .map(|k| {
                let bytes = k.derive(LABEL);
                LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &bytes).expect("32-byte key"))
            })
            .collect();
        Self { keys: Arc::new(keys) }
    }

    /// `sealed:v1:` + base64url(nonce ‖ ciphertext ‖ tag). `context` is bound as associated
    /// data: a sealed value copied to another record (another endpoint) does not open there.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plaintext.as_bytes().to_vec();
        self.keys[0]
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut buf)
            .expect("ChaCha20-Poly1305 seals any message this small");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a sealed value; a value without the prefix is a record from before encryption.
    pub fn open(&self, stored: &str, context: &str) -> Result<Opened, SealError> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            return Ok(Opened { text: stored.to_string(), stale: true });
        };
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::NoKey)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::NoKey);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        for (i, key) in self.keys.iter().enumerate() {
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::NoKey)?;
            let mut buf = sealed.to_vec();
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf) {
                let text = String::from_utf8(plain.to_vec()).map_err(|_| SealError::NoKey)?;
                return Ok(Opened { text, stale: i > 0 });
            }
        }
        Err(SealError::NoKey)
    }
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBox({} key(s), ***)", self.keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ServerKey;

    fn keys(current: &str, previous: &[&str]) -> ServerKeys {
        let k = |s: &str| ServerKey::parse(&s.repeat(32)).unwrap();
        ServerKeys::new(k(current), previous.iter().map(|p| k(p)).collect())
    }

    #[test]
    fn seals_opens_and_rotates() {
        let before = SecretBox::new(&keys("aa", &[]));
        let sealed = before.seal("whsec_secret", "ep_1");
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("secret"));
        assert_ne!(sealed, before.seal("whsec_secret", "ep_1"), "a fresh nonce every time");
        let o = before.open(&sealed, "ep_1").unwrap();
        assert_eq!((o.text.as_str(), o.stale), ("whsec_secret", false));
        // Another record's context does not open it.
        assert!(before.open(&sealed, "ep_2").is_err());
        // After a rotation the old value still opens, marked stale; without the key it does not.
        let after = SecretBox::new(&keys("bb", &["aa"]));
        let o = after.open(&sealed, "ep_1").unwrap();
        assert_eq!((o.text.as_str(), o.stale), ("whsec_secret", true));
        assert!(SecretBox::new(&keys("bb", &[])).open(&sealed, "ep_1").is_err());
        // Plain text from before encryption reads, marked stale.
        assert!(after.open("whsec_plain", "ep_1").unwrap().stale);
        assert!(after.open("sealed:v1:AAAA", "ep_1").is_err());
    }
}
