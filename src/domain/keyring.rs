//! The server key ring: the current key and the previous ones still accepted (rotation overlap).
//!
//! Everything new (codes, tokens, CSRF values, receipt ids) is made under the current key; a
//! value presented back is accepted under any configured key. A verification keeps the key it
//! was made under (its *origin*) for every value derived from its seed, so a resend after a
//! rotation repeats the same code and links. The origin needs no stored field: it is the key
//! whose opt-out token hashes to the stored `otk`.

use std::ops::Deref;

use subtle::ConstantTimeEq;

use super::{Code, LinkToken, ServerKey, TokenKind, VerificationId};

/// Current key first, then previous keys from newest to oldest. Redacted in `Debug`.
#[derive(Clone)]
pub struct ServerKeys {
    keys: Vec<ServerKey>,
    /// `secrets.pseudonym_key`, when set: outlives every key of the ring.
    pseudonym: Option<ServerKey>,
}

impl ServerKeys {
    pub fn new(current: ServerKey, previous: Vec<ServerKey>) -> Self {
        let mut keys = vec![current];
        keys.extend(previous);
        Self { keys, pseudonym: None }
    }

    /// Pseudonyms and idempotent ids under a key of their own (`secrets.pseudonym_key`).
    pub fn with_pseudonym_key(mut self, key: ServerKey) -> Self {
        self.pseudonym = Some(key);
        self
    }

    pub fn current(&self) -> &ServerKey {
        &self.keys[0]
    }

    /// The oldest configured key (the last previous key, or the current one). Pseudonyms and
    /// idempotent ids use it so that a rotation, which puts a new key in front, changes neither:
    /// rate-limit windows and Idempotency-Key replays carry on across it.
    fn stable(&self) -> &ServerKey {
        self.pseudonym.as_ref().unwrap_or_else(|| self.keys.last().expect("at least the current key"))
    }

    /// The key this verification was made under, if it is still configured.
    pub fn origin(&self, id: &VerificationId, seed: &[u8], optout_token_hash: &str) -> Option<&ServerKey> {
        self.keys.iter().find(|k| {
            let hash = k.token_for(TokenKind::OptOut, id, seed).hash();
            bool::from(hash.as_bytes().ct_eq(optout_token_hash.as_bytes()))
        })
    }

    /// The origin key, or the current one when the origin was dropped from configuration.
    pub fn origin_or_current(&self, id: &VerificationId, seed: &[u8], optout_token_hash: &str) -> &ServerKey {
        self.origin(id, seed, optout_token_hash).unwrap_or_else(|| self.current())
    }

    /// The receipt id (`jti`, `/r/...`): under the origin key so it never changes while that
    /// key is configured.
    pub fn receipt_id(&self, id: &VerificationId, seed: &[u8], optout_token_hash: &str) -> String {
        self.origin_or_current(id, seed, optout_token_hash).receipt_id(id, seed)
    }

    /// The hosted code page, `/v/{token}`, under the verification's own key.
    pub fn code_page_path(&self, id: &VerificationId, seed: &[u8], optout_token_hash: &str) -> String {
        let key = self.origin_or_current(id, seed, optout_token_hash);
        format!("/v/{}", key.token_for(TokenKind::CodePage, id, seed).expose())
    }

    /// The code's HMAC under every key, current first: the check script accepts any of them.
    pub fn code_macs(&self, id: &VerificationId, code: &Code) -> Vec<String> {
        self.keys.iter().map(|k| k.code_mac(id, code)).collect()
    }

    /// Whether `presented` is a token of this kind for this verification under any key. Every
    /// key is tried, so the time taken does not tell which one matched.
    pub fn token_ok(&self, kind: TokenKind, id: &VerificationId, seed: &[u8], presented: &LinkToken) -> bool {
        self.keys.iter().fold(false, |ok, k| {
            let expected = k.token_for(kind, id, seed);
            bool::from(expected.expose().as_bytes().ct_eq(presented.expose().as_bytes())) | ok
        })
    }

    /// Whether `presented` is the receipt id of its verification under any configured key.
    pub fn receipt_id_ok(&self, id: &VerificationId, seed: &[u8], presented: &str) -> bool {
        self.keys.iter().fold(false, |ok, k| k.receipt_id_ok(id, seed, presented) | ok)
    }

    /// A CSRF value made under any configured key: a form opened before a rotation still posts.
    pub fn csrf_ok(&self, subject: &str, presented: &str) -> bool {
        self.keys.iter().fold(false, |ok, k| k.csrf_ok(subject, presented) | ok)
    }

