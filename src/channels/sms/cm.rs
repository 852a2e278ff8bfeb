//! CM.com Business Messaging JSON gateway (`POST /v1.0/message`).
//! Reference: developers.cm.com/messaging/docs (integration, responses-errors-json) and the
//! official text SDKs (cmdotcom/text-sdk-*), which agree on the request shape used here.

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use crate::{
    channels::{ChannelError, SendReceipt},
    config::SmsProviderSettings,
};

use super::{SmsProvider, SmsRequest, transport_error};

pub struct Cm {
    http: reqwest::Client,
    url: String,
    token: String,
}

#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(rename = "errorCode", default)]
    error_code: i64,
    #[serde(default)]
    details: String,
    #[serde(default)]
    messages: Vec<MessageReply>,
}

#[derive(Debug, Deserialize)]
struct MessageReply {
    #[serde(default)]
    status: String,
    #[serde(rename = "messageErrorCode", default)]
    message_error_code: i64,
    #[serde(rename = "messageDetails", default)]
    message_details: Option<String>,
}

impl Cm {
    pub fn new(http: reqwest::Client, p: &SmsProviderSettings) -> Self {
        let base = p.base_url.clone().unwrap_or_else(|| "https://gw.messaging.cm.com".into());
        Self { http, url: format!("{}/v1.0/message", base.trim_end_matches('/')), token: p.product_token.clone() }
    }
}

/// Base-36 digits of a verification id's 128 bits in a CM reference.
const ID_DIGITS: usize = 25;

/// The `reference` of one send of a verification. CM echoes it in every status report and takes
/// 1 to 32 alphanumeric characters, so the 32 hex digits of the id alone fill it: the id is
/// written in 25 base-36 digits, followed by the send's number (1, 2, ...; the record's `ns`
/// plus one) in at most 6 decimal digits. A report about an earlier send then names a reference
/// that is no longer the verification's latest, and changes nothing. At most 31 characters, so
/// it is never mistaken for the bare hex id that sends used to carry.
pub fn cm_reference(verification_id: &str, send_number: u32) -> String {
    let hex = verification_id.strip_prefix("vf_").unwrap_or(verification_id);
    let mut n = u128::from_str_radix(hex, 16).unwrap_or(0);
    let mut id: Vec<char> = Vec::with_capacity(ID_DIGITS);
    for _ in 0..ID_DIGITS {
        id.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
    }
    id.reverse();
    let id: String = id.into_iter().collect();
    format!("{id}{}", send_number % 1_000_000)
}

/// The verification id (`vf_...`) a CM reference names: one of [`cm_reference`], or the bare
/// 32 hex digits that messages sent before per-send references carried.
pub fn cm_verification_of(reference: &str) -> Option<String> {
    let b = reference.as_bytes();
    if b.len() == 32 && b.iter().all(|&c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Some(format!("vf_{reference}"));
    }
    if !(ID_DIGITS + 1..=ID_DIGITS + 6).contains(&b.len()) || !b[ID_DIGITS..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u128 = 0;
    for &c in &b[..ID_DIGITS] {
        if c.is_ascii_uppercase() {
            return None;
        }
        let d = (c as char).to_digit(36)?;
        n = n.checked_mul(36)?.checked_add(u128::from(d))?;
    }
    Some(format!("vf_{n:032x}"))
}

/// The send a reference of ours names (`cm_reference`); none for the bare-id form of before.
pub fn cm_send_of(reference: &str) -> Option<u32> {
    cm_verification_of(reference)?;
    // The bare-id form is 32 characters; ours are at most ID_DIGITS + 6.
    (reference.len() <= ID_DIGITS + 6).then(|| reference[ID_DIGITS..].parse().ok())?
}

/// CM's codes: 302-305 and 401-403 concern this message (bad number, body, spam, blacklist)
/// and will not change on a retry; a bad sender (301), account and server errors are ours and
/// may pass at another provider.
fn classify(code: i64, detail: &str) -> ChannelError {
    match code {
        302..=305 | 401..=403 => ChannelError::Permanent(format!("cm {code}: {detail}")),
        _ => ChannelError::Transient(format!("cm {code}: {detail}")),
    }
}

impl SmsProvider for Cm {
    fn name(&self) -> &'static str {
        "cm"
    }

    fn send<'a>(&'a self, req: &'a SmsRequest<'a>) -> BoxFuture<'a, Result<SendReceipt, ChannelError>> {
        Box::pin(async move {
            let body = json!({"messages": {
                "authentication": {"producttoken": self.token},
                "msg": [{
                    "allowedChannels": ["SMS"],
                    "from": req.sender,
                    "to": [{"number": format!("00{}", req.to.trim_start_matches('+'))}],
                    "body": {"type": "auto", "content": req.text},
                    "reference": req.reference,
                    "minimumNumberOfMessageParts": 1,
                    "maximumNumberOfMessageParts": 2,
                }]
            }});
            let resp = self
                .http
                .post(&self.url)
                .header("X-CM-PRODUCTTOKEN", &self.token)
                .json(&body)
                .send()
                .await
                .map_err(|e| transport_error("cm", e))?;
            let status = resp.status();
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(ChannelError::Transient(format!("cm: HTTP {status}")));
            }
            let reply: Reply =
                resp.json().await.map_err(|_| ChannelError::Transient(format!("cm: unreadable answer ({status})")))?;
            let first = reply.messages.first();
            if reply.error_code == 0 && first.is_some_and(|m| m.status == "Accepted") {
                return Ok(SendReceipt { provider: "cm", reference: Some(req.reference.to_string()) });
            }
            Err(match first.filter(|m| m.message_error_code != 0) {
                Some(m) => classify(m.message_error_code, m.message_details.as_deref().unwrap_or("")),
                None => classify(reply.error_code, &reply.details),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::VerificationId;

    #[test]
    fn references_name_the_verification_and_the_send() {
        for _ in 0..200 {
            let id = VerificationId::random(1024);
            let first = cm_reference(id.as_str(), 1);
            let second = cm_reference(id.as_str(), 2);
            assert_ne!(first, second);
            assert_eq!((cm_send_of(&first), cm_send_of(&second)), (Some(1), Some(2)));
            for r in [&first, &second, &cm_reference(id.as_str(), u32::MAX)] {
                assert!((1..=32).contains(&r.len()) && r.bytes().all(|c| c.is_ascii_alphanumeric()), "{r}");
                assert_eq!(cm_verification_of(r).as_deref(), Some(id.as_str()));
            }
        }
        let max = format!("vf_{}", "f".repeat(32));
        assert_eq!(cm_verification_of(&cm_reference(&max, 7)).as_deref(), Some(max.as_str()));
        // What sends used to carry: the bare id.
        let legacy = "0003aabbccddeeff0011223344556677";
        assert_eq!(cm_verification_of(legacy), Some(format!("vf_{legacy}")));
        assert_eq!(cm_send_of(legacy), None);
        let overflow = format!("{}1", "z".repeat(25));
        let upper = format!("{}1", "A".repeat(25));
        let not_hex = format!("{}1234567", "g".repeat(25));
        let short = "0".repeat(25);
        let bad = [short.as_str(), "0000000000000000000000000x1", overflow.as_str(), upper.as_str(), not_hex.as_str()];
        for bad in ["", "x"].into_iter().chain(bad) {
            assert!(cm_verification_of(bad).is_none(), "{bad}");
        }
    }
}
