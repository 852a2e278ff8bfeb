//! Link tokens: the verification id's 16 bytes and 128 pseudo-random bits, base64url.
//!
//! Carrying the id means a token needs no lookup key of its own: the page reads the
//! verification and compares the token's SHA-256 with the stored one in constant time.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::VerificationId;

/// What a token unlocks; each kind is derived and stored separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `/c/{token}`: confirm or decline once.
    Confirm,
    /// `/o/{token}`: "not me" / withdraw, for the life of the evidence.
    OptOut,
    /// `/r/rcpt_{token}`: the consumer's receipt page; also the receipt's id.
    Receipt,
    /// `/v/{token}`: the hosted code page. Never stored: checked by deriving it again.
    CodePage,
}

impl TokenKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::OptOut => "optout",
            Self::Receipt => "receipt",
            Self::CodePage => "code-page",
        }
    }
}

/// A token from a URL or freshly derived. Redacted in `Debug`; stored only as SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken {
    text: String,
    id: VerificationId,
}

impl LinkToken {
    pub(super) fn from_parts(id: &VerificationId, secret: &[u8; 16]) -> Self {
        let mut raw = hex::decode(&id.as_str()[3..]).expect("ids are hex");
        raw.extend_from_slice(secret);
        Self { text: URL_SAFE_NO_PAD.encode(raw), id: id.clone() }
    }

    /// Any string that is not a well-formed token for one of our partitions is refused.
    pub fn parse(s: &str, partitions: u16) -> Option<Self> {
        if s.len() != 43 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
        if raw.len() != 32 {
            return None;
        }
        let id = VerificationId::parse(&format!("vf_{}", hex::encode(&raw[..16])), partitions)?;
        Some(Self { text: s.to_string(), id })
    }

    pub fn verification_id(&self) -> &VerificationId {
        &self.id
    }

    /// Hex SHA-256: the form stored in Redis.
    /// SHA-256, base64url: 43 bytes stored per token instead of 64 in hex.
    pub fn hash(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.text.as_bytes()))
    }

    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_with_their_verification() {
        let id = VerificationId::random(16);
        let t = LinkToken::from_parts(&id, &[9u8; 16]);
        assert_eq!(t.expose().len(), 43);
        let back = LinkToken::parse(t.expose(), 16).unwrap();
        assert_eq!(back.verification_id(), &id);
        assert_eq!(back.hash(), t.hash());
        assert_eq!(back.hash().len(), 43, "SHA-256, base64url");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!(LinkToken::parse("not-a-token", 16).is_none());
        assert!(LinkToken::parse(&"!".repeat(43), 16).is_none());
        // Partition 0xffff does not exist with 16 partitions.
        let raw = [0xffu8; 32];
        assert!(LinkToken::parse(&URL_SAFE_NO_PAD.encode(raw), 16).is_none());
    }
}
