use rand::Rng;
use sha2::{Digest, Sha256};

/// A tenant API key as the client sends it. Redacted in `Debug`.
pub struct ApiKey(String);

impl ApiKey {
    /// A fresh key: `ovk_` and 43 random letters and digits (about 256 bits). Letters and
    /// digits only, so the key survives copy-paste, shell words and `grep -o '[A-Za-z0-9_]+'`.
    pub fn generate() -> Self {
        let body: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(43).map(char::from).collect();
        Self(format!("ovk_{body}"))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash::of(&self.0)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Lower-case hex SHA-256 of an API key: the only form a key is stored in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    pub fn of(key: &str) -> Self {
        Self(hex::encode(Sha256::digest(key.as_bytes())))
    }

    /// From configuration; the caller has checked the format.
    pub fn from_hex(hex: &str) -> Self {
        Self(hex.to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_hash_to_their_sha256() {
        let k = ApiKey::generate();
        assert!(k.expose().starts_with("ovk_"));
        assert_eq!(k.expose().len(), 4 + 43);
        assert!(k.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_eq!(k.hash().as_str(), hex::encode(Sha256::digest(k.expose().as_bytes())));
        assert_ne!(ApiKey::generate().expose(), k.expose());
        assert_eq!(format!("{k:?}"), "ApiKey(***)");
    }
}
