//! The keys of `[secrets]` and `[receipts]`, read (files included) and parsed by one function
//! that both `check-config` (through [`Settings::validate`]) and `serve` (at start-up) call: a
//! key that one refuses, the other refuses too, under the same name.
//!
//! Production also refuses a current server key or a receipt signing key with obviously low
//! entropy ([`crate::domain::low_entropy`]). Previous server keys and `secrets.pseudonym_key`
//! are only parsed: they are the keys an operator rotates *away* from, and refusing a weak one
//! would block exactly that rotation (or cost every number its consents and suppression).

use super::{ConfigError, Mode, Settings};
use crate::{
    domain::{SecretError, ServerKey, ServerKeys, low_entropy},
    evidence::{ReceiptSigner, RetiredReceiptKey},
};

/// The server keys as configured. `current` is `None` only in dev mode without a configured
/// key: start-up then takes the kept dev key or an ephemeral one.
pub struct ConfiguredKeys {
    pub current: Option<ServerKey>,
    pub previous: Vec<ServerKey>,
    pub pseudonym: Option<ServerKey>,
}

impl ConfiguredKeys {
    /// The key ring with `current` in front (the configured key, or dev mode's).
    pub fn ring(self, current: ServerKey) -> ServerKeys {
        let keys = ServerKeys::new(current, self.previous);
        match self.pseudonym {
            Some(p) => keys.with_pseudonym_key(p),
            None => keys,
        }
    }
}

/// A setting that names a file: its contents, or an error naming the setting.
fn read(setting: &str, path: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::invalid(setting, format!("{path}: {e}")))
}

fn secret_error(setting: &str, e: SecretError) -> ConfigError {
    ConfigError::invalid(setting, e.to_string())
}

impl Settings {
    /// `secrets.server_key` (or `server_key_file`), `previous_server_keys` (and its file) and
    /// `pseudonym_key`, each refused under its own name.
    pub fn server_keys(&self) -> Result<ConfiguredKeys, ConfigError> {
        let s = &self.secrets;
        let production = self.mode == Mode::Production;
        let (setting, raw) = if s.server_key_file.is_empty() {
            ("secrets.server_key", s.server_key.clone())
        } else {
            ("secrets.server_key_file", read("secrets.server_key_file", &s.server_key_file)?)
        };
        let current = if raw.trim().is_empty() {
            if production {
                return Err(ConfigError::invalid("secrets.server_key", "production needs a real server key"));
            }
            None
        } else if production {
            Some(ServerKey::parse_strong(&raw).map_err(|e| secret_error(setting, e))?)
        } else {
            Some(ServerKey::parse(&raw).map_err(|e| secret_error(setting, e))?)
        };
        let mut previous = Vec::with_capacity(s.previous_server_keys.len());
        for (i, k) in s.previous_server_keys.iter().enumerate() {
            let setting = format!("secrets.previous_server_keys[{i}]");
            previous.push(ServerKey::parse(k).map_err(|e| secret_error(&setting, e))?);
        }
        if !s.previous_server_keys_file.is_empty() {
            let text = read("secrets.previous_server_keys_file", &s.previous_server_keys_file)?;
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let key = ServerKey::parse(line).map_err(|e| {
                    ConfigError::invalid("secrets.previous_server_keys_file", format!("line {}: {e}", n + 1))
                })?;
                previous.push(key);
            }
        }
        let pseudonym = if s.pseudonym_key.is_empty() {
            None
        } else {
            Some(ServerKey::parse(&s.pseudonym_key).map_err(|e| secret_error("secrets.pseudonym_key", e))?)
        };
        Ok(ConfiguredKeys { current, previous, pseudonym })
    }

    /// `receipts.signing_key` (or `signing_key_file`) with `receipts.retired_keys`. `None` only
    /// in dev mode without a configured key.
    pub fn receipt_signer(&self) -> Result<Option<ReceiptSigner>, ConfigError> {
        let r = &self.receipts;
        let production = self.mode == Mode::Production;
        let (setting, raw) = if r.signing_key_file.is_empty() {
            ("receipts.signing_key", r.signing_key.clone())
        } else {
            ("receipts.signing_key_file", read("receipts.signing_key_file", &r.signing_key_file)?)
        };
        if raw.trim().is_empty() {
            if production {
                return Err(ConfigError::invalid("receipts.signing_key", "production needs a receipt signing key"));
            }
            return Ok(None);
        }
        let signer = ReceiptSigner::parse(&raw).map_err(|e| ConfigError::invalid(setting, e.to_string()))?;
        if production && let Some(why) = low_entropy(&signer.secret_bytes()) {
            return Err(ConfigError::invalid(
                setting,
                format!("the key has obviously low entropy ({why}); make one with `optin-verify keygen --receipt`"),
            ));
        }
        let mut retired = Vec::with_capacity(r.retired_keys.len());
        for (i, k) in r.retired_keys.iter().enumerate() {
            let key = RetiredReceiptKey::parse(&k.public_key, k.kid.as_deref())
                .map_err(|e| ConfigError::invalid(format!("receipts.retired_keys[{i}]"), e.to_string()))?;
            retired.push(key);
        }
        let signer =
            signer.with_retired(retired).map_err(|e| ConfigError::invalid("receipts.retired_keys", e.to_string()))?;
        Ok(Some(signer))
    }
}
