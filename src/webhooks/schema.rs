//! The webhook bodies as OpenAPI schemas, one per event type, for the served document's
//! `webhooks` section. They describe what `payload.rs` and `example.rs` build; the contract
//! check validates real deliveries against them with a JSON Schema validator.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        ContentBuilder, PathItem, Ref, RefOr, ResponseBuilder, ResponsesBuilder, Schema,
        path::{HttpMethod, OperationBuilder},
        request_body::RequestBodyBuilder,
    },
};

use crate::evidence::EvidenceRecord;

#[derive(Serialize, ToSchema)]
pub struct WebhookPurpose {
    pub id: String,
    pub text: String,
}

/// The fields of an event about a verification. Only `verification_id` and `occurred_at` are
/// certain: an event whose verification can no longer be read carries just those.
#[derive(Serialize, ToSchema)]
pub struct VerificationEventData {
    pub verification_id: String,
    /// What the verification (or consent) is now: `confirmed`, `withdrawn`, `expired`, ...
    pub status: Option<String>,
    /// `link`, `code` or `call`.
    pub method: Option<String>,
    /// `sms`, `whatsapp` or `email`.
    pub channel: Option<String>,
    /// The number that may be called, E.164.
    pub phone: Option<String>,
    /// Where the message went.
    pub to: Option<String>,
    pub purpose: Option<WebhookPurpose>,
    /// As sent at start.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub occurred_at: DateTime<Utc>,
}

/// An event about a consent: the verification's fields and the consent's term.
#[derive(Serialize, ToSchema)]
pub struct ConsentEventData {
    #[serde(flatten)]
    pub common: VerificationEventData,
    /// When the consent stops counting.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentConfirmedData {
    #[serde(flatten)]
    pub consent: ConsentEventData,
    /// The full evidence record; `null` only in a test event.
    pub evidence: Option<EvidenceRecord>,
    /// The signed receipt (compact JWS); `null` only in a test event.
    pub receipt: Option<String>,
    pub receipt_id: Option<String>,
}

/// A withdrawn consent, or (with `verification_id: null`) an opt-out for a number with no
/// consent here.
#[derive(Serialize, ToSchema)]
pub struct ConsentWithdrawnData {
    pub verification_id: Option<String>,
    pub status: Option<String>,
    pub method: Option<String>,
    pub channel: Option<String>,
    pub phone: Option<String>,
    pub to: Option<String>,
    pub purpose: Option<WebhookPurpose>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub expires_at: Option<DateTime<Utc>>,
    /// `link`, `self_service`, or what the marketer's withdrawal named.
    pub source: Option<String>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookRecording {
    pub uri: Option<String>,
    pub sha256: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordingRetentionDueData {
    #[serde(flatten)]
    pub common: VerificationEventData,
    pub recording: Option<WebhookRecording>,
    pub retain_until: Option<DateTime<Utc>>,
}

/// `{type, timestamp, data}`, with `test: true` on an example from `POST .../test`.
macro_rules! event {
    ($name:ident, $data:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Serialize, ToSchema)]
        pub struct $name {
            #[serde(rename = "type")]
            pub event_type: String,
            pub timestamp: DateTime<Utc>,
            /// Present (true) only on an example sent by `POST /v1/webhook-endpoints/{id}/test`.
            pub test: Option<bool>,
            pub data: $data,
        }
    };
}

event!(ConsentConfirmedEvent, ConsentConfirmedData, "`consent.confirmed`: the person confirmed.");
event!(ConsentDeclinedEvent, VerificationEventData, "`consent.declined`: the person said no, or not me.");
event!(ConsentWithdrawnEvent, ConsentWithdrawnData, "`consent.withdrawn`: a consent (or a number) was withdrawn.");
event!(ConsentExpiredEvent, ConsentEventData, "`consent.expired`: a consent's term ended.");
event!(VerificationExpiredEvent, VerificationEventData, "`verification.expired`: no answer before the deadline.");
event!(
    VerificationFailedEvent,
    VerificationEventData,
    "`verification.failed`: too many wrong codes, or undeliverable."
);
event!(VerificationCanceledEvent, VerificationEventData, "`verification.canceled`: the marketer canceled it.");
event!(
    RecordingRetentionDueEvent,
    RecordingRetentionDueData,
    "`recording.retention_due`: a call recording's retention ends soon."
);

/// Each event type with its schema's name and the schema.
pub fn event_schemas() -> Vec<(&'static str, &'static str, RefOr<Schema>)> {
    vec![
        ("consent.confirmed", "ConsentConfirmedEvent", ConsentConfirmedEvent::schema()),
        ("consent.declined", "ConsentDeclinedEvent", ConsentDeclinedEvent::schema()),
        ("consent.withdrawn", "ConsentWithdrawnEvent", ConsentWithdrawnEvent::schema()),
        ("consent.expired", "ConsentExpiredEvent", ConsentExpiredEvent::schema()),
        ("verification.expired", "VerificationExpiredEvent", VerificationExpiredEvent::schema()),
        ("verification.failed", "VerificationFailedEvent", VerificationFailedEvent::schema()),
        ("verification.canceled", "VerificationCanceledEvent", VerificationCanceledEvent::schema()),
        ("recording.retention_due", "RecordingRetentionDueEvent", RecordingRetentionDueEvent::schema()),
    ]
}

/// The schemas the event schemas refer to, by name.
pub fn referenced_schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut out = Vec::new();
    ConsentConfirmedEvent::schemas(&mut out);
    ConsentWithdrawnEvent::schemas(&mut out);
    RecordingRetentionDueEvent::schemas(&mut out);
    ConsentDeclinedEvent::schemas(&mut out);
    ConsentExpiredEvent::schemas(&mut out);
    out
}

/// The document's `webhooks` section: one POST per event type, its body the type's schema.
pub fn webhooks_section() -> serde_json::Value {
    let mut section = serde_json::Map::new();
    for (event_type, name, _) in event_schemas() {
        let body = RequestBodyBuilder::new()
            .required(Some(utoipa::openapi::Required::True))
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(name))).build())
            .build();
        let op = OperationBuilder::new()
            .operation_id(Some(event_type.replace('.', "_")))
            .summary(Some(format!("{event_type} event")))
            .description(Some(
                "Signed as Standard Webhooks asks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). \
                 Answer 2xx; anything else is retried, and 410 disables the endpoint.",
            ))
            .request_body(Some(body))
            .responses(ResponsesBuilder::new().response("2XX", ResponseBuilder::new().description("Received")).build())
            .build();
        let item = PathItem::new(HttpMethod::Post, op);
        section.insert(event_type.to_string(), serde_json::to_value(item).unwrap_or_default());
    }
    serde_json::Value::Object(section)
}
