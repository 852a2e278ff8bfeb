//! `optin-verify verify-proof` and `verify-receipt`: the offline checks a regulator, a court or
//! a consent store runs on what a company hands over. They print one verdict per consent and
//! report whether everything checked out; the caller turns that into the exit code.

use std::io::Write;

use serde_json::Value;

use crate::evidence::verify::{KeySet, check_bundle, check_receipt, receipt_text_problems};

/// A JSON document from a file, or from an `http(s)://` address (the issuer's JWKS).
pub fn load_json(source: &str) -> Result<Value, String> {
    let text = if source.starts_with("https://") || source.starts_with("http://") {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let resp = reqwest::Client::new()
                .get(source)
                .timeout(std::time::Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| format!("{source}: {e}"))?;
            if !resp.status().is_success() {
                return Err(format!("{source}: HTTP {}", resp.status()));
            }
            resp.text().await.map_err(|e| format!("{source}: {e}"))
        })?
    } else {
        std::fs::read_to_string(source).map_err(|e| format!("{source}: {e}"))?
    };
    serde_json::from_str(&text).map_err(|e| format!("{source}: not JSON ({e})"))
}

/// Checks a proof bundle; `jwks` (file or URL) replaces the keys the bundle carries, so the
/// check need not trust the bundle's own. Returns whether every consent checked out.
pub fn verify_proof(file: &str, jwks: Option<&str>, out: &mut dyn Write) -> Result<bool, String> {
    let bundle = load_json(file)?;
    let (keys, from) = match jwks {
        Some(src) => (KeySet::from_jwks(&load_json(src)?)?, src.to_string()),
        None => (KeySet::from_jwks(&bundle["jwks"])?, "the bundle itself".to_string()),
    };
    let verdicts = check_bundle(&bundle, &keys)?;
    let current = bundle["current_kid"].as_str().unwrap_or("");
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(|e| e.to_string());
    w(
        out,
        format!(
            "proof for {} with {}: {} consent(s), keys from {from}",
            bundle["phone"],
            bundle["tenant"],
            verdicts.len()
        ),
    )?;
    for v in &verdicts {
        let key = match &v.kid {
            Some(k) if k == current || current.is_empty() => format!("signed by {k}"),
            Some(k) => format!("signed by {k} (a retired key)"),
            None => "signature not checked".to_string(),
        };
        let verdict = if v.ok() { "OK" } else { "FAILED" };
        w(out, format!("{verdict:6} {} {} ({}): {key}", v.verification_id, v.purpose, v.status))?;
        for p in &v.problems {
            w(out, format!("       - {p}"))?;
        }
    }
    let failed = verdicts.iter().filter(|v| !v.ok()).count();
    if jwks.is_none() {
        w(out, "note: the keys came from the bundle; pass --jwks <issuer>/.well-known/jwks.json to check them against the issuer's".into())?;
    }
    w(
        out,
        if failed == 0 {
            "verdict: every consent checks out".into()
        } else {
            format!("verdict: {failed} consent(s) FAILED")
        },
    )?;
    Ok(failed == 0)
}

/// Checks one receipt (the JWS itself, or a file holding it) against a JWK Set.
pub fn verify_receipt(jwks: &str, receipt: &str, out: &mut dyn Write) -> Result<bool, String> {
    let keys = KeySet::from_jwks(&load_json(jwks)?)?;
    let jws = if receipt.matches('.').count() == 2 && !std::path::Path::new(receipt).exists() {
        receipt.to_string()
    } else {
        std::fs::read_to_string(receipt).map_err(|e| format!("{receipt}: {e}"))?.trim().to_string()
    };
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(|e| e.to_string());
    match check_receipt(&jws, &keys) {
        Ok(r) => {
            let problems = receipt_text_problems(&r.claims);
            let ev = &r.claims["evidence"];
            w(out, format!("receipt {} signed by {}", r.claims["jti"], r.kid))?;
            w(out, format!("  purpose:      {}", ev["purpose"]["id"]))?;
            w(out, format!("  caller:       {}", ev["caller"]))?;
            w(out, format!("  confirmed at: {}", ev["verification"]["confirmed_at"]))?;
            w(out, format!("  text version: {}", ev["notice"]["consent_text_version"]))?;
            for p in &problems {
                w(out, format!("  - {p}"))?;
            }
            w(out, format!("verdict: {}", if problems.is_empty() { "OK" } else { "FAILED" }))?;
            Ok(problems.is_empty())
        }
        Err(e) => {
            w(out, format!("verdict: FAILED ({e})"))?;
            Ok(false)
        }
    }
}
