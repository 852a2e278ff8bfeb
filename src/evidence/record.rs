//! Field names follow ISO/IEC TS 27560 and the Kantara Consent Receipt where they fit.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::store::VerificationRecord;

pub const SCHEMA_VERSION: &str = "optin-verify/evidence/1";

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceRecord {
    pub record_id: String,
    pub schema_version: &'static str,
    pub subject: Subject,
    pub controller: Controller,
    pub caller: String,
    pub purpose: PurposeView,
    pub legal_basis: String,
    pub notice: Notice,
    /// As sent by the marketer at start; `null` when it sent none.
    #[schema(value_type = Option<Object>)]
    pub collection: serde_json::Value,
    pub verification: VerificationEvidence,
    /// When the consent stops counting (set when it is confirmed). Absent on consents given
    /// before consents had a term, so that their receipts rebuild byte for byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub withdrawal: Withdrawal,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Subject {
    /// The number that may be called, E.164.
    pub phone: String,
    /// Where the verification message went.
    pub verified_destination: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Controller {
    pub name: String,
    pub kvk: String,
    pub contact_email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurposeView {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Notice {
    pub consent_text_version: String,
    pub consent_text: String,
    /// SHA-256 (hex) of the exact consent text the person saw.
    pub consent_text_sha256: String,
    pub privacy_statement_url: Option<String>,
    pub privacy_statement_version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationEvidence {
    pub method: &'static str,
    pub channel: &'static str,
    pub sent_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// `api` (code checked by the marketer), `link` (confirm page) or `optout`.
    pub source: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub attempts: u32,
    /// Present (true) only when the marketer asked although an active consent for the same
    /// purpose and caller existed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reask: bool,
    /// `confirmation_page` when the form's box was pre-ticked: that box is not consent, the
    /// person's press on the confirmation page is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_act: Option<String>,
    /// For method `call`: the announcement, the call and its recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<CallEvidence>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallEvidence {
    pub announcement: Announcement,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub caller_number: String,
    pub agent_id: Option<String>,
    pub called_at: Option<DateTime<Utc>>,
    pub reschedules: u32,
    pub recording: Option<RecordingEvidence>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Announcement {
    pub channel: &'static str,
    /// SHA-256 (hex) of the exact announcement text that was sent.
    pub text_sha256: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The provider's delivery report time; the send time until delivery reports exist.
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingEvidence {
    pub uri: String,
    pub sha256: String,
    pub duration_seconds: Option<u64>,
    /// `called_at` plus the retention period (12 months by default).
    pub retain_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawal {
    /// How the person can withdraw: the link in every message, or the marketer's API.
    pub methods: Vec<&'static str>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

pub fn at(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// Builds the record of a confirmed verification. The controller is the one named when the
/// person was asked, as stored with the verification.
pub fn build(v: &VerificationRecord) -> EvidenceRecord {
    let ctx = &v.context;
    let text = &ctx.consent_text.text;
    EvidenceRecord {
        record_id: format!("ev_{}", &v.id.as_str()[3..]),
        schema_version: SCHEMA_VERSION,
        subject: Subject { phone: v.phone.clone(), verified_destination: v.to.clone() },
        controller: Controller {
            name: ctx.controller.name.clone(),
            kvk: ctx.controller.kvk.clone(),
            contact_email: ctx.controller.contact_email.clone(),
        },
        caller: ctx.caller.clone(),
        purpose: PurposeView { id: ctx.purpose.id.clone(), text: ctx.purpose.text.clone() },
        legal_basis: ctx.controller.legal_basis.clone().unwrap_or_else(crate::config::default_legal_basis),
        notice: Notice {
            consent_text_version: ctx.consent_text.version.clone(),
            consent_text: text.clone(),
            consent_text_sha256: hex::encode(Sha256::digest(text.as_bytes())),
            privacy_statement_url: ctx.privacy_statement.as_ref().map(|p| p.url.clone()),
            privacy_statement_version: ctx.privacy_statement.as_ref().map(|p| p.version.clone()),
        },
        collection: serde_json::to_value(&ctx.collection).unwrap_or(serde_json::Value::Null),
        verification: VerificationEvidence {
            method: v.method.as_str(),
            channel: v.channel.as_str(),
            sent_at: v.first_sent_ms.and_then(at),
            confirmed_at: v.finished_ms.and_then(at),
            source: v.confirm_source.clone(),
            ip: v.confirm_ip.clone().filter(|s| !s.is_empty()),
            user_agent: v.confirm_user_agent.clone().filter(|s| !s.is_empty()),
            attempts: v.attempts,
            reask: v.reask,
            active_act: v.active_act.clone(),
            call: v.call.as_ref().map(|c| CallEvidence {
                announcement: Announcement {
                    channel: v.channel.as_str(),
                    text_sha256: c.announcement_sha256.clone(),
                    sent_at: c.announced_at_ms.and_then(at),
                    delivered_at: c.announced_at_ms.and_then(at),
                },
                window_start: at(c.start_ms),
                window_end: at(c.end_ms),
                caller_number: c.caller_number.clone(),
                agent_id: c.agent_id.clone(),
                called_at: c.called_at_ms.and_then(at),
                reschedules: c.reschedules,
                recording: c.recording_uri.as_ref().map(|uri| RecordingEvidence {
                    uri: uri.clone(),
                    sha256: c.recording_sha256.clone().unwrap_or_default(),
                    duration_seconds: c.recording_duration_seconds,
                    retain_until: c.retain_until_ms.and_then(at),
                }),
            }),
        },
        expires_at: v.consent_expires_ms.and_then(at),
        withdrawal: Withdrawal { methods: vec!["link", "api"], withdrawn_at: v.withdrawn_ms.and_then(at) },
    }
}
