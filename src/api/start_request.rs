//! The body of `POST /v1/verifications`, and its parsing into what the store writes.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    call_rules::{CallWindow, check_caller, check_window},
    plain_text,
};
use crate::{
    config::{CallSettings, DEFAULT_LEGAL_BASIS, EvidenceField, TenantSettings},
    domain::{
        Channel, CheckboxDefault, Collection, ConsentText, Context, Controller, Email, InitiatedBy, Locale, Method,
        PhoneNumber, PhonePolicy, PrivacyStatement, Purpose,
    },
    error::ApiError,
};

/// Start a verification. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "method": "code", "channel": "sms", "phone": "+31612345678", "locale": "nl", "initiated_by": "consumer",
    "purpose": {"id": "energy-offers", "text": "Telefonische aanbiedingen over energiecontracten"},
    "consent_text": {"version": "2026-03", "text": "Ja, Voorbeeld Energie mag mij bellen over energiecontracten."},
    "metadata": {"crm_id": "123"}
}))]
pub struct StartRequest {
    pub method: Method,
    pub channel: Channel,
    /// The number that will be called, E.164 or Dutch national notation.
    #[schema(example = "+31612345678")]
    pub phone: String,
    /// Where the message goes: defaults to `phone` for sms/whatsapp; an email address for email.
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub locale: Option<Locale>,
    #[serde(default)]
    pub initiated_by: Option<InitiatedBy>,
    pub purpose: Purpose,
    /// Who will call, if not the tenant itself.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 120, pattern = "\\S")]
    pub caller: Option<String>,
    pub consent_text: ConsentText,
    #[serde(default)]
    pub privacy_statement: Option<PrivacyStatement>,
    #[serde(default)]
    pub collection: Option<Collection>,
    /// Required for `method: call`: the announced window and caller number.
    #[serde(default)]
    pub call: Option<CallWindow>,
    #[serde(default)]
    #[schema(minimum = 60, maximum = 604800)]
    pub expires_in_seconds: Option<u64>,
    /// Echoed in events. At most 20 keys and 2 KiB.
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// A marketer-initiated start for a purpose and caller the number already consented to is
    /// refused (`already-consented`) and sends nothing; `true` asks anyway, and the evidence
    /// records it.
    #[serde(default)]
    pub reask: bool,
}

/// A start request that passed every rule.
pub struct ValidStart {
    pub method: Method,
    pub channel: Channel,
    pub phone: PhoneNumber,
    /// E.164 or email address.
    pub to: String,
    pub locale: Locale,
    pub initiated_by: InitiatedBy,
    pub ttl_seconds: u64,
    pub context: Context,
    pub call: Option<ValidCall>,
    pub reask: bool,
}

/// An announced call that passed every rule.
pub struct ValidCall {
    pub start_ms: i64,
    pub end_ms: i64,
    pub caller_number: String,
}

fn text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    // These texts reach email subjects, SMS and signed evidence: a CR or LF could forge a header
    // line or a second paragraph the person never saw in the form, a bidi control could show
    // another text than the one stored. The one free-text rule (`PlainText`) decides, first, so
    // that "\r\n" is refused for what it holds rather than as empty.
    plain_text(field, value)?;
    if value.trim().is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(field, format!("must be at most {max} characters")));
    }
    Ok(())
}

/// Every key and every string value of `metadata`, at any depth, under the free-text rule: it
/// is echoed in events and kept with the evidence. A bad value is named by its path
/// (`metadata.crm_id`, `metadata.tags[2]`); a bad key by the object that holds it, so that the
/// answer never carries the character.
fn metadata_text(m: &serde_json::Map<String, serde_json::Value>) -> Result<(), ApiError> {
    fn object(path: &str, o: &serde_json::Map<String, serde_json::Value>) -> Result<(), ApiError> {
        for (k, v) in o {
            plain_text(path, k)?;
            value(&format!("{path}.{k}"), v)?;
        }
        Ok(())
    }
    fn value(path: &str, v: &serde_json::Value) -> Result<(), ApiError> {
        match v {
            serde_json::Value::String(s) => plain_text(path, s),
            serde_json::Value::Array(items) => {
                items.iter().enumerate().try_for_each(|(i, item)| value(&format!("{path}[{i}]"), item))
            }
            serde_json::Value::Object(o) => object(path, o),
            serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Ok(()),
        }
    }
    object("metadata", m)
}

fn url(field: &str, value: &str) -> Result<(), ApiError> {
    text(field, value, 2048)?;
    if !(value.starts_with("https://") || value.starts_with("http://")) || value.contains(char::is_whitespace) {
        return Err(ApiError::invalid(field, "must be an http(s) URL"));
    }
    Ok(())
}

impl StartRequest {
    /// The evidence rules. A pre-ticked box is not consent: for a code, the form is where consent
    /// is given, so it is refused; a link's confirmation page is an active act of its own, and
    /// the evidence says that is what counts. A consumer-initiated code start carries what the
    /// tenant's policy requires (`required`).
    fn check_evidence(&self, required: &[EvidenceField]) -> Result<(), ApiError> {
        let col = self.collection.as_ref();
        let pre_ticked = col.and_then(|c| c.checkbox_default) == Some(CheckboxDefault::Checked);
        if pre_ticked && self.method == Method::Code {
            return Err(ApiError::PreTickedConsent);
        }
        if self.initiated_by.unwrap_or_default() != InitiatedBy::Consumer || self.method != Method::Code {
            return Ok(());
        }
        for field in required {
            let present = match field {
                EvidenceField::CollectionUrl => col.is_some_and(|c| c.url.is_some()),
                EvidenceField::CollectionIp => col.is_some_and(|c| c.ip.is_some()),
                EvidenceField::CollectionUserAgent => col.is_some_and(|c| c.user_agent.is_some()),
                EvidenceField::CollectionCollectedAt => col.is_some_and(|c| c.collected_at.is_some()),
                EvidenceField::CollectionCheckboxDefault => col.is_some_and(|c| c.checkbox_default.is_some()),
                EvidenceField::PrivacyStatement => self.privacy_statement.is_some(),
            };
            if !present {
                return Err(ApiError::EvidenceRequired { field: field.name() });
            }
        }
        Ok(())
    }

