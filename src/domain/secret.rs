//! The server key and everything derived from it.
//!
//! A verification stores a random 128-bit `seed`. Its code and link tokens are HMAC-SHA256
//! outputs over that seed, so a resend sends the same code and link while Redis holds only
//! the seed, the code's HMAC and the tokens' SHA-256: a copy of Redis without the server key
//! yields no code and no usable link. HMAC under a secret key is a PRF, so the derived values
//! are as unpredictable as CSPRNG output.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Code, LinkToken, TokenKind, VerificationId};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the server key must be at least 32 bytes")]
    TooShort,
    #[error("the key has obviously low entropy ({0}); make one with `optin-verify keygen --server`")]
    LowEntropy(&'static str),
}

/// Fewer distinct byte values, or distinct steps between neighbours, than this marks a key as
/// made up rather than random. See [`low_entropy`].
pub const MIN_DISTINCT: usize = 8;

/// Why `key` (its bytes, after hex or base64 decoding) has obviously low entropy, if it has.
///
/// The rule, applied by production to the current server key and the receipt signing key:
/// a key is refused when its bytes take fewer than 8 distinct values, or when the steps between
/// neighbouring bytes (`b[i+1] - b[i]` mod 256) take fewer than 8 distinct values. The first
/// catches repeated bytes (64 zeros, `"k" * 40`) and short alphabets (`"password" * 4`); the
/// second catches counting runs (`00 01 02 ...`, `abcdef...`) and short repeated blocks
/// (`deadbeef...`, `0123456789abcdef` four times). 32 random bytes pass with certainty (they
/// hold about 30 distinct values and steps); so do 32+ random characters of hex, base64 or
/// letters and digits used as text (fewer than 1 in 100,000 fails). Only keys of about 32
/// random decimal digits fail by chance now and then (about 1 in 1,000): use `keygen`.
pub fn low_entropy(key: &[u8]) -> Option<&'static str> {
    let mut values = [false; 256];
    let mut steps = [false; 256];
    for b in key {
        values[usize::from(*b)] = true;
    }
    for w in key.windows(2) {
        steps[usize::from(w[1].wrapping_sub(w[0]))] = true;
    }
    let count = |seen: &[bool; 256]| seen.iter().filter(|s| **s).count();
    if count(&values) < MIN_DISTINCT {
        return Some("fewer than 8 distinct byte values");
    }
    if count(&steps) < MIN_DISTINCT {
        return Some("a run or a short repeated pattern: fewer than 8 distinct steps between neighbouring bytes");
    }
    None
}

/// Keys codes, tokens and CSRF values. Redacted in `Debug`.
#[derive(Clone)]
pub struct ServerKey(Vec<u8>);

