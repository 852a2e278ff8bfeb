//! Webhook bodies: `{type, timestamp, data}`.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use crate::{
    evidence::{self, record_at},
    store::{EventEntry, VerificationRecord},
};

fn iso(ms: i64) -> Value {
    record_at(ms).map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))).unwrap_or(Value::Null)
}

/// The body sent for an event about a verification.
pub fn verification_body(e: &EventEntry, v: &VerificationRecord, receipt: Option<(&str, &str)>) -> Value {
    let ctx = &v.context;
    // A withdrawn consent's record stays `confirmed` (that is what it was); the event says what
    // it is now.
    let status = match e.event_type.as_str() {
        "consent.withdrawn" => "withdrawn",
        "consent.expired" => "expired",
        _ => v.status.as_str(),
    };
    let mut data = json!({
        "verification_id": v.id.as_str(),
        "status": status,
        "method": v.method.as_str(),
        "channel": v.channel.as_str(),
        "phone": v.phone,
        "to": v.to,
        "purpose": json!({"id": ctx.purpose.id, "text": ctx.purpose.text}),
        "metadata": ctx.metadata,
        "occurred_at": iso(e.at_ms),
    });
    if e.event_type.starts_with("consent.")
        && let Some(cx) = v.consent_expires_ms
    {
        data["expires_at"] = iso(cx);
    }
    if e.event_type == "consent.confirmed" {
        data["evidence"] = serde_json::to_value(evidence::build(v)).unwrap_or(Value::Null);
        data["receipt_id"] = json!(receipt.map(|r| r.0));
        data["receipt"] = json!(receipt.map(|r| r.1));
    }
    if e.event_type == "recording.retention_due"
        && let Some(c) = &v.call
    {
        data["recording"] = json!({"uri": c.recording_uri, "sha256": c.recording_sha256});
        data["retain_until"] = c.retain_until_ms.map_or(Value::Null, iso);
    }
    if e.event_type == "consent.withdrawn" {
        data["source"] = json!(e.source.as_deref().unwrap_or("link"));
        data["withdrawn_at"] = iso(e.at_ms);
    }
    envelope(&e.event_type, e.at_ms, data)
}

/// The body of an opt-out posted for a number with no verification here. `phone` is the
/// event's number, opened (the stream keeps it sealed).
pub fn withdrawal_body(e: &EventEntry, phone: Option<&str>) -> Value {
    let data = json!({
        "verification_id": null,
        "phone": phone,
        "source": e.source,
        "withdrawn_at": iso(e.at_ms),
        "occurred_at": iso(e.at_ms),
    });
    envelope(&e.event_type, e.at_ms, data)
}

/// An event whose verification can no longer be read: its id and what happened.
pub fn bare_body(e: &EventEntry) -> Value {
    envelope(&e.event_type, e.at_ms, json!({"verification_id": e.verification_id, "occurred_at": iso(e.at_ms)}))
}

fn envelope(event_type: &str, at_ms: i64, data: Value) -> Value {
    json!({"type": event_type, "timestamp": iso(at_ms), "data": data})
}
