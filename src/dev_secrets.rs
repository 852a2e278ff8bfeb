//! Dev mode only: the generated server key and receipt key, kept in a local file so that codes
//! and links sent before a restart still work after it. Production never reads this file.

use std::{io::Write, path::Path};

use rand::RngCore;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevSecrets {
    /// 64 hex digits.
    pub server_key: String,
    /// 64 hex digits: the Ed25519 seed that signs receipts.
    pub receipt_signing_key: String,
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Reads `path`, or creates it (mode 0600) with fresh keys. `true` when it was created.
pub fn load_or_create(path: &Path) -> std::io::Result<(DevSecrets, bool)> {
    if let Ok(raw) = std::fs::read_to_string(path) {
        let s = serde_json::from_str(&raw).map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
        return Ok((s, false));
    }
    let s = DevSecrets { server_key: random_hex(), receipt_signing_key: random_hex() };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Written aside and renamed, so a reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(serde_json::to_string_pretty(&s).map_err(std::io::Error::other)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok((s, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_start_reads_what_the_first_wrote() {
        let dir = std::env::temp_dir().join(format!("ov-dev-secrets-{}", random_hex()));
        let path = dir.join("secrets.json");
        let (first, created) = load_or_create(&path).unwrap();
        assert!(created);
        let (second, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.server_key, second.server_key);
        assert_eq!(first.receipt_signing_key, second.receipt_signing_key);
        assert_eq!(first.server_key.len(), 64);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
