//! The evidence context a marketer sends at start: what the person is asked to agree to.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub id: String,
    #[schema(min_length = 1, max_length = 300, pattern = "\\S")]
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentText {
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub version: String,
    /// The exact text the person agrees to; shown verbatim on the confirm page.
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyStatement {
    #[schema(format = "uri", max_length = 2048, pattern = "^https?://\\S+$")]
    pub url: String,
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub version: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckboxDefault {
    Unchecked,
    Checked,
    NotApplicable,
}

/// Where and how the marketer collected the request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    #[schema(format = "uri", max_length = 2048, pattern = "^https?://\\S+$")]
    pub url: Option<String>,
    #[schema(value_type = Option<String>, format = "ip")]
    pub ip: Option<std::net::IpAddr>,
    #[schema(min_length = 1, max_length = 512, pattern = "\\S")]
    pub user_agent: Option<String>,
    pub collected_at: Option<DateTime<Utc>>,
    pub checkbox_default: Option<CheckboxDefault>,
}

/// The organisation responsible for the consent, as it was named when the person was asked.
/// Kept with the record so a receipt rebuilt later says exactly what was signed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Controller {
    pub name: String,
    pub kvk: String,
    pub contact_email: String,
    /// The legal ground the tenant named at the start; absent in records from before tenants
    /// could name one (their evidence shows the default, as it was signed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
}

/// The evidence context stored with the verification, exactly as it will be shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Context {
    pub purpose: Purpose,
    pub caller: String,
    pub consent_text: ConsentText,
    pub privacy_statement: Option<PrivacyStatement>,
    pub collection: Option<Collection>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The controller and the receipt issuer (our public base URL) at the start.
    pub controller: Controller,
    pub issuer: String,
}
