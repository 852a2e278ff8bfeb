//! Turning a verification into a message, and handing messages to a transport: SMTP, SMS
//! providers with failover, the WhatsApp Cloud API, or (dev) the console outbox.

mod console;
mod email;
pub mod gsm;
mod instrumented;
mod render;
mod router;
pub mod sms;
mod whatsapp;

pub use console::ConsoleTransport;
pub use email::SmtpTransport;
pub use render::{CallInfo, MessageInputs, render};
pub use router::Transports;
pub use sms::SmsRouter;
pub use whatsapp::WhatsAppCloud;

use futures_util::future::BoxFuture;

use crate::domain::{Channel, Locale, Method};

/// A message exactly as the person receives it, and what a template transport needs.
#[derive(Clone)]
pub struct Message {
    pub verification_id: String,
    pub channel: Channel,
    pub method: Method,
    pub locale: Locale,
    /// E.164 or email address.
    pub to: String,
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
    /// Extra headers (email: RFC 8058 one-click unsubscribe).
    pub headers: Vec<(String, String)>,
    /// The code, for templates that take it as a parameter (WhatsApp).
    pub code: String,
    /// The confirm link's token: the dynamic suffix of a WhatsApp URL button.
    pub link_token: String,
    /// The tenant's own WhatsApp template for this message, if it has one.
    pub whatsapp_template: Option<String>,
    /// This send's number (1 for the first; the record's sends plus one): CM.com's reference
    /// names it, so that a report about an earlier send can be told apart.
    pub send_number: u32,
    /// The tenant, as the sender's display name, and where replies go.
    pub from_name: String,
    pub reply_to: Option<String>,
}

/// Messages carry codes and links: never print them.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("verification_id", &self.verification_id)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// Which provider took a message, under which reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    pub provider: &'static str,
    pub reference: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Worth another try (5xx, 429, timeout): retried, then the next provider.
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// Retrying cannot help (an invalid number, a refused template): the send fails.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
    #[error("message rendering failed: {0}")]
    Render(#[from] askama::Error),
}

/// One try at one provider, as recorded on the verification.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderAttempt {
    pub provider: &'static str,
    pub at: String,
    /// `accepted`, `transient` or `permanent`.
    pub outcome: &'static str,
    pub error: Option<String>,
    pub latency_ms: u64,
}

impl ProviderAttempt {
    pub fn of(provider: &'static str, started: std::time::Instant, result: &Result<SendReceipt, ChannelError>) -> Self {
        let (outcome, error) = match result {
            Ok(_) => ("accepted", None),
            Err(ChannelError::Permanent(e)) => ("permanent", Some(e.clone())),
            Err(e) => ("transient", Some(e.to_string())),
        };
        Self {
            provider,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            outcome,
            error,
            latency_ms: started.elapsed().as_millis() as u64,
        }
    }
}

impl ProviderAttempt {
    /// The compact line the store keeps for this attempt.
    pub fn line(&self) -> String {
        let at_ms = chrono::DateTime::parse_from_rfc3339(&self.at).map_or(0, |t| t.timestamp_millis());
        crate::store::attempts::encode(at_ms, self.provider, self.outcome, Some(self.latency_ms), self.error.as_deref())
    }
}

/// The result of a send and every provider attempt that led to it.
#[derive(Debug)]
pub struct SendReport {
    pub result: Result<SendReceipt, ChannelError>,
    pub attempts: Vec<ProviderAttempt>,
}

impl SendReport {
    /// A transport that makes exactly one attempt.
    pub fn single(
        provider: &'static str,
        started: std::time::Instant,
        result: Result<SendReceipt, ChannelError>,
    ) -> Self {
        let attempt = ProviderAttempt::of(provider, started, &result);
        Self { result, attempts: vec![attempt] }
    }
}

impl ChannelError {
    /// What may be logged: provider texts can quote the number or address, so only the class.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Transient(_) => "transient",
            Self::Permanent(_) => "permanent",
            Self::Render(_) => "render",
        }
    }
}

/// Something that delivers messages. Dyn-compatible so config can pick one per channel.
pub trait Notifier: Send + Sync {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, SendReport>;
}
