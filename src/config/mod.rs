//! Settings, layered with figment: compiled-in `config/default.toml`, then the mode file
//! (`config/dev.toml` or `config/production.toml`), then `--config FILE`, then `OPTIN__*` env.
//!
//! Parsing turns the raw layers into [`Settings`]; [`Settings::validate`] then checks what serde
//! cannot (hash formats, country codes, production secrets) and names the offending key. It is
//! the one validation: `check-config` runs it, and `serve` runs it and then builds its keys with
//! the same functions ([`Settings::server_keys`], [`Settings::receipt_signer`]).

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::Deserialize;
use std::path::Path;

mod channels;
mod proxies;
mod secrets;
mod tenant;

pub use channels::*;
pub use proxies::TrustedProxies;
pub use secrets::ConfiguredKeys;
pub use tenant::*;

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
const DEV_TOML: &str = include_str!("../../config/dev.toml");
const PRODUCTION_TOML: &str = include_str!("../../config/production.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { key: key.into(), reason: reason.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Dev,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub mode: Mode,
    pub http: HttpSettings,
    pub redis: RedisSettings,
    pub verification: VerificationSettings,
    pub limits: LimitSettings,
    pub secrets: SecretSettings,
    pub dev: DevSettings,
    pub worker: WorkerSettings,
    pub calls: CallSettings,
    pub webhooks: WebhookSettings,
    pub receipts: ReceiptSettings,
    pub self_service: SelfServiceSettings,
    #[serde(default)]
    pub tenants: Vec<TenantSettings>,
    /// Real transports; a channel left out goes to the console transport in dev mode.
    #[serde(default)]
    pub channels: ChannelSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub bind: String,
    pub public_base_url: String,
    /// Addresses and CIDR ranges, IPv4 and IPv6.
    pub trusted_proxies: TrustedProxies,
    pub max_body_bytes: usize,
    /// The batch route's own limit: 1,000 full start bodies.
    pub max_batch_body_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    pub cluster: bool,
    pub key_prefix: String,
    pub partitions: u16,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationSettings {
    pub code_length: u8,
    pub max_attempts: u32,
    pub code_ttl_seconds: u64,
    pub link_ttl_seconds: u64,
    pub retention_days: u64,
    pub receipt_retention_days: u64,
    /// After a decline, "not me" or withdrawal, marketer-initiated starts to the number are
    /// refused this long.
    pub suppression_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub destination_per_10m: u32,
    pub destination_per_day: u32,
    /// Over all tenants together: a cap against SMS pumping through many tenants, above any
    /// one tenant's own limits.
    pub destination_all_tenants_per_10m: u32,
    pub destination_all_tenants_per_day: u32,
    pub tenant_per_minute: u32,
    pub page_ip_per_minute: u32,
}

/// The consents page (`/t/<tenant>/consents`) of every tenant that has it on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfServiceSettings {
    /// How long the code that opens the page is valid.
    pub code_ttl_seconds: u64,
    /// How long a session lasts after the right code.
    pub session_minutes: u64,
    /// Codes asked for one number (per tenant), and from one client IP, per hour.
    pub codes_per_number_per_hour: u32,
    pub codes_per_ip_per_hour: u32,
    /// How long the person's own "don't ask me again" keeps marketer-initiated starts away.
    pub suppression_days: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSettings {
    pub server_key: String,
    pub server_key_file: String,
    /// Keys before the last rotations, newest first: still accepted, never used for new values.
    #[serde(default)]
    pub previous_server_keys: Vec<String>,
    /// A file with one previous key per line, read after `previous_server_keys`.
    #[serde(default)]
    pub previous_server_keys_file: String,
    /// Keys the pseudonyms of phone numbers (consent index, suppression, partitions, rate-limit
    /// names) and idempotent ids. Empty: the oldest configured server key. Set it to that key
    /// before dropping it from the ring, so that no number loses its consents or suppression.
    #[serde(default)]
    pub pseudonym_key: String,
}

impl std::fmt::Debug for SecretSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSettings { .. }")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevSettings {
    pub outbox: bool,
    pub spawn_redis: bool,
    pub demo_api_key: String,
    /// Where dev mode keeps the server and receipt keys it generates ("" = ephemeral).
    #[serde(default)]
    pub secrets_file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    pub batch: usize,
    pub reclaim_idle_ms: u64,
    pub tick_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub retry_schedule_seconds: Vec<u64>,
    pub timeout_seconds: u64,
    pub concurrency: usize,
    pub per_endpoint_concurrency: usize,
    /// Redis commands the webhook pipeline has in flight at once (see `Conn::gated`).
    pub redis_in_flight: usize,
    /// The nice value (0-19) of the pipeline's thread: the API comes first for the CPU.
    pub thread_nice: u8,
    pub rotation_overlap_seconds: u64,
    pub max_retry_after_seconds: u64,
    pub max_endpoints_per_tenant: u32,
    pub allow_private_targets: bool,
}