    pub fn pseudonym(&self, kind: &str, value: &str) -> String {
        self.stable().pseudonym(kind, value)
    }

    /// A keyed hash that names the pseudonym key without revealing it: the store keeps it, so
    /// a start under another pseudonym key (which would lose every number's consents and
    /// suppression without a word) is noticed.
    pub fn pseudonym_fingerprint(&self) -> String {
        hex::encode(&self.stable().derive("pseudonym-key-fingerprint/v1")[..16])
    }

    pub fn idempotent_id(&self, tenant: &str, key: &str, partitions: u16) -> VerificationId {
        self.stable().idempotent_id(tenant, key, partitions)
    }

    /// Every configured key, current first: for keys derived per purpose (e.g. encryption).
    pub fn all(&self) -> &[ServerKey] {
        &self.keys
    }
}

/// Anything new is made under the current key.
impl Deref for ServerKeys {
    type Target = ServerKey;

    fn deref(&self) -> &ServerKey {
        self.current()
    }
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerKeys(current + {} previous, ***)", self.keys.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: &str) -> ServerKey {
        ServerKey::parse(&b.repeat(32)).unwrap()
    }

    #[test]
    fn values_made_under_a_previous_key_are_accepted_and_new_ones_use_the_current_key() {
        let (a, b) = (key("aa"), key("bb"));
        let before = ServerKeys::new(a.clone(), vec![]);
        let after = ServerKeys::new(b.clone(), vec![a.clone()]);
        let id = VerificationId::random(16);
        let seed = [7u8; 16];
        let otk = a.token_for(TokenKind::OptOut, &id, &seed).hash();
        // The verification remembers its origin key: same code and links after the rotation.
        let origin = after.origin(&id, &seed, &otk).expect("origin found");
        assert_eq!(origin.code_for(&id, &seed, 6).expose(), a.code_for(&id, &seed, 6).expose());
        assert_eq!(after.receipt_id(&id, &seed, &otk), before.receipt_id(&id, &seed, &otk));
        // The code's mac under the old key is among those the check compares.
        let code = a.code_for(&id, &seed, 6);
        assert!(after.code_macs(&id, &code).contains(&a.code_mac(&id, &code)));
        assert_eq!(after.code_macs(&id, &code)[0], b.code_mac(&id, &code));
        // Tokens, receipt ids and CSRF values from before still pass; new ones use the new key.
        let confirm = a.token_for(TokenKind::Confirm, &id, &seed);
        assert!(after.token_ok(TokenKind::Confirm, &id, &seed, &confirm));
        assert!(!after.token_ok(TokenKind::OptOut, &id, &seed, &confirm));
        assert!(after.receipt_id_ok(&id, &seed, &a.receipt_id(&id, &seed)));
        assert!(after.csrf_ok("s", &a.csrf_for("s")));
        assert_eq!(after.csrf_for("s"), b.csrf_for("s"));
        // A key that is not configured is not accepted.
        let stranger = ServerKeys::new(key("cc"), vec![]);
        assert!(stranger.origin(&id, &seed, &otk).is_none());
        assert!(!stranger.csrf_ok("s", &a.csrf_for("s")));
        assert!(!stranger.token_ok(TokenKind::Confirm, &id, &seed, &confirm));
    }

    #[test]
    fn pseudonyms_and_idempotent_ids_survive_a_rotation() {
        let (a, b) = (key("aa"), key("bb"));
        let before = ServerKeys::new(a.clone(), vec![]);
        let after = ServerKeys::new(b, vec![a]);
        assert_eq!(before.pseudonym("dest", "+31612345678"), after.pseudonym("dest", "+31612345678"));
        assert_eq!(before.idempotent_id("t", "k", 16), after.idempotent_id("t", "k", 16));
        assert!(!format!("{after:?}").contains("aa"));
    }

    #[test]
    fn a_pseudonym_key_outlives_dropping_the_oldest_server_key() {
        let (a, b) = (key("aa"), key("bb"));
        let before = ServerKeys::new(b.clone(), vec![a.clone()]);
        // After a leak of `a`: it no longer opens anything, but still names the numbers.
        let after = ServerKeys::new(b, vec![]).with_pseudonym_key(a);
        assert_eq!(before.pseudonym("phone", "+31612345678"), after.pseudonym("phone", "+31612345678"));
        assert_eq!(before.idempotent_id("t", "k", 16), after.idempotent_id("t", "k", 16));
        let dropped = ServerKeys::new(key("bb"), vec![]);
        assert_ne!(before.pseudonym("phone", "+31612345678"), dropped.pseudonym("phone", "+31612345678"));
    }
}