    /// Applies the tenant's rules. `code_ttl` and `link_ttl` are the configured defaults per
    /// method; `required` is
    /// the evidence the tenant's policy asks of a consumer-initiated code start.
    #[allow(clippy::too_many_arguments)]
    pub fn validate(
        self,
        tenant: &TenantSettings,
        code_ttl: u64,
        link_ttl: u64,
        calls: &CallSettings,
        issuer: &str,
        required: &[EvidenceField],
    ) -> Result<ValidStart, ApiError> {
        let phone_policy = PhonePolicy { allowed_countries: &tenant.allowed_countries, require_mobile: false };
        let phone = PhoneNumber::parse(&self.phone, &phone_policy)
            .map_err(|e| ApiError::InvalidPhone { field: "phone", source: e })?;
        let to = match self.channel {
            Channel::Sms | Channel::Whatsapp => {
                let policy = PhonePolicy { allowed_countries: &tenant.allowed_countries, require_mobile: true };
                let field = if self.to.is_some() { "to" } else { "phone" };
                let raw = self.to.as_deref().unwrap_or(&self.phone);
                PhoneNumber::parse(raw, &policy)
                    .map_err(|e| ApiError::InvalidPhone { field, source: e })?
                    .e164()
                    .to_string()
            }
            Channel::Email => {
                let raw = self
                    .to
                    .as_deref()
                    .ok_or_else(|| ApiError::invalid("to", "an email address is required for channel email"))?;
                // A quoted local part may hold any non-ASCII character, bidi controls included.
                plain_text("to", raw)?;
                Email::parse(raw).map_err(|_| ApiError::InvalidEmail { field: "to" })?.as_str().to_string()
            }
        };
        text("purpose.id", &self.purpose.id, 100)?;
        text("purpose.text", &self.purpose.text, 300)?;
        text("consent_text.version", &self.consent_text.version, 50)?;
        text("consent_text.text", &self.consent_text.text, 2000)?;
        if let Some(c) = &self.caller {
            text("caller", c, 120)?;
        }
        if let Some(p) = &self.privacy_statement {
            url("privacy_statement.url", &p.url)?;
            text("privacy_statement.version", &p.version, 50)?;
        }
        if let Some(c) = &self.collection {
            if let Some(u) = &c.url {
                url("collection.url", u)?;
            }
            if let Some(ua) = &c.user_agent {
                text("collection.user_agent", ua, 512)?;
            }
        }
        if let Some(m) = &self.metadata {
            metadata_text(m)?;
            let size = serde_json::to_string(m).map_or(usize::MAX, |s| s.len());
            if m.len() > 20 || size > 2048 {
                return Err(ApiError::invalid("metadata", "at most 20 keys and 2048 bytes"));
            }
        }
        self.check_evidence(required)?;
        let now = chrono::Utc::now();
        let call = match (self.method, &self.call) {
            (Method::Call, Some(c)) => {
                let caller_number = check_caller(&c.caller_number, tenant)?;
                check_window(c.window_start, c.window_end, now, tenant, calls)?;
                Some(ValidCall {
                    start_ms: c.window_start.timestamp_millis(),
                    end_ms: c.window_end.timestamp_millis(),
                    caller_number,
                })
            }
            (Method::Call, None) => return Err(ApiError::invalid("call", "method call needs a call window")),
            (_, Some(_)) => return Err(ApiError::invalid("call", "only for method call")),
            (_, None) => None,
        };
        let ttl_seconds = match &call {
            // Open until the outcome is due: the window's end plus the reporting grace.
            Some(c) => ((c.end_ms - now.timestamp_millis()) / 1000 + calls.report_grace_hours * 3600) as u64,
            None => {
                let default_ttl = if self.method == Method::Code { code_ttl } else { link_ttl };
                let ttl = self.expires_in_seconds.unwrap_or(default_ttl);
                if !(60..=7 * 86400).contains(&ttl) {
                    return Err(ApiError::invalid("expires_in_seconds", "must be between 60 and 604800"));
                }
                ttl
            }
        };
        Ok(ValidStart {
            reask: self.reask,
            method: self.method,
            channel: self.channel,
            phone,
            to,
            locale: self.locale.unwrap_or_default(),
            initiated_by: self.initiated_by.unwrap_or_default(),
            ttl_seconds,
            context: Context {
                purpose: self.purpose,
                caller: self.caller.unwrap_or_else(|| tenant.name.clone()),
                consent_text: self.consent_text,
                privacy_statement: self.privacy_statement,
                collection: self.collection,
                metadata: self.metadata,
                controller: Controller {
                    name: tenant.name.clone(),
                    kvk: tenant.kvk.clone(),
                    contact_email: tenant.contact_email.clone(),
                    // Kept only when it is not the default, so a record stays as small as before.
                    legal_basis: Some(tenant.legal_basis.clone()).filter(|b| b != DEFAULT_LEGAL_BASIS),
                },
                issuer: issuer.to_string(),
            },
            call,
        })
    }
}
