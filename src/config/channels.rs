//! Real delivery channels: SMTP, SMS providers, WhatsApp Cloud API; and per-tenant texts.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    pub email: Option<EmailSettings>,
    pub sms: Option<SmsSettings>,
    pub whatsapp: Option<WhatsAppSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub smtp: SmtpSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain, for a local relay only.
    None,
    Starttls,
    /// Implicit TLS (SMTPS, usually port 465).
    Tls,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// The sender: `Name <address>` or a bare `address`; with a bare address the tenant's
    /// name is the display name.
    pub from: String,
    #[serde(default = "default_pool")]
    pub pool_size: u32,
    #[serde(default)]
    pub dkim: Option<DkimSettings>,
    /// Messages per second the mail server accepts from us; 0 = no pacing.
    #[serde(default)]
    pub rate_per_second: u32,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings").field("host", &self.host).field("port", &self.port).finish_non_exhaustive()
    }
}

fn default_pool() -> u32 {
    4
}

/// DKIM signing: an Ed25519 key (base64 of the 32-byte seed) or an RSA key (PKCS#1 PEM).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    pub domain: String,
    pub selector: String,
    /// `ed25519` or `rsa`.
    pub algorithm: String,
    pub private_key: String,
}

impl std::fmt::Debug for DkimSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DkimSettings({}._domainkey.{})", self.selector, self.domain)
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    /// Alphanumeric sender id: 1 to 11 letters, digits or spaces, at least one letter.
    pub sender: String,
    /// Tried in order; a transient failure moves on to the next one.
    pub providers: Vec<SmsProviderSettings>,
    #[serde(default = "default_attempts")]
    pub attempts_per_provider: u32,
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Secret that CM.com's status-report URL must carry (`/hooks/sms/cm?token=...`); CM does
    /// not sign its reports.
    #[serde(default)]
    pub callback_token: String,
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("sender", &self.sender)
            .field("providers", &self.providers)
            .field("callback_token", &"***")
            .finish_non_exhaustive()
    }
}

fn default_attempts() -> u32 {
    2
}
fn default_backoff() -> u64 {
    250
}
fn default_timeout() -> u64 {
    10
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProviderKind {
    Cm,
    Twilio,
    Messagebird,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsProviderSettings {
    pub kind: SmsProviderKind,
    /// The provider's API root; a local server in tests.
    #[serde(default)]
    pub base_url: Option<String>,
    /// CM.com product token.
    #[serde(default)]
    pub product_token: String,
    /// Twilio account SID and auth token (the token also checks status callbacks).
    #[serde(default)]
    pub account_sid: String,
    #[serde(default)]
    pub auth_token: String,
    /// Messages per second this provider account accepts; 0 = no pacing. Shared by every
    /// instance on the same Redis; campaign messages wait for their turn.
    #[serde(default)]
    pub rate_per_second: u32,
}

impl std::fmt::Debug for SmsProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmsProviderSettings({:?})", self.kind)
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppSettings {
    #[serde(default = "default_graph")]
    pub base_url: String,
    #[serde(default = "default_graph_version")]
    pub api_version: String,
    pub phone_number_id: String,
    pub access_token: String,
    /// Checks `X-Hub-Signature-256` on status webhooks.
    #[serde(default)]
    pub app_secret: String,
    /// Echoed in Meta's webhook verification handshake (`hub.verify_token`).
    #[serde(default)]
    pub verify_token: String,
    /// Approved AUTHENTICATION template (code in the body and a copy-code button).
    pub code_template: TemplateRef,
    /// Approved UTILITY template with a URL button whose suffix is the link token.
    pub link_template: TemplateRef,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Messages per second for this WhatsApp Business number; 0 = no pacing.
    #[serde(default)]
    pub rate_per_second: u32,
}

impl std::fmt::Debug for WhatsAppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WhatsAppSettings { .. }")
    }
}

fn default_graph() -> String {
    "https://graph.facebook.com".into()
}
fn default_graph_version() -> String {
    "v21.0".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    pub name: String,
    /// Template language per locale, e.g. `{ nl = "nl", en = "en_GB" }`.
    pub languages: BTreeMap<String, String>,
}

/// A tenant's own texts, by language (`nl`, `en`). Placeholders: `{brand}`, `{code}`, `{link}`,
/// `{optout}`, `{purpose}`, `{minutes}`, `{code_page}` (code messages: the hosted code page). Each
/// text must use the ones its message needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTexts {
    #[serde(default)]
    pub nl: Option<LocaleTexts>,
    #[serde(default)]
    pub en: Option<LocaleTexts>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocaleTexts {
    pub sms_code: Option<String>,
    pub sms_link: Option<String>,
    pub email_code_subject: Option<String>,
    pub email_code_text: Option<String>,
    pub email_link_subject: Option<String>,
    pub email_link_text: Option<String>,
    /// This tenant's own approved WhatsApp templates (names), in place of the global ones.
    pub whatsapp_code_template: Option<String>,
    pub whatsapp_link_template: Option<String>,
}

