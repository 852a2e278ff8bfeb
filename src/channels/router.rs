//! One transport per channel: the configured real one, or in dev the console outbox.

use std::sync::Arc;

use crate::{config::Settings, domain::Channel, store::Store};

use super::{ConsoleTransport, Notifier, SmsRouter, SmtpTransport, WhatsAppCloud};

#[derive(Clone)]
pub struct Transports {
    email: Arc<dyn Notifier>,
    sms: Arc<dyn Notifier>,
    whatsapp: Arc<dyn Notifier>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration key `channels.{channel}`: {reason}")]
pub struct TransportError {
    channel: &'static str,
    reason: String,
}

impl Transports {
    pub fn from_settings(s: &Settings, store: &Store) -> Result<Self, TransportError> {
        let console: Option<Arc<dyn Notifier>> =
            s.dev.outbox.then(|| Arc::new(ConsoleTransport::new(store.clone())) as Arc<dyn Notifier>);
        let missing = |channel: &'static str| TransportError {
            channel,
            reason: "not configured (set dev.outbox = true to use the console transport)".into(),
        };
        let fail =
            |channel: &'static str| move |e: &dyn std::fmt::Display| TransportError { channel, reason: e.to_string() };
        let email: Arc<dyn Notifier> = match &s.channels.email {
            Some(e) => Arc::new(SmtpTransport::new(&e.smtp).map_err(|e| fail("email")(&e))?),
            None => console.clone().ok_or_else(|| missing("email"))?,
        };
        let sms: Arc<dyn Notifier> = match &s.channels.sms {
            Some(c) => Arc::new(SmsRouter::new(c, &s.http.public_base_url).map_err(|e| fail("sms")(&e))?),
            None => console.clone().ok_or_else(|| missing("sms"))?,
        };
        let whatsapp: Arc<dyn Notifier> = match &s.channels.whatsapp {
            Some(w) => Arc::new(WhatsAppCloud::new(w).map_err(|e| fail("whatsapp")(&e))?),
            None => console.ok_or_else(|| missing("whatsapp"))?,
        };
        Ok(Self { email, sms, whatsapp })
    }

    pub fn for_channel(&self, c: Channel) -> &Arc<dyn Notifier> {
        match c {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Whatsapp => &self.whatsapp,
        }
    }
}
