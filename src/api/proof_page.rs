//! The proof bundle as an A4 page a person can read, print and file: the same facts as the
//! JSON, each field explained, and how to check the receipts.

use askama::Template;

use crate::{
    config::TenantSettings,
    evidence::proof::{ConsentProof, ProofBundle},
};

/// Times on paper: Dutch local time, as the person lived through it.
fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.with_timezone(&chrono_tz::Europe::Amsterdam).format("%d-%m-%Y %H:%M:%S (%Z)").to_string())
        .unwrap_or_else(|| "-".into())
}

pub struct ConsentPrint<'a> {
    pub c: &'a ConsentProof,
    pub confirmed_at: String,
    pub sent_at: String,
    pub withdrawn_at: Option<String>,
    pub expires_at: String,
    pub collection: String,
    pub called_at: Option<String>,
    pub kid: String,
}

#[derive(Template)]
#[template(path = "proof.html")]
pub struct ProofPage<'a> {
    pub en: bool,
    pub b: &'a ProofBundle,
    pub organisation: &'a str,
    pub kvk: &'a str,
    pub generated_at: String,
    pub suppressed_until: Option<String>,
    pub consents: Vec<ConsentPrint<'a>>,
    pub jwks: String,
}

impl<'a> ProofPage<'a> {
    pub fn new(b: &'a ProofBundle, tenant: &'a TenantSettings, en: bool) -> Self {
        let consents = b
            .consents
            .iter()
            .map(|c| ConsentPrint {
                confirmed_at: when(c.evidence.verification.confirmed_at),
                sent_at: when(c.evidence.verification.sent_at),
                withdrawn_at: c.withdrawal.as_ref().map(|w| when(w.withdrawn_at)),
                expires_at: when(c.evidence.expires_at),
                collection: serde_json::to_string_pretty(&c.evidence.collection).unwrap_or_default(),
                called_at: c.evidence.verification.call.as_ref().map(|call| when(call.called_at)),
                kid: c.receipt.as_deref().and_then(kid_of).unwrap_or_else(|| "-".into()),
                c,
            })
            .collect();
        Self {
            en,
            b,
            organisation: &tenant.name,
            kvk: &tenant.kvk,
            generated_at: when(Some(b.generated_at)),
            suppressed_until: b.suppressed_until.map(|t| when(Some(t))),
            consents,
            jwks: serde_json::to_string_pretty(&b.jwks).unwrap_or_default(),
        }
    }

    /// Dutch or English, as the page was asked for.
    pub fn t(&self, nl: &'static str, en: &'static str) -> &'static str {
        if self.en { en } else { nl }
    }

    pub fn status(&self, s: &str) -> &'static str {
        match (s, self.en) {
            ("active", false) => "geldig",
            ("active", true) => "active",
            ("withdrawn", false) => "ingetrokken",
            ("withdrawn", true) => "withdrawn",
            (_, false) => "verlopen",
            (_, true) => "expired",
        }
    }
}

/// The `kid` in a compact JWS's header.
fn kid_of(jws: &str) -> Option<String> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let header = URL_SAFE_NO_PAD.decode(jws.split('.').next()?).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&header).ok()?;
    v["kid"].as_str().map(str::to_string)
}