/// ACM method 3: announced, recorded verification calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSettings {
    pub horizon_days: i64,
    pub min_window_minutes: i64,
    pub max_window_minutes: i64,
    pub max_reschedules: u32,
    pub report_grace_hours: i64,
    pub recording_retention_months: u32,
    pub retention_reminder_days: i64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSettings {
    pub signing_key: String,
    pub signing_key_file: String,
    /// Public keys that signed earlier receipts; the JWKS keeps serving them.
    #[serde(default)]
    pub retired_keys: Vec<RetiredReceiptKeySettings>,
}

/// One retired receipt key: public only, since it never signs again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetiredReceiptKeySettings {
    /// base64url (or hex) of the 32-byte Ed25519 public key, as `keygen --receipt` prints it.
    pub public_key: String,
    /// The `kid` its receipts carry; by default the one this service derives from the key.
    #[serde(default)]
    pub kid: Option<String>,
}

impl std::fmt::Debug for ReceiptSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceiptSettings { .. }")
    }
}

impl Settings {
    /// Loads every layer. `file` is the operator's `--config FILE`, if any.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        // The mode decides which mode file sits between the defaults and the operator's layers,
        // so read it first from the layers that may set it.
        let mut probe = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(f) = file {
            probe = probe.merge(Toml::file_exact(f));
        }
        probe = probe.merge(env_provider());
        let mode: Mode = probe.extract_inner("mode").map_err(|e| ConfigError::Parse(e.to_string()))?;
        let mode_toml = match mode {
            Mode::Dev => DEV_TOML,
            Mode::Production => PRODUCTION_TOML,
        };
        let mut fig = Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(mode_toml));
        if let Some(f) = file {
            fig = fig.merge(Toml::file_exact(f));
        }
        fig = fig.merge(env_provider());
        let settings: Settings = fig.extract().map_err(|e| ConfigError::Parse(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what the types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.http.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::invalid("http.bind", "must be an address like 127.0.0.1:8080"));
        }
        let base = &self.http.public_base_url;
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.ends_with('/') {
            return Err(ConfigError::invalid(
                "http.public_base_url",
                "must start with http:// or https:// and have no trailing slash",
            ));
        }
        if self.redis.partitions == 0 || self.redis.partitions > 1024 {
            return Err(ConfigError::invalid("redis.partitions", "must be 1..=1024"));
        }
        let prefix_ok = !self.redis.key_prefix.is_empty()
            && self.redis.key_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !prefix_ok {
            return Err(ConfigError::invalid("redis.key_prefix", "letters, digits, _ and - only"));
        }
        // A cap over all tenants below one tenant's own limit would refuse that tenant's start
        // because of others' traffic, and so show it.
        let l = &self.limits;
        if l.destination_all_tenants_per_10m < l.destination_per_10m {
            return Err(ConfigError::invalid(
                "limits.destination_all_tenants_per_10m",
                "must be at least limits.destination_per_10m",
            ));
        }
        if l.destination_all_tenants_per_day < l.destination_per_day {
            return Err(ConfigError::invalid(
                "limits.destination_all_tenants_per_day",
                "must be at least limits.destination_per_day",
            ));
        }
        let v = &self.verification;
        if !(4..=10).contains(&v.code_length) {
            return Err(ConfigError::invalid("verification.code_length", "must be 4..=10"));
        }
        if v.max_attempts == 0 || v.max_attempts > 10 {
            return Err(ConfigError::invalid("verification.max_attempts", "must be 1..=10"));
        }
        if v.code_ttl_seconds < 60 || v.link_ttl_seconds < 60 {
            return Err(ConfigError::invalid("verification.*_ttl_seconds", "must be at least 60"));
        }
        let w = &self.webhooks;
        if w.retry_schedule_seconds.is_empty() || w.retry_schedule_seconds.len() > 20 {
            return Err(ConfigError::invalid("webhooks.retry_schedule_seconds", "1 to 20 delays"));
        }
        if w.timeout_seconds == 0 || w.concurrency == 0 || w.per_endpoint_concurrency == 0 || w.redis_in_flight == 0 {
            return Err(ConfigError::invalid("webhooks", "timeout, concurrency and redis_in_flight must be positive"));
        }
        if w.thread_nice > 19 {
            return Err(ConfigError::invalid("webhooks.thread_nice", "a nice value from 0 to 19"));
        }
        for (i, r) in self.receipts.retired_keys.iter().enumerate() {
            crate::evidence::RetiredReceiptKey::parse(&r.public_key, r.kid.as_deref())
                .map_err(|e| ConfigError::invalid(format!("receipts.retired_keys[{i}]"), e.to_string()))?;
        }
        self.validate_tenants()?;
        self.channels.validate()?;
        if self.mode == Mode::Production {
            self.validate_production()?;
        }
        // The keys, files included, read and parsed exactly as `serve` does at start-up: a key
        // that one refuses, the other refuses under the same name.
        self.server_keys()?;
        self.receipt_signer()?;
        Ok(())
    }

    fn validate_tenants(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            let key = |f: &str| format!("tenants[{i}].{f}");
            if t.id.is_empty() || !t.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(ConfigError::invalid(key("id"), "letters, digits, _ and - only"));
            }
            if !seen.insert(t.id.clone()) {
                return Err(ConfigError::invalid(key("id"), "duplicate tenant id"));
            }
            if t.api_key_sha256.len() != 64 || !t.api_key_sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ConfigError::invalid(key("api_key_sha256"), "must be 64 hex digits"));
            }
            if t.name.trim().is_empty() {
                return Err(ConfigError::invalid(key("name"), "must not be empty"));
            }
            if t.self_service.channel == crate::domain::Channel::Email {
                return Err(ConfigError::invalid(
                    key("self_service.channel"),
                    "sms or whatsapp: the page is opened by a code sent to the number",
                ));
            }
            if let Some(colour) = &t.branding.accent_color {
                match contrast_with_white(colour) {
                    None => return Err(ConfigError::invalid(key("branding.accent_color"), "must be #rrggbb")),
                    Some(r) if r < 4.5 => {
                        return Err(ConfigError::invalid(
                            key("branding.accent_color"),
                            format!("white text on it has contrast {r:.2}:1; WCAG AA needs 4.5:1"),
                        ));
                    }
                    Some(_) => {}
                }
            }
            if t.branding
                .logo_url
                .as_ref()
                .is_some_and(|u| !u.starts_with("https://") || u.contains(['"', '<', '>', ' ']))
            {
                return Err(ConfigError::invalid(key("branding.logo_url"), "must be an https URL"));
            }
            for (lang, texts) in [("nl", &t.messages.nl), ("en", &t.messages.en)] {
                if let Some(texts) = texts {
                    texts.validate(&key(&format!("messages.{lang}")))?;
                }
            }
            t.send_window.hours().map_err(|e| ConfigError::invalid(key("send_window"), e.to_string()))?;
            t.calling_hours.hours().map_err(|e| ConfigError::invalid(key("calling_hours"), e.to_string()))?;
            for n in &t.caller_numbers {
                let any = crate::domain::PhonePolicy { allowed_countries: &[], require_mobile: false };
                crate::domain::PhoneNumber::parse_any_country(n, &any)
                    .map_err(|e| ConfigError::invalid(key("caller_numbers"), format!("{n:?}: {e}")))?;
            }
            for c in &t.allowed_countries {
                if c.parse::<phonenumber::country::Id>().is_err() {
                    return Err(ConfigError::invalid(key("allowed_countries"), format!("unknown country {c:?}")));
                }
            }
        }
        Ok(())
    }

    fn validate_production(&self) -> Result<(), ConfigError> {
        if self.dev.outbox {
            return Err(ConfigError::invalid("dev.outbox", "must be false in production"));
        }
        if self.secrets.server_key.is_empty() && self.secrets.server_key_file.is_empty() {
            return Err(ConfigError::invalid("secrets.server_key", "production needs a real server key"));
        }
        let demo_hash = crate::domain::ApiKeyHash::of(&self.dev.demo_api_key_or_default());
        if self.tenants.iter().any(|t| t.api_key_sha256.eq_ignore_ascii_case(demo_hash.as_str())) {
            return Err(ConfigError::invalid(
                "tenants.api_key_sha256",
                "the public demo key is not allowed in production",
            ));
        }
        if self.tenants.is_empty() {
            return Err(ConfigError::invalid("tenants", "production needs at least one tenant"));
        }
        if self.receipts.signing_key.is_empty() && self.receipts.signing_key_file.is_empty() {
            return Err(ConfigError::invalid("receipts.signing_key", "production needs a receipt signing key"));
        }
        if self.webhooks.allow_private_targets {
            return Err(ConfigError::invalid(
                "webhooks.allow_private_targets",
                "must be false in production: it turns off the SSRF guard for every tenant's endpoints",
            ));
        }
        if let Some(why) = self.http.trusted_proxies.too_broad() {
            return Err(ConfigError::invalid(
                "http.trusted_proxies",
                format!("{why}: every client in it could write its own IP into the evidence"),
            ));
        }
        Ok(())
    }
}

impl DevSettings {
    /// The demo key that ships in `config/dev.toml`; production refuses its hash even when the
    /// operator's file cleared `dev.demo_api_key`.
    pub fn demo_api_key_or_default(&self) -> String {
        if self.demo_api_key.is_empty() { DEMO_API_KEY.to_string() } else { self.demo_api_key.clone() }
    }
}

pub const DEMO_API_KEY: &str = "ovk_demo_do_not_use_in_production_0000";

fn env_provider() -> Env {
    Env::prefixed("OPTIN__").split("__")
}

#[cfg(test)]
mod tests;
