//! Issuing and rebuilding receipts. Only the signature is stored (see `ReceiptSeal`): the
//! payload is rebuilt from the record, which never changes after confirmation except for a
//! later withdrawal, and a withdrawal is a later event, not part of what was signed.

use serde::Serialize;

use super::{EvidenceRecord, ReceiptSigner, build};
use crate::store::{ReceiptSeal, VerificationRecord};

/// What a receipt's JWS payload holds.
#[derive(Debug, Serialize)]
pub struct ReceiptClaims<'a> {
    pub iss: &'a str,
    pub iat: i64,
    pub jti: &'a str,
    pub evidence: &'a EvidenceRecord,
}

/// The evidence exactly as it stood when the person confirmed.
fn as_confirmed(v: &VerificationRecord) -> EvidenceRecord {
    let mut record = build(v);
    record.withdrawal.withdrawn_at = None;
    record
}

fn claims<'a>(v: &'a VerificationRecord, record: &'a EvidenceRecord, receipt_id: &'a str) -> ReceiptClaims<'a> {
    ReceiptClaims {
        iss: &v.context.issuer,
        iat: v.finished_ms.unwrap_or(v.created_ms) / 1000,
        jti: receipt_id,
        evidence: record,
    }
}

/// Signs the receipt of a confirmed verification: the compact JWS, and the seal to keep.
pub fn issue(
    v: &VerificationRecord,
    signer: &ReceiptSigner,
    receipt_id: &str,
) -> Result<(String, ReceiptSeal), serde_json::Error> {
    let record = as_confirmed(v);
    let jws = signer.sign(&claims(v, &record, receipt_id))?;
    let signature = jws.rsplit('.').next().unwrap_or_default().to_string();
    Ok((jws, ReceiptSeal { kid: signer.kid().to_string(), signature, receipt_id: receipt_id.to_string() }))
}

/// The receipt of a sealed verification, rebuilt byte for byte; `None` before it was signed
/// or when it no longer checks out (which is logged: evidence must never silently change).
pub fn receipt(v: &VerificationRecord, signer: &ReceiptSigner) -> Option<String> {
    let seal = v.seal.as_ref()?;
    let record = as_confirmed(v);
    let jws = signer.rebuild(&seal.kid, &claims(v, &record, &seal.receipt_id), &seal.signature);
    if jws.is_none() {
        tracing::error!(verification = %v.id, kid = %seal.kid, "stored receipt seal does not verify");
    }
    jws
}
