//! Proof on request: everything about one number's consents with one tenant, in one bundle a
//! third party can check offline. Each consent carries its evidence, its exact texts with their
//! hashes, what happened to its messages, its withdrawal, and its signed receipt; the bundle
//! carries the public keys (current and retired) that signed those receipts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{EvidenceRecord, ReceiptSigner, build, receipt};
use crate::store::{VerificationRecord, attempts::AttemptView};

pub const FORMAT: &str = "optin-verify/proof/1";

/// How to check a bundle, in the bundle itself: it must stand on its own.
pub const HOW_TO_VERIFY: &str = "Each receipt is a compact JWS (RFC 7515, EdDSA over Ed25519). Pick the key in `jwks` \
    whose `kid` the receipt's header names (or fetch the issuer's /.well-known/jwks.json), verify the signature, \
    and compare the signed `evidence` with this bundle's `evidence`: they are equal except `withdrawal.withdrawn_at`, \
    which is set later. Each text's `sha256` is the SHA-256 (hex) of its UTF-8 bytes; the consent text's hash is \
    also inside the signed evidence. `optin-verify verify-proof FILE` does all of this offline.";

#[derive(Debug, Serialize, ToSchema)]
pub struct ProofBundle {
    /// `optin-verify/proof/1`.
    pub format: &'static str,
    pub generated_at: DateTime<Utc>,
    /// The tenant (organisation) whose consents these are.
    pub tenant: String,
    /// The number, E.164: a bundle is proof about this number.
    pub phone: String,
    /// The purpose asked for; `null` for every purpose.
    pub purpose: Option<String>,
    /// Until when campaigns may not ask the number again; `null` when they may.
    pub suppressed_until: Option<DateTime<Utc>>,
    /// Every consent kept for the number, newest first.
    pub consents: Vec<ConsentProof>,
    /// The key id signing new receipts now; any other `kid` in `jwks` is a retired key.
    pub current_kid: String,
    /// The public keys of every receipt key, current and retired (a JWK Set).
    #[schema(value_type = Object)]
    pub jwks: serde_json::Value,
    pub how_to_verify: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentProof {
    pub verification_id: String,
    pub purpose: String,
    pub caller: String,
    /// `active`, `withdrawn` or `expired`, when the bundle was made.
    pub status: &'static str,
    /// The evidence record as it stands (collection context in `collection`, confirmation
    /// context in `verification`, the call and its recording in `verification.call`).
    pub evidence: EvidenceRecord,
    /// The exact texts the person was shown, each with its SHA-256.
    pub texts: Vec<ProofText>,
    pub delivery: ProofDelivery,
    pub withdrawal: Option<ProofWithdrawal>,
    /// `/r/{receipt_id}`; also the receipt's `jti`.
    pub receipt_id: Option<String>,
    /// The signed receipt (compact JWS); `null` in the moments before it is signed.
    pub receipt: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProofText {
    /// `consent_text` or `purpose`.
    pub name: &'static str,
    pub version: Option<String>,
    pub text: String,
    pub sha256: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProofDelivery {
    pub to: String,
    pub sends: u32,
    pub first_sent_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// Every provider attempt and delivery report, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub attempts: Vec<AttemptView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProofWithdrawal {
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// `api`, `link`, `self_service`, or what the marketer named.
    pub source: Option<String>,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Where a consent stands at `now_ms`.
pub fn status_of(v: &VerificationRecord, now_ms: i64) -> &'static str {
    if v.withdrawn_ms.is_some() {
        "withdrawn"
    } else if v.consent_expires_ms.is_some_and(|x| x <= now_ms) {
        "expired"
    } else {
        "active"
    }
}

/// The proof of one confirmed verification. `receipt_id` is the one its seal names, or the
/// derived one before it is sealed.
pub fn consent_proof(v: &VerificationRecord, signer: &ReceiptSigner, receipt_id: String, now_ms: i64) -> ConsentProof {
    let evidence = build(v);
    let ctx = &v.context;
    let texts = vec![
        ProofText {
            name: "consent_text",
            version: Some(ctx.consent_text.version.clone()),
            text: ctx.consent_text.text.clone(),
            sha256: sha256_hex(&ctx.consent_text.text),
        },
        ProofText {
            name: "purpose",
            version: None,
            text: ctx.purpose.text.clone(),
            sha256: sha256_hex(&ctx.purpose.text),
        },
    ];
    ConsentProof {
        verification_id: v.id.to_string(),
        purpose: ctx.purpose.id.clone(),
        caller: ctx.caller.clone(),
        status: status_of(v, now_ms),
        texts,
        delivery: ProofDelivery {
            to: v.to.clone(),
            sends: v.sends,
            first_sent_at: v.first_sent_ms.and_then(super::record_at),
            last_sent_at: v.last_sent_ms.and_then(super::record_at),
            attempts: v.attempt_lines.iter().filter_map(|l| crate::store::attempts::decode(l)).collect(),
        },
        withdrawal: v
            .withdrawn_ms
            .map(|ms| ProofWithdrawal { withdrawn_at: super::record_at(ms), source: v.withdrawn_source.clone() }),
        receipt: receipt(v, signer),
        receipt_id: Some(receipt_id),
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hashes_are_sha256_of_the_utf8_bytes() {
        // The SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
