//! One transport per channel: the configured real one, or in dev the console outbox.

use std::sync::Arc;

use crate::{config::Settings, domain::Channel, metrics::Metrics, store::Store};

use super::{ConsoleTransport, Notifier, SmsRouter, SmtpTransport, WhatsAppCloud, instrumented::Instrumented};

/// A channel with neither a real transport nor the dev outbox is `None`: the API refuses it.
#[derive(Clone)]
pub struct Transports {
    email: Option<Arc<dyn Notifier>>,
    sms: Option<Arc<dyn Notifier>>,
    whatsapp: Option<Arc<dyn Notifier>>,
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
        let fail =
            |channel: &'static str| move |e: &dyn std::fmt::Display| TransportError { channel, reason: e.to_string() };
        let email: Option<Arc<dyn Notifier>> = match &s.channels.email {
            Some(e) => Some(Arc::new(SmtpTransport::new(&e.smtp).map_err(|e| fail("email")(&e))?)),
            None => console.clone(),
        };
        let sms: Option<Arc<dyn Notifier>> = match &s.channels.sms {
            Some(c) => Some(Arc::new(SmsRouter::new(c, &s.http.public_base_url).map_err(|e| fail("sms")(&e))?)),
            None => console.clone(),
        };
        let whatsapp: Option<Arc<dyn Notifier>> = match &s.channels.whatsapp {
            Some(w) => Some(Arc::new(WhatsAppCloud::new(w).map_err(|e| fail("whatsapp")(&e))?)),
            None => console,
        };
        Ok(Self { email, sms, whatsapp })
    }

    /// Every transport, reporting its provider attempts to `metrics`.
    pub fn instrumented(self, metrics: &Arc<Metrics>) -> Self {
        let wrap = |t: Option<Arc<dyn Notifier>>, channel: Channel| {
            t.map(|inner| {
                Arc::new(Instrumented { inner, channel: channel.as_str(), metrics: metrics.clone() })
                    as Arc<dyn Notifier>
            })
        };
        Self {
            email: wrap(self.email, Channel::Email),
            sms: wrap(self.sms, Channel::Sms),
            whatsapp: wrap(self.whatsapp, Channel::Whatsapp),
        }
    }

    pub fn for_channel(&self, c: Channel) -> Option<&Arc<dyn Notifier>> {
        match c {
            Channel::Email => self.email.as_ref(),
            Channel::Sms => self.sms.as_ref(),
            Channel::Whatsapp => self.whatsapp.as_ref(),
        }
    }

    /// Whether this deployment can send on `c` at all (the API refuses a start otherwise).
    pub fn available(s: &Settings, c: Channel) -> bool {
        s.dev.outbox
            || match c {
                Channel::Email => s.channels.email.is_some(),
                Channel::Sms => s.channels.sms.is_some(),
                Channel::Whatsapp => s.channels.whatsapp.is_some(),
            }
    }
}
