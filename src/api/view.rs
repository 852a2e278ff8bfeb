//! What the API answers about a verification.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::{Channel, InitiatedBy, Locale, MessageState, Method, ServerKeys, Status, mask_email, mask_phone},
    evidence::{self, EvidenceRecord, ReceiptSigner, record_at},
    store::VerificationRecord,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationView {
    pub id: String,
    pub status: Status,
    pub method: Method,
    pub channel: Channel,
    /// The destination, masked.
    pub to: String,
    /// The number to be called, masked.
    pub phone: String,
    pub locale: Locale,
    pub initiated_by: InitiatedBy,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub attempts_remaining: u32,
    pub delivery: Delivery,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// As sent at start; `null` when none was sent.
    #[schema(value_type = Option<Object>)]
    pub metadata: serde_json::Value,
    /// For `method: call`: the current window and what happened so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<CallView>,
    /// Present once confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceRecord>,
    /// The signed receipt (compact JWS, EdDSA) over the evidence, moments after confirmation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_id: Option<String>,
    /// For `method: code`: the hosted page where the person types the code. Unguessable (the
    /// id alone does not open it), so send the person there from your own form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_page_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub state: MessageState,
    pub sends: u32,
    pub resends: u32,
    pub first_sent_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// The provider that took the last message, and its reference.
    pub provider: Option<String>,
    pub provider_reference: Option<String>,
    /// Every provider attempt and delivery report, oldest first (on `GET` only).
    #[schema(value_type = Vec<Object>)]
    pub attempts: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallView {
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub caller_number: String,
    pub reschedules: u32,
    /// When the current window was announced; call only after this.
    pub announced_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub status: Status,
    pub attempts_remaining: u32,
}

impl VerificationView {
    pub fn build(v: &VerificationRecord, key: &ServerKeys, signer: &ReceiptSigner) -> Self {
        let ctx = &v.context;
        let masked_to = match v.channel {
            Channel::Email => mask_email(&v.to),
            _ => mask_phone(&v.to),
        };
        let evidence = (v.status == Status::Confirmed).then(|| evidence::build(v));
        Self {
            id: v.id.to_string(),
            status: v.status,
            method: v.method,
            channel: v.channel,
            to: masked_to,
            phone: mask_phone(&v.phone),
            locale: v.locale,
            initiated_by: v.initiated_by,
            created_at: record_at(v.created_ms),
            expires_at: record_at(v.expires_ms),
            attempts: v.attempts,
            attempts_remaining: v.max_attempts.saturating_sub(v.attempts),
            delivery: Delivery {
                state: v.delivery,
                sends: v.sends,
                resends: v.resends,
                first_sent_at: v.first_sent_ms.and_then(record_at),
                last_sent_at: v.last_sent_ms.and_then(record_at),
                provider: v.provider.clone(),
                provider_reference: v.provider_reference.clone(),
                attempts: Vec::new(),
            },
            finished_at: v.finished_ms.and_then(record_at),
            metadata: ctx.metadata.clone().map(serde_json::Value::Object).unwrap_or(serde_json::Value::Null),
            call: v.call.as_ref().map(|c| CallView {
                window_start: record_at(c.start_ms),
                window_end: record_at(c.end_ms),
                caller_number: c.caller_number.clone(),
                reschedules: c.reschedules,
                announced_at: c.announced_at_ms.and_then(record_at),
            }),
            receipt_id: evidence.as_ref().map(|_| v.receipt_id(key)),
            evidence,
            receipt: evidence::receipt(v, signer),
            code_page_url: None,
        }
    }

    /// Adds `code_page_url` for a code verification; `base` is `http.public_base_url`.
    pub fn with_code_page(mut self, v: &VerificationRecord, key: &ServerKeys, base: &str) -> Self {
        if v.method == Method::Code {
            self.code_page_url = Some(format!("{base}{}", key.code_page_path(&v.id, &v.seed(), &v.optout_token_hash)));
        }
        self
    }
}
