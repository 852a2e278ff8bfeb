//! Checking receipts and proof bundles offline, as a regulator, a court or a consent store
//! would: with nothing but the bundle (or a receipt) and a JWK Set. Nothing here trusts the
//! service that made them; `optin-verify verify-proof` and `verify-receipt` print what it finds.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The Ed25519 keys of a JWK Set, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<(String, VerifyingKey)>,
}

impl KeySet {
    /// Every `OKP`/`Ed25519` key with a `kid`; other keys are not ours and are skipped.
    pub fn from_jwks(jwks: &Value) -> Result<Self, String> {
        let list = jwks["keys"].as_array().ok_or("the JWK Set has no \"keys\" list")?;
        let mut keys = Vec::new();
        for k in list {
            if k["kty"] != "OKP" || k["crv"] != "Ed25519" {
                continue;
            }
            let (Some(kid), Some(x)) = (k["kid"].as_str(), k["x"].as_str()) else { continue };
            let bytes: [u8; 32] = URL_SAFE_NO_PAD
                .decode(x)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("key {kid:?}: \"x\" is not 32 bytes of base64url"))?;
            let key = VerifyingKey::from_bytes(&bytes).map_err(|_| format!("key {kid:?} is not an Ed25519 point"))?;
            keys.push((kid.to_string(), key));
        }
        if keys.is_empty() {
            return Err("the JWK Set holds no Ed25519 key".into());
        }
        Ok(Self { keys })
    }

    fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }
}

/// A receipt whose signature checks out: the key that signed it and what it says.
#[derive(Debug, Clone)]
pub struct CheckedReceipt {
    pub kid: String,
    pub claims: Value,
}

fn decode_json(part: &str, what: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| format!("the {what} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("the {what} is not JSON"))
}

/// Checks a compact JWS against `keys`: EdDSA, a known `kid`, a valid signature.
pub fn check_receipt(jws: &str, keys: &KeySet) -> Result<CheckedReceipt, String> {
    let parts: Vec<&str> = jws.trim().split('.').collect();
    let [h, p, s] = parts[..] else { return Err("not a compact JWS (three parts)".into()) };
    let header = decode_json(h, "header")?;
    if header["alg"] != "EdDSA" {
        return Err(format!("algorithm {} is not EdDSA", header["alg"]));
    }
    let kid = header["kid"].as_str().ok_or("the header names no kid")?.to_string();
    let key = keys.get(&kid).ok_or_else(|| format!("no key with kid {kid:?} in the JWK Set"))?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or("the signature is not 64 bytes of base64url")?;
    key.verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|_| format!("the signature does not verify under {kid}"))?;
    Ok(CheckedReceipt { kid, claims: decode_json(p, "payload")? })
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// What a receipt's own evidence says about its consent text: its hash must match the text.
pub fn receipt_text_problems(claims: &Value) -> Vec<String> {
    let notice = &claims["evidence"]["notice"];
    match (notice["consent_text"].as_str(), notice["consent_text_sha256"].as_str()) {
        (Some(text), Some(hash)) if sha256_hex(text) == hash => Vec::new(),
        (Some(_), Some(_)) => vec!["the signed consent text does not match its signed hash".into()],
        _ => vec!["the receipt holds no consent text and hash".into()],
    }
}

/// The verdict on one consent of a bundle.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub verification_id: String,
    pub purpose: String,
    pub status: String,
    /// The key that signed its receipt, when the signature checks out.
    pub kid: Option<String>,
    /// Every way in which the consent does not check out; empty when it does.
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The fields that differ between two JSON values, as paths (`notice.consent_text`).
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut names: Vec<&String> = x.keys().chain(y.keys()).collect();
            names.sort();
            names.dedup();
            for k in names {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                differences(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), &p, out);
            }
        }
        _ if a != b => out.push(path.to_string()),
        _ => {}
    }
}

/// Checks one consent of a bundle: its receipt, that the receipt signs this evidence, and
/// every text against its hash and the signed evidence.
pub fn check_consent(c: &Value, keys: &KeySet) -> Verdict {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut v = Verdict {
        verification_id: s(&c["verification_id"]),
        purpose: s(&c["purpose"]),
        status: s(&c["status"]),
        kid: None,
        problems: Vec::new(),
    };
    let Some(jws) = c["receipt"].as_str() else {
        v.problems.push("no signed receipt (it is signed moments after confirmation)".into());
        return v;
    };
    let checked = match check_receipt(jws, keys) {
        Ok(r) => r,
        Err(e) => {
            v.problems.push(format!("receipt: {e}"));
            return v;
        }
    };
    v.kid = Some(checked.kid.clone());
    if checked.claims["jti"] != c["receipt_id"] {
        v.problems.push("the receipt's jti is not this consent's receipt_id".into());
    }
    v.problems.extend(receipt_text_problems(&checked.claims));
    // The evidence as signed, against the bundle's: only the later withdrawal may differ.
    let mut signed = checked.claims["evidence"].clone();
    let mut shown = c["evidence"].clone();
    for e in [&mut signed, &mut shown] {
        if let Some(w) = e.get_mut("withdrawal").and_then(Value::as_object_mut) {
            w.remove("withdrawn_at");
        }
    }
    let mut diff = Vec::new();
    differences(&signed, &shown, "", &mut diff);
    for path in diff {
        v.problems.push(format!("evidence.{path} differs from what the receipt signed"));
    }
    let evidence = &checked.claims["evidence"];
    for t in c["texts"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = t["name"].as_str().unwrap_or("?");
        let text = t["text"].as_str().unwrap_or_default();
        if sha256_hex(text) != t["sha256"].as_str().unwrap_or_default() {
            v.problems.push(format!("text {name}: its sha256 does not match the text"));
        }
        let signed_text = match name {
            "consent_text" => &evidence["notice"]["consent_text"],
            "purpose" => &evidence["purpose"]["text"],
            _ => &Value::Null,
        };
        if signed_text.as_str() != Some(text) {
            v.problems.push(format!("text {name}: not the text the receipt signed"));
        }
    }
    if c["texts"].as_array().is_none_or(Vec::is_empty) {
        v.problems.push("the consent lists no texts".into());
    }
    v
}

