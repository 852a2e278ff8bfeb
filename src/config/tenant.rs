//! Per-tenant settings: identity, keys, countries, hours, caller numbers, branding, texts.

use serde::Deserialize;

use super::channels::MessageTexts;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    pub id: String,
    pub name: String,
    pub kvk: String,
    #[serde(default)]
    pub contact_email: String,
    pub api_key_sha256: String,
    #[serde(default = "default_countries")]
    pub allowed_countries: Vec<String>,
    /// When marketer-initiated messages may go out (Dutch local time); others wait.
    #[serde(default = "default_send_window")]
    pub send_window: HoursSettings,
    /// The published, call-back-able numbers the tenant calls from (announced calls).
    #[serde(default)]
    pub caller_numbers: Vec<String>,
    /// When announced verification calls may take place (Dutch local time).
    #[serde(default = "default_calling_hours")]
    pub calling_hours: HoursSettings,
    #[serde(default)]
    pub branding: Branding,
    /// Email `From` display name and `Reply-To` for this tenant's messages.
    #[serde(default)]
    pub email_reply_to: Option<String>,
    /// Overrides of the message texts, per language.
    #[serde(default)]
    pub messages: MessageTexts,
    /// The legal ground the evidence records (a tenant in an exempt sector names its own).
    #[serde(default = "default_legal_basis")]
    pub legal_basis: String,
    /// What a start must carry as evidence.
    #[serde(default)]
    pub evidence: EvidencePolicy,
    /// The person's own consents page, `/t/<id>/consents`.
    #[serde(default)]
    pub self_service: TenantSelfService,
}

/// A tenant's consents page: on unless switched off, with its codes sent by SMS or WhatsApp.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSelfService {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How the code that opens the page reaches the number: `sms` or `whatsapp`.
    #[serde(default = "sms")]
    pub channel: crate::domain::Channel,
    /// Also open it with an e-mail address that confirmed consents (the code goes by e-mail).
    #[serde(default)]
    pub email: bool,
}

impl Default for TenantSelfService {
    fn default() -> Self {
        Self { enabled: true, channel: crate::domain::Channel::Sms, email: false }
    }
}

fn yes() -> bool {
    true
}

fn sms() -> crate::domain::Channel {
    crate::domain::Channel::Sms
}

/// The ground recorded when a tenant names none: consent, under the Telecommunicatiewet and
/// the GDPR.
pub const DEFAULT_LEGAL_BASIS: &str = "Telecommunicatiewet art. 11.7 jo. AVG art. 6(1)(a)";

pub fn default_legal_basis() -> String {
    DEFAULT_LEGAL_BASIS.to_string()
}

/// A piece of evidence a start can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum EvidenceField {
    #[serde(rename = "collection.url")]
    CollectionUrl,
    #[serde(rename = "collection.ip")]
    CollectionIp,
    #[serde(rename = "collection.user_agent")]
    CollectionUserAgent,
    #[serde(rename = "collection.collected_at")]
    CollectionCollectedAt,
    #[serde(rename = "collection.checkbox_default")]
    CollectionCheckboxDefault,
    #[serde(rename = "privacy_statement")]
    PrivacyStatement,
}

impl EvidenceField {
    pub fn name(self) -> &'static str {
        match self {
            Self::CollectionUrl => "collection.url",
            Self::CollectionIp => "collection.ip",
            Self::CollectionUserAgent => "collection.user_agent",
            Self::CollectionCollectedAt => "collection.collected_at",
            Self::CollectionCheckboxDefault => "collection.checkbox_default",
            Self::PrivacyStatement => "privacy_statement",
        }
    }
}

/// The evidence a consumer-initiated code verification must carry: there the person gave
/// consent on the marketer's form, and the code only proves the number.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidencePolicy {
    /// Unset: production requires [`EvidencePolicy::PRODUCTION`], dev nothing.
    #[serde(default)]
    pub required: Option<Vec<EvidenceField>>,
}

impl EvidencePolicy {
    pub const PRODUCTION: [EvidenceField; 4] = [
        EvidenceField::CollectionUrl,
        EvidenceField::CollectionIp,
        EvidenceField::CollectionCollectedAt,
        EvidenceField::PrivacyStatement,
    ];

    pub fn required(&self, production: bool) -> &[EvidenceField] {
        match &self.required {
            Some(list) => list,
            None if production => &Self::PRODUCTION,
            None => &[],
        }
    }
}

/// Days (`mon`..`sun`), `HH:MM` start and end (`24:00` for midnight) and blocked dates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursSettings {
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub blocked_dates: Vec<String>,
}

impl HoursSettings {
    pub fn hours(&self) -> Result<crate::domain::OpeningHours, crate::domain::HoursError> {
        crate::domain::OpeningHours::parse(&self.days, &self.start, &self.end, &self.blocked_dates)
    }
}

fn days(list: &[&str]) -> Vec<String> {
    list.iter().map(|d| d.to_string()).collect()
}

/// 09:00-21:00, no Sundays: the sector's quiet hours for unsolicited contact.
pub fn default_send_window() -> HoursSettings {
    HoursSettings {
        days: days(&["mon", "tue", "wed", "thu", "fri", "sat"]),
        start: "09:00".into(),
        end: "21:00".into(),
        blocked_dates: Vec::new(),
    }
}

/// Conservative: working days 09:00-20:00, never on Dutch public holidays of 2026 and 2027.
pub fn default_calling_hours() -> HoursSettings {
    HoursSettings {
        days: days(&["mon", "tue", "wed", "thu", "fri"]),
        start: "09:00".into(),
        end: "20:00".into(),
        blocked_dates: days(&[
            "2026-01-01",
            "2026-04-03",
            "2026-04-05",
            "2026-04-06",
            "2026-04-27",
            "2026-05-05",
            "2026-05-14",
            "2026-05-24",
            "2026-05-25",
            "2026-12-25",
            "2026-12-26",
            "2027-01-01",
            "2027-03-26",
            "2027-03-28",
            "2027-03-29",
            "2027-04-27",
            "2027-05-05",
            "2027-05-06",
            "2027-05-16",
            "2027-05-17",
            "2027-12-25",
            "2027-12-26",
        ]),
    }
}

/// How the consumer pages look for a tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// Shown in the page header; the tenant's `name` when absent.
    pub display_name: Option<String>,
    /// An https URL of the logo image.
    pub logo_url: Option<String>,
    /// `#rrggbb`; white text on it must reach WCAG AA contrast (4.5:1).
    pub accent_color: Option<String>,
}

/// WCAG 2.1 contrast ratio of white against `#rrggbb`, or `None` if it is not such a colour.
pub fn contrast_with_white(hex: &str) -> Option<f64> {
    contrast(hex, "#ffffff")
}

/// WCAG 2.1 contrast ratio between two `#rrggbb` colours.
pub fn contrast(a: &str, b: &str) -> Option<f64> {
    let (la, lb) = (luminance(a)?, luminance(b)?);
    Some((la.max(lb) + 0.05) / (la.min(lb) + 0.05))
}

fn luminance(hex: &str) -> Option<f64> {
    let h = hex.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&h[i..i + 2], 16).ok()?) / 255.0;
        Some(if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) })
    };
    Some(0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?)
}

fn default_countries() -> Vec<String> {
    vec!["NL".into()]
}
