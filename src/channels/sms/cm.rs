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