/// Checks every consent of a bundle. `keys` is the bundle's own `jwks` unless the verifier
/// brings the issuer's.
pub fn check_bundle(bundle: &Value, keys: &KeySet) -> Result<Vec<Verdict>, String> {
    if bundle["format"] != super::proof::FORMAT {
        return Err(format!("not a proof bundle: format is {}, not {}", bundle["format"], super::proof::FORMAT));
    }
    let consents = bundle["consents"].as_array().ok_or("the bundle has no \"consents\" list")?;
    Ok(consents.iter().map(|c| check_consent(c, keys)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{ReceiptSigner, RetiredReceiptKey};
    use serde_json::json;

    fn evidence(text: &str) -> Value {
        json!({
            "record_id": "ev_1",
            "purpose": {"id": "p", "text": "Aanbiedingen"},
            "notice": {"consent_text": text, "consent_text_sha256": sha256_hex(text), "consent_text_version": "1"},
            "withdrawal": {"methods": ["link", "api"], "withdrawn_at": null},
        })
    }

    fn consent(signer: &ReceiptSigner, text: &str) -> Value {
        let ev = evidence(text);
        let jws = signer.sign(&json!({"iss": "x", "iat": 1, "jti": "rcpt_1", "evidence": ev})).unwrap();
        json!({
            "verification_id": "vf_1", "purpose": "p", "status": "active", "receipt_id": "rcpt_1",
            "receipt": jws, "evidence": ev,
            "texts": [
                {"name": "consent_text", "text": text, "sha256": sha256_hex(text)},
                {"name": "purpose", "text": "Aanbiedingen", "sha256": sha256_hex("Aanbiedingen")},
            ],
        })
    }

    #[test]
    fn a_true_consent_checks_out_and_a_later_withdrawal_is_allowed() {
        let s = ReceiptSigner::ephemeral();
        let keys = KeySet::from_jwks(&s.jwks()).unwrap();
        let mut c = consent(&s, "Ja, bel mij.");
        let v = check_consent(&c, &keys);
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.kid.as_deref(), Some(s.kid()));
        c["evidence"]["withdrawal"]["withdrawn_at"] = json!("2026-12-01T10:00:00Z");
        assert!(check_consent(&c, &keys).ok());
    }

    #[test]
    fn a_changed_text_hash_evidence_or_signature_fails() {
        let s = ReceiptSigner::ephemeral();
        let keys = KeySet::from_jwks(&s.jwks()).unwrap();
        let good = consent(&s, "Ja, bel mij.");

        let mut text = good.clone();
        text["texts"][0]["text"] = json!("Ja, bel mij vaak.");
        let v = check_consent(&text, &keys);
        assert_eq!(
            v.problems,
            [
                "text consent_text: its sha256 does not match the text",
                "text consent_text: not the text the receipt signed"
            ]
        );

        let mut both = text.clone();
        both["texts"][0]["sha256"] = json!(sha256_hex("Ja, bel mij vaak."));
        assert_eq!(check_consent(&both, &keys).problems, ["text consent_text: not the text the receipt signed"]);

        let mut ev = good.clone();
        ev["evidence"]["purpose"]["text"] = json!("Iets anders");
        assert_eq!(check_consent(&ev, &keys).problems, ["evidence.purpose.text differs from what the receipt signed"]);

        let mut sig = good.clone();
        let jws = sig["receipt"].as_str().unwrap().to_string();
        let flipped = if jws.ends_with('A') { "B" } else { "A" };
        sig["receipt"] = json!(format!("{}{flipped}", &jws[..jws.len() - 1]));
        let v = check_consent(&sig, &keys);
        assert_eq!(v.problems.len(), 1);
        assert!(v.problems[0].starts_with("receipt: the signature"), "{:?}", v.problems);
        assert!(v.kid.is_none());
    }

    #[test]
    fn a_receipt_signed_by_a_retired_key_checks_out_only_with_that_key() {
        let old = ReceiptSigner::ephemeral();
        let c = consent(&old, "Ja.");
        let new = ReceiptSigner::ephemeral()
            .with_retired(vec![RetiredReceiptKey::parse(&old.public_key(), None).unwrap()])
            .unwrap();
        let v = check_consent(&c, &KeySet::from_jwks(&new.jwks()).unwrap());
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.kid.as_deref(), Some(old.kid()));
        let without = check_consent(&c, &KeySet::from_jwks(&ReceiptSigner::ephemeral().jwks()).unwrap());
        assert_eq!(without.problems, [format!("receipt: no key with kid {:?} in the JWK Set", old.kid())]);
    }

    #[test]
    fn a_bundle_of_another_format_is_refused() {
        let keys = KeySet::from_jwks(&ReceiptSigner::ephemeral().jwks()).unwrap();
        assert!(check_bundle(&json!({"format": "x", "consents": []}), &keys).is_err());
        assert!(KeySet::from_jwks(&json!({"keys": []})).is_err());
    }
}
