//! Example events for `POST /v1/webhook-endpoints/{id}/test`: the shape of each real body
//! (`payload.rs`), about no real verification, marked `"test": true` so that a consent store
//! can tell it apart and drop it.

use chrono::SecondsFormat;
use serde_json::{Value, json};

/// An example body of `event_type` (one of `EVENT_TYPES`), dated `now`.
pub fn example_body(event_type: &str, now: chrono::DateTime<chrono::Utc>) -> Value {
    let at = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let status = match event_type {
        "consent.confirmed" => "confirmed",
        "consent.declined" => "declined",
        "consent.withdrawn" => "withdrawn",
        "consent.expired" | "verification.expired" => "expired",
        "verification.failed" => "failed",
        "verification.canceled" => "canceled",
        _ => "confirmed",
    };
    let mut data = json!({
        "verification_id": "vf_0000000000000000000000000000test",
        "status": status,
        "method": "code",
        "channel": "sms",
        "phone": "+31600000000",
        "to": "+31600000000",
        "purpose": {"id": "example", "text": "An example purpose"},
        "metadata": null,
        "occurred_at": at,
    });
    // A declined request never became a consent: it has no term.
    if matches!(event_type, "consent.confirmed" | "consent.withdrawn" | "consent.expired") {
        data["expires_at"] = json!(at);
    }
    match event_type {
        "consent.confirmed" => {
            data["evidence"] = Value::Null;
            data["receipt_id"] = Value::Null;
            data["receipt"] = Value::Null;
        }
        "consent.withdrawn" => {
            data["source"] = json!("test");
            data["withdrawn_at"] = json!(at);
        }
        "recording.retention_due" => {
            data["recording"] = json!({"uri": "s3://example/recording.wav", "sha256": "0".repeat(64)});
            data["retain_until"] = json!(at);
        }
        _ => {}
    }
    json!({"type": event_type, "timestamp": at, "test": true, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_an_example_marked_as_a_test() {
        for t in super::super::EVENT_TYPES {
            let b = example_body(t, chrono::Utc::now());
            assert_eq!((b["type"].as_str(), b["test"].as_bool()), (Some(*t), Some(true)));
            assert!(b["data"]["occurred_at"].is_string());
        }
    }
}
