//! SMS through real providers, in configured order: a transient failure (5xx, 429, timeout)
//! is retried with backoff and then handed to the next provider; a permanent one (an invalid
//! number) stops at once.

mod cm;
mod twilio;

use std::{sync::Arc, time::Duration};

use futures_util::future::BoxFuture;

use crate::config::{SmsProviderKind, SmsSettings};

pub use cm::{Cm, cm_reference, cm_send_of, cm_verification_of};
pub use twilio::{Twilio, twilio_signature};

use super::{ChannelError, Message, Notifier, ProviderAttempt, SendReceipt, SendReport};

/// What one provider needs to send one SMS.
pub struct SmsRequest<'a> {
    pub to: &'a str,
    pub text: &'a str,
    pub sender: &'a str,
    /// `vf_...`: named in the status callback URL (Twilio).
    pub verification_id: &'a str,
    /// Ours for this send, echoed in delivery reports (CM.com): see [`cm_reference`].
    pub reference: &'a str,
}

pub trait SmsProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, req: &'a SmsRequest<'a>) -> BoxFuture<'a, Result<SendReceipt, ChannelError>>;
}

/// Maps an HTTP failure that carries no provider verdict.
pub fn transport_error(provider: &str, e: reqwest::Error) -> ChannelError {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    ChannelError::Transient(format!("{provider}: {what}"))
}

pub struct SmsRouter {
    providers: Vec<Arc<dyn SmsProvider>>,
    sender: String,
    attempts: u32,
    backoff: Duration,
}

impl SmsRouter {
    pub fn new(s: &SmsSettings, public_base_url: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(s.timeout_seconds)).build()?;
        let providers = s
            .providers
            .iter()
            .filter_map(|p| -> Option<Arc<dyn SmsProvider>> {
                match p.kind {
                    SmsProviderKind::Cm => Some(Arc::new(Cm::new(http.clone(), p))),
                    SmsProviderKind::Twilio => Some(Arc::new(Twilio::new(http.clone(), p, public_base_url))),
                    SmsProviderKind::Messagebird => None,
                }
            })
            .collect();
        Ok(Self {
            providers,
            sender: s.sender.clone(),
            attempts: s.attempts_per_provider.max(1),
            backoff: Duration::from_millis(s.backoff_ms),
        })
    }
}

impl Notifier for SmsRouter {
    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, SendReport> {
        Box::pin(async move {
            let reference = cm_reference(&m.verification_id, m.send_number);
            let req = SmsRequest {
                to: &m.to,
                text: &m.text,
                sender: &self.sender,
                verification_id: &m.verification_id,
                reference: &reference,
            };
            let mut attempts = Vec::new();
            let mut last = ChannelError::Transient("no sms provider configured".into());
            for provider in &self.providers {
                for n in 0..self.attempts {
                    if n > 0 {
                        tokio::time::sleep(self.backoff * 2u32.pow(n - 1)).await;
                    }
                    let started = std::time::Instant::now();
                    let result = provider.send(&req).await;
                    attempts.push(ProviderAttempt::of(provider.name(), started, &result));
                    match result {
                        Ok(receipt) => return SendReport { result: Ok(receipt), attempts },
                        Err(e @ ChannelError::Permanent(_)) => return SendReport { result: Err(e), attempts },
                        Err(e) => last = e,
                    }
                }
            }
            SendReport { result: Err(last), attempts }
        })
    }
}
