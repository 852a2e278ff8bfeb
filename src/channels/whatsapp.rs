//! WhatsApp Business Cloud API (`POST /{version}/{phone-number-id}/messages`) with approved
//! templates: an AUTHENTICATION template for codes (code in the body and its copy-code button)
//! and a UTILITY template whose URL button ends in the link token.
//! Reference: developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use crate::{
    config::{TemplateRef, WhatsAppSettings},
    domain::{Locale, Method},
};

use super::{ChannelError, Message, Notifier, SendReceipt, SendReport, sms::transport_error};

pub struct WhatsAppCloud {
    http: reqwest::Client,
    url: String,
    token: String,
    code_template: TemplateRef,
    link_template: TemplateRef,
}

#[derive(Debug, Deserialize)]
struct Sent {
    messages: Vec<SentId>,
}

#[derive(Debug, Deserialize)]
struct SentId {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Failure {
    error: GraphError,
}

#[derive(Debug, Deserialize)]
struct GraphError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// Classified by `error.code`, never by HTTP status. Only what is about this recipient is
/// permanent (undeliverable, not a valid WhatsApp number); account, template, auth and rate
/// problems are ours to fix and may pass later.
fn classify(code: i64, message: &str) -> ChannelError {
    let detail = format!("whatsapp {code}: {message}");
    match code {
        131026 | 131021 | 131009 => ChannelError::Permanent(detail),
        _ => ChannelError::Transient(detail),
    }
}

impl WhatsAppCloud {
    pub fn new(s: &WhatsAppSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder().timeout(Duration::from_secs(s.timeout_seconds)).build()?,
            url: format!("{}/{}/{}/messages", s.base_url.trim_end_matches('/'), s.api_version, s.phone_number_id),
            token: s.access_token.clone(),
            code_template: s.code_template.clone(),
            link_template: s.link_template.clone(),
        })
    }

    fn body(&self, m: &Message) -> serde_json::Value {
        let (template, button) = match m.method {
            Method::Link => (&self.link_template, m.link_token.as_str()),
            _ => (&self.code_template, m.code.as_str()),
        };
        let lang = match m.locale {
            Locale::En => "en",
            Locale::Nl => "nl",
        };
        let language = template.languages.get(lang).cloned().unwrap_or_else(|| lang.to_string());
        let name = m.whatsapp_template.as_deref().unwrap_or(&template.name);
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": m.to.trim_start_matches('+'),
            "type": "template",
            "biz_opaque_callback_data": m.verification_id,
            "template": {
                "name": name,
                "language": {"code": language},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": m.code}]},
                    {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": button}]}
                ]
            }
        })
    }

    async fn deliver(&self, m: &Message) -> Result<SendReceipt, ChannelError> {
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&self.body(m))
            .send()
            .await
            .map_err(|e| transport_error("whatsapp", e))?;
        let status = resp.status();
        if status.is_success() {
            let sent: Sent =
                resp.json().await.map_err(|_| ChannelError::Transient("whatsapp: unreadable answer".into()))?;
            let id = sent.messages.into_iter().next().map(|s| s.id);
            return Ok(SendReceipt { provider: "whatsapp", reference: id });
        }
        if status.is_server_error() {
            return Err(ChannelError::Transient(format!("whatsapp: HTTP {status}")));
        }
        match resp.json::<Failure>().await {
            Ok(f) => Err(classify(f.error.code, &f.error.message)),
            Err(_) => Err(ChannelError::Transient(format!("whatsapp: HTTP {status}"))),
        }
    }
}

impl Notifier for WhatsAppCloud {
    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, SendReport> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            SendReport::single("whatsapp", started, self.deliver(m).await)
        })
    }
}
