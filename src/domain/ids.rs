//! Verification ids carry their partition, so any node finds the hash slot without a lookup.

use rand::RngCore;

/// Index of a hash-tag partition: `{prefix:p<N>}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partition(pub u16);

/// `vf_` + 4 hex digits of partition + 28 hex digits (112 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerificationId(String);

impl VerificationId {
    pub fn random(partitions: u16) -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(&bytes, partitions)
    }

    /// Builds an id from 16 pseudo-random bytes (random, or an HMAC for idempotent starts).
    pub fn from_bytes(bytes: &[u8; 16], partitions: u16) -> Self {
        let p = u16::from_be_bytes([bytes[0], bytes[1]]) % partitions.max(1);
        Self(format!("vf_{:04x}{}", p, hex::encode(&bytes[2..])))
    }

    /// The same random part, moved to partition `p` (a phone number's: all its verifications
    /// live together).
    pub fn with_partition(&self, p: Partition) -> Self {
        Self(format!("vf_{:04x}{}", p.0, &self.0[7..]))
    }

    /// Parses an id from a URL. Anything malformed is simply "not found" to the caller.
    pub fn parse(s: &str, partitions: u16) -> Option<Self> {
        let hexpart = s.strip_prefix("vf_")?;
        if hexpart.len() != 32 || !hexpart.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let p = u16::from_str_radix(&hexpart[..4], 16).ok()?;
        (p < partitions).then(|| Self(s.to_string()))
    }

    pub fn partition(&self) -> Partition {
        Partition(u16::from_str_radix(&self.0[3..7], 16).unwrap_or(0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for VerificationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_partition() {
        for _ in 0..200 {
            let id = VerificationId::random(16);
            let back = VerificationId::parse(id.as_str(), 16).unwrap();
            assert_eq!(back, id);
            assert!(id.partition().0 < 16);
        }
    }

    #[test]
    fn malformed_ids_do_not_parse() {
        for bad in [
            "",
            "vf_",
            "vf_XYZ",
            "vf_0000",
            "xx_00000000000000000000000000000000",
            "vf_0011AABBCCDDEEFF00112233445566778",
        ] {
            assert!(VerificationId::parse(bad, 16).is_none(), "{bad}");
        }
        // A partition beyond the configured count is not ours.
        assert!(VerificationId::parse("vf_00ff0000000000000000000000000000", 16).is_none());
    }
}
