//! The bearer secrets of the consents page: a challenge id (in the code form's URL) and a
//! session (in its cookie). Each names the partition of the number it is about, so any node
//! finds its Redis slot; Redis keeps only its hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::Partition;

/// `<4 hex digits of partition><43 base64url characters>` (256 random bits).
#[derive(Clone, PartialEq, Eq)]
pub struct PageSecret(String);

impl PageSecret {
    pub fn random(p: Partition) -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{:04x}{}", p.0, URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Anything malformed, or naming a partition this deployment does not have, is `None`.
    pub fn parse(s: &str, partitions: u16) -> Option<Self> {
        if s.len() != 47 || !s.is_char_boundary(4) {
            return None;
        }
        let p = u16::from_str_radix(&s[..4], 16).ok()?;
        let rest = &s[4..];
        let ok = rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (ok && p < partitions && s[..4].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
            .then(|| Self(s.to_string()))
    }

    pub fn partition(&self) -> Partition {
        Partition(u16::from_str_radix(&self.0[..4], 16).unwrap_or(0))
    }

    /// What Redis names it by.
    pub fn hash(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..16])
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A secret: never printed.
impl std::fmt::Debug for PageSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageSecret(p{})", self.partition().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_parses_back_and_names_its_partition() {
        let s = PageSecret::random(Partition(3));
        let back = PageSecret::parse(s.expose(), 4).unwrap();
        assert_eq!(back.partition(), Partition(3));
        assert_eq!(back.hash(), s.hash());
        assert_ne!(PageSecret::random(Partition(3)).hash(), s.hash());
        assert!(PageSecret::parse(s.expose(), 3).is_none(), "partition out of range");
        assert!(PageSecret::parse(&s.expose()[..46], 4).is_none());
        assert!(PageSecret::parse(&format!("0003{}", "é".repeat(21)), 4).is_none());
        assert!(PageSecret::parse(&format!("000G{}", &s.expose()[4..]), 4).is_none());
        assert!(!format!("{s:?}").contains(&s.expose()[4..]));
    }
}