impl ServerKey {
    /// Hex (64+ digits) is decoded; any other string of 32+ bytes is used as it is.
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let s = s.trim();
        let bytes = match hex::decode(s) {
            Ok(b) if s.len() >= 64 => b,
            _ => s.as_bytes().to_vec(),
        };
        if bytes.len() < 32 {
            return Err(SecretError::TooShort);
        }
        Ok(Self(bytes))
    }

    /// Like [`ServerKey::parse`], and refuses a key with obviously low entropy ([`low_entropy`]).
    /// Production parses its current server key this way.
    pub fn parse_strong(s: &str) -> Result<Self, SecretError> {
        let key = Self::parse(s)?;
        match low_entropy(&key.0) {
            Some(why) => Err(SecretError::LowEntropy(why)),
            None => Ok(key),
        }
    }

    /// 32 fresh random bytes as 64 hex digits, for `optin-verify keygen --server`.
    pub fn generate_hex() -> String {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        hex::encode(b)
    }

    /// Dev mode only: a key that dies with the process.
    pub fn ephemeral() -> Self {
        let mut b = vec![0u8; 32];
        rand::rng().fill_bytes(&mut b);
        Self(b)
    }

    /// A fresh per-verification seed from the thread CSPRNG.
    pub fn new_seed() -> [u8; 16] {
        let mut s = [0u8; 16];
        rand::rng().fill_bytes(&mut s);
        s
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        for p in parts {
            // Length-prefix every part so that no two inputs concatenate to the same bytes.
            m.update(&(p.len() as u32).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// The verification's code, derived from its seed.
    pub fn code_for(&self, id: &VerificationId, seed: &[u8], len: u8) -> Code {
        let mut counter = 0u32;
        let mut block = [0u8; 32];
        let mut offset = 32;
        Code::from_uniform_words(len, || {
            if offset == 32 {
                block = self.mac(&[b"code", id.as_str().as_bytes(), seed, &counter.to_be_bytes()]);
                counter += 1;
                offset = 0;
            }
            let w = u64::from_be_bytes(block[offset..offset + 8].try_into().expect("8 bytes"));
            offset += 8;
            w
        })
    }

    /// A 32-byte key for one purpose (`label`), derived from this key: rotates with it.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        self.mac(&[b"derive", label.as_bytes()])
    }

    /// HMAC-SHA256(server key, id ‖ code), hex: the only stored form of a code.
    pub fn code_mac(&self, id: &VerificationId, code: &Code) -> String {
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(id.as_str().as_bytes());
        m.update(code.expose().as_bytes());
        // base64url, not hex: 43 bytes instead of 64 in each of millions of records.
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    }

    pub fn token_for(&self, kind: TokenKind, id: &VerificationId, seed: &[u8]) -> LinkToken {
        let full = self.mac(&[b"token", kind.label().as_bytes(), id.as_str().as_bytes(), seed]);
        let mut secret = [0u8; 16];
        secret.copy_from_slice(&full[..16]);
        LinkToken::from_parts(id, &secret)
    }

    /// The receipt id, `rcpt_<token>`: unguessable, so it can open the receipt page.
    pub fn receipt_id(&self, id: &VerificationId, seed: &[u8]) -> String {
        format!("rcpt_{}", self.token_for(TokenKind::Receipt, id, seed).expose())
    }

    /// Whether `presented` is the receipt id of its verification (given that one's seed).
    pub fn receipt_id_ok(&self, id: &VerificationId, seed: &[u8], presented: &str) -> bool {
        self.receipt_id(id, seed).as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// CSRF value for a page form, bound to the token it acts on.
    pub fn csrf_for(&self, token_hash: &str) -> String {
        hex::encode(&self.mac(&[b"csrf", token_hash.as_bytes()])[..16])
    }

    pub fn csrf_ok(&self, token_hash: &str, presented: &str) -> bool {
        let expected = self.csrf_for(token_hash);
        expected.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// Pseudonym for a destination or IP in rate-limit key names: no PII in key names.
    pub fn pseudonym(&self, kind: &str, value: &str) -> String {
        hex::encode(&self.mac(&[b"pseudonym", kind.as_bytes(), value.as_bytes()])[..12])
    }

    /// The same tenant and Idempotency-Key always name the same verification id.
    pub fn idempotent_id(&self, tenant: &str, key: &str, partitions: u16) -> VerificationId {
        let full = self.mac(&[b"idempotency", tenant.as_bytes(), key.as_bytes()]);
        let mut b = [0u8; 16];
        b.copy_from_slice(&full[..16]);
        VerificationId::from_bytes(&b, partitions)
    }
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ServerKey {
        ServerKey::parse(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(ServerKey::parse("short").is_err());
        assert!(ServerKey::parse(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn keys_with_obviously_low_entropy_are_refused_by_the_strong_parse() {
        let sequence: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
        let weak = [
            "0".repeat(64),
            "ab".repeat(32),
            "k".repeat(40),
            "deadbeef".repeat(8),
            "0123456789abcdef".repeat(4),
            sequence,
            "abcdefghijklmnopqrstuvwxyzABCDEF".to_string(),
            "passwordpasswordpasswordpassword".to_string(),
        ];
        for k in &weak {
            assert!(ServerKey::parse(k).is_ok(), "{k} parses");
            assert!(matches!(ServerKey::parse_strong(k), Err(SecretError::LowEntropy(_))), "{k}");
        }
        assert!(matches!(ServerKey::parse_strong("short"), Err(SecretError::TooShort)));
        for _ in 0..1000 {
            assert!(ServerKey::parse_strong(&ServerKey::generate_hex()).is_ok());
        }
        // Texts of 32+ characters that are not hex keys, as operators write them.
        for k in ["test-server-key-0123456789abcdef0123456789", "Zx9#kQ2!vL7@pR4$wT1%yU8^mN3&bC6*", "5f0c1e9a3b7d2468"]
        {
            let text = if k.len() < 32 { k.repeat(2) } else { k.to_string() };
            assert!(ServerKey::parse_strong(&text).is_ok(), "{text}");
        }
        assert_eq!(low_entropy(&[7u8; 32]), Some("fewer than 8 distinct byte values"));
        assert!(low_entropy(&(0u8..32).collect::<Vec<_>>()).is_some());
    }

    #[test]
    fn code_is_stable_per_seed_and_differs_across_seeds() {
        let id = VerificationId::random(16);
        let k = key();
        let a = k.code_for(&id, &[1; 16], 6);
        assert_eq!(a.expose(), k.code_for(&id, &[1; 16], 6).expose());
        assert_eq!(a.expose().len(), 6);
        let distinct: std::collections::HashSet<String> =
            (0..50u8).map(|i| k.code_for(&id, &[i; 16], 6).expose().to_string()).collect();
        assert!(distinct.len() > 45);
    }

    #[test]
    fn code_mac_depends_on_id_and_code() {
        let k = key();
        let id = VerificationId::random(16);
        let c = Code::parse("123456", 6).unwrap();
        assert_eq!(k.code_mac(&id, &c), k.code_mac(&id, &c));
        assert_ne!(k.code_mac(&id, &c), k.code_mac(&VerificationId::random(16), &c));
        assert_ne!(k.code_mac(&id, &c), k.code_mac(&id, &Code::parse("123457", 6).unwrap()));
    }

    #[test]
    fn tokens_of_both_kinds_differ_and_name_their_verification() {
        let k = key();
        let id = VerificationId::random(16);
        let c = k.token_for(TokenKind::Confirm, &id, &[3; 16]);
        let o = k.token_for(TokenKind::OptOut, &id, &[3; 16]);
        assert_ne!(c.expose(), o.expose());
        assert_eq!(c.verification_id(), &id);
    }

    #[test]
    fn csrf_checks_in_constant_time_and_binds_to_token() {
        let k = key();
        let v = k.csrf_for("abc");
        assert!(k.csrf_ok("abc", &v));
        assert!(!k.csrf_ok("abd", &v));
        assert!(!k.csrf_ok("abc", ""));
    }
}

#[cfg(test)]
mod uniformity {
    use super::*;

    /// Chi-square over every digit position of many codes: a biased generator fails this.
    /// The key and id are fixed, so the sample is the same on every run: with a fresh random
    /// key each run, a fair generator still failed one run in about 170 (six positions at the
    /// 0.999 quantile).
    #[test]
    fn code_digits_are_uniform() {
        let k = ServerKey::parse(&"5a".repeat(32)).unwrap();
        let id = VerificationId::from_bytes(&[7u8; 16], 16);
        let n = 20_000;
        let mut counts = [[0u32; 10]; 6];
        for i in 0..n {
            let seed = (i as u128).to_be_bytes();
            let code = k.code_for(&id, &seed, 6);
            assert_eq!(code.expose().len(), 6);
            for (pos, d) in code.expose().bytes().enumerate() {
                counts[pos][usize::from(d - b'0')] += 1;
            }
        }
        let expected = f64::from(n) / 10.0;
        for (pos, row) in counts.iter().enumerate() {
            let chi2: f64 = row.iter().map(|&c| (f64::from(c) - expected).powi(2) / expected).sum();
            // 9 degrees of freedom: 27.88 is the 0.999 quantile.
            assert!(chi2 < 27.88, "position {pos} looks biased: chi2 = {chi2:.1}, {row:?}");
        }
    }

    #[test]
    fn every_configured_length_is_honoured() {
        let k = ServerKey::ephemeral();
        let id = VerificationId::random(16);
        for len in 4..=10u8 {
            for s in 0..50u8 {
                let c = k.code_for(&id, &[s; 16], len);
                assert_eq!(c.expose().len(), usize::from(len));
                assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}