const PLACEHOLDERS: &[&str] = &["brand", "code", "link", "optout", "purpose", "minutes", "code_page"];

/// Checks a tenant text: known placeholders only, and the required ones present.
pub fn check_text(key: &str, text: &str, required: &[&str]) -> Result<(), ConfigError> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').ok_or_else(|| ConfigError::invalid(key, "an unclosed {"))?;
        let name = &rest[open + 1..open + close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(ConfigError::invalid(key, format!("unknown placeholder {{{name}}}")));
        }
        rest = &rest[open + close + 1..];
    }
    for r in required {
        if !text.contains(&format!("{{{r}}}")) {
            return Err(ConfigError::invalid(key, format!("must contain {{{r}}}")));
        }
    }
    Ok(())
}

impl LocaleTexts {
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let checks: [(&str, &Option<String>, &[&str]); 6] = [
            ("sms_code", &self.sms_code, &["code", "optout"]),
            ("sms_link", &self.sms_link, &["link", "optout"]),
            ("email_code_subject", &self.email_code_subject, &[]),
            ("email_code_text", &self.email_code_text, &["code", "optout"]),
            ("email_link_subject", &self.email_link_subject, &[]),
            ("email_link_text", &self.email_link_text, &["link", "optout"]),
        ];
        for (name, text, required) in checks {
            if let Some(t) = text {
                check_text(&format!("{prefix}.{name}"), t, required)?;
            }
        }
        Ok(())
    }
}

/// Alphanumeric sender ids are 1-11 letters, digits or spaces, with at least one letter.
pub fn valid_sender(s: &str) -> bool {
    (1..=11).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        && s.chars().any(|c| c.is_ascii_alphabetic())
}

impl ChannelSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(e) = &self.email {
            // Parsed as the transport parses them, so that `check-config` refuses what `serve` would.
            if e.smtp.from.trim().parse::<lettre::message::Mailbox>().is_err() {
                return Err(ConfigError::invalid(
                    "channels.email.smtp.from",
                    "must be an email address or `Name <address>`",
                ));
            }
            if let Some(d) = &e.smtp.dkim {
                use lettre::message::dkim::{DkimSigningAlgorithm, DkimSigningKey};
                let algorithm = match d.algorithm.as_str() {
                    "ed25519" => DkimSigningAlgorithm::Ed25519,
                    "rsa" => DkimSigningAlgorithm::Rsa,
                    _ => return Err(ConfigError::invalid("channels.email.smtp.dkim.algorithm", "ed25519 or rsa")),
                };
                if let Err(why) = DkimSigningKey::new(d.private_key.trim(), algorithm) {
                    return Err(ConfigError::invalid(
                        "channels.email.smtp.dkim.private_key",
                        format!("not a {} key: {why}", d.algorithm),
                    ));
                }
            }
        }
        if let Some(s) = &self.sms {
            if !valid_sender(&s.sender) {
                return Err(ConfigError::invalid(
                    "channels.sms.sender",
                    "1 to 11 letters, digits or spaces, with at least one letter",
                ));
            }
            if s.providers.is_empty() {
                return Err(ConfigError::invalid("channels.sms.providers", "list at least one provider"));
            }
            for (i, p) in s.providers.iter().enumerate() {
                let missing = match p.kind {
                    SmsProviderKind::Cm => p.product_token.is_empty(),
                    SmsProviderKind::Twilio => p.account_sid.is_empty() || p.auth_token.is_empty(),
                    SmsProviderKind::Messagebird => true,
                };
                if missing {
                    let what = match p.kind {
                        SmsProviderKind::Cm => "cm needs product_token",
                        SmsProviderKind::Twilio => "twilio needs account_sid and auth_token",
                        SmsProviderKind::Messagebird => "messagebird is not implemented; use cm or twilio",
                    };
                    return Err(ConfigError::invalid(format!("channels.sms.providers[{i}]"), what));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_need_their_placeholders() {
        assert!(check_text("k", "{brand}: code {code}. Stop: {optout}", &["code", "optout"]).is_ok());
        assert!(check_text("k", "{brand}: code {code}.", &["code", "optout"]).is_err());
        assert!(check_text("k", "{brnd} {code} {optout}", &["code", "optout"]).is_err());
        assert!(check_text("k", "{code {optout}", &["code"]).is_err());
    }

    #[test]
    fn sender_ids_follow_the_networks_rules() {
        assert!(valid_sender("Voorbeeld"));
        assert!(valid_sender("Acme 24"));
        assert!(!valid_sender("VoorbeeldEnergie"), "12 characters");
        assert!(!valid_sender("12345"), "digits only");
        assert!(!valid_sender("Acme-Shop"));
    }
}
