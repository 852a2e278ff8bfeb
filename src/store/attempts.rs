//! Provider attempts and delivery reports, kept in the verification's own hash as compact
//! lines, `<at ms>|<provider>|<outcome>|<latency ms>|<error>`: short enough to stay inline
//! where a JSON list of their own would cost more than the whole record.

use serde::Serialize;

fn rfc3339_ms(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// One attempt or report as the API shows it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AttemptView {
    pub provider: String,
    pub at: String,
    /// `accepted`, `transient`, `permanent`, or `report:<status>` for a delivery report.
    pub outcome: String,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

/// One attempt as a compact line. A provider's error text loses any number or address it quotes:
/// the line is kept with the record, after its number has been sealed.
pub fn encode(at_ms: i64, provider: &str, outcome: &str, latency_ms: Option<u64>, error: Option<&str>) -> String {
    format!(
        "{at_ms}|{provider}|{outcome}|{}|{}",
        latency_ms.map(|l| l.to_string()).unwrap_or_default(),
        error.map(crate::domain::redact_contacts).unwrap_or_default()
    )
}

pub fn decode(line: &str) -> Option<AttemptView> {
    let mut parts = line.splitn(5, '|');
    let at_ms: i64 = parts.next()?.parse().ok()?;
    let provider = parts.next()?.to_string();
    let outcome = parts.next()?.to_string();
    let latency_ms = parts.next().and_then(|l| l.parse().ok());
    let error = parts.next().filter(|e| !e.is_empty()).map(str::to_string);
    Some(AttemptView { provider, at: rfc3339_ms(at_ms), outcome, error, latency_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_stay_short() {
        let line = encode(1_764_000_000_123, "cm", "accepted", Some(12), None);
        assert!(line.len() <= 64, "{line}");
        let v = decode(&line).unwrap();
        assert_eq!(v.provider, "cm");
        assert_eq!(v.outcome, "accepted");
        assert_eq!(v.latency_ms, Some(12));
        assert_eq!(v.error, None);
        assert_eq!(v.at, "2025-11-24T16:00:00.123Z");
        let with_error = decode(&encode(1, "twilio", "permanent", None, Some("21211|invalid"))).unwrap();
        assert_eq!(with_error.error.as_deref(), Some("21211|invalid"));
        assert_eq!(with_error.latency_ms, None);
        assert!(decode("garbage").is_none());
    }
}
